from datetime import UTC, datetime, timedelta

import pytest

from patterns.metrics import (
    DurationStats,
    VendorYearDowntime,
    downtime_by_vendor_year,
    duration_distribution,
    duration_stats,
    monthly_counts_by_change_type,
    vendor_category_matrix,
)
from postmortems.choices import ReviewStatus
from postmortems.models import ChangeType, FailureCategory, IncidentVendor
from tests.factories import FactorFactory, IncidentFactory, VendorFactory

pytestmark = pytest.mark.django_db

START = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def resolved_after(mins: float | None, *, started_at=START, **kwargs):
    """An incident detected, mitigated and resolved ``mins`` minutes after it started."""
    end = None if mins is None or started_at is None else started_at + minutes(mins)
    return IncidentFactory(
        started_at=started_at, detected_at=end, mitigated_at=end, resolved_at=end, **kwargs
    )


@pytest.fixture
def config_change():
    return ChangeType.objects.get(slug="config-change")


def stats_for(group_by: str, group: str, duration: str = "resolve") -> DurationStats:
    return next(s for s in duration_stats(group_by) if (s.group, s.duration) == (group, duration))


def test_median_and_p90_interpolate_linearly(config_change):
    for mins in (10, 20, 30, 40, 100):
        resolved_after(mins).change_types.add(config_change)

    stats = stats_for("change_type", "Configuration change")

    # p90 sits at rank 0.9 * 4 = 3.6: 40 + 0.6 * (100 - 40) = 76 minutes.
    assert (stats.n, stats.unknown, stats.median, stats.p90) == (5, 0, minutes(30), minutes(76))


def test_unknown_durations_are_excluded_and_counted(config_change):
    for mins in (10, 20, 30):
        resolved_after(mins).change_types.add(config_change)
    resolved_after(999, duration_unknown=True).change_types.add(config_change)
    resolved_after(None).change_types.add(config_change)  # no end moments
    resolved_after(None, started_at=None).change_types.add(config_change)  # no start

    stats = stats_for("change_type", "Configuration change")

    assert (stats.n, stats.unknown, stats.median) == (3, 3, minutes(20))


def test_each_duration_has_its_own_known_set(config_change):
    incident = IncidentFactory(started_at=START, detected_at=START + minutes(5))
    incident.change_types.add(config_change)

    by_duration = {s.duration: s for s in duration_stats("change_type")}

    assert (by_duration["detect"].n, by_duration["detect"].median) == (1, minutes(5))
    assert (by_duration["resolve"].n, by_duration["resolve"].unknown) == (0, 1)
    assert by_duration["resolve"].median is None


def test_drafts_are_ignored(config_change):
    resolved_after(10).change_types.add(config_change)
    resolved_after(500, status=ReviewStatus.DRAFT).change_types.add(config_change)

    stats = stats_for("change_type", "Configuration change")

    assert (stats.n, stats.unknown, stats.p90) == (1, 0, minutes(10))


def test_grouping_by_category_vendor_and_year():
    bug = FailureCategory.objects.get(slug="software-bug")
    expiry = FailureCategory.objects.get(slug="certificate-expiry")
    azure, aws = VendorFactory(name="Azure"), VendorFactory(name="AWS")
    first = resolved_after(10)
    second = resolved_after(30, started_at=datetime(2025, 1, 5, tzinfo=UTC))
    # Two factors in one category still count the incident once.
    FactorFactory(incident=first, category=bug)
    FactorFactory(incident=first, category=bug)
    FactorFactory(incident=second, category=bug)
    FactorFactory(incident=second, category=expiry)
    IncidentVendor.objects.create(incident=first, vendor=azure)
    IncidentVendor.objects.create(incident=second, vendor=aws)

    def summary(group_by):
        return [
            (s.group, s.n, s.median) for s in duration_stats(group_by) if s.duration == "resolve"
        ]

    assert summary("category") == [
        ("Certificate expiry", 1, minutes(30)),
        ("Software bug", 2, minutes(20)),
    ]
    assert summary("vendor") == [("AWS", 1, minutes(30)), ("Azure", 1, minutes(10))]
    assert summary("year") == [("2024", 1, minutes(10)), ("2025", 1, minutes(30))]


def test_unknown_grouping_is_refused():
    with pytest.raises(KeyError):
        duration_stats("severity")


def test_downtime_sums_per_vendor_and_year():
    azure = VendorFactory(name="Azure")
    incidents = [
        resolved_after(10),
        resolved_after(50),
        resolved_after(60, started_at=datetime(2025, 2, 1, tzinfo=UTC)),
        resolved_after(None),
        resolved_after(30, duration_unknown=True),
        resolved_after(1000, status=ReviewStatus.DRAFT),
    ]
    for incident in incidents:
        IncidentVendor.objects.create(incident=incident, vendor=azure)

    assert downtime_by_vendor_year() == [
        VendorYearDowntime("Azure", 2024, n=2, unknown=2, downtime=minutes(60)),
        VendorYearDowntime("Azure", 2025, n=1, unknown=0, downtime=minutes(60)),
    ]


def test_each_statistic_is_one_query_whatever_the_size(django_assert_num_queries, config_change):
    vendor = VendorFactory()
    for mins in range(1, 31):
        incident = resolved_after(mins)
        incident.change_types.add(config_change)
        IncidentVendor.objects.create(incident=incident, vendor=vendor)
        FactorFactory(incident=incident)
    # One grouped SELECT per call.
    for group_by in ("change_type", "category", "vendor", "year"):
        with django_assert_num_queries(1):
            duration_stats(group_by)
    with django_assert_num_queries(1):
        downtime_by_vendor_year()


# --- Chart series ---------------------------------------------------------------------------


def test_distribution_gives_quartiles_and_tails_of_known_durations_only(config_change):
    for mins in (10, 20, 30, 40, 50):
        resolved_after(mins).change_types.add(config_change)
    resolved_after(None).change_types.add(config_change)

    (row,) = duration_distribution("change_type", "resolve")

    assert (row.group, row.n, row.unknown) == ("Configuration change", 5, 1)
    assert (row.p10, row.p25, row.p50, row.p75, row.p90) == (
        minutes(14),
        minutes(20),
        minutes(30),
        minutes(40),
        minutes(46),
    )


def test_distribution_of_a_group_without_known_durations_is_empty_not_zero(config_change):
    resolved_after(None).change_types.add(config_change)

    (row,) = duration_distribution("change_type", "resolve")

    assert (row.n, row.unknown, row.p50, row.p90) == (0, 1, None, None)


def test_monthly_counts_end_at_the_latest_incident_and_fold_rare_change_types(config_change):
    deploy = ChangeType.objects.get(slug="code-deploy")
    network = ChangeType.objects.get(slug="network-change")
    for month, change_type in [(1, config_change), (1, config_change), (3, deploy), (3, network)]:
        IncidentFactory(started_at=datetime(2024, month, 5, tzinfo=UTC)).change_types.add(
            change_type
        )
    IncidentFactory(started_at=datetime(2024, 2, 5, tzinfo=UTC))  # no change type
    IncidentFactory(started_at=datetime(2023, 12, 31, tzinfo=UTC))  # before the window
    IncidentFactory(started_at=datetime(2024, 3, 9, tzinfo=UTC), status=ReviewStatus.DRAFT)

    monthly = monthly_counts_by_change_type(months=3, max_series=2)

    assert monthly.months == ["2024-01", "2024-02", "2024-03"]
    assert monthly.series == [
        ("Configuration change", [2, 0, 0]),
        ("Code deploy", [0, 0, 1]),
        ("Other", [0, 0, 1]),
        ("No change type", [0, 1, 0]),
    ]


def test_vendor_category_matrix_keeps_the_most_affected_vendors_and_categories():
    bug = FailureCategory.objects.get(slug="software-bug")
    config = FailureCategory.objects.get(slug="config-error")
    acme, globex, initech = (
        VendorFactory(name=n, slug=n.lower()) for n in ("Acme", "Globex", "Initech")
    )
    for vendor, categories in [
        (acme, [bug, config]), (acme, [bug]), (globex, [config]), (initech, [bug]),
        (acme, [bug]),
    ]:  # fmt: skip
        incident = IncidentFactory()
        IncidentVendor.objects.create(incident=incident, vendor=vendor, is_primary=True)
        for category in categories:
            FactorFactory(incident=incident, category=category)
            FactorFactory(incident=incident, category=category)  # twice: still one incident

    matrix = vendor_category_matrix(max_vendors=2, max_categories=2)

    assert matrix.rows == ["Acme", "Globex"]  # Globex and Initech tie at 1; by name
    assert matrix.columns == ["Software bug", "Configuration error"]
    assert matrix.counts == [[3, 1], [0, 1]]
