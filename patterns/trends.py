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

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from postmortems.choices import ReviewStatus
from postmortems.models import ChangeType, FailureCategory


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
    queryset: QuerySet, path: str, now: datetime, windows: Iterable[int], baseline_days: int
) -> QuerySet:
    """Annotate ``w<W>`` and ``b<W>`` counts per window: one query, FILTERed aggregates."""
    published = Q(**{f"{path}__status": ReviewStatus.PUBLISHED})
    started = f"{path}__started_at"
    annotations = {}
    for days in windows:
        window_start = now - timedelta(days=days)
        baseline_start = window_start - timedelta(days=baseline_days)
        in_window = Q(**{f"{started}__gte": window_start, f"{started}__lt": now})
        in_baseline = Q(**{f"{started}__gte": baseline_start, f"{started}__lt": window_start})
        # distinct: an incident with two factors of one category counts once.
        annotations[f"w{days}"] = Count(path, filter=published & in_window, distinct=True)
        annotations[f"b{days}"] = Count(path, filter=published & in_baseline, distinct=True)
    return queryset.annotate(**annotations).order_by("slug")


def _rising(
    kind: str,
    rows: QuerySet,
    windows: Iterable[int],
    baseline_days: int,
    min_count: int,
    alpha: float,
) -> list[RisingAttribute]:
    found = []
    for row in rows:
        for days in windows:
            observed, baseline = getattr(row, f"w{days}"), getattr(row, f"b{days}")
            if observed < min_count:
                continue
            expected = baseline * days / baseline_days
            p_value = poisson_upper_tail(observed, expected)
            if p_value < alpha:
                found.append(
                    RisingAttribute(
                        kind, row.slug, row.name, days, observed, baseline, expected, p_value
                    )
                )
    return found


def rising_attributes(
    now: datetime | None = None,
    windows: tuple[int, ...] = (30, 90),
    baseline_days: int = 365,
    min_count: int = 3,
    alpha: float = 0.01,
) -> list[RisingAttribute]:
    """Categories and change types whose recent count beats their baseline (two queries)."""
    now = now or timezone.now()
    sources = [
        ("category", FailureCategory.objects.all(), "factors__incident"),
        ("change_type", ChangeType.objects.all(), "incidents"),
    ]
    found: list[RisingAttribute] = []
    for kind, queryset, path in sources:
        rows = _counts(queryset, path, now, windows, baseline_days)
        found += _rising(kind, rows, windows, baseline_days, min_count, alpha)
    # Most surprising first; the rest only makes the order deterministic.
    return sorted(found, key=lambda r: (r.p_value, r.kind, r.slug, r.window_days))
