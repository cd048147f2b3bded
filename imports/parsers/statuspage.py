"""Atlassian Statuspage public API v2 (and the incident.io pages that imitate it).

Accepts ``incidents.json`` ``{page, incidents}``, ``summary.json`` ``{page,
components, incidents, scheduled_maintenances}``, ``incidents/<id>.json``
``{page, incident}`` and ``scheduled-maintenances.json`` ``{page,
scheduled_maintenances}``. ``parse_incident`` is shared with the webhook parser.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from imports.parsers.common import (
    CLOSED_STATUSES,
    IMPACTS,
    ItemProblem,
    body_format,
    collect,
    json_type,
    load_json_object,
    optional_list,
    parse_time,
    real_end,
    require_id,
    text,
    text_id,
    written_zone,
)
from imports.parsers.legacy_timeline import written_timeline
from imports.records import (
    POSTMORTEM_ID,
    ImportBatch,
    ImportedComponent,
    ImportedIncident,
    ImportedUpdate,
    PayloadError,
    WrittenTimeline,
)

LABEL = "Statuspage v2"
MAINTENANCE_STATUSES = frozenset({"scheduled", "in_progress", "verifying", "completed"})
# "postmortem" is usually posted days after the fix; it ends an incident only
# when no "resolved"/"completed" update does (the upsert path agrees).
ENDING_STATUSES = ("resolved", "completed")
# Imported history is stamped resolved at its creation, to the millisecond or nearly.
BACKFILL_STAMP = timedelta(minutes=1)


def parse(data: bytes) -> ImportBatch:
    """Incidents and maintenances of a Statuspage v2 JSON payload."""
    payload = load_json_object(data, LABEL)
    page = payload.get("page") if isinstance(payload.get("page"), dict) else {}
    page_url = text(page.get("url")).rstrip("/")
    names = page_component_names(payload)
    batch = ImportBatch()
    for items, maintenance in incident_lists(payload):
        collect(
            batch,
            items,
            lambda item, m=maintenance: parse_incident(
                item, page_url=page_url, component_names=names, maintenance=m
            ),
        )
    return batch


def incident_lists(payload: dict) -> list[tuple[list, bool]]:
    """(items, came from a maintenance endpoint) for each incident list the payload has."""
    keys = ("incident", "incidents", "scheduled_maintenances")
    if not any(key in payload for key in keys):
        found = ", ".join(sorted(payload)[:8]) or "none"
        raise PayloadError(
            f"not a {LABEL} payload: expected an 'incidents', 'incident' or "
            f"'scheduled_maintenances' key (keys: {found})"
        )
    lists: list[tuple[list, bool]] = []
    if "incident" in payload:
        single = payload["incident"]
        if not isinstance(single, dict):
            raise PayloadError(f"not a {LABEL} payload: 'incident' is {json_type(single)}")
        lists.append(([single], False))
    lists.append((optional_list(payload, "incidents", LABEL), False))
    lists.append((optional_list(payload, "scheduled_maintenances", LABEL), True))
    return lists


def page_component_names(payload: dict) -> dict[str, str]:
    """summary.json's page-level components: the current name of each component id."""
    names = {}
    for component in payload.get("components") or []:
        if isinstance(component, dict) and text_id(component.get("id")) and component.get("name"):
            names[text_id(component["id"])] = text(component["name"])
    return names


def parse_incident(
    item: dict,
    *,
    page_url: str = "",
    component_names: dict[str, str] | None = None,
    maintenance: bool = False,
) -> ImportedIncident:
    """One Statuspage incident or maintenance object."""
    incident_id = require_id(item, "id")
    title = text(item.get("name")).strip()
    if not title:
        raise ItemProblem("incident has no 'name'")
    status = text(item.get("status")).strip().lower()
    if not status:
        raise ItemProblem("incident has no 'status'")
    # The endpoint says which kind it is; a maintenance that arrives elsewhere
    # (a webhook, incidents/<id>.json) is known by scheduled_for.
    is_maintenance = maintenance or item.get("scheduled_for") is not None
    updates = parse_updates(item.get("incident_updates"))
    started_at, created_at = start_times(item, is_maintenance)
    resolved_at = end_time(item, status, started_at, created_at, updates)
    written = None if is_maintenance else backfill_timeline(item, status, updates, created_at)
    if written is not None:
        started_at, resolved_at = written.start, written.end
    return ImportedIncident(
        external_id=incident_id,
        title=title,
        status=status,
        impact=normalise_impact(item.get("impact"), is_maintenance),
        started_at=started_at,
        resolved_at=resolved_at,
        is_maintenance=is_maintenance,
        url=f"{page_url}/incidents/{incident_id}" if page_url else text(item.get("shortlink")),
        components=components(item, component_names or {}),
        updates=updates,
        postmortem=postmortem(item, updates, started_at),
        raw=item,
        created_at=created_at,
        written_timeline=written,
    )


def start_times(item: dict, is_maintenance: bool) -> tuple[datetime, datetime | None]:
    """(started_at, created_at).

    ``started_at`` falls back to ``created_at``. The page's word is kept here even when
    updates were displayed before it; the upsert path (``imports/plan.py``) then starts the
    incident at its first update. A maintenance starts at its window (``scheduled_for``),
    not when announced.
    """
    created_at = parse_time(item.get("created_at"), "created_at")
    started_at = parse_time(item.get("started_at"), "started_at") or created_at
    if is_maintenance:
        started_at = parse_time(item.get("scheduled_for"), "scheduled_for") or started_at
    if started_at is None:
        raise ItemProblem("incident has neither 'started_at' nor 'created_at'")
    return started_at, created_at


def end_time(
    item: dict,
    status: str,
    started_at: datetime,
    created_at: datetime | None,
    updates: list[ImportedUpdate],
) -> datetime | None:
    if status not in CLOSED_STATUSES:
        return None
    closing = [u.display_at for u in updates if u.status in ENDING_STATUSES]
    if not closing:
        closing = [u.display_at for u in updates if u.status == "postmortem"]
    return real_end(
        resolved_at=parse_time(item.get("resolved_at"), "resolved_at"),
        started_at=started_at,
        created_at=created_at,
        closing_times=closing,
    )


def backfill_timeline(
    item: dict, status: str, updates: list[ImportedUpdate], created_at: datetime | None
) -> WrittenTimeline | None:
    """The span a closed backfilled incident's update writes out as a timeline, if any.

    Backfilled history (GitHub's before 2019) has one update, or an end stamped at its
    creation, so its own times give no duration; the update's text has the real ones.
    Entries without a zone are in the zone the page writes its times in.
    """
    if status not in CLOSED_STATUSES or not updates:
        return None
    resolved_at = parse_time(item.get("resolved_at"), "resolved_at")
    stamped = (
        created_at is not None
        and resolved_at is not None
        and abs(resolved_at - created_at) <= BACKFILL_STAMP
    )
    if len(updates) > 1 and not stamped:
        return None
    return written_timeline(
        [update.body for update in updates],
        anchor=created_at or updates[0].display_at,
        zone=written_zone(item.get("created_at") or item.get("started_at")),
    )


def postmortem(
    item: dict, updates: list[ImportedUpdate], started_at: datetime
) -> ImportedUpdate | None:
    """The vendor's write-up (webhooks and the management API carry ``postmortem_body``).

    Dated when it was published; one not yet published, when it was last edited, else
    when the incident last changed.
    """
    body = text(item.get("postmortem_body"))
    if not body.strip():
        return None
    dates = ("postmortem_published_at", "postmortem_body_last_updated_at", "updated_at")
    when = next((t for key in dates if (t := parse_time(item.get(key), key))), None)
    when = when or max((u.display_at for u in updates), default=started_at)
    return ImportedUpdate(
        external_id=POSTMORTEM_ID,
        status="postmortem",
        body=body,
        body_format=body_format(body),
        display_at=when,
        created_at=when,
    )


def normalise_impact(value: object, is_maintenance: bool) -> str:
    """The page's impact word; a maintenance keeps a stated minor/major/critical.

    Statuspage maintenances may say ``impact: "major"`` (the expected impact of
    the window): that is kept, since ``is_maintenance`` already carries the
    kind. A maintenance without a stated impact is "maintenance". An unknown
    word on an incident is "minor": the page reported something, size unknown.
    """
    impact = text(value).strip().lower()
    if is_maintenance and impact in ("", "none", "maintenance"):
        return "maintenance"
    if not impact:
        return "none"
    return impact if impact in IMPACTS else "minor"


def parse_updates(raw_updates: object) -> list[ImportedUpdate]:
    """The updates, oldest first by display time (pages list them newest first)."""
    if raw_updates is None:
        return []
    if not isinstance(raw_updates, list):
        raise ItemProblem(f"'incident_updates' is {json_type(raw_updates)}, not an array")
    updates = [parse_update(raw, position) for position, raw in enumerate(raw_updates, start=1)]
    # Reversed first, so a stable sort keeps page order (newest first) for
    # updates sharing a display time as oldest first.
    return sorted(reversed(updates), key=lambda u: u.display_at)


def parse_update(raw: object, position: int) -> ImportedUpdate:
    if not isinstance(raw, dict):
        raise ItemProblem(f"update #{position} is {json_type(raw)}, not an object")
    update_id = text_id(raw.get("id"))
    if update_id is None:
        raise ItemProblem(f"update #{position} has no 'id'")
    created_at = parse_time(raw.get("created_at"), f"update {update_id} created_at")
    display_at = parse_time(raw.get("display_at"), f"update {update_id} display_at") or created_at
    if display_at is None:
        raise ItemProblem(f"update {update_id} has neither 'display_at' nor 'created_at'")
    body = text(raw.get("body"))
    return ImportedUpdate(
        external_id=update_id,
        status=text(raw.get("status")).strip().lower(),
        body=body,
        body_format=body_format(body),
        display_at=display_at,
        created_at=created_at,
    )


def components(item: dict, page_names: dict[str, str]) -> list[ImportedComponent]:
    """The incident's components keyed by id, each under its most current name.

    Names change while ids stay ("Actions" / "GitHub Actions"). The page-level
    list (summary.json) is the current name; then the incident's snapshot;
    an id only named by an update's ``affected_components`` takes the name of
    the newest update naming it (updates are listed newest first).
    """
    names: dict[str, str] = {}
    snapshot = item.get("components") or []
    affected = [
        component
        for update in item.get("incident_updates") or []
        if isinstance(update, dict)
        for component in update.get("affected_components") or []
    ]
    for component, id_key in [(c, "id") for c in snapshot] + [(c, "code") for c in affected]:
        if not isinstance(component, dict):
            continue
        component_id = text_id(component.get(id_key))
        if component_id and component_id not in names:
            names[component_id] = text(component.get("name"))
    return [
        ImportedComponent(external_id=cid, name=page_names.get(cid) or name)
        for cid, name in names.items()
    ]
