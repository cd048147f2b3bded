"""When the precomputed patterns are refreshed."""

import pytest
from django.core.cache import cache

from patterns import signals, tasks
from patterns.models import Pattern
from postmortems.choices import ReviewStatus
from postmortems.models import ChangeType, FailureCategory
from tests.factories import FactorFactory, IncidentFactory

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


def test_the_task_rebuilds_the_pattern_tables():
    config = ChangeType.objects.get(slug="config-change")
    unstaged = FailureCategory.objects.get(slug="non-staged-rollout")
    for _ in range(3):
        incident = IncidentFactory()
        incident.change_types.add(config)
        FactorFactory(incident=incident, category=unstaged)

    summary = tasks.refresh_patterns()

    assert "1 patterns" in summary
    assert Pattern.objects.get().key == "cat:non-staged-rollout+ct:config-change"
