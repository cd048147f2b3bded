"""Precomputed pattern analysis, rebuilt by ``services.refresh_patterns``.

Pages and the API read these tables; nothing here is edited by hand.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils import timezone

from postmortems.models import Incident


class PatternQuerySet(models.QuerySet):
    def recurring(self, min_support: int | None = None) -> PatternQuerySet:
        """Patterns at or above the minimum support (``PATTERN_MIN_SUPPORT`` by default)."""
        return self.filter(support__gte=min_support or settings.PATTERN_MIN_SUPPORT)

    def emerging(self) -> PatternQuerySet:
        """Combinations seen together more than once but below the minimum support."""
        return self.filter(support__lt=settings.PATTERN_MIN_SUPPORT)


class Pattern(models.Model):
    """A closed combination of 2 or 3 attributes (change types, failure categories) that recurs.

    ``key`` is the sorted attributes joined by ``+`` (``cat:non-staged-rollout+ct:config-change``)
    and identifies the combination across refreshes. Every other column is derived by the
    mining engine; rows are replaced wholesale, never edited.
    """

    key = models.CharField(max_length=500, unique=True)
    # Rows are updated in place by key, so a pattern keeps its id (and its URL) while it
    # grows; detected_at is when a refresh first found it.
    detected_at = models.DateTimeField(default=timezone.now)
    title = models.CharField(max_length=500)
    attributes = ArrayField(models.CharField(max_length=80))
    support = models.PositiveIntegerField()
    lift = models.FloatField()
    vendor_count = models.PositiveIntegerField()
    vendors = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    score = models.FloatField(db_index=True)
    first_seen = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    quarter_counts = models.JSONField(default=dict, blank=True)
    computed_at = models.DateTimeField()
    incidents = models.ManyToManyField(Incident, through="PatternMember", related_name="patterns")

    objects = PatternQuerySet.as_manager()

    class Meta:
        ordering = ["-score", "key"]

    def __str__(self) -> str:
        return self.title


class PatternMember(models.Model):
    """One incident in which all of a pattern's attributes occur together."""

    pattern = models.ForeignKey(Pattern, on_delete=models.CASCADE, related_name="members")
    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="pattern_memberships"
    )
    joined_at = models.DateTimeField(
        default=timezone.now, help_text="When a refresh first found it in the pattern."
    )
    prior_completed_actions = models.PositiveIntegerField(
        default=0,
        help_text="Done action items of the members that started before this one: "
        "the fixes it recurred after.",
    )

    class Meta:
        ordering = ["pattern", "incident"]
        constraints = [
            models.UniqueConstraint(fields=["pattern", "incident"], name="pattern_member_unique")
        ]

    def __str__(self) -> str:
        return f"{self.pattern.key} · {self.incident_id}"


class VendorRecurrence(models.Model):
    """A vendor hit again by the same change type or failure category within the window.

    One row per (incident, vendor, attribute): ``previous`` is the latest earlier
    published incident of the same vendor with the same attribute.
    """

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="recurrences")
    vendor = models.ForeignKey(
        "postmortems.Vendor", on_delete=models.CASCADE, related_name="recurrences"
    )
    attribute = models.CharField(max_length=120)
    attribute_name = models.CharField(max_length=200)
    previous = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="+")
    gap = models.DurationField()

    class Meta:
        ordering = ["incident", "vendor", "attribute"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "vendor", "attribute"], name="vendor_recurrence_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.vendor_id} · {self.attribute} · {self.incident_id}"


class RelatedList(models.Model):
    """The cached result of ``related.related_incidents`` for one published incident.

    Filled when first read and, for recently changed incidents, by each refresh; every
    refresh clears the cache first, since one new postmortem can change anyone's list.
    ``items`` holds ``{"id", "slug", "title", "score", "reasons"}`` dicts, best first
    (an empty list is a result too).
    """

    incident = models.OneToOneField(
        Incident, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    computed_at = models.DateTimeField()
    items = models.JSONField(default=list)

    def __str__(self) -> str:
        return f"Related to {self.incident_id}"


class StatsSnapshot(models.Model):
    """The metrics, trends and chart series of one refresh, as one JSON document.

    Only the latest row is read; see ``patterns.snapshot`` for its shape.
    """

    computed_at = models.DateTimeField(db_index=True)
    data = models.JSONField()

    class Meta:
        get_latest_by = "computed_at"

    def __str__(self) -> str:
        return f"Stats of {self.computed_at:%Y-%m-%d %H:%M}"
