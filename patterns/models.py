"""Precomputed recurring patterns, rebuilt as a whole by ``services.refresh_patterns``."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models

from postmortems.models import Incident


class Pattern(models.Model):
    """A closed combination of 2 or 3 attributes (change types, failure categories) that recurs.

    ``key`` is the sorted attributes joined by ``+`` (``cat:non-staged-rollout+ct:config-change``)
    and identifies the combination across refreshes. Every other column is derived by the
    mining engine; rows are replaced wholesale, never edited.
    """

    key = models.CharField(max_length=500, unique=True)
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

    class Meta:
        ordering = ["pattern", "incident"]
        constraints = [
            models.UniqueConstraint(fields=["pattern", "incident"], name="pattern_member_unique")
        ]

    def __str__(self) -> str:
        return f"{self.pattern.key} · {self.incident_id}"
