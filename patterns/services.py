"""Writes of the patterns app: rebuilding the precomputed pattern tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from patterns.mining import MAX_SIZE, MinedPattern, recurring_patterns
from patterns.models import Pattern, PatternMember


@dataclass(frozen=True)
class RefreshSummary:
    deleted: int
    patterns: int
    members: int

    def __str__(self) -> str:
        return f"{self.patterns} patterns, {self.members} members ({self.deleted} replaced)"


def refresh_patterns(*, min_support: int = 3, max_size: int = MAX_SIZE) -> RefreshSummary:
    """Recompute every recurring pattern and replace the stored ones in one transaction."""
    now = timezone.now()
    # Mine before opening the transaction: the write lock below is then held only for the
    # delete and inserts, not for the analysis.
    mined = recurring_patterns(min_support=min_support, max_size=max_size, now=now)
    return _replace_patterns(mined, now)


@transaction.atomic
def _replace_patterns(mined: list[MinedPattern], computed_at: datetime) -> RefreshSummary:
    # EXCLUSIVE mode serialises concurrent refreshes (two interleaved delete + insert runs
    # would collide on the unique key) while plain SELECTs keep reading the old rows until
    # this transaction commits, so no reader sees half a refresh.
    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {Pattern._meta.db_table} IN EXCLUSIVE MODE")
    deleted = Pattern.objects.count()
    # Members go with their patterns (ON DELETE CASCADE is emulated by Django in one query).
    Pattern.objects.all().delete()
    patterns = Pattern.objects.bulk_create(_pattern_row(p, computed_at) for p in mined)
    members = PatternMember.objects.bulk_create(
        PatternMember(pattern=row, incident_id=incident_id)
        for row, mined_pattern in zip(patterns, mined, strict=True)
        for incident_id in mined_pattern.members
    )
    return RefreshSummary(deleted=deleted, patterns=len(patterns), members=len(members))


def _pattern_row(pattern: MinedPattern, computed_at: datetime) -> Pattern:
    return Pattern(
        key=pattern.key,
        title=pattern.title,
        attributes=list(pattern.attributes),
        support=pattern.support,
        lift=pattern.lift,
        vendor_count=len(pattern.vendors),
        vendors=list(pattern.vendors),
        score=pattern.score,
        first_seen=pattern.first_seen,
        last_seen=pattern.last_seen,
        quarter_counts=pattern.quarter_counts,
        computed_at=computed_at,
    )
