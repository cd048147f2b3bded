"""Writes of the patterns app: rebuilding the precomputed pattern tables."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from patterns import evidence, mining, profiles, related, snapshot
from patterns.mining import MAX_SIZE, MinedPattern
from patterns.models import IncidentProfile, Pattern, RelatedList
from postmortems.models import Incident

# Related lists of this many recently changed incidents are recomputed after each refresh
# (a task of its own), so the postmortems people are reading now are served from the cache.
WARM_RELATED = 50
# The refresh sorts and hashes millions of rows; PostgreSQL's default of 4 MB would send
# them to temporary files. Set for the refresh's transaction only.
REFRESH_WORK_MEM = "256MB"


@dataclass(frozen=True)
class RefreshSummary:
    patterns: int
    new: int
    retired: int
    members: int  # memberships: each pattern's support, added up
    incidents: int  # published incidents analysed

    def __str__(self) -> str:
        return (
            f"{self.patterns} patterns ({self.new} new, {self.retired} retired), "
            f"{self.members} members, {self.incidents} published incidents"
        )


@transaction.atomic
def refresh_patterns(
    *, min_support: int | None = None, max_size: int = MAX_SIZE, now: datetime | None = None
) -> RefreshSummary:
    """Recompute patterns, incident profiles and statistics, and store them in one transaction."""
    now = now or timezone.now()
    with connection.cursor() as cursor:
        # EXCLUSIVE mode serialises concurrent refreshes (two interleaved upserts would
        # collide on the unique keys) while plain SELECTs keep reading the old rows until
        # this transaction commits, so no reader sees half a refresh. Taken first, so a
        # second refresh waits and then analyses what the first one left.
        cursor.execute(f"LOCK TABLE {Pattern._meta.db_table} IN EXCLUSIVE MODE")
        cursor.execute("SELECT set_config('work_mem', %s, true)", [REFRESH_WORK_MEM])
    # Only what matching needs: every other column is written anew.
    existing = {p.key: p for p in Pattern.objects.only("id", "key", "detected_at")}
    vocabulary = profiles.load_vocabulary()
    profiles.build_working_tables(vocabulary)
    mined = mining.mine(
        vocabulary,
        min_support or mining_support(),
        max_size,
        now=now,
        stored={key: row.pk for key, row in existing.items()},
    )
    stats = snapshot.build_snapshot(now, profiles.WORKING_SOURCE)
    return _store(mined, existing, stats, now)


def _store(
    mined: list[MinedPattern], existing: dict[str, Pattern], stats: dict, now: datetime
) -> RefreshSummary:
    incidents = profiles.sync_profiles()
    patterns, new, retired = _upsert_patterns(mined, existing, now)
    count_auto_members()
    snapshot.store_snapshot(stats, now)
    RelatedList.objects.all().delete()
    members = sum(p.support for p in mined)
    return RefreshSummary(len(patterns), new, retired, members, incidents)


def count_auto_members() -> None:
    """Each pattern's members whose labels no person has looked at (auto-classified), for
    the dashboard's "hand-labelled only" switch. Only those incidents' profiles are read;
    the write before it stored 0 for every pattern."""
    pattern, profile = Pattern._meta.db_table, IncidentProfile._meta.db_table
    incident = Incident._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH auto AS (
                SELECT ip.attributes FROM {profile} ip
                JOIN {incident} i ON i.id = ip.incident_id AND i.auto_classified
            )
            UPDATE {pattern} p SET auto_members = counted.n
            FROM (
                SELECT p2.id, count(*) AS n FROM {pattern} p2
                JOIN auto ON auto.attributes @> p2.attributes
                GROUP BY p2.id
            ) counted
            WHERE p.id = counted.id
            """
        )


def mining_support() -> int:
    """Combinations are stored from 2 incidents up, below ``PATTERN_MIN_SUPPORT``: pages show
    them apart as *emerging*, and a small knowledge base has something to show. Closedness
    does not depend on the threshold, so filtering stored rows by support later gives
    exactly what mining at that support would."""
    return min(settings.PATTERN_MIN_SUPPORT, 2)


def _upsert_patterns(
    mined: list[MinedPattern], existing: dict[str, Pattern], now: datetime
) -> tuple[list[Pattern], int, int]:
    """Update patterns by key (their ids stay stable), create new ones, drop vanished ones.

    Mining lets a stored combination represent the ones with the same members, so folding
    them keeps the stored pattern and drops the others.
    """
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
    _write_patterns(rows)
    return rows, sum(1 for row in rows if row.pk is None), retired


# Each derived column with its type in the temporary table rows are copied into.
_WRITTEN = {
    "title": "text",
    "attributes": "text[]",
    "support": "int",
    "lift": "float8",
    "vendor_count": "int",
    "vendors": "text[]",
    "top_vendors": "text[]",
    "score": "float8",
    "measure": "text",
    "expected": "float8",
    "p_value": "float8",
    "log10_p": "float8",
    "evidence": "float8",
    "overlap": "float8",
    "variant_count": "int",
    "auto_members": "int",
    "first_seen": "timestamptz",
    "last_seen": "timestamptz",
    "quarter_counts": "jsonb",
    "completed_actions": "int",
    "quarter_completed_actions": "jsonb",
    "latest_members": "bigint[]",
    "latest_prior_actions": "int[]",
    "equivalent_keys": "text[]",
    "shared_attributes": "text[]",
    "computed_at": "timestamptz",
}
_JSON = {name for name, kind in _WRITTEN.items() if kind == "jsonb"}


def _write_patterns(rows: list[Pattern]) -> None:
    """Write the patterns' derived columns: new rows inserted, existing ones updated.

    ``bulk_create`` and ``bulk_update`` adapt every array element as a parameter and build
    a CASE per column over every row, which grows slow with thousands of patterns; a COPY
    into a temporary table and one statement each way stays linear.
    """
    table = Pattern._meta.db_table
    names = ", ".join(_WRITTEN)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS refreshed_pattern")
        columns = ", ".join(f"{name} {kind}" for name, kind in _WRITTEN.items())
        cursor.execute(
            "CREATE TEMPORARY TABLE refreshed_pattern "
            "(id bigint, key text, detected_at timestamptz, variant_of_key text, "
            f"{columns}) ON COMMIT DROP"
        )
        with cursor.copy(
            f"COPY refreshed_pattern (id, key, detected_at, variant_of_key, {names}) FROM STDIN"
        ) as copy:
            for row in rows:
                values = [getattr(row, name) for name in _WRITTEN]
                values = [
                    json.dumps(v) if n in _JSON else v
                    for n, v in zip(_WRITTEN, values, strict=True)
                ]
                copy.write_row((row.pk, row.key, row.detected_at, row.variant_of_key, *values))
        assignments = ", ".join(f"{name} = u.{name}" for name in _WRITTEN)
        cursor.execute(
            f"UPDATE {table} p SET {assignments} FROM refreshed_pattern u "
            "WHERE u.id IS NOT NULL AND u.id = p.id"
        )
        cursor.execute(
            f"INSERT INTO {table} (key, detected_at, {names}) "
            f"SELECT key, detected_at, {names} FROM refreshed_pattern WHERE id IS NULL"
        )
        # Families by key, once every row has its id: a head may be new in this refresh.
        cursor.execute(
            f"UPDATE {table} p SET variant_of_id = h.id FROM refreshed_pattern u "
            f"LEFT JOIN {table} h ON h.key = u.variant_of_key "
            "WHERE p.key = u.key AND p.variant_of_id IS DISTINCT FROM h.id"
        )


def _fill(row: Pattern, pattern: MinedPattern, computed_at: datetime) -> None:
    row.auto_members = 0  # counted after the write (count_auto_members)
    row.title = pattern.title
    row.attributes = list(pattern.attributes)
    row.support = pattern.support
    row.lift = pattern.lift
    row.vendor_count = len(pattern.vendors)
    row.vendors = list(pattern.vendors)
    row.top_vendors = list(pattern.top_vendors)
    row.score = pattern.score
    row.measure = pattern.measure
    row.expected = pattern.expected
    row.p_value = evidence.p_value(pattern.log10_p)
    row.log10_p = pattern.log10_p
    row.evidence = pattern.strength
    row.overlap = pattern.overlap
    row.variant_count = pattern.variant_count
    row.variant_of_key = pattern.variant_of  # resolved to an id once every row is stored
    row.first_seen = pattern.first_seen
    row.last_seen = pattern.last_seen
    row.quarter_counts = pattern.quarter_counts
    row.completed_actions = pattern.completed_actions
    row.quarter_completed_actions = pattern.quarter_completed_actions
    row.latest_members = list(pattern.latest_members)
    row.latest_prior_actions = list(pattern.latest_prior_actions)
    row.equivalent_keys = list(pattern.equivalent_keys)
    row.shared_attributes = list(pattern.shared_attributes)
    row.computed_at = computed_at


def warm_related_lists(limit: int = WARM_RELATED) -> int:
    """Compute and cache the related lists of the most recently changed published incidents."""
    recent = Incident.objects.published().order_by("-updated_at", "-id")[:limit]
    for incident in recent:
        related.cached_related_incidents(incident)
    return len(recent)
