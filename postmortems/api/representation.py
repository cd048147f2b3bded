"""An incident as the API reads it, with its parts gathered by the database.

``IncidentSerializer`` declares the shape (its fields document the schema and validate
writes); this module produces the same JSON another way. Walking DRF's fields over
prefetched model instances cost several times the database's own time on a page of 50
whole incidents (a query per relation, a model per timeline event, factor, item…), so
each relation is instead a JSON array built in the incident's own row
(``PART_ANNOTATIONS``), and the dicts are finished here. ``tests/api/test_representation.py``
holds the result equal to what the serializer's fields give, field by field, so a field
added to the serializer but not here fails there.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime, timedelta

from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection
from django.db.models import OuterRef, QuerySet, Subquery
from django.db.models.functions import JSONObject
from rest_framework import serializers

from postmortems.choices import ReviewStatus
from postmortems.models import (
    ActionItem,
    ChangeType,
    Factor,
    Incident,
    IncidentVendor,
    Service,
    Source,
)
from timeline.models import TimelineEvent

# DRF's own formatting (the current time zone, "Z" for UTC), so the output cannot drift
# from the generic path's.
_DATETIME = serializers.DateTimeField()


def _of_incident(model, *ordering: str, **fields) -> ArraySubquery:
    """The incident's rows of ``model`` in ``ordering``, each a JSON object of ``fields``."""
    rows = model.objects.filter(incident=OuterRef("pk")).order_by(*ordering)
    return ArraySubquery(rows.values(json=JSONObject(**fields)))


def _names(through, column: str) -> ArraySubquery:
    """A many-to-many relation's names, alphabetically (people added together have no
    order of their own)."""
    rows = through.objects.filter(incident=OuterRef("pk")).order_by(column)
    return ArraySubquery(rows.values(column))


def _evidence() -> ArraySubquery:
    """A factor's evidence: its events' ids in timeline order, as ``factor.evidence`` lists
    them (inside the factor's own row: its ``OuterRef`` is the factor)."""
    links = TimelineEvent.evidence_for.through.objects.filter(factor=OuterRef("pk"))
    order = ("timelineevent__occurred_at", "timelineevent__position", "timelineevent_id")
    return ArraySubquery(links.order_by(*order).values("timelineevent_id"))


PART_ANNOTATIONS = {
    "api_vendors": _of_incident(
        IncidentVendor, "-is_primary", "vendor__name",
        slug="vendor__slug", name="vendor__name", primary="is_primary",
    ),
    "api_services": ArraySubquery(
        Service.objects.filter(incidents=OuterRef("pk"))
        .order_by("vendor__name", "name")
        .values(
            json=JSONObject(id="id", vendor="vendor__slug", name="name", external_id="external_id")
        )
    ),
    "api_change_types": ArraySubquery(
        ChangeType.objects.filter(incidents=OuterRef("pk")).order_by("name").values("slug")
    ),
    "api_authors": _names(Incident.authors.through, "user__username"),
    "api_reviewers": _names(Incident.reviewers.through, "user__username"),
    "api_timeline": _of_incident(
        TimelineEvent, "occurred_at", "position", "id",
        id="id", occurred_at="occurred_at", kind="kind", description="description",
        body_format="body_format", source="source", external_id="external_id",
    ),
    "api_factors": _of_incident(
        Factor, "position", "id",
        id="id", role="role", category="category__slug", description="description",
        position="position", evidence=_evidence(),
    ),
    "api_action_items": _of_incident(
        ActionItem, "due_date", "id",
        id="id", title="title", type="type", owner="owner__username", due_date="due_date",
        status="status", ticket_url="ticket_url", completed_at="completed_at",
    ),
    "api_sources": _of_incident(
        Source, "id", id="id", url="url", title="title", kind="kind"
    ),
}  # fmt: skip

NAME_PARTS = ("api_change_types", "api_authors", "api_reviewers")

# Single values beside the parts. The outage's canonical record is named only when it is
# published: a draft's slug (its title) must not reach readers who may not see it.
VALUE_ANNOTATIONS = {
    "api_same_outage_as": Subquery(
        Incident.objects.filter(
            pk=OuterRef("same_outage_as_id"), status=ReviewStatus.PUBLISHED
        ).values("slug")[:1]
    ),
}

# The widest columns of a row, which the API does not show.
UNSHOWN_COLUMNS = ("raw_payload", "imported_values", "search_vector")


def with_parts(incidents: QuerySet[Incident]) -> QuerySet[Incident]:
    """``incidents`` ready for ``incident_representation``: one statement, parts and all."""
    return incidents.defer(*UNSHOWN_COLUMNS).annotate(**PART_ANNOTATIONS, **VALUE_ANNOTATIONS)


@functools.cache
def _parts_statement() -> tuple[str, tuple]:
    """``with_parts``' SELECT for rows named by id, compiled once per process: compiling
    its nine subqueries costs the ORM more than PostgreSQL takes to run them."""
    sql, params = with_parts(Incident.objects.order_by()).query.sql_with_params()
    table, pk = (connection.ops.quote_name(n) for n in (Incident._meta.db_table, "id"))
    return f"{sql} WHERE {table}.{pk} = ANY(%s)", params


# Raw rows leave JSON as text (no field converts it); the name lists are plain text.
_JSON_PARTS = [name for name in PART_ANNOTATIONS if name not in NAME_PARTS]


def incidents_with_parts(ids: list[int]) -> list[Incident]:
    """The incidents with these ids, in that order, as ``with_parts`` reads them."""
    if not ids:
        return []
    sql, params = _parts_statement()
    by_id = {}
    for incident in Incident.objects.raw(sql, [*params, list(ids)]):
        for name in _JSON_PARTS:
            setattr(incident, name, [json.loads(text) for text in getattr(incident, name)])
        by_id[incident.pk] = incident
    return [by_id[pk] for pk in ids if pk in by_id]


def moment(value: datetime | str | None) -> str | None:
    """A time as DRF writes it; from JSON, PostgreSQL's ISO 8601 text."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return _DATETIME.to_representation(value)


def seconds(value: timedelta | None) -> int | None:
    return None if value is None else int(value.total_seconds())


def timeline_event(event: dict) -> dict:
    return {**event, "occurred_at": moment(event["occurred_at"])}


def action_item(item: dict) -> dict:
    return {**item, "completed_at": moment(item["completed_at"])}


def incident_representation(incident: Incident) -> dict:
    """The API's incident, from a row of ``with_parts``."""
    vendors = incident.api_vendors
    primary = next((vendor["slug"] for vendor in vendors if vendor["primary"]), None)
    return {
        "slug": incident.slug,
        "title": incident.title,
        "status": incident.status,
        "severity": incident.severity,
        "vendors": vendors,
        "primary_vendor": primary,
        "services": incident.api_services,
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
        "change_types": incident.api_change_types,
        "detection_method": incident.detection_method,
        "data_loss": incident.data_loss,
        "near_miss": incident.near_miss,
        "origin": incident.origin,
        "import_source": incident.import_source,
        "external_id": incident.external_id,
        "needs_review": incident.needs_review,
        "is_maintenance": incident.is_maintenance,
        "duration_unknown": incident.duration_unknown,
        "auto_classified": incident.auto_classified,
        "same_outage_as": incident.api_same_outage_as,
        "authors": incident.api_authors,
        "reviewers": incident.api_reviewers,
        "timeline": [timeline_event(event) for event in incident.api_timeline],
        "factors": incident.api_factors,
        "action_items": [action_item(item) for item in incident.api_action_items],
        "sources": incident.api_sources,
        "version": incident.version,
        "created_at": moment(incident.created_at),
        "updated_at": moment(incident.updated_at),
        "published_at": moment(incident.published_at),
    }
