"""An incident as the API reads it, built directly from its prefetched rows.

``IncidentSerializer`` declares the shape (its fields document the schema and validate
writes); this module produces the same JSON without walking DRF's field machinery, which
on a page of 50 whole incidents (timeline, factors, action items…) cost several times the
database's own time. ``tests/api/test_representation.py`` holds the two equal, field by
field, so a field added to the serializer but not here fails there.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from rest_framework import serializers

from postmortems.models import ActionItem, Factor, Incident, IncidentVendor, Service, Source
from timeline.models import TimelineEvent

# DRF's own formatting (the current time zone, "Z" for UTC), so the output cannot drift
# from the generic path's.
_DATETIME = serializers.DateTimeField()


def moment(value: datetime | None) -> str | None:
    return None if value is None else _DATETIME.to_representation(value)


def day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def seconds(value: timedelta | None) -> int | None:
    return None if value is None else int(value.total_seconds())


def vendor_link(link: IncidentVendor) -> dict:
    return {"slug": link.vendor.slug, "name": link.vendor.name, "primary": link.is_primary}


def service(row: Service) -> dict:
    return {
        "id": row.id,
        "vendor": row.vendor.slug,
        "name": row.name,
        "external_id": row.external_id,
    }


def timeline_event(event: TimelineEvent) -> dict:
    return {
        "id": event.id,
        "occurred_at": moment(event.occurred_at),
        "kind": event.kind,
        "description": event.description,
        "body_format": event.body_format,
        "source": event.source,
        "external_id": event.external_id,
    }


def factor(row: Factor) -> dict:
    return {
        "id": row.id,
        "role": row.role,
        "category": row.category.slug,
        "description": row.description,
        "position": row.position,
    }


def action_item(item: ActionItem) -> dict:
    return {
        "id": item.id,
        "title": item.title,
        "type": item.type,
        "owner": None if item.owner_id is None else item.owner.username,
        "due_date": day(item.due_date),
        "status": item.status,
        "ticket_url": item.ticket_url,
        "completed_at": moment(item.completed_at),
    }


def source(row: Source) -> dict:
    return {"id": row.id, "url": row.url, "title": row.title, "kind": row.kind}


def incident_representation(incident: Incident) -> dict:
    """The API's incident. Every relation must be prefetched (``incident_queryset``)."""
    links = list(incident.incident_vendors.all())
    primary = next((link.vendor for link in links if link.is_primary), None)
    return {
        "slug": incident.slug,
        "title": incident.title,
        "status": incident.status,
        "severity": incident.severity,
        "vendors": [vendor_link(link) for link in links],
        "primary_vendor": None if primary is None else primary.slug,
        "services": [service(row) for row in incident.services.all()],
        "regions": list(incident.regions),
        "regions_affected": incident.regions_affected,
        "regions_total": incident.regions_total,
        "blast_radius": incident.blast_radius,
        "started_at": moment(incident.started_at),
        "detected_at": moment(incident.detected_at),
        "mitigated_at": moment(incident.mitigated_at),
        "resolved_at": moment(incident.resolved_at),
        "time_to_detect": seconds(incident.time_to_detect),
        "time_to_mitigate": seconds(incident.time_to_mitigate),
        "time_to_resolve": seconds(incident.time_to_resolve),
        "summary": incident.summary,
        "impact": incident.impact,
        "analysis": incident.analysis,
        "lessons": incident.lessons,
        "change_types": [change_type.slug for change_type in incident.change_types.all()],
        "detection_method": incident.detection_method,
        "data_loss": incident.data_loss,
        "near_miss": incident.near_miss,
        "origin": incident.origin,
        "import_source": incident.import_source,
        "external_id": incident.external_id,
        "needs_review": incident.needs_review,
        "is_maintenance": incident.is_maintenance,
        "duration_unknown": incident.duration_unknown,
        "authors": [user.username for user in incident.authors.all()],
        "reviewers": [user.username for user in incident.reviewers.all()],
        "timeline": [timeline_event(event) for event in incident.events.all()],
        "factors": [factor(row) for row in incident.factors.all()],
        "action_items": [action_item(item) for item in incident.action_items.all()],
        "sources": [source(row) for row in incident.sources.all()],
        "version": incident.version,
        "created_at": moment(incident.created_at),
        "updated_at": moment(incident.updated_at),
        "published_at": moment(incident.published_at),
    }
