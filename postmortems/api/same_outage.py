"""The API's view of an outage recorded more than once: /api/incidents/{slug}/same-outage/.

Reads and writes go through ``postmortems.same_outage``; this module only shapes them.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from postmortems.choices import ReviewStatus
from postmortems.models import Incident
from postmortems.same_outage import candidates, outage_records

SAME_OUTAGE_AS_HELP = (
    "Slug of the postmortem this one is another record of (the same outage, counted once, "
    "by that one), when that one is published; null otherwise. "
    "/api/incidents/{slug}/same-outage/ names every record of the outage you may see."
)


@extend_schema_field({"type": "string", "nullable": True, "readOnly": True})
class PublishedRecordField(serializers.Field):
    """The canonical record's slug, when it is published (a draft's slug names its title)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value: Incident) -> str | None:
        return value.slug if value.status == ReviewStatus.PUBLISHED else None


class SameOutageCandidateSerializer(serializers.Serializer):
    slug = serializers.CharField()
    title = serializers.CharField()
    score = serializers.FloatField(min_value=0, max_value=1, help_text="0 to 1, best first.")
    reasons = serializers.ListField(
        child=serializers.CharField(), help_text="E.g. “times overlap by 42 min”."
    )


class SameOutageSerializer(serializers.Serializer):
    """An incident's outage: the record it is another record of, the outage's other
    records, and suggestions (only records you may see)."""

    same_outage_as = serializers.CharField(
        allow_null=True,
        help_text="Slug of the canonical record this one is another record of, or null.",
    )
    other_records = serializers.ListField(
        child=serializers.CharField(),
        help_text="Slugs of the outage's other records (not this one, nor `same_outage_as`).",
    )
    candidates = SameOutageCandidateSerializer(
        many=True,
        help_text="Postmortems of a shared vendor whose times overlap, that may record the "
        "same outage; at most three, best first.",
    )


class SameOutageLinkSerializer(serializers.Serializer):
    incident = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Incident.objects.none(),  # the reader's own: see get_fields
        help_text="Slug of the other record of the same outage.",
        error_messages={"does_not_exist": "No postmortem “{value}” that you may see."},
    )
    version = serializers.IntegerField(
        min_value=1,
        required=False,
        help_text="The version of this postmortem the link is based on (or send If-Match).",
    )

    def get_fields(self) -> dict:
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None:
            fields["incident"].queryset = Incident.objects.visible_to(request.user)
        return fields


def same_outage_data(incident: Incident, user) -> dict:
    """What /same-outage/ answers for ``incident`` and ``user``: two or three queries."""
    records = outage_records(incident, user)
    return {
        "same_outage_as": records.canonical.slug if records.canonical else None,
        "other_records": [record.slug for record in records.others],
        "candidates": [
            {
                "slug": c.incident.slug,
                "title": c.incident.title,
                "score": c.score,
                "reasons": c.reasons,
            }
            for c in candidates(incident, user=user)
        ],
    }
