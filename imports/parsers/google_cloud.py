"""Google Cloud status ``incidents.json`` (Google Workspace uses the same schema).

A bare JSON array of incidents. Closed ⇔ ``end`` is set. Updates are listed
newest first and carry no id of their own; ``most_recent_update`` duplicates
``updates[0]`` and is ignored.

Update ids: ``<incident id>-<update created, UTC ISO>`` (``-2``, ``-3``… for
updates created in the same second, counted oldest first). ``created`` is
when the update was posted and never changes: ``modified`` moves on edits and
``when`` may be re-dated. Ids therefore survive re-fetches and new updates
being prepended.
"""

from __future__ import annotations

from datetime import datetime

from imports.parsers.common import (
    ItemProblem,
    collect,
    derived_update_ids,
    json_type,
    load_json,
    one_line,
    parse_time,
    real_end,
    require_id,
    require_time,
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

LABEL = "Google Cloud incidents"
BASE_URL = "https://status.cloud.google.com/"
# severity first; status_impact when severity is missing (they map 1:1).
SEVERITY_IMPACT = {"low": "minor", "medium": "major", "high": "critical"}
STATUS_IMPACT = {
    "SERVICE_INFORMATION": "minor",
    "SERVICE_DISRUPTION": "major",
    "SERVICE_OUTAGE": "critical",
}
# GCP update statuses are service health, not lifecycle words.
AVAILABLE = "AVAILABLE"


def parse(data: bytes) -> ImportBatch:
    """Every incident of a GCP ``incidents.json`` array."""
    payload = load_json(data, LABEL)
    if not isinstance(payload, list):
        raise PayloadError(
            f"not a {LABEL} payload: expected a JSON array, got {json_type(payload)}"
        )
    batch = ImportBatch()
    collect(batch, payload, parse_incident)
    return batch


def parse_incident(item: dict) -> ImportedIncident:
    incident_id = require_id(item, "id")
    title = one_line(item.get("external_desc"))
    if not title:
        raise ItemProblem("incident has no 'external_desc'")
    started_at = require_time(item.get("begin"), "begin")
    # GCP sends no end, or an empty one, while the incident is open.
    end = parse_time(item.get("end"), "end")
    created_at = parse_time(item.get("created"), "created")
    updates = parse_updates(incident_id, item.get("updates"))
    resolved_at = None
    if end is not None:
        recovered = recovery_time(updates)
        resolved_at = real_end(
            resolved_at=end,
            started_at=started_at,
            created_at=created_at,
            closing_times=[recovered] if recovered else [],
        )
    return ImportedIncident(
        external_id=incident_id,
        title=title,
        status="resolved" if end is not None else "investigating",
        impact=impact(item),
        started_at=started_at,
        resolved_at=resolved_at,
        url=BASE_URL + text(item.get("uri")).lstrip("/") if item.get("uri") else "",
        components=products(item.get("affected_products")),
        updates=[update for update, _ in updates],
        raw=item,
        created_at=created_at,
        regions=locations(item),
    )


def impact(item: dict) -> str:
    severity = text(item.get("severity")).lower()
    if severity in SEVERITY_IMPACT:
        return SEVERITY_IMPACT[severity]
    return STATUS_IMPACT.get(text(item.get("status_impact")), "minor")


def parse_updates(incident_id: str, raw_updates: object) -> list[tuple[ImportedUpdate, str]]:
    """(update, GCP health status) pairs, oldest first."""
    if raw_updates is None:
        return []
    if not isinstance(raw_updates, list):
        raise ItemProblem(f"'updates' is {json_type(raw_updates)}, not an array")
    rows = [update_row(raw, position) for position, raw in enumerate(raw_updates, start=1)]
    # Reversed, so a stable sort keeps same-time updates oldest first too.
    rows = sorted(reversed(rows), key=lambda row: (row[0], row[1]))
    ids = derived_update_ids(incident_id, [created for _, created, _, _ in rows])
    return [
        (
            ImportedUpdate(
                external_id=update_id,
                status=health.lower(),
                body=body,
                # GCP writes Markdown; Markdown may embed HTML, so it stays Markdown.
                body_format="markdown",
                display_at=display_at,
                created_at=created,
            ),
            health,
        )
        for update_id, (display_at, created, body, health) in zip(ids, rows, strict=True)
    ]


def update_row(raw: object, position: int) -> tuple[datetime, datetime, str, str]:
    """(display time, created, text, health status) of one raw update."""
    if not isinstance(raw, dict):
        raise ItemProblem(f"update #{position} is {json_type(raw)}, not an object")
    created = parse_time(raw.get("created"), f"update #{position} created")
    display_at = parse_time(raw.get("when"), f"update #{position} when") or created
    if display_at is None:
        raise ItemProblem(f"update #{position} has neither 'when' nor 'created'")
    return display_at, created or display_at, text(raw.get("text")), text(raw.get("status"))


def recovery_time(updates: list[tuple[ImportedUpdate, str]]) -> datetime | None:
    """When the service was first reported AVAILABLE again, after the last problem update.

    Only used when ``end`` is unusable (zero-length). The first AVAILABLE
    update, not the last: GCP posts its incident report as a later AVAILABLE
    update, days after the recovery.
    """
    recovered = None
    for update, health in updates:
        if health != AVAILABLE:
            recovered = None
        elif recovered is None:
            recovered = update.display_at
    return recovered


def products(raw_products: object) -> list[ImportedComponent]:
    """Affected products keyed by id; ``current_title`` (after a rename) wins over ``title``."""
    found: dict[str, str] = {}
    for product in raw_products if isinstance(raw_products, list) else []:
        if not isinstance(product, dict):
            continue
        product_id = text_id(product.get("id"))
        if product_id and product_id not in found:
            found[product_id] = text(product.get("current_title") or product.get("title"))
    return [ImportedComponent(external_id=pid, name=name) for pid, name in found.items()]


def locations(item: dict) -> list[str]:
    """The ids of the locations affected now, then of those affected before, each once
    (``us-central1``, ``europe-west1``, ``global``)."""
    found: dict[str, None] = {}
    for key in ("currently_affected_locations", "previously_affected_locations"):
        raw_locations = item.get(key)
        for location in raw_locations if isinstance(raw_locations, list) else []:
            location_id = text_id(location.get("id")) if isinstance(location, dict) else None
            if location_id:
                found[location_id] = None
    return list(found)
