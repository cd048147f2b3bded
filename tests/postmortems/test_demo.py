from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps
from django.core.management import call_command

from postmortems.choices import FactorRole, ReviewStatus
from postmortems.demo.loader import demo_files, load_demo
from postmortems.models import Incident

pytestmark = pytest.mark.django_db

# Every file of the demo, named by its slug (a file is named after the incident it holds).
DEMO_SLUGS = {path.stem for path in demo_files()}


def row_counts() -> dict[str, int]:
    """Rows in every table of the project's apps, history tables included."""
    return {
        model._meta.label: model.objects.count()
        for app in ("postmortems", "timeline")
        for model in apps.get_app_config(app).get_models()
    }


def test_demo_holds_its_real_outages_as_complete_published_postmortems():
    load_demo()

    assert len(DEMO_SLUGS) >= 40 and {"azure-storage-2014-11", "aws-us-east-2011-04"} <= DEMO_SLUGS
    incidents = Incident.objects.prefetch_related("events", "factors", "change_types", "sources")
    assert {i.slug for i in incidents} == DEMO_SLUGS
    for incident in incidents:
        assert incident.status == ReviewStatus.PUBLISHED
        assert incident.events.all(), incident.slug
        assert any(f.role == FactorRole.ROOT_CAUSE for f in incident.factors.all()), incident.slug
        assert any(f.role == FactorRole.CONTRIBUTING for f in incident.factors.all()), incident.slug
        assert incident.change_types.all(), incident.slug
        assert incident.sources.all(), incident.slug
        assert incident.vendors.exists() and incident.primary_vendor, incident.slug
        assert all([incident.summary, incident.impact, incident.analysis, incident.lessons])


def test_azure_2014_is_labelled_as_an_unstaged_config_rollout_over_12_of_17_regions():
    load_demo()

    incident = Incident.objects.get(slug="azure-storage-2014-11")
    assert incident.blast_radius == "12 of 17 regions"
    assert "config-change" in incident.change_types.values_list("slug", flat=True)
    assert {"non-staged-rollout", "software-bug"} <= set(
        incident.factors.values_list("category__slug", flat=True)
    )
    assert incident.time_to_resolve == timedelta(hours=11)


def test_leap_day_durations_follow_from_its_timeline():
    load_demo()

    incident = Incident.objects.get(slug="azure-leap-day-2012-02")
    # 4:00 PM PST on 28 February is midnight UTC on the 29th; detection at
    # 5:45 PM PST; a fix about five hours in; last cluster back 2:15 AM PST 1 March.
    assert incident.started_at == datetime(2012, 2, 29, 0, 0, tzinfo=UTC)
    assert incident.time_to_detect == timedelta(hours=1, minutes=45)
    assert incident.time_to_mitigate == timedelta(hours=5)
    assert incident.time_to_resolve == timedelta(hours=34, minutes=15)
    assert {"time-handling", "release-process-bypassed", "automation-amplified"} <= set(
        incident.factors.values_list("category__slug", flat=True)
    )


def test_every_moment_matches_the_timeline_marker_that_sets_it():
    load_demo()

    markers = {"impact_start": ("started_at", min), "detection": ("detected_at", min),
               "mitigation": ("mitigated_at", min), "resolution": ("resolved_at", max)}  # fmt: skip
    for incident in Incident.objects.prefetch_related("events"):
        for kind, (moment, pick) in markers.items():
            times = [e.occurred_at for e in incident.events.all() if e.kind == kind]
            if getattr(incident, moment) is not None:
                assert getattr(incident, moment) == pick(times), (incident.slug, moment)


def test_loading_the_demo_twice_changes_nothing():
    load_demo()
    before = row_counts()
    versions = dict(Incident.objects.values_list("slug", "version"))

    result = load_demo()

    assert result.created == []
    assert set(result.unchanged) == DEMO_SLUGS
    assert row_counts() == before
    assert dict(Incident.objects.values_list("slug", "version")) == versions


def test_load_demo_if_empty_leaves_an_existing_knowledge_base_alone(capsys):
    from tests.factories import IncidentFactory

    IncidentFactory()

    call_command("load_demo", if_empty=True)

    assert Incident.objects.count() == 1
    assert "not loaded" in capsys.readouterr().out


def test_load_demo_command_reports_what_it_created(capsys):
    call_command("load_demo")

    assert f"Demo: {len(DEMO_SLUGS)} created, 0 already present." in capsys.readouterr().out


def test_loading_the_demo_computes_its_patterns_at_once(capsys):
    from patterns.models import Pattern

    call_command("load_demo")

    assert "related lists cached" in capsys.readouterr().out
    assert Pattern.objects.filter(
        key="cat:non-staged-rollout+cat:release-process-bypassed"
    ).exists()
