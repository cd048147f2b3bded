"""Rising failure categories and change types: what is happening more often lately.

For each attribute and each window of W days ending at ``now``:

* ``observed`` = published incidents with the attribute that started in
  ``[now - W, now)``;
* ``baseline`` = those that started in the ``baseline_days`` before the window,
  ``[now - W - baseline_days, now - W)``;
* ``expected = baseline * W / baseline_days``, the baseline rate scaled to W days.

The test is one-sided: under "nothing changed", the window count is
Poisson(expected), and the p-value is the upper tail
``P(X >= observed) = sum_{k >= observed} e^-λ λ^k / k!`` with λ = expected.
An attribute is rising when ``observed >= min_count`` (a handful of incidents
is not a trend however unlikely) and ``p < alpha``. With an empty baseline
(λ = 0) any observation has p = 0: the attribute is new, which is worth seeing.

No multiple-testing correction is applied; the small default ``alpha`` keeps
the many (attribute, window) pairs from flagging noise.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from patterns.metrics import Source, tables

# The kinds as the attributes relation names them, and as the snapshot does.
KINDS = {"cat": "category", "ct": "change_type"}


@dataclass(frozen=True)
class RisingAttribute:
    kind: str  # "category" or "change_type"
    slug: str
    name: str
    window_days: int
    observed: int
    baseline: int
    expected: float
    p_value: float


def poisson_upper_tail(observed: int, expected: float) -> float:
    """P(X >= observed) for X ~ Poisson(expected), summed from the tail itself."""
    if observed <= 0:
        return 1.0
    if expected <= 0:
        return 0.0
    # Summing the tail directly (rather than 1 - CDF) keeps tiny p-values
    # accurate instead of cancelling to zero; the first term is in log space
    # so large counts do not overflow.
    term = math.exp(-expected + observed * math.log(expected) - math.lgamma(observed + 1))
    total, k = 0.0, observed
    while term > 0:
        total += term
        k += 1
        term *= expected / k
        if k > expected and term < total * 1e-17:
            break
    return min(total, 1.0)


def _counts(
    source: Source, now: datetime, windows: Iterable[int], baseline_days: int
) -> list[dict]:
    """Per attribute, ``w<W>`` and ``b<W>`` counts per window: one query, FILTERed counts over
    the incidents that started in the longest window or its baseline only."""
    columns, params = [], {"now": now}
    earliest = now
    for days in windows:
        window_start = now - timedelta(days=days)
        baseline_start = window_start - timedelta(days=baseline_days)
        earliest = min(earliest, baseline_start)
        params |= {f"w{days}": window_start, f"b{days}": baseline_start}
        columns += [
            f"count(*) FILTER (WHERE i.started_at >= %(w{days})s) AS w{days}",
            f"count(*) FILTER (WHERE i.started_at >= %(b{days})s "
            f"AND i.started_at < %(w{days})s) AS b{days}",
        ]
    params["earliest"] = earliest
    # The relation lists each of an incident's attributes once.
    sql = (
        f"SELECT i.kind, i.slug, i.name, {', '.join(columns)} FROM {source.attributed} i "
        "WHERE i.started_at >= %(earliest)s AND i.started_at < %(now)s "
        "GROUP BY i.kind, i.slug, i.name"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _rising(
    rows: list[dict],
    windows: Iterable[int],
    baseline_days: int,
    min_count: int,
    alpha: float,
) -> list[RisingAttribute]:
    found = []
    for row in rows:
        for days in windows:
            observed, baseline = row[f"w{days}"], row[f"b{days}"]
            if observed < min_count:
                continue
            expected = baseline * days / baseline_days
            p_value = poisson_upper_tail(observed, expected)
            if p_value < alpha:
                kind = KINDS[row["kind"]]
                found.append(
                    RisingAttribute(
                        kind, row["slug"], row["name"], days, observed, baseline, expected, p_value
                    )
                )
    return found


def rising_attributes(
    now: datetime | None = None,
    windows: tuple[int, ...] = (30, 90),
    baseline_days: int = 365,
    min_count: int = 3,
    alpha: float = 0.01,
    *,
    source: Source | None = None,
) -> list[RisingAttribute]:
    """Categories and change types whose recent count beats their baseline (one query)."""
    now = now or timezone.now()
    rows = _counts(source or tables(), now, windows, baseline_days)
    found = _rising(rows, windows, baseline_days, min_count, alpha)
    # Most surprising first; the rest only makes the order deterministic.
    return sorted(found, key=lambda r: (r.p_value, r.kind, r.slug, r.window_days))
