from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from postmortems.models import Factor, Incident
from timeline.choices import MANUAL_SOURCE, BodyFormat, EventKind


class TimelineEventQuerySet(models.QuerySet):
    def for_display(self):
        return self.select_related("author").prefetch_related("evidence_for")


class TimelineEvent(models.Model):
    """One moment of an incident: a change, a detection, a status update.

    Imported events carry their source and the status page's update id, unique
    per incident and source, so that re-importing an update finds the same
    row. ``body_format`` records what the text is (imported bodies are often
    HTML); it is always sanitised when shown.
    """

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="events")
    occurred_at = models.DateTimeField()
    kind = models.CharField(max_length=20, choices=EventKind.choices, default=EventKind.NOTE)
    description = models.TextField(blank=True, help_text="Markdown.")
    body_format = models.CharField(
        max_length=10, choices=BodyFormat.choices, default=BodyFormat.MARKDOWN
    )
    source = models.CharField(max_length=100, default=MANUAL_SOURCE)
    external_id = models.CharField(max_length=255, blank=True)
    position = models.PositiveIntegerField(
        default=0, help_text="Orders events that share a timestamp."
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="timeline_events",
    )
    evidence_for = models.ManyToManyField(Factor, blank=True, related_name="evidence")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()
    objects = TimelineEventQuerySet.as_manager()

    class Meta:
        ordering = ["occurred_at", "position", "id"]
        indexes = [models.Index(fields=["incident", "occurred_at", "position"])]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "source", "external_id"],
                condition=~Q(external_id=""),
                name="timeline_event_unique_external_id",
                violation_error_message="This update was already imported for this incident.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.get_kind_display()}"
