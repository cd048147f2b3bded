import math
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from patterns.trends import poisson_upper_tail, rising_attributes
from postmortems.choices import ReviewStatus
from postmortems.models import ChangeType, FailureCategory
from tests.factories import FactorFactory, IncidentFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 6, 1, tzinfo=UTC)


def config_error(days_ago: float, **kwargs):
    incident = IncidentFactory(started_at=NOW - timedelta(days=days_ago), **kwargs)
    FactorFactory(incident=incident, category=FailureCategory.objects.get(slug="config-error"))
    return incident


def test_poisson_upper_tail_matches_the_closed_form():
    # P(X >= 2 | 1) = 1 - e^-1 (1 + 1)
    assert poisson_upper_tail(2, 1.0) == pytest.approx(1 - 2 * math.exp(-1))
    assert poisson_upper_tail(0, 3.0) == 1.0
    assert poisson_upper_tail(1, 0.0) == 0.0
    # Far in the tail the value stays positive and accurate: e^-1 / 50! * (1 + ~1/51).
    assert poisson_upper_tail(50, 1.0) == pytest.approx(
        math.exp(-1) / math.factorial(50) * (1 + 1 / 51 + 1 / (51 * 52)), rel=1e-3
    )


def test_planted_spike_is_reported_with_counts_and_p_value():
    for days_ago in (2, 5, 9, 14, 20, 27):
        config_error(days_ago)
    # Baseline: one a quarter over the year before the 30-day window.
    for days_ago in (60, 150, 240, 330):
        config_error(days_ago)

    result = rising_attributes(now=NOW)

    spike = next(r for r in result if r.slug == "config-error" and r.window_days == 30)
    expected = 4 * 30 / 365
    assert (spike.kind, spike.observed, spike.baseline) == ("category", 6, 4)
    assert spike.expected == pytest.approx(expected)
    assert spike.p_value == pytest.approx(poisson_upper_tail(6, expected))
    assert spike.p_value < 1e-5


def test_steady_monthly_incidents_are_not_rising():
    for month in range(24):
        config_error(15 + 30.4 * month)

    assert rising_attributes(now=NOW) == []


def test_drafts_do_not_count():
    for days_ago in (2, 5, 9, 14, 20, 27):
        config_error(days_ago, status=ReviewStatus.DRAFT)

    assert rising_attributes(now=NOW) == []


def test_below_min_count_is_not_reported_however_unlikely():
    config_error(3)
    config_error(4)

    assert rising_attributes(now=NOW, min_count=3) == []
    assert [r.observed for r in rising_attributes(now=NOW, min_count=2, windows=(30,))] == [2]


def test_change_types_are_tested_too():
    change = ChangeType.objects.get(slug="config-change")
    for days_ago in (1, 2, 3, 4, 5):
        IncidentFactory(started_at=NOW - timedelta(days=days_ago)).change_types.add(change)

    result = rising_attributes(now=NOW, windows=(30,))

    assert [(r.kind, r.slug, r.observed, r.baseline, r.p_value) for r in result] == [
        ("change_type", "config-change", 5, 0, 0.0)
    ]


def test_now_defaults_to_the_current_time():
    for days_ago in (2, 5, 9, 14, 20, 27):
        config_error(days_ago)

    with time_machine.travel(NOW, tick=False):
        current = rising_attributes()
    with time_machine.travel(NOW + timedelta(days=400), tick=False):
        later = rising_attributes()

    assert {(r.slug, r.window_days) for r in current} == {
        ("config-error", 30),
        ("config-error", 90),
    }
    assert later == []


def test_counting_takes_one_query(django_assert_num_queries):
    config_error(3)
    # Categories and change types with FILTERed window and baseline counts.
    with django_assert_num_queries(1):
        rising_attributes(now=NOW)
