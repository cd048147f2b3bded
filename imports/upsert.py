"""Writing a chunk of imported incidents in a fixed number of statements.

``write_chunk`` runs inside one transaction, for incidents whose external ids are distinct.
It reads what exists (the incidents, locked; their timeline; their services; the sources of
those whose page link changed), decides in memory what each incident needs
(``imports/plan.py``, ``imports/source_links.py``), then writes each kind of row in one
statement: new incidents and their history, changed incidents and theirs, new and edited
timeline events and theirs, services, the links between them, and the vendor's pages as
sources. However many incidents the chunk holds, the statements are the same.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from operator import attrgetter, itemgetter
from typing import NamedTuple

from django.db import connection
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.text import slugify

from core.bulk import copy_rows, reserve_ids, update_rows, write_history
from core.json_codec import json_text
from imports.plan import (
    EVENT_FIELDS,
    OWNED_FIELDS,
    Desired,
    desired_state,
    edited_by_a_person,
    imported_values,
    order_problem,
    problem,
)
from imports.records import ImportedIncident
from imports.source_links import LinkChange, new_links, plan_links, with_link, write_links
from postmortems import rules
from postmortems.choices import Origin, ReviewStatus
from postmortems.models import MOMENTS, Incident, IncidentVendor, Service, Vendor
from postmortems.rules import slug_base, synced_moments
from timeline.models import TimelineEvent
from timeline.services import NewEvent

# The fields an import may change on an incident that exists.
STATE_FIELDS = tuple(dict.fromkeys((*OWNED_FIELDS, *MOMENTS)))
EVENT_ROW_FIELDS = (*EVENT_FIELDS, "source", "external_id")
# A new row's values in one call each (thousands of rows a chunk).
state_values = itemgetter(*STATE_FIELDS)
event_values = attrgetter(*EVENT_ROW_FIELDS)


@dataclass
class Outcome:
    """What became of one incident of the chunk."""

    external_id: str
    outcome: str  # created, updated, unchanged or failed
    slug: str = ""
    message: str = ""
    published: bool = False  # a published postmortem was created or changed


class EventRow(NamedTuple):
    id: int
    incident_id: int
    source: str
    external_id: str
    kind: str
    occurred_at: object
    description: str
    body_format: str
    position: int


@dataclass
class Change:
    """What an import does to one incident that exists."""

    incident: Incident
    desired: Desired
    state: dict  # the owned fields and moments as they end up
    fields: list[str]  # which of them change
    raw_changed: bool
    new_events: list[NewEvent]
    edits: dict[int, NewEvent]  # event id → what the page now says
    next_position: int  # after the timeline's last event
    imported_values: dict
    services: list[int] = field(default_factory=list)  # links to add
    link: LinkChange | None = None  # the vendor's page for it, as a source to add or move

    @property
    def changed(self) -> bool:
        return bool(
            self.fields
            or self.raw_changed
            or self.new_events
            or self.edits
            or self.services
            or self.link
        )


def write_chunk(
    *, vendor: Vendor, source: str, items: list[ImportedIncident], user=None
) -> list[Outcome]:
    """Create or update each incident of ``items``; their outcomes, in the same order."""
    lock_source(source)
    outcomes: dict[str, Outcome] = {}
    fit: list[Desired] = []
    for item in items:
        desired = desired_state(source=source, item=item)
        reason = problem(desired)
        if reason:
            outcomes[item.external_id] = Outcome(item.external_id, "failed", message=reason)
        else:
            fit.append(desired)
    existing = find_incidents(source, [d.item.external_id for d in fit])
    new = [d for d in fit if d.item.external_id not in existing]
    changes, failures = plan_changes(
        source, [(existing[d.item.external_id], d) for d in fit if d.item.external_id in existing]
    )
    outcomes.update(failures)
    new, failed_new = fit_new(new)
    outcomes.update(failed_new)
    services = vendor_services(vendor, [*(d for d, _ in new), *(c.desired for c in changes)])
    add_missing_links(changes, services)
    plan_links(changes, vendor)
    outcomes.update(
        create_incidents(vendor=vendor, source=source, new=new, services=services, user=user)
    )
    outcomes.update(write_changes(changes))
    return [outcomes[item.external_id] for item in items]


def lock_source(source: str) -> None:
    """Imports of one source take turns, chunk by chunk.

    Two imports of one page (a poll and a webhook, two workers) would otherwise both find an
    incident missing and both insert it; the second would fail on the unique constraint.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [source])


def find_incidents(source: str, external_ids: list[str]) -> dict[str, Incident]:
    """The incidents this source already imported, locked against a person's concurrent edit."""
    if not external_ids:
        return {}
    # One index probe per id. Filtering on ``external_id IN (…)`` lets the planner scan every
    # incident of the source and filter them, which it prefers whenever its statistics are
    # older than the source's latest imports: the cost then grows with the source, not the
    # chunk.
    table = Incident._meta.db_table
    probes = RawSQL(
        f"SELECT found.id FROM unnest(%s::text[]) AS wanted(external_id) CROSS JOIN LATERAL "
        f"(SELECT id FROM {table} WHERE origin = %s AND import_source = %s "
        f"AND external_id = wanted.external_id LIMIT 1) AS found",
        [external_ids, Origin.IMPORTED, source],
    )
    found = Incident.objects.select_for_update().defer("search_vector").filter(id__in=probes)
    return {incident.external_id: incident for incident in found}


# --- New incidents -----------------------------------------------------------------------


def new_state(desired: Desired) -> dict:
    """A new incident's owned fields and moments, its timeline's markers applied."""
    return synced_moments(
        {**dict.fromkeys(MOMENTS), **desired.fields},
        [(e.kind, e.occurred_at) for e in desired.events],
    )


def fit_new(new: list[Desired]) -> tuple[list[tuple[Desired, dict]], dict[str, Outcome]]:
    """The new incidents whose moments are in order, with their state; the others' failures."""
    fit, failures = [], {}
    for desired in new:
        state = new_state(desired)
        reason = order_problem({m: state[m] for m in MOMENTS})
        if reason:
            failures[desired.item.external_id] = Outcome(
                desired.item.external_id, "failed", message=reason
            )
        else:
            fit.append((desired, state))
    return fit, failures


def create_incidents(
    *,
    vendor: Vendor,
    source: str,
    new: list[tuple[Desired, dict]],
    services: dict[str, int],
    user=None,
) -> dict[str, Outcome]:
    """Insert the new incidents, their timelines, links and history entries."""
    if not new:
        return {}
    now = timezone.now()
    published = vendor.publish_imports
    status = ReviewStatus.PUBLISHED if published else ReviewStatus.DRAFT
    ids = reserve_ids(Incident, len(new))
    slugs = new_slugs([desired for desired, _ in new])
    copy_rows(
        Incident,
        (
            "id",
            "slug",
            "origin",
            "import_source",
            "external_id",
            "raw_payload",
            "imported_values",
            "status",
            "published_at",
            "needs_review",
            *STATE_FIELDS,
        ),
        (
            (
                pk,
                slug,
                Origin.IMPORTED,
                source,
                desired.item.external_id,
                json_text(desired.item.raw),
                json_text(with_link(imported_values(state), desired.link)),
                status,
                # Incident.save() stamps the publication time; COPY does not call it.
                rules.publication_time(status, None, now),
                not published,
                *state_values(state),
            )
            for pk, slug, (desired, state) in zip(ids, slugs, new, strict=True)
        ),
        now=now,
        history=True,
    )
    add_events(
        [
            (pk, position, wanted)
            for pk, (desired, _) in zip(ids, new, strict=True)
            for position, wanted in enumerate(desired.events)
        ],
        now=now,
    )
    copy_rows(
        IncidentVendor,
        ("incident_id", "vendor_id", "is_primary"),
        ((pk, vendor.id, True) for pk in ids),
        now=now,
    )
    link_services(
        {
            (pk, services[c.external_id]): None
            for pk, (desired, _) in zip(ids, new, strict=True)
            for c in desired.components
        },
        now=now,
    )
    write_links(
        new_links(((pk, d.link) for pk, (d, _) in zip(ids, new, strict=True)), vendor), now=now
    )
    if user is not None:
        copy_rows(
            Incident.authors.through,
            ("incident_id", "user_id"),
            ((pk, user.pk) for pk in ids),
            now=now,
        )
    return {
        desired.item.external_id: Outcome(
            desired.item.external_id, "created", slug, published=published
        )
        for slug, (desired, _) in zip(slugs, new, strict=True)
    }


def add_events(events: list[tuple[int, int, NewEvent]], *, now) -> None:
    """Insert timeline events ((incident id, position, event)) and their history entries."""
    if not events:
        return
    ids = reserve_ids(TimelineEvent, len(events))
    copy_rows(
        TimelineEvent,
        ("id", "incident_id", "position", *EVENT_ROW_FIELDS),
        (
            (pk, incident_id, position, *event_values(new))
            for pk, (incident_id, position, new) in zip(ids, events, strict=True)
        ),
        now=now,
        history=True,
    )


def new_slugs(new: list[Desired]) -> list[str]:
    """A unique, readable slug per new incident: its title, the end of its id, its month."""
    bases = [
        slug_base(f"{d.item.title} {slugify(d.item.external_id)[-8:]}", d.item.started_at)
        for d in new
    ]
    taken = set(Incident.objects.filter(slug__in=set(bases)).values_list("slug", flat=True))
    crowded = taken | {base for base, count in Counter(bases).items() if count > 1}
    if crowded:
        # Rare, since the id is in the slug: look up numbered variants all at once.
        variants = [f"{base}-{n}" for base in crowded for n in range(2, 12)]
        taken |= set(Incident.objects.filter(slug__in=variants).values_list("slug", flat=True))
    slugs = []
    for base in bases:
        slug, n = base, 2
        while slug in taken:
            slug, n = f"{base}-{n}", n + 1
            if n == 12:  # ten variants taken: ask for the rest of them
                taken |= set(
                    Incident.objects.filter(slug__startswith=base).values_list("slug", flat=True)
                )
        taken.add(slug)
        slugs.append(slug)
    return slugs


# --- Incidents that exist ------------------------------------------------------------------


def plan_changes(
    source: str, pairs: list[tuple[Incident, Desired]]
) -> tuple[list[Change], dict[str, Outcome]]:
    """What each existing incident needs; failures for those that would end up invalid."""
    if not pairs:
        return [], {}
    timelines = load_timelines([incident.id for incident, _ in pairs])
    differing = {
        row.id
        for incident, desired in pairs
        for row, wanted in matched_events(timelines[incident.id], source, desired)
        if differs(row, wanted)
    }
    edited = events_edited_by_a_person(differing)
    changes, failures = [], {}
    for incident, desired in pairs:
        change = plan_change(incident, desired, timelines[incident.id], source, edited)
        if isinstance(change, str):
            failures[incident.external_id] = Outcome(
                incident.external_id, "failed", incident.slug, message=change
            )
        else:
            changes.append(change)
    return changes, failures


def load_timelines(incident_ids: list[int]) -> dict[int, list[EventRow]]:
    """Every event of these incidents, whatever its source: the moments follow all of them."""
    timelines: dict[int, list[EventRow]] = defaultdict(list)
    rows = TimelineEvent.objects.filter(incident_id__in=incident_ids).values_list(*EventRow._fields)
    for row in rows:
        event = EventRow(*row)
        timelines[event.incident_id].append(event)
    return timelines


def matched_events(timeline: list[EventRow], source: str, desired: Desired):
    ours = {row.external_id: row for row in timeline if row.source == source and row.external_id}
    for wanted in desired.events:
        if wanted.external_id in ours:
            yield ours[wanted.external_id], wanted


def differs(row: EventRow, wanted: NewEvent) -> bool:
    return tuple(getattr(row, name) for name in EVENT_FIELDS) != tuple(
        getattr(wanted, name) for name in EVENT_FIELDS
    )


def events_edited_by_a_person(event_ids: set[int]) -> set[int]:
    """The importer writes without a user: an event with a history entry that has one was
    edited by a person, and keeps that person's text."""
    if not event_ids:
        return set()
    return set(
        TimelineEvent.history.filter(id__in=event_ids)
        .exclude(history_user=None)
        .values_list("id", flat=True)
    )


def plan_change(
    incident: Incident, desired: Desired, timeline: list[EventRow], source: str, edited: set[int]
) -> Change | str:
    """The change for one incident, or why it cannot be made."""
    current = {name: getattr(incident, name) for name in STATE_FIELDS}
    taken = edited_by_a_person(current, incident.imported_values)
    state = {**current, **{k: v for k, v in desired.fields.items() if k not in taken}}
    if not within_total(state["regions_affected"], incident.regions_total):
        # The regions in total are a person's: a page counting more affected is left out.
        state["regions_affected"] = current["regions_affected"]
    known = {row.external_id for row in timeline if row.source == source and row.external_id}
    new_events = [wanted for wanted in desired.events if wanted.external_id not in known]
    edits = {
        row.id: wanted
        for row, wanted in matched_events(timeline, source, desired)
        if row.id not in edited and differs(row, wanted)
    }
    if new_events or edits:
        markers = [
            (edits[r.id].kind, edits[r.id].occurred_at)
            if r.id in edits
            else (r.kind, r.occurred_at)
            for r in timeline
        ]
        markers += [(e.kind, e.occurred_at) for e in new_events]
        removed = [(r.kind, r.occurred_at) for r in timeline if r.id in edits]
        state = synced_moments(state, markers, removed)
    reason = order_problem({m: state[m] for m in MOMENTS})
    if reason:
        return reason
    return Change(
        incident=incident,
        desired=desired,
        state=state,
        fields=[name for name in STATE_FIELDS if state[name] != current[name]],
        raw_changed=incident.raw_payload != desired.item.raw,
        new_events=new_events,
        edits=edits,
        next_position=max((row.position for row in timeline), default=-1) + 1,
        imported_values=imported_values(state, current=current, last=incident.imported_values),
    )


def within_total(affected: int | None, total: int | None) -> bool:
    return affected is None or total is None or affected <= total


def add_missing_links(changes: list[Change], services: dict[str, int]) -> None:
    if not changes:
        return
    through = Incident.services.through
    linked = set(
        through.objects.filter(incident_id__in=[c.incident.id for c in changes]).values_list(
            "incident_id", "service_id"
        )
    )
    for change in changes:
        wanted = dict.fromkeys(services[c.external_id] for c in change.desired.components)
        change.services = [s for s in wanted if (change.incident.id, s) not in linked]


def write_changes(changes: list[Change]) -> dict[str, Outcome]:
    """Write what changed, each kind of row in one statement; unchanged incidents write nothing."""
    now = timezone.now()
    changed = [c for c in changes if c.changed]
    edited = [c for c in changed if c.fields]
    # The page changed only what is kept verbatim: no edit for the history.
    # Of all the changes: a link recorded anew (a source a person removed) is no visible change.
    quiet = [
        c
        for c in changes
        if not c.fields and (c.raw_changed or c.imported_values != c.incident.imported_values)
    ]
    for change in edited + quiet:
        incident = change.incident
        for name in change.fields:
            setattr(incident, name, change.state[name])
        incident.raw_payload = change.desired.item.raw
        incident.imported_values = change.imported_values
    for change in edited:
        change.incident.version = rules.next_version(change.incident.version)
        change.incident.updated_at = now
    if edited:
        fields = ("id", *STATE_FIELDS, "version", "updated_at", "raw_payload", "imported_values")
        update_rows(Incident, fields, [incident_values(c.incident, fields) for c in edited])
        write_history(Incident, [c.incident.id for c in edited], history_type="~", when=now)
    fields = ("id", "raw_payload", "imported_values")
    update_rows(Incident, fields, [incident_values(c.incident, fields) for c in quiet])
    add_events(
        [
            (c.incident.id, c.next_position + offset, new)
            for c in changed
            for offset, new in enumerate(c.new_events)
        ],
        now=now,
    )
    edit_events({event_id: new for c in changed for event_id, new in c.edits.items()}, now=now)
    link_services({(c.incident.id, s): None for c in changed for s in c.services}, now=now)
    write_links([c.link for c in changed if c.link], now=now)
    return {
        c.incident.external_id: Outcome(
            c.incident.external_id,
            "updated" if c.changed else "unchanged",
            c.incident.slug,
            published=c.changed and rules.affects_patterns(c.incident.status),
        )
        for c in changes
    }


def incident_values(incident: Incident, fields: tuple[str, ...]) -> tuple:
    return tuple(getattr(incident, name) for name in fields)


def edit_events(edits: dict[int, NewEvent], *, now) -> None:
    """Set what the page now says on events it edited, each with a history entry."""
    if not edits:
        return
    update_rows(
        TimelineEvent,
        ("id", *EVENT_FIELDS, "updated_at"),
        [(pk, *(getattr(new, f) for f in EVENT_FIELDS), now) for pk, new in edits.items()],
    )
    write_history(TimelineEvent, list(edits), history_type="~", when=now)


# --- Services and links --------------------------------------------------------------------


def vendor_services(vendor: Vendor, desired: list[Desired]) -> dict[str, int]:
    """The vendor's service id for each component; new components are added, renamed ones
    take their latest name (a renamed component keeps its row)."""
    names: dict[str, str] = {}
    for d in desired:
        for component in d.components:
            if component.name or component.external_id not in names:
                names[component.external_id] = component.name[:200]
    if not names:
        return {}
    found = {s.external_id: s for s in Service.objects.filter(vendor=vendor, external_id__in=names)}
    missing = [
        Service(vendor=vendor, external_id=cid, name=name)
        for cid, name in names.items()
        if cid not in found
    ]
    renamed = [s for s in found.values() if names[s.external_id] not in ("", s.name)]
    for service in renamed:
        service.name = names[service.external_id]
    if renamed:
        Service.objects.bulk_update(renamed, ["name"])
    if missing:
        found.update({s.external_id: s for s in Service.objects.bulk_create(missing)})
    return {cid: service.id for cid, service in found.items()}


def link_services(pairs: dict[tuple[int, int], None], *, now) -> None:
    """Link incidents to services ((incident id, service id), each once)."""
    if pairs:
        copy_rows(Incident.services.through, ("incident_id", "service_id"), pairs, now=now)
