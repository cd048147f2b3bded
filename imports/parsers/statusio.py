"""status.io public status API (``GET https://api.status.io/1.0/status/<page id>``).

``{result: {status_overall, status[], incidents[], maintenance: {active[],
upcoming[]}}}``. The public endpoint lists open incidents only; an incident
carrying a non-empty ``datetime_resolve`` (as the webhook and incident-list
shapes do) counts as resolved.

Messages have no id of their own in the public API: an ``_id`` is used when
present, else ``<incident id>-<message datetime, UTC ISO>`` (``-2``… for
messages at the same instant, counted oldest first), stable across re-fetches
and new messages.

Impact, from the worst message ``status`` code: 300 degraded → minor, 400
partial disruption → major, 500 disruption → critical, 600 security event →
major (no scale given; a security event is never small), 100 operational →
none. Maintenances are "maintenance".
"""

from __future__ import annotations

from datetime import datetime

from imports.parsers.common import (
    ItemProblem,
    body_format,
    collect,
    derived_update_ids,
    json_type,
    load_json_object,
    parse_time,
    real_end,
    require_id,
    text,
    text_id,
    worst_impact,
)
from imports.records import (
    ImportBatch,
    ImportedComponent,
    ImportedIncident,
    ImportedUpdate,
    PayloadError,
)

LABEL = "status.io status"
STATE_WORDS = {100: "investigating", 200: "identified", 300: "monitoring"}
STATUS_IMPACT = {100: "none", 300: "minor", 400: "major", 500: "critical", 600: "major"}
ID_KEYS = ("_id", "id")


def parse(data: bytes) -> ImportBatch:
    """Open incidents and active/upcoming maintenances of a status.io status payload."""
    payload = load_json_object(data, LABEL)
    result = payload.get("result")
    if not isinstance(result, dict):
        raise PayloadError(f"not a {LABEL} payload: expected a 'result' object")
    if "incidents" not in result and "maintenance" not in result:
        raise PayloadError(f"not a {LABEL} payload: 'result' has no 'incidents' or 'maintenance'")
    maintenance = result.get("maintenance") or {}
    if not isinstance(maintenance, dict):
        raise PayloadError(f"not a {LABEL} payload: 'maintenance' is {json_type(maintenance)}")
    batch = ImportBatch()
    collect(batch, as_list(result, "incidents"), parse_incident, id_keys=ID_KEYS)
    for key, status in (("active", "in_progress"), ("upcoming", "scheduled")):
        collect(
            batch,
            as_list(maintenance, key),
            lambda item, s=status: parse_maintenance(item, s),
            id_keys=ID_KEYS,
            label="maintenance",
        )
    return batch


def as_list(container: dict, key: str) -> list:
    value = container.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise PayloadError(f"not a {LABEL} payload: '{key}' is {json_type(value)}, not an array")
    return value


def parse_incident(item: dict) -> ImportedIncident:
    incident_id = incident_ref(item)
    messages = parse_messages(incident_id, item.get("messages"))
    started_at = start(item, "datetime_open", messages)
    resolve = parse_time(item.get("datetime_resolve"), "datetime_resolve")
    latest = messages[-1][0].status if messages else "investigating"
    return ImportedIncident(
        external_id=incident_id,
        title=title(item),
        status="resolved" if resolve else latest,
        impact=worst_impact(
            (STATUS_IMPACT.get(code, "minor") for _, code in messages if code != 200),
            default="minor",
        ),
        started_at=started_at,
        resolved_at=real_end(
            resolved_at=resolve, started_at=started_at, created_at=None, closing_times=[]
        )
        if resolve
        else None,
        url=text(item.get("incident_url")),
        components=components(item.get("components_affected")),
        updates=[update for update, _ in messages],
        raw=item,
    )


def parse_maintenance(item: dict, status: str) -> ImportedIncident:
    maintenance_id = incident_ref(item)
    messages = parse_messages(maintenance_id, item.get("messages"))
    started_at = start(item, "datetime_planned_start", messages)
    updates = [update for update, _ in messages]
    # Message states are incident words ("investigating"); a maintenance's
    # messages are announcements before its window and progress notes within it.
    for update in updates:
        update.status = "scheduled" if update.display_at < started_at else "in_progress"
    return ImportedIncident(
        external_id=maintenance_id,
        title=title(item),
        status=status,
        impact="maintenance",
        started_at=started_at,
        resolved_at=None,  # active or upcoming: not over yet
        is_maintenance=True,
        url=text(item.get("maintenance_url")),
        components=components(item.get("components_affected")),
        updates=updates,
        raw=item,
    )


def incident_ref(item: dict) -> str:
    return require_id(item, "_id") if item.get("_id") is not None else require_id(item, "id")


def title(item: dict) -> str:
    name = text(item.get("name")).strip()
    if not name:
        raise ItemProblem("incident has no 'name'")
    return name


def start(item: dict, key: str, messages: list[tuple[ImportedUpdate, int]]) -> datetime:
    """The stated start, else the first message's time."""
    started_at = parse_time(item.get(key), key)
    if started_at is None and messages:
        started_at = messages[0][0].display_at
    if started_at is None:
        raise ItemProblem(f"has no '{key}' and no dated message")
    return started_at


def parse_messages(incident_id: str, raw: object) -> list[tuple[ImportedUpdate, int]]:
    """(update, status code) pairs, oldest first."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ItemProblem(f"'messages' is {json_type(raw)}, not an array")
    rows = []
    for position, message in enumerate(raw, start=1):
        if not isinstance(message, dict):
            raise ItemProblem(f"message #{position} is {json_type(message)}, not an object")
        when = parse_time(message.get("datetime"), f"message #{position} datetime")
        if when is None:
            raise ItemProblem(f"message #{position} has no 'datetime'")
        rows.append((when, message))
    rows.sort(key=lambda row: row[0])
    derived = derived_update_ids(incident_id, [when for when, _ in rows])
    pairs = []
    for (when, message), derived_id in zip(rows, derived, strict=True):
        update_id = text_id(message.get("_id")) or derived_id
        pairs.append((update(message, when, update_id), code(message.get("status"))))
    return pairs


def update(message: dict, when: datetime, update_id: str) -> ImportedUpdate:
    body = text(message.get("details"))
    return ImportedUpdate(
        external_id=update_id,
        # An unknown state still reports a live problem: "investigating".
        status=STATE_WORDS.get(code(message.get("state")), "investigating"),
        body=body,
        body_format=body_format(body),
        display_at=when,
    )


def code(value: object) -> int:
    """A status.io numeric code (100, 200…); the API sends numbers, webhooks sometimes strings."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return 0


def components(raw: object) -> list[ImportedComponent]:
    """Affected components by ``_id``. Containers (hosting locations) are left in ``raw``."""
    found: dict[str, str] = {}
    for component in raw if isinstance(raw, list) else []:
        if isinstance(component, dict):
            component_id = text_id(component.get("_id") or component.get("id"))
            if component_id and component_id not in found:
                found[component_id] = text(component.get("name"))
    return [ImportedComponent(external_id=cid, name=name) for cid, name in found.items()]
