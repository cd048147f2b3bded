"""Timeline events as the API shows them (nested, read-only, in incidents for now)."""

from rest_framework import serializers

from timeline.models import TimelineEvent


class TimelineEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = TimelineEvent
        fields = [
            "id",
            "occurred_at",
            "kind",
            "description",
            "body_format",
            "source",
            "external_id",
        ]
        read_only_fields = fields
