"""Time to detect, mitigate and resolve, and downtime, aggregated by PostgreSQL.

Durations are measured from ``started_at``. For each statistic an incident is
*unknown* when it is missing the start or the end moment of that duration, or
is flagged ``duration_unknown``; unknown incidents are left out of the median
and p90 (a missing time is not a zero-length outage) and counted in ``unknown``
so that readers can see how much the numbers rest on.

Percentiles are ``percentile_cont`` (linear interpolation between the two
nearest ranks, PostgreSQL's ordered-set aggregate). Only published incidents
count, each outage once (an outage recorded twice, as an import and a postmortem, counts
by one record: ``Incident.same_outage_as``). Each function issues one query.

Every function reads the published incidents through a ``Source``: the incident tables
by default, or the narrow working tables a refresh has already built (``profiles``), so
that a refresh does not scan the wide incident table once per statistic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection

from postmortems.choices import ReviewStatus
from postmortems.models import (
    ChangeType,
    Factor,
    FailureCategory,
    Incident,
    IncidentVendor,
    Vendor,
    counted_once_sql,
)

# The durations reported, by the moment that ends each one.
DURATIONS = {
    "detect": "detected_at",
    "mitigate": "mitigated_at",
    "resolve": "resolved_at",
}


@dataclass(frozen=True)
class DurationStats:
    group: str
    duration: str  # "detect", "mitigate" or "resolve"
    n: int
    unknown: int
    median: timedelta | None
    p90: timedelta | None


@dataclass(frozen=True)
class VendorYearDowntime:
    vendor: str
    year: int
    n: int
    unknown: int
    downtime: timedelta


@dataclass(frozen=True)
class Source:
    """Published incidents as SQL relations, written here or in ``profiles``, never input.

    ``incidents`` has (id, started_at, resolved_at, detect_s, mitigate_s, resolve_s): each
    duration in seconds, NULL when unknown (see ``duration_seconds``). ``attributed`` has
    those columns plus (kind, slug, name), once per change type (kind ``ct``) or failure
    category (``cat``) of each incident.
    """

    incidents: str
    attributed: str


def duration_seconds(table: str = "") -> str:
    """The ``<duration>_s`` columns computed from an incident row (``table`` qualifies it)."""
    t = f"{table}." if table else ""
    return ", ".join(
        f"CASE WHEN {t}started_at IS NOT NULL AND {t}{end} IS NOT NULL "
        f"AND NOT {t}duration_unknown "
        f"THEN date_part('epoch', {t}{end} - {t}started_at) END AS {name}_s"
        for name, end in DURATIONS.items()
    )


def tables() -> Source:
    """The incident tables themselves."""
    incident = Incident._meta.db_table
    change_link = Incident.change_types.through._meta.db_table
    # Each outage once, though it may be recorded twice (see Incident.same_outage_as).
    incidents = (
        f"(SELECT id, started_at, resolved_at, {duration_seconds()} FROM {incident} i "
        f"WHERE status = '{ReviewStatus.PUBLISHED.value}' AND {counted_once_sql('i')})"
    )
    # DISTINCT: two factors in one category must not count the incident twice.
    attributes = (
        f"SELECT l.incident_id, 'ct' AS kind, t.slug, t.name FROM {change_link} l "
        f"JOIN {ChangeType._meta.db_table} t ON t.id = l.changetype_id "
        f"UNION ALL SELECT DISTINCT f.incident_id, 'cat', c.slug, c.name "
        f"FROM {Factor._meta.db_table} f "
        f"JOIN {FailureCategory._meta.db_table} c ON c.id = f.category_id"
    )
    return Source(
        incidents=incidents,
        attributed=f"(SELECT i.*, a.kind, a.slug, a.name FROM {incidents} i "
        f"JOIN ({attributes}) a ON a.incident_id = i.id)",
    )


def _groupings(source: Source) -> dict[str, str]:
    """Per grouping, a statement yielding the incident columns and a ``label`` per group."""
    return {
        "change_type": f"SELECT i.*, i.name AS label FROM {source.attributed} i "
        "WHERE i.kind = 'ct'",
        "category": f"SELECT i.*, i.name AS label FROM {source.attributed} i WHERE i.kind = 'cat'",
        "vendor": f"SELECT i.*, v.name AS label FROM {source.incidents} i "
        f"JOIN {IncidentVendor._meta.db_table} l ON l.incident_id = i.id "
        f"JOIN {Vendor._meta.db_table} v ON v.id = l.vendor_id",
        # Year of the start; an incident with no start has no year to sit in.
        "year": "SELECT i.*, to_char(i.started_at AT TIME ZONE 'UTC', 'YYYY') AS label "
        f"FROM {source.incidents} i WHERE i.started_at IS NOT NULL",
    }


def _percentiles(name: str, fractions: tuple[float, ...]) -> str:
    """All the fractions from one sort of the known durations (an array, NULL if none);
    unknown ones are NULL, which ordered-set aggregates leave out."""
    return f"percentile_cont(ARRAY{list(fractions)}::float8[]) WITHIN GROUP (ORDER BY i.{name}_s)"


def _duration_columns(name: str) -> str:
    return (
        f"count(i.{name}_s) AS {name}_n, count(*) - count(i.{name}_s) AS {name}_unknown, "
        f"{_percentiles(name, (0.5, 0.9))}"
    )


def _seconds(value: float | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=float(value))


def duration_stats(group_by: str, *, source: Source | None = None) -> list[DurationStats]:
    """Median and p90 of each duration per group (``change_type``, ``category``,
    ``vendor`` or ``year``), ordered by group then duration; one query."""
    source = source or tables()
    groups = _groupings(source)[group_by]  # KeyError for an unknown grouping, by design
    columns = ", ".join(_duration_columns(name) for name in DURATIONS)
    sql = f"SELECT i.label, {columns} FROM ({groups}) i GROUP BY i.label ORDER BY i.label"
    with connection.cursor() as cursor:
        cursor.execute(sql)
        rows = cursor.fetchall()
    stats = []
    for label, *values in rows:
        for index, name in enumerate(DURATIONS):
            n, unknown, percentiles = values[3 * index : 3 * index + 3]
            median, p90 = percentiles or (None, None)
            stats.append(DurationStats(label, name, n, unknown, _seconds(median), _seconds(p90)))
    return stats


def downtime_by_vendor_year(*, source: Source | None = None) -> list[VendorYearDowntime]:
    """Total start-to-resolution time per vendor per year of start; one query."""
    source = source or tables()
    sql = (
        "SELECT v.name, extract(year FROM i.started_at AT TIME ZONE 'UTC')::int AS year, "
        "count(i.resolve_s), count(*) - count(i.resolve_s), "
        "coalesce(sum(i.resolved_at - i.started_at) FILTER (WHERE i.resolve_s IS NOT NULL), "
        "interval '0') "
        f"FROM {source.incidents} i "
        f"JOIN {IncidentVendor._meta.db_table} l ON l.incident_id = i.id "
        f"JOIN {Vendor._meta.db_table} v ON v.id = l.vendor_id "
        "WHERE i.started_at IS NOT NULL "
        "GROUP BY v.id, v.name, year ORDER BY v.name, v.id, year"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return [VendorYearDowntime(*row) for row in cursor.fetchall()]


# --- Chart series ------------------------------------------------------------------------

NO_CHANGE_TYPE = "No change type"
OTHER = "Other"


@dataclass(frozen=True)
class Distribution:
    """Percentiles of one duration for one group; all None when no duration is known."""

    group: str
    n: int
    unknown: int
    p10: timedelta | None
    p25: timedelta | None
    p50: timedelta | None
    p75: timedelta | None
    p90: timedelta | None


@dataclass(frozen=True)
class MonthlySeries:
    months: list[str]  # "YYYY-MM", oldest first
    series: list[tuple[str, list[int]]]  # (label, a count per month), largest first


@dataclass(frozen=True)
class Matrix:
    rows: list[str]
    columns: list[str]
    counts: list[list[int]]


def duration_distribution(
    group_by: str, duration: str = "resolve", *, source: Source | None = None
) -> list[Distribution]:
    """p10, quartiles and p90 of one duration per group, unknown durations left out; one query."""
    source = source or tables()
    groups = _groupings(source)[group_by]
    if duration not in DURATIONS:
        raise KeyError(duration)
    sql = (
        f"SELECT i.label, count(i.{duration}_s), count(*) - count(i.{duration}_s), "
        f"{_percentiles(duration, (0.1, 0.25, 0.5, 0.75, 0.9))} "
        f"FROM ({groups}) i GROUP BY i.label ORDER BY i.label"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        rows = cursor.fetchall()
    return [
        Distribution(label, n, unknown, *(_seconds(value) for value in values or [None] * 5))
        for label, n, unknown, values in rows
    ]


def monthly_counts_by_change_type(
    months: int = 36,
    max_series: int = 6,
    *,
    until: datetime | None = None,
    source: Source | None = None,
) -> MonthlySeries:
    """Published incidents per month of start (UTC) by change type; one query.

    The months end at the latest published start (or ``until``), because a knowledge base
    of past outages may have nothing in the last few months. The ``max_series`` most
    frequent change types keep their own series; the rest are summed into "Other", and
    incidents without a change type form their own series. An incident with two change
    types counts in both.
    """
    source = source or tables()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT max(started_at) FROM {source.incidents} i")
        latest = until or cursor.fetchone()[0]
        if latest is None:
            return MonthlySeries([], [])
        month_keys = _month_keys(latest, months)
        cursor.execute(
            "SELECT coalesce(a.name, %s), "
            "to_char(date_trunc('month', i.started_at AT TIME ZONE 'UTC'), 'YYYY-MM') AS month, "
            f"count(*) FROM {source.incidents} i "
            f"LEFT JOIN (SELECT id, name FROM {source.attributed} a WHERE kind = 'ct') a "
            "ON a.id = i.id "
            "WHERE i.started_at >= %s AND i.started_at < %s "
            "GROUP BY 1, 2",
            [NO_CHANGE_TYPE, *_month_bounds(month_keys)],
        )
        rows = cursor.fetchall()
    return MonthlySeries(month_keys, _series(rows, month_keys, max_series))


def _month_keys(latest: datetime, months: int) -> list[str]:
    utc = latest.astimezone(UTC)
    index = utc.year * 12 + utc.month - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index - months + 1, index + 1)]


def _month_bounds(month_keys: list[str]) -> tuple[datetime, datetime]:
    first_year, first_month = map(int, month_keys[0].split("-"))
    last_year, last_month = map(int, month_keys[-1].split("-"))
    after = last_year * 12 + last_month  # index of the month after the last one
    return (
        datetime(first_year, first_month, 1, tzinfo=UTC),
        datetime(after // 12, after % 12 + 1, 1, tzinfo=UTC),
    )


def _series(rows, month_keys: list[str], max_series: int) -> list[tuple[str, list[int]]]:
    position = {month: i for i, month in enumerate(month_keys)}
    counts: dict[str, list[int]] = {}
    for label, month, count in rows:
        counts.setdefault(label, [0] * len(month_keys))[position[month]] += count
    without = counts.pop(NO_CHANGE_TYPE, None)
    ranked = sorted(counts.items(), key=lambda item: (-sum(item[1]), item[0]))
    series = ranked[:max_series]
    if rest := ranked[max_series:]:
        series.append((OTHER, [sum(month) for month in zip(*(c for _, c in rest), strict=True)]))
    if without is not None:
        series.append((NO_CHANGE_TYPE, without))
    return series


def vendor_category_matrix(
    max_vendors: int = 12, max_categories: int = 10, *, source: Source | None = None
) -> Matrix:
    """Published incidents per (vendor, failure category), one query.

    Only the vendors and categories with the largest totals across the matrix are kept.
    """
    source = source or tables()
    # Vendors are grouped by name, as the matrix shows them: an incident with two vendors of
    # one name counts once. Each of an incident's categories is listed once already.
    sql = (
        "SELECT v.name, i.name, count(*) "
        f"FROM {source.attributed} i "
        "JOIN (SELECT DISTINCT l.incident_id, v.name "
        f"FROM {IncidentVendor._meta.db_table} l "
        f"JOIN {Vendor._meta.db_table} v ON v.id = l.vendor_id) v ON v.incident_id = i.id "
        "WHERE i.kind = 'cat' GROUP BY 1, 2"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        cells = {(vendor, category): count for vendor, category, count in cursor.fetchall()}
    vendors = _top({v for v, _ in cells}, cells, 0, max_vendors)
    categories = _top({c for _, c in cells}, cells, 1, max_categories)
    counts = [[cells.get((v, c), 0) for c in categories] for v in vendors]
    return Matrix(vendors, categories, counts)


def _top(labels: set[str], cells: dict, axis: int, limit: int) -> list[str]:
    totals = {label: 0 for label in labels}
    for key, count in cells.items():
        totals[key[axis]] += count
    return sorted(totals, key=lambda label: (-totals[label], label))[:limit]
