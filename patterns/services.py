"""Writes of the patterns app: rebuilding the precomputed pattern tables."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from patterns import recurrence, related, snapshot
from patterns.mining import MAX_SIZE, MinedPattern, recurring_patterns
from patterns.models import Pattern, PatternMember, RelatedList, StatsSnapshot
from postmortems.choices import ActionItemStatus
from postmortems.models import ActionItem, Incident

# Related lists of this many recently changed incidents are recomputed after each refresh
# (a task of its own), so the postmortems people are reading now are served from the cache.
WARM_RELATED = 50


@dataclass(frozen=True)
class RefreshSummary:
    patterns: int
    new: int
    retired: int
    members: int
    recurrences: int

    def __str__(self) -> str:
        return (
            f"{self.patterns} patterns ({self.new} new, {self.retired} retired), "
            f"{self.members} members, {self.recurrences} vendor recurrences"
        )


def refresh_patterns(
    *, min_support: int | None = None, max_size: int = MAX_SIZE, now: datetime | None = None
) -> RefreshSummary:
    """Recompute patterns, recurrences and statistics, and store them in one transaction."""
    now = now or timezone.now()
    # Analyse before opening the transaction: the write lock below is then held only for
    # the writes, not for the analysis.
    mined = recurring_patterns(
        min_support=min_support or mining_support(), max_size=max_size, now=now
    )
    stats = snapshot.build_snapshot(now)
    return _store(mined, stats, now)


def mining_support() -> int:
    """Combinations are stored from 2 incidents up, below ``PATTERN_MIN_SUPPORT``: pages show
    them apart as *emerging*, and a small knowledge base has something to show. Closedness
    does not depend on the threshold, so filtering stored rows by support later gives
    exactly what mining at that support would."""
    return min(settings.PATTERN_MIN_SUPPORT, 2)


@transaction.atomic
def _store(mined: list[MinedPattern], stats: dict, now: datetime) -> RefreshSummary:
    # EXCLUSIVE mode serialises concurrent refreshes (two interleaved upserts would collide
    # on the unique keys) while plain SELECTs keep reading the old rows until this
    # transaction commits, so no reader sees half a refresh.
    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {Pattern._meta.db_table} IN EXCLUSIVE MODE")
    patterns, new, retired = _upsert_patterns(mined, now)
    members = _sync_members(patterns, mined, now)
    window = timedelta(days=settings.PATTERN_RECURRENCE_DAYS)
    recurrences = recurrence.store_vendor_recurrences(window)
    StatsSnapshot.objects.all().delete()
    StatsSnapshot.objects.create(computed_at=now, data=stats)
    RelatedList.objects.all().delete()
    return RefreshSummary(len(patterns), new, retired, members, recurrences)


def _upsert_patterns(mined: list[MinedPattern], now: datetime) -> tuple[list[Pattern], int, int]:
    """Update patterns by key (their ids stay stable), create new ones, drop vanished ones."""
    existing = {p.key: p for p in Pattern.objects.all()}
    retired = (
        Pattern.objects.exclude(key__in=[m.key for m in mined])
        .delete()[1]
        .get(Pattern._meta.label, 0)
    )
    rows = []
    for pattern in mined:
        row = existing.get(pattern.key) or Pattern(key=pattern.key, detected_at=now)
        _fill(row, pattern, now)
        rows.append(row)
    created = [row for row in rows if row.pk is None]
    updated = [row for row in rows if row.pk is not None]
    Pattern.objects.bulk_create(created, batch_size=1000)
    _update_patterns(updated)
    return rows, len(created), retired


def _update_patterns(rows: list[Pattern]) -> None:
    """Write the derived columns of existing patterns in one statement.

    ``bulk_update`` builds a CASE per column over every row, which grows slow with thousands
    of patterns; a COPY into a temporary table and one UPDATE … FROM stays linear.
    """
    table = Pattern._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS updated_pattern")
        cursor.execute(
            "CREATE TEMPORARY TABLE updated_pattern (id bigint, data jsonb) ON COMMIT DROP"
        )
        with cursor.copy("COPY updated_pattern (id, data) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((row.pk, json.dumps(_columns(row), cls=DjangoJSONEncoder)))
        cursor.execute(
            f"""
            UPDATE {table} p SET
                title = u.data->>'title',
                attributes = ARRAY(SELECT jsonb_array_elements_text(u.data->'attributes')),
                support = (u.data->>'support')::int,
                lift = (u.data->>'lift')::float8,
                vendor_count = (u.data->>'vendor_count')::int,
                vendors = ARRAY(SELECT jsonb_array_elements_text(u.data->'vendors')),
                score = (u.data->>'score')::float8,
                first_seen = (u.data->>'first_seen')::timestamptz,
                last_seen = (u.data->>'last_seen')::timestamptz,
                quarter_counts = u.data->'quarter_counts',
                computed_at = (u.data->>'computed_at')::timestamptz
            FROM updated_pattern u WHERE u.id = p.id
            """
        )


def _columns(row: Pattern) -> dict:
    return {
        "title": row.title,
        "attributes": row.attributes,
        "support": row.support,
        "lift": row.lift,
        "vendor_count": row.vendor_count,
        "vendors": row.vendors,
        "score": row.score,
        "first_seen": row.first_seen,
        "last_seen": row.last_seen,
        "quarter_counts": row.quarter_counts,
        "computed_at": row.computed_at,
    }


def _fill(row: Pattern, pattern: MinedPattern, computed_at: datetime) -> None:
    row.title = pattern.title
    row.attributes = list(pattern.attributes)
    row.support = pattern.support
    row.lift = pattern.lift
    row.vendor_count = len(pattern.vendors)
    row.vendors = list(pattern.vendors)
    row.score = pattern.score
    row.first_seen = pattern.first_seen
    row.last_seen = pattern.last_seen
    row.quarter_counts = pattern.quarter_counts
    row.computed_at = computed_at


def _sync_members(patterns: list[Pattern], mined: list[MinedPattern], now: datetime) -> int:
    """Make the member rows match; a member that stays keeps its ``joined_at``.

    The wanted rows, with their prior completed actions, are built in a temporary table
    first, so the real table sees only the rows that change: on a large knowledge base
    rewriting every membership on every refresh would dominate the run.
    """
    table = PatternMember._meta.db_table
    with connection.cursor() as cursor:
        # ON COMMIT DROP cleans up; the DROP covers a refresh nested in an outer transaction.
        cursor.execute("DROP TABLE IF EXISTS wanted_member_ids")
        cursor.execute(
            "CREATE TEMPORARY TABLE wanted_member_ids (pattern_id bigint, incident_id bigint) "
            "ON COMMIT DROP"
        )
        # COPY: a large knowledge base has millions of memberships.
        with cursor.copy("COPY wanted_member_ids (pattern_id, incident_id) FROM STDIN") as copy:
            for row, pattern in zip(patterns, mined, strict=True):
                for incident_id in pattern.members:
                    copy.write_row((row.pk, incident_id))
        cursor.execute("DROP TABLE IF EXISTS wanted_member")
        cursor.execute(
            f"CREATE TEMPORARY TABLE wanted_member ON COMMIT DROP AS {_PRIOR_SQL}",
            [ActionItemStatus.DONE.value],
        )
        cursor.execute("ANALYZE wanted_member")
        cursor.execute(
            f"DELETE FROM {table} m WHERE NOT EXISTS (SELECT 1 FROM wanted_member w "
            "WHERE w.pattern_id = m.pattern_id AND w.incident_id = m.incident_id)"
        )
        cursor.execute(
            f"UPDATE {table} m SET prior_completed_actions = w.prior FROM wanted_member w "
            "WHERE w.pattern_id = m.pattern_id AND w.incident_id = m.incident_id "
            "AND m.prior_completed_actions <> w.prior"
        )
        cursor.execute(
            f"INSERT INTO {table} (pattern_id, incident_id, joined_at, prior_completed_actions) "
            "SELECT pattern_id, incident_id, %s, prior FROM wanted_member "
            "ON CONFLICT (pattern_id, incident_id) DO NOTHING",
            [now],
        )
        cursor.execute("SELECT count(*) FROM wanted_member")
        return cursor.fetchone()[0]


# Per member, the done action items of the pattern's members that started earlier ("did
# the fix work?"). Completion dates are not compared with the recurrence's start: action
# items of postmortems written after the fact are often ticked off long after the fix
# shipped. A member without a start cannot be placed in time and gets 0; members starting
# at the same moment do not count each other's.
_PRIOR_SQL = f"""
    WITH done AS (
        SELECT incident_id, count(*) AS n FROM {ActionItem._meta.db_table}
        WHERE status = %s GROUP BY incident_id
    )
    SELECT w.pattern_id, w.incident_id,
           CASE WHEN i.started_at IS NULL THEN 0 ELSE
               -- Everything up to and including this start, minus this start's own group.
               -- (A frame with EXCLUDE GROUP says the same but is recomputed row by row:
               -- quadratic in a pattern's size.)
               sum(coalesce(done.n, 0)) OVER (PARTITION BY w.pattern_id ORDER BY i.started_at)
               - sum(coalesce(done.n, 0)) OVER (PARTITION BY w.pattern_id, i.started_at)
           END AS prior
    FROM wanted_member_ids w
    JOIN {Incident._meta.db_table} i ON i.id = w.incident_id
    LEFT JOIN done ON done.incident_id = w.incident_id
"""


def warm_related_lists(limit: int = WARM_RELATED) -> int:
    """Compute and cache the related lists of the most recently changed published incidents."""
    recent = Incident.objects.published().order_by("-updated_at", "-id")[:limit]
    for incident in recent:
        related.cached_related_incidents(incident)
    return len(recent)
