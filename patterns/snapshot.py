"""The statistics document a refresh stores in ``StatsSnapshot`` and pages read back.

Everything is JSON: durations are seconds (``null`` when unknown), dates ISO 8601.
Shape::

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

from patterns import metrics, trends
from patterns.models import StatsSnapshot
from postmortems.models import Incident

GROUPINGS = ("change_type", "category", "vendor", "year")


def build_snapshot(now: datetime) -> dict:
    monthly = metrics.monthly_counts_by_change_type()
    heat = metrics.vendor_category_matrix()
    return {
        "computed_at": now.isoformat(),
        "published": Incident.objects.published().count(),
        "durations": {g: [_plain(s) for s in metrics.duration_stats(g)] for g in GROUPINGS},
        "downtime": [_plain(d) for d in metrics.downtime_by_vendor_year()],
        "monthly": {"months": monthly.months, "series": [list(s) for s in monthly.series]},
        "resolve_distribution": [
            _plain(d) for d in metrics.duration_distribution("change_type", "resolve")
        ],
        "heat_map": {"rows": heat.rows, "columns": heat.columns, "counts": heat.counts},
        "rising": [asdict(r) for r in trends.rising_attributes(now)],
    }


def _plain(row) -> dict:
    return {
        key: value.total_seconds() if isinstance(value, timedelta) else value
        for key, value in asdict(row).items()
    }


def latest_snapshot() -> dict | None:
    """The latest stored document, or None before the first refresh; one query."""
    row = StatsSnapshot.objects.order_by("-computed_at").only("data").first()
    return None if row is None else row.data


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
