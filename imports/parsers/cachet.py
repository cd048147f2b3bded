"""Cachet API v1 incidents (``GET /api/v1/incidents`` and ``/incidents/<id>``).

``{meta, data: [...]}`` (or ``data: {...}`` for one incident). Status is a
number: 0 scheduled (legacy maintenance), 1 investigating, 2 identified,
3 watching, 4 fixed; these become the lifecycle words scheduled /
investigating / identified / monitoring / resolved. Closed ⇔ status 4.

Times: Cachet writes naive ``"2015-08-01 12:00:00"`` strings in the
instance's configured zone, which the payload does not state; they are read
as UTC. Older instances send epoch seconds instead.

Impact: Cachet incidents carry no severity (component status is separate),
so it is inferred from the incident name like the feeds do: "outage",
"unavailable", "disruption", "Störung" → major, else minor; status 0 →
"maintenance".

Updates: the incident's own ``message`` is the first update (id
``<incident id>-message``), followed by ``incident_updates`` (or ``updates``),
each under its own numeric id.
"""

from __future__ import annotations

from datetime import UTC, datetime

from imports.parsers.common import (
    ItemProblem,
    collect,
    impact_from_words,
    json_type,
    load_json_object,
    parse_time,
    real_end,
    require_id,
    text,
    text_id,
)
from imports.records import (
    ImportBatch,
    ImportedComponent,
    ImportedIncident,
    ImportedUpdate,
    PayloadError,
)

LABEL = "Cachet v1 incidents"
STATUS_WORDS = {0: "scheduled", 1: "investigating", 2: "identified", 3: "monitoring", 4: "resolved"}
FIXED = 4
SCHEDULED = 0


def parse(data: bytes) -> ImportBatch:
    """Every incident of a Cachet v1 incidents response."""
    payload = load_json_object(data, LABEL)
    items = payload.get("data")
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list):
        raise PayloadError(
            f"not a {LABEL} payload: expected a 'data' array, got {json_type(items)}"
        )
    batch = ImportBatch()
    collect(batch, items, parse_incident)
    return batch


def time_of(value: object, what: str) -> datetime | None:
    return parse_time(value, what, naive_tz=UTC)


def parse_incident(item: dict) -> ImportedIncident:
    incident_id = require_id(item, "id")
    name = text(item.get("name")).strip()
    if not name:
        raise ItemProblem("incident has no 'name'")
    status = status_code(item.get("status"), "incident")
    created_at = time_of(item.get("created_at"), "created_at")
    started_at = (
        time_of(item.get("occurred_at"), "occurred_at")
        or time_of(item.get("scheduled_at"), "scheduled_at")
        or created_at
    )
    if started_at is None:
        raise ItemProblem("incident has no 'occurred_at', 'scheduled_at' or 'created_at'")
    updates = parse_updates(item.get("incident_updates", item.get("updates")))
    return ImportedIncident(
        external_id=incident_id,
        title=name,
        status=STATUS_WORDS[status],
        impact="maintenance" if status == SCHEDULED else impact_from_words(name),
        started_at=started_at,
        # From the real updates only: the opening message is not an end.
        resolved_at=end_time(item, status, started_at, created_at, updates),
        is_maintenance=status == SCHEDULED,
        url=text(item.get("permalink")),
        components=component(item.get("component")),
        updates=with_opening_message(item, incident_id, status, started_at, updates),
        raw=item,
    )


def status_code(value: object, what: str) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value not in STATUS_WORDS:
        raise ItemProblem(f"{what} status {value!r} is not a Cachet status (0-4)")
    return value


def end_time(
    item: dict,
    status: int,
    started_at: datetime,
    created_at: datetime | None,
    updates: list[ImportedUpdate],
) -> datetime | None:
    """The last "fixed" update; without one, ``updated_at`` (see below); None while open.

    Cachet has no resolved_at. Before 2.4 there were no updates: an incident
    was fixed by editing it, so ``updated_at`` is when that happened. An
    incident created already fixed has ``updated_at == created_at``: unknown.
    """
    if status != FIXED:
        return None
    fixed = [u.display_at for u in updates if u.status == "resolved"]
    return real_end(
        resolved_at=None if fixed else time_of(item.get("updated_at"), "updated_at"),
        started_at=started_at,
        created_at=created_at,
        closing_times=fixed,
    )


def parse_updates(raw_updates: object) -> list[ImportedUpdate]:
    """``incident_updates`` (``updates`` in some versions), oldest first."""
    if raw_updates is None:
        return []
    if not isinstance(raw_updates, list):
        raise ItemProblem(f"'incident_updates' is {json_type(raw_updates)}, not an array")
    updates = [parse_update(raw, position) for position, raw in enumerate(raw_updates, start=1)]
    return sorted(updates, key=lambda u: u.display_at)


def with_opening_message(
    item: dict,
    incident_id: str,
    status: int,
    started_at: datetime,
    updates: list[ImportedUpdate],
) -> list[ImportedUpdate]:
    """The incident's own message as the first update, when it has one."""
    message = text(item.get("message"))
    if not message:
        return updates
    # With later updates the opening message reported the start of the
    # problem; alone, it carries the incident's current status.
    opening = "investigating" if updates and status != SCHEDULED else STATUS_WORDS[status]
    first = ImportedUpdate(
        external_id=f"{incident_id}-message",
        status=opening,
        body=message,
        body_format="markdown",
        display_at=started_at,
        created_at=time_of(item.get("created_at"), "created_at"),
    )
    # Stable sort: the message stays first among updates at the same time.
    return sorted([first, *updates], key=lambda u: u.display_at)


def parse_update(raw: object, position: int) -> ImportedUpdate:
    if not isinstance(raw, dict):
        raise ItemProblem(f"update #{position} is {json_type(raw)}, not an object")
    update_id = text_id(raw.get("id"))
    if update_id is None:
        raise ItemProblem(f"update #{position} has no 'id'")
    created_at = time_of(raw.get("created_at"), f"update {update_id} created_at")
    if created_at is None:
        raise ItemProblem(f"update {update_id} has no 'created_at'")
    return ImportedUpdate(
        external_id=update_id,
        status=STATUS_WORDS[status_code(raw.get("status"), f"update {update_id}")],
        body=text(raw.get("message")),
        body_format="markdown",
        display_at=created_at,
        created_at=created_at,
    )


def component(raw: object) -> list[ImportedComponent]:
    """The incident's component when the payload names it (``component_id`` alone has no name)."""
    if not isinstance(raw, dict):
        return []
    component_id = text_id(raw.get("id"))
    name = text(raw.get("name"))
    return [ImportedComponent(external_id=component_id, name=name)] if component_id else []
