"""When the precomputed patterns are refreshed."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache

from patterns import services, signals, snapshot, tasks
from patterns.models import Pattern, RelatedList, StatsSnapshot
from patterns.snapshot import dashboard_snapshot, latest_snapshot
from postmortems.choices import ReviewStatus
from postmortems.models import ChangeType, FailureCategory, IncidentVendor
from tests.factories import FactorFactory, IncidentFactory, VendorFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def scheduled(monkeypatch):
    cache.delete(signals.MARKER)
    calls = []
    monkeypatch.setattr(
        tasks.refresh_patterns, "apply_async", lambda **kwargs: calls.append(kwargs)
    )
    yield calls
    cache.delete(signals.MARKER)


def test_publishing_schedules_one_refresh_after_commit(
    scheduled, django_capture_on_commit_callbacks
):
    incident = IncidentFactory(status=ReviewStatus.DRAFT)

    with django_capture_on_commit_callbacks(execute=True):
        incident.status = ReviewStatus.PUBLISHED
        incident.save()

    assert scheduled == [{"countdown": signals.DEBOUNCE_SECONDS}]


def test_a_burst_of_changes_schedules_a_single_refresh(
    scheduled, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        incident = IncidentFactory()
        incident.change_types.add(ChangeType.objects.get(slug="config-change"))
        FactorFactory(incident=incident)
        IncidentFactory()

    assert len(scheduled) == 1


def test_draft_edits_do_not_refresh(scheduled, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        draft = IncidentFactory(status=ReviewStatus.DRAFT)
        FactorFactory(incident=draft)

    assert scheduled == []


def test_the_task_rebuilds_the_pattern_tables_then_queues_the_related_warm_up(monkeypatch):
    warmups = []
    monkeypatch.setattr(tasks.warm_related_lists, "delay", lambda: warmups.append(True))
    config = ChangeType.objects.get(slug="config-change")
    unstaged = FailureCategory.objects.get(slug="non-staged-rollout")
    for _ in range(3):
        incident = IncidentFactory()
        incident.change_types.add(config)
        FactorFactory(incident=incident, category=unstaged)

    summary = tasks.refresh_patterns()

    assert "1 patterns" in summary
    assert Pattern.objects.get().key == "cat:non-staged-rollout+ct:config-change"
    assert warmups == [True]


def test_the_warm_up_caches_the_latest_published_incidents_related_lists():
    incidents = [IncidentFactory(title="Certificate expired") for _ in range(3)]
    IncidentFactory(title="Draft certificate expired", status=ReviewStatus.DRAFT)

    assert tasks.warm_related_lists() == "3 related lists cached"

    cached = dict(RelatedList.objects.values_list("incident_id", "items"))
    assert set(cached) == {i.pk for i in incidents}
    assert len(cached[incidents[0].pk]) == 2


def test_the_refresh_stores_the_statistics_pages_read():
    config = ChangeType.objects.get(slug="config-change")
    for minutes in (30, 90):
        incident = IncidentFactory(
            started_at=datetime(2024, 3, 1, tzinfo=UTC),
            resolved_at=datetime(2024, 3, 1, tzinfo=UTC) + timedelta(minutes=minutes),
        )
        incident.change_types.add(config)
    IncidentFactory(status=ReviewStatus.DRAFT)
    assert latest_snapshot() is None

    services.refresh_patterns(now=datetime(2024, 4, 1, tzinfo=UTC))

    stats = latest_snapshot()
    assert stats["published"] == 2
    assert stats["monthly"]["months"][-1] == "2024-03"
    assert stats["monthly"]["series"][0] == ["Configuration change", [0] * 35 + [2]]
    [distribution] = stats["resolve_distribution"]
    assert (distribution["group"], distribution["n"], distribution["p50"]) == (
        "Configuration change",
        2,
        3600.0,
    )
    resolve = [d for d in stats["durations"]["change_type"] if d["duration"] == "resolve"]
    assert resolve == [
        {"group": "Configuration change", "duration": "resolve", "n": 2, "unknown": 0,
         "median": 3600.0, "p90": 5040.0}
    ]  # fmt: skip
    assert StatsSnapshot.objects.count() == 1
    services.refresh_patterns()
    assert StatsSnapshot.objects.count() == 1


def test_the_dashboard_reads_the_snapshot_without_the_breakdowns_the_api_adds():
    config = ChangeType.objects.get(slug="config-change")
    for vendor in ("Acme", "Globex"):
        incident = IncidentFactory(
            started_at=datetime(2024, 3, 1, tzinfo=UTC),
            resolved_at=datetime(2024, 3, 1, 1, tzinfo=UTC),
        )
        incident.change_types.add(config)
        IncidentVendor.objects.create(
            incident=incident, vendor=VendorFactory(name=vendor), is_primary=True
        )
    now = datetime(2024, 4, 1, tzinfo=UTC)
    services.refresh_patterns(now=now)

    dashboard = dashboard_snapshot()

    assert "breakdowns" in dashboard.get_deferred_fields()
    assert set(dashboard.data["durations"]) == {"change_type"}
    assert "downtime" not in dashboard.data and dashboard.data["published"] == 2
    # The whole document, as built from the incident tables, is still what the API serves.
    assert latest_snapshot() == json.loads(json.dumps(snapshot.build_snapshot(now)))
    assert {row["group"] for row in latest_snapshot()["durations"]["vendor"]} == {
        "Acme", "Globex"
    }  # fmt: skip


def test_the_command_refreshes_and_reports(capsys):
    from django.core.management import call_command

    config = ChangeType.objects.get(slug="config-change")
    for _ in range(3):
        IncidentFactory().change_types.add(config)
        FactorFactory(incident=IncidentFactory())

    call_command("refresh_patterns", "--no-warm")

    out = capsys.readouterr().out
    assert "patterns (" in out and " s" in out
    assert "related lists" not in out
    assert StatsSnapshot.objects.get().data["published"] == 6
