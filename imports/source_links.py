"""The vendor's own page for an imported incident, kept as one of the postmortem's sources.

The importer remembers the link it last stood behind in the incident's ``imported_values``
(under ``LINK_KEY``), so a re-import rarely needs to read the sources at all:

* the page gives the link it gave before: nothing to do, whatever a person did to the
  source since (removed it, retitled it, pointed it elsewhere: their choice stands);
* the page gives another link, or there is no record yet (incidents imported before links
  were kept): the sources of those incidents are read, in one statement for the chunk. The
  source still showing the old link is pointed at the new one; when none does, a person
  removed or changed it, and nothing is added back. With no record, the link is added
  unless a source already shows it;
* the page gives no link: the source stays as it is.

Sources keep no history, so adding or moving one adds no history entry.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.bulk import copy_rows, update_rows
from postmortems.choices import SourceKind
from postmortems.models import Source, Vendor

if TYPE_CHECKING:
    from imports.upsert import Change

LINK_KEY = "source_url"
TITLE_LIMIT = Source._meta.get_field("title").max_length


@dataclass(frozen=True)
class LinkChange:
    """One source to write: a new one (``source_id`` None) or one pointed at a new link."""

    incident_id: int
    url: str
    title: str
    source_id: int | None = None


def source_title(vendor: Vendor) -> str:
    return f"{vendor.name} status page"[:TITLE_LIMIT]


def with_link(values: dict, link: str) -> dict:
    """``imported_values`` recording ``link`` as the one the importer stands behind."""
    return {**values, LINK_KEY: link} if link else values


def new_links(pairs: Iterable[tuple[int, str]], vendor: Vendor) -> list[LinkChange]:
    """The sources of new incidents ((incident id, link) pairs; no link, no source)."""
    title = source_title(vendor)
    return [LinkChange(pk, link, title) for pk, link in pairs if link]


def plan_links(changes: list[Change], vendor: Vendor) -> None:
    """Set ``link`` (the write, if any) and the recorded link of each change that needs it."""
    pending = [
        c
        for c in changes
        if c.desired.link and c.incident.imported_values.get(LINK_KEY) != c.desired.link
    ]
    if not pending:
        return
    listed: dict[int, dict[str, int]] = defaultdict(dict)
    rows = Source.objects.filter(incident_id__in=[c.incident.id for c in pending])
    for incident_id, source_id, url in rows.values_list("incident_id", "id", "url"):
        listed[incident_id][url] = source_id
    title = source_title(vendor)
    for change in pending:
        link, urls = change.desired.link, listed[change.incident.id]
        before = change.incident.imported_values.get(LINK_KEY)
        if link not in urls:
            if before is None:
                change.link = LinkChange(change.incident.id, link, title)
            elif before in urls:
                change.link = LinkChange(change.incident.id, link, title, urls[before])
        change.imported_values = with_link(change.imported_values, link)


def write_links(links: list[LinkChange], *, now) -> None:
    """Add the new sources in one COPY and point the moved ones in one UPDATE."""
    added = [link for link in links if link.source_id is None]
    if added:
        copy_rows(
            Source,
            ("incident_id", "url", "title", "kind"),
            ((link.incident_id, link.url, link.title, SourceKind.STATUS_PAGE) for link in added),
            now=now,
        )
    update_rows(
        Source,
        ("id", "url"),
        [(link.source_id, link.url) for link in links if link.source_id is not None],
    )
