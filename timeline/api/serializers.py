"""Timeline events as the API shows and takes them: nested (read-only) in an incident, and
on their own under /api/incidents/{slug}/timeline/. Writes go through ``timeline.services``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from rest_framework import serializers

from postmortems.limits import validate_nesting
from timeline.choices import MANUAL_SOURCE, BodyFormat
from timeline.models import TimelineEvent

# Set by imports (and, for the format, by the text they bring); a write may echo them back
# unchanged but not change them, and is told so rather than silently ignored.
IMPORT_KEYS_MESSAGE = (
    "Set by the status-page import that brought the event; it cannot be written here."
)
BODY_FORMAT_MESSAGE = (
    "New events are Markdown; an imported event keeps the format its text came in."
)
NEW_EVENT_DEFAULTS = {
    "source": MANUAL_SOURCE,
    "external_id": "",
    "body_format": BodyFormat.MARKDOWN,
}
# Times near the ends of Python's calendar (year 1, year 9999) cannot be shown in every
# reader's zone, and would break the incident page; no outage happened outside these.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)


class TimelineEventSerializer(serializers.ModelSerializer):
    """A timeline event. Requests write its time, kind and description, and name the
    incident's version they are based on."""

    version = serializers.IntegerField(
        min_value=1,
        required=False,
        write_only=True,
        help_text="The incident's version this change is based on (its ETag); or send "
        "If-Match. A timeline write moves the incident to a new version.",
    )

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
            "version",
        ]
        read_only_fields = ["id", "body_format", "source", "external_id"]
        extra_kwargs = {
            "occurred_at": {"help_text": "ISO 8601 with a UTC offset, e.g. 2024-02-29T01:15Z."},
            "kind": {
                "help_text": "Events of kind impact_start, detection, mitigation and resolution "
                "set the incident's moment of the same meaning."
            },
            "description": {"help_text": "Markdown (an imported event may hold HTML or text)."},
            "body_format": {"help_text": BODY_FORMAT_MESSAGE},
            "source": {"help_text": "`manual`, or the status-page import that brought it."},
            "external_id": {"help_text": "The status page's update id, for imported events."},
        }

    def validate_occurred_at(self, value: datetime) -> datetime:
        if not EARLIEST <= value < LATEST:
            raise serializers.ValidationError("Give a time between the years 1900 and 2999.")
        return value

    def validate_description(self, value: str) -> str:
        validate_nesting(value)  # deeper than the incident page can show
        return value

    def validate(self, attrs: dict) -> dict:
        errors = self.fixed_key_errors()
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def fixed_key_errors(self) -> dict:
        """A read-only key sent with a value other than the event's is refused by name."""
        data = self.initial_data
        if not isinstance(data, Mapping):
            return {}
        errors = {}
        for name in ("source", "external_id", "body_format"):
            current = getattr(self.instance, name, NEW_EVENT_DEFAULTS[name])
            if name in data and data[name] != current:
                message = BODY_FORMAT_MESSAGE if name == "body_format" else IMPORT_KEYS_MESSAGE
                errors[name] = [message]
        return errors
