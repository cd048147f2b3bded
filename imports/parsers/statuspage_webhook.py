"""Statuspage subscriber webhook notifications.

There is no event-type field: a notification carries either an ``incident``
(incidents and maintenances alike, the latter with ``scheduled_for`` set) or
a ``component_update``/``component`` pair. Component notifications change no
incident, so they parse to an empty batch.
"""

from __future__ import annotations

from imports.parsers.common import collect, json_type, load_json_object
from imports.parsers.statuspage import parse_incident
from imports.records import ImportBatch, PayloadError

LABEL = "Statuspage webhook"


def parse(data: bytes) -> ImportBatch:
    """The incident of one webhook notification (empty for component notifications)."""
    payload = load_json_object(data, LABEL)
    batch = ImportBatch()
    if "incident" in payload:
        incident = payload["incident"]
        if not isinstance(incident, dict):
            raise PayloadError(f"not a {LABEL} payload: 'incident' is {json_type(incident)}")
        # Webhook pages carry no URL: the incident's shortlink is the link.
        collect(batch, [incident], parse_incident)
        return batch
    if "component_update" in payload or "component" in payload:
        return batch
    found = ", ".join(sorted(payload)[:8]) or "none"
    raise PayloadError(
        f"not a {LABEL} payload: expected an 'incident' or 'component_update' key (keys: {found})"
    )
