"""The statistics document a refresh stores in ``StatsSnapshot`` and pages read back.

Everything is JSON: durations are seconds (``null`` when unknown), dates ISO 8601.
The dashboard's sections are stored apart from the breakdowns only the API shows
(``BREAKDOWNS``), which are most of the document's size. Shape::

    {
      "computed_at": "...", "published": 123,
      "durations": {"change_type" | "category" | "vendor" | "year":
                    [{"group", "duration", "n", "unknown", "median", "p90"}]},
      "downtime": [{"vendor", "year", "n", "unknown", "downtime"}],
      "monthly": {"months": ["2024-01", ...], "series": [["Configuration change", [..]], ...]},
      "resolve_distribution": [{"group", "n", "unknown", "p10", "p25", "p50", "p75", "p90"}],
      "heat_map": {"rows": [vendor, ...], "columns": [category, ...], "counts": [[...], ...]},
      "rising": [{"kind", "slug", "name", "window_days", "observed", "baseline",
                  "expected", "p_value"}]
    }
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta

from django.db import connection

from patterns import metrics, trends
from patterns.metrics import Source
from patterns.models import StatsSnapshot

GROUPINGS = ("change_type", "category", "vendor", "year")
# Durations grouped by these, and the sections named here, are stored in
# ``StatsSnapshot.breakdowns``; everything else in ``StatsSnapshot.data``.
BREAKDOWN_GROUPINGS = ("category", "vendor", "year")
BREAKDOWNS = ("downtime",)


def build_snapshot(now: datetime, source: Source | None = None) -> dict:
    """The document, from the incident tables or the working tables of a refresh."""
    source = source or metrics.tables()
    monthly = metrics.monthly_counts_by_change_type(source=source)
    heat = metrics.vendor_category_matrix(source=source)
    durations = {g: metrics.duration_stats(g, source=source) for g in GROUPINGS}
    return {
        "computed_at": now.isoformat(),
        "published": _count(source),
        "durations": {g: [_plain(s) for s in stats] for g, stats in durations.items()},
        "downtime": [_plain(d) for d in metrics.downtime_by_vendor_year(source=source)],
        "monthly": {"months": monthly.months, "series": [list(s) for s in monthly.series]},
        "resolve_distribution": [
            _plain(d)
            for d in metrics.duration_distribution("change_type", "resolve", source=source)
        ],
        "heat_map": {"rows": heat.rows, "columns": heat.columns, "counts": heat.counts},
        "rising": [asdict(r) for r in trends.rising_attributes(now, source=source)],
    }


def _count(source: Source) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {source.incidents} i")
        return cursor.fetchone()[0]


def _plain(row) -> dict:
    return {
        key: value.total_seconds() if isinstance(value, timedelta) else value
        for key, value in asdict(row).items()
    }


def split_snapshot(document: dict) -> tuple[dict, dict]:
    """The document as stored: what the dashboard shows, and the breakdowns."""
    data = {key: value for key, value in document.items() if key not in BREAKDOWNS}
    breakdowns = {key: document[key] for key in BREAKDOWNS if key in document}
    if "durations" in document:
        durations = document["durations"]
        data["durations"] = {
            g: rows for g, rows in durations.items() if g not in BREAKDOWN_GROUPINGS
        }
        breakdowns["durations"] = {g: durations[g] for g in BREAKDOWN_GROUPINGS if g in durations}
    return data, breakdowns


def store_snapshot(document: dict, computed_at: datetime) -> StatsSnapshot:
    """Replace the stored document with this one."""
    data, breakdowns = split_snapshot(document)
    StatsSnapshot.objects.all().delete()
    return StatsSnapshot.objects.create(computed_at=computed_at, data=data, breakdowns=breakdowns)


def latest_snapshot() -> dict | None:
    """The latest stored document, whole, or None before the first refresh; one query."""
    row = StatsSnapshot.objects.order_by("-computed_at").only("data", "breakdowns").first()
    return None if row is None else _joined(row.data, row.breakdowns)


def refresh_version() -> tuple | None:
    """Which refresh the stored analysis comes from (its snapshot's id and time), or None
    before the first; one query on an index. The refresh stores the patterns and the
    snapshot in one transaction, so a new version means new patterns."""
    return StatsSnapshot.objects.order_by("-computed_at").values_list("pk", "computed_at").first()


def dashboard_snapshot() -> StatsSnapshot | None:
    """The latest snapshot with its ``data`` only (the document without its breakdowns), or
    None before the first refresh; one query.

    Tens of kilobytes whatever the knowledge base's size, where the breakdowns grow with the
    vendors and years (megabytes at a million incidents).
    """
    return StatsSnapshot.objects.order_by("-computed_at").only("computed_at", "data").first()


def _joined(data: dict, breakdowns: dict) -> dict:
    document = {**data, **breakdowns}
    if "durations" in data or "durations" in breakdowns:
        document["durations"] = {**data.get("durations", {}), **breakdowns.get("durations", {})}
    return document


def empty_snapshot() -> dict:
    """The document's shape with nothing in it, before the first refresh."""
    return {
        "computed_at": None,
        "published": 0,
        "durations": {g: [] for g in GROUPINGS},
        "downtime": [],
        "monthly": {"months": [], "series": []},
        "resolve_distribution": [],
        "heat_map": {"rows": [], "columns": [], "counts": []},
        "rising": [],
    }
