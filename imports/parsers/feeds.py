"""RSS and Atom status feeds (AWS Health Dashboard, Azure, Statuspage/GCP history feeds).

Feed items are grouped into incidents by these rules, in order:

1. **AWS per-update items.** The guid ends in ``#<service>_<epoch>``; the
   epoch names the update, not the event. Items of one service, oldest first,
   join that service's open incident; an item whose title says it is over
   (``Service is operating normally:`` or ``[RESOLVED]``) closes it, and the
   next item of the service opens a new one. Titles change while an event
   runs ("Increased API Errors" → "[RESOLVED] Increased API Error Rates"), so
   titles do not split events; two events overlapping on one service merge.
   Incident id = the first item's ``<service>_<epoch>``; update id = each
   item's own ``<service>_<epoch>``. Both are stable while the feed keeps the
   first item (AWS feeds keep years of items).
2. **Items naming an incident.** A link or guid ``…/incidents/<code>``
   (Statuspage history feeds, GCP's feed) groups every item of that incident;
   the incident id is ``<code>``, the same id the JSON APIs use.
3. **Anything else is one incident per item** (Azure). Azure reuses a title
   slug as guid for later incidents, so the id is ``<guid>@<pubDate UTC>``.

Impact comes from title words (see ``impact_from_words``): "outage",
"unavailable", "disruption" → major; anything else ("degraded", "increased
error rates", "informational") → minor; the worst item of an incident wins.
"""

from __future__ import annotations

import io
import re
import xml.sax
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import feedparser

from imports.parsers.common import (
    CLOSED_STATUSES,
    ItemProblem,
    body_format,
    impact_from_words,
    iso_z,
    one_line,
    parse_time,
    real_end,
    text,
    worst_impact,
)
from imports.records import (
    ImportBatch,
    ImportedComponent,
    ImportedIncident,
    ImportedUpdate,
    ItemError,
    PayloadError,
)

AWS_GUID = re.compile(r"#(?P<ref>(?P<service>[^#/]+)_\d{9,11})$")
INCIDENT_REF = re.compile(r"/incidents/(?P<code>[A-Za-z0-9_-]+)/?(?:[?#].*)?$")
AWS_STATE_PREFIX = re.compile(
    r"^(?:Informational message|Service degradation|Service disruption|"
    r"Service is operating normally|Performance issues)\s*:\s*",
    re.IGNORECASE,
)
# "[RESOLVED]", "[解決済]", "[已解决]"… at the start of each " | " translation.
STATE_MARKER = re.compile(r"(^|\|\s*)\[[^\]]{1,20}\]\s*")
RESOLVED_TITLE = re.compile(
    r"\[resolved\]|^service is operating normally|^resolved\b", re.IGNORECASE
)
# Statuspage history feeds start each update with "<strong>Resolved</strong> - …".
FIRST_STRONG = re.compile(r"<strong>\s*([^<]{1,40}?)\s*</strong>", re.IGNORECASE)
LIFECYCLE = frozenset({"investigating", "identified", "monitoring", *CLOSED_STATUSES})
HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass
class FeedItem:
    """The fields of one RSS item / Atom entry that the grouping needs."""

    guid: str
    title: str
    link: str
    published: datetime
    updated: datetime
    body: str
    body_format: str
    raw: dict

    @property
    def ref(self) -> str:
        aws = AWS_GUID.search(self.guid)
        return aws.group("ref") if aws else self.guid


def parse_rss(data: bytes) -> ImportBatch:
    """Incidents of an RSS 0.9x/1.0/2.0 status feed."""
    return parse_feed(data, "rss")


def parse_atom(data: bytes) -> ImportBatch:
    """Incidents of an Atom status feed."""
    return parse_feed(data, "atom")


def parse_feed(data: bytes, kind: str) -> ImportBatch:
    feed = load_feed(data, kind)
    batch = ImportBatch()
    items = []
    for position, entry in enumerate(feed.entries, start=1):
        try:
            items.append(feed_item(entry))
        except ItemProblem as exc:
            guid = text(entry.get("id") or entry.get("link"))
            ref = AWS_GUID.search(guid)
            batch.errors.append(
                ItemError(ref.group("ref") if ref else guid or "?", f"item #{position}: {exc}")
            )
    # Feeds list newest first; reversed, a stable sort keeps same-time items oldest first.
    items = sorted(reversed(items), key=lambda item: item.published)
    aws_name = aws_service_name(feed, items)
    for group in group_items(items, aws_name):
        batch.incidents.append(build_incident(group))
    return batch


def load_feed(data: bytes, kind: str) -> feedparser.FeedParserDict:
    """The parsed feed; PayloadError for non-XML, malformed XML or the other feed kind."""
    name = kind.upper() if kind == "rss" else kind.title()
    if not data.strip():
        raise PayloadError(f"empty payload: expected an {name} feed")
    # A file object, never bytes: feedparser treats a bytes/str argument that
    # looks like a path or URL as one and would open or fetch it.
    try:
        feed = feedparser.parse(io.BytesIO(data), sanitize_html=False, resolve_relative_uris=False)
    except (ValueError, RecursionError) as exc:
        # The lenient parser feedparser falls back to on malformed XML fails on what the
        # strict one only refuses: a character reference to a lone surrogate ("&#xD800;").
        raise PayloadError(f"not a readable {name} feed: {exc}") from exc
    problem = feed.get("bozo_exception")
    if isinstance(problem, xml.sax.SAXException):
        raise PayloadError(f"not a readable {name} feed: malformed XML ({problem})")
    version = feed.get("version") or ""
    if not version:
        raise PayloadError(f"not an {name} feed: no <rss> or <feed> element")
    if not version.startswith(kind):
        raise PayloadError(f"not an {name} feed: this is {version}")
    return feed


def feed_item(entry: feedparser.FeedParserDict) -> FeedItem:
    title = one_line(entry.get("title"))
    # dict.get, not entry.get: feedparser maps a missing "updated" to
    # "published" behind a DeprecationWarning.
    raw_published = dict.get(entry, "published") or dict.get(entry, "updated")
    raw_updated = dict.get(entry, "updated") or raw_published
    # Parse the raw RFC 822 / ISO string ourselves: an unknown zone name is
    # then refused, where feedparser would quietly read it as UTC.
    published = parse_time(raw_published, "date")
    if published is None:
        raise ItemProblem(f"'{title}' has no date")
    body, detail_type = entry_body(entry)
    return FeedItem(
        guid=text(entry.get("id")),
        title=title,
        link=text(entry.get("link")),
        published=published,
        updated=parse_time(raw_updated, "updated") or published,
        body=body,
        body_format="html" if detail_type in HTML_TYPES else body_format(body),
        raw={
            "guid": text(entry.get("id")),
            "title": title,
            "link": text(entry.get("link")),
            "published": text(raw_published),
            "updated": text(raw_updated),
            "description": body,
            "categories": [text(tag.get("term")) for tag in entry.get("tags") or []],
        },
    )


def entry_body(entry: feedparser.FeedParserDict) -> tuple[str, str]:
    """(body, MIME type): Atom content first, else the RSS description / Atom summary."""
    for content in entry.get("content") or []:
        if content.get("value"):
            return text(content["value"]), text(content.get("type"))
    detail = entry.get("summary_detail") or {}
    return text(entry.get("summary")), text(detail.get("type"))


def aws_service_name(feed: feedparser.FeedParserDict, items: list[FeedItem]) -> str:
    """The channel's name for a per-service AWS feed; "" for a mixed feed (all.rss)."""
    services = {m.group("service") for i in items if (m := AWS_GUID.search(i.guid))}
    if len(services) != 1:
        return ""
    title = one_line(feed.feed.get("title"))
    return re.sub(r"\s*Service Status$", "", title)


# --- Grouping ----------------------------------------------------------------------


@dataclass
class Group:
    """The items of one incident, oldest first."""

    external_id: str
    components: list[ImportedComponent]
    # Rule 3: the item is the incident, and its update shares the incident's id
    # (the bare guid is a reused slug).
    one_per_item: bool = False
    items: list[FeedItem] = field(default_factory=list)


def group_items(items: list[FeedItem], aws_name: str) -> list[Group]:
    """The incidents of the feed, by the module's grouping rules."""
    groups: dict[str, Group] = {}
    open_aws: dict[str, str] = {}  # service → id of its open incident
    for item in items:
        group = new_group(item, open_aws, aws_name)
        groups.setdefault(group.external_id, group).items.append(item)
        aws = AWS_GUID.search(item.guid)
        if aws and says_resolved(item):
            open_aws.pop(aws.group("service"), None)
    return list(groups.values())


def new_group(item: FeedItem, open_aws: dict[str, str], aws_name: str) -> Group:
    """The group this item belongs to (an existing one is looked up by its id)."""
    aws = AWS_GUID.search(item.guid)
    if aws:
        service = aws.group("service")
        key = open_aws.setdefault(service, aws.group("ref"))
        return Group(key, [ImportedComponent(external_id=service, name=aws_name or service)])
    for candidate in (item.link, item.guid):
        named = INCIDENT_REF.search(candidate)
        if named:
            return Group(named.group("code"), [])
    key = f"{item.guid or item.link or item.title}@{iso_z(item.published)}"
    return Group(key, [], one_per_item=True)


# --- One incident ------------------------------------------------------------------


def build_incident(group: Group) -> ImportedIncident:
    items, last = group.items, group.items[-1]
    started_at = items[0].published
    return ImportedIncident(
        external_id=group.external_id,
        title=aws_title(last.title) if AWS_GUID.search(last.guid) else last.title,
        status=item_status(last),
        impact=worst_impact(impact_from_words(item.title) for item in items),
        started_at=started_at,
        # The resolving item's own time is the end, if it is after the start:
        # a lone "[RESOLVED]" notice has no known duration, not a zero one.
        resolved_at=real_end(
            resolved_at=None,
            started_at=started_at,
            created_at=None,
            closing_times=[i.updated for i in items if says_resolved(i)],
        )
        if says_resolved(last)
        else None,
        url=last.link,
        components=group.components,
        updates=updates(group),
        raw={"items": [item.raw for item in items]},
    )


def updates(group: Group) -> list[ImportedUpdate]:
    """One update per item, under the item's own guid (made unique within the incident)."""
    refs = [item.ref for item in group.items]
    result: list[ImportedUpdate] = []
    seen: Counter[str] = Counter()
    for item, ref in zip(group.items, refs, strict=True):
        if group.one_per_item:
            update_id = group.external_id
        elif ref and refs.count(ref) == 1:
            update_id = ref
        else:
            update_id = f"{ref or group.external_id}@{iso_z(item.published)}"
        # A feed repeating an item verbatim still yields distinct ids (oldest keeps the plain one).
        seen[update_id] += 1
        if seen[update_id] > 1:
            update_id = f"{update_id}-{seen[update_id]}"
        result.append(
            ImportedUpdate(
                external_id=update_id,
                status=item_status(item),
                body=item.body,
                body_format=item.body_format,
                display_at=item.published,
            )
        )
    return result


def aws_title(title: str) -> str:
    """The event's summary: without the state prefix or "[RESOLVED]"-style markers."""
    return STATE_MARKER.sub(r"\1", AWS_STATE_PREFIX.sub("", title)).strip() or title


def item_status(item: FeedItem) -> str:
    """A lifecycle word for one item: "resolved" by title, a Statuspage feed's own word, else
    "investigating" (a listed AWS/Azure item is a live problem)."""
    if RESOLVED_TITLE.search(item.title):
        return "resolved"
    strong = FIRST_STRONG.search(item.body)
    if strong and strong.group(1).lower() in LIFECYCLE:
        return strong.group(1).lower()
    return "investigating"


def says_resolved(item: FeedItem) -> bool:
    if RESOLVED_TITLE.search(item.title):
        return True
    strong = FIRST_STRONG.search(item.body)
    return bool(strong) and strong.group(1).lower() in CLOSED_STATUSES
