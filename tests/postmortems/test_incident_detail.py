from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from postmortems.demo.loader import load_demo
from postmortems.models import Incident
from postmortems.services import IncidentChanges, update_incident
from tests.factories import ActionItemFactory, FactorFactory, IncidentFactory, VendorFactory
from timeline.services import NewEvent, record_events

pytestmark = pytest.mark.django_db


def detail(client, slug):
    return client.get(reverse("postmortems:incident-detail", args=[slug]))


@pytest.fixture
def leap_day(client, viewer):
    load_demo()
    client.force_login(viewer)
    return Incident.objects.get(slug="azure-leap-day-2012-02")


def test_the_header_gives_moments_and_derived_durations(client, leap_day):
    page = detail(client, leap_day.slug).content.decode()

    assert "Leap-day certificate bug" in page
    assert "Microsoft Azure (primary)" in page
    assert "1 h 45 min" in page  # time to detect
    assert "5 h" in page  # time to mitigate
    assert "1 d 10 h 15 min" in page  # time to resolve
    assert "29 Feb 2012 00:00 UTC" in page


def test_factors_are_grouped_by_role_with_category_definitions(client, leap_day):
    page = detail(client, leap_day.slug).content.decode()

    root = page.index("Root cause")
    contributing = page.index("Contributing factor")
    assert root < page.index("Time handling") < contributing
    assert "Dates, clocks, time zones, leap days or durations were computed wrongly." in page
    assert page.index("Release process bypassed") > contributing


def test_the_timeline_is_in_order_on_the_page(client, leap_day):
    page = detail(client, leap_day.slug).content.decode()
    descriptions = [e.description[:40] for e in leap_day.events.all()]

    positions = [page.index(d.replace("'", "&#x27;")) for d in descriptions]
    assert positions == sorted(positions)


def test_markdown_sections_are_rendered_and_hostile_markup_is_inert(client, viewer):
    incident = IncidentFactory(
        summary="**Bold** <script>alert('x')</script> <img src=x onerror=alert(1)>",
        lessons="[evil](javascript:alert(1))",
    )
    client.force_login(viewer)

    page = detail(client, incident.slug).content.decode()

    assert "<strong>Bold</strong>" in page
    assert "<script>alert" not in page
    assert "onerror" not in page
    assert 'href="javascript' not in page


def test_history_shows_a_readable_diff_of_an_edit(client, viewer, author):
    incident = IncidentFactory(summary="The cache expired.")
    update_incident(
        incident_id=incident.id,
        expected_version=incident.version,
        changes=IncidentChanges(fields={"summary": "The certificate expired."}),
        user=author,
    )
    client.force_login(viewer)

    page = detail(client, incident.slug).content.decode()

    assert "<del>cache</del><ins>certificate</ins>" in page
    assert "<strong>author</strong> changed postmortem" in page


def test_export_is_a_clean_markdown_document(client, leap_day):
    response = client.get(reverse("postmortems:incident-export", args=[leap_day.slug]))

    text = response.content.decode()
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert 'filename="azure-leap-day-2012-02.md"' in response["Content-Disposition"]
    assert text.startswith("# Leap-day certificate bug")
    assert "| Time to detect / mitigate / resolve | 1 h 45 min / 5 h / 1 d 10 h 15 min |" in text
    assert "- **2012-02-29 01:45** · Detection — " in text
    assert "## Root causes\n\n- **Time handling**:" in text
    assert "&lt;" not in text and "&#x27;" not in text  # no HTML escaping in Markdown


def make_detail(n: int) -> Incident:
    incident = IncidentFactory()
    t0 = datetime(2024, 3, 1, 12, tzinfo=UTC)
    record_events(
        incident=incident,
        events=[
            NewEvent(occurred_at=t0 + timedelta(minutes=i), description=f"e{i}") for i in range(n)
        ],
    )
    for i in range(n):
        factor = FactorFactory(incident=incident, description=f"f{i}")
        factor.evidence.add(incident.events.first())
        ActionItemFactory(incident=incident, title=f"a{i}")
    return incident


def queries_for(client, incident) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert detail(client, incident.slug).status_code == 200
    return len(captured)


def test_the_incident_page_costs_the_same_queries_for_2_or_20_parts(client, viewer):
    client.force_login(viewer)

    assert queries_for(client, make_detail(2)) == queries_for(client, make_detail(20))


def test_export_names_services_and_change_types_and_gives_utc_times_to_a_reader_in_los_angeles(
    client, viewer
):
    from accounts.services import profile_for
    from postmortems.models import ChangeType, Service

    profile = profile_for(viewer)
    profile.time_zone = "America/Los_Angeles"
    profile.save()
    client.force_login(viewer)
    vendor = VendorFactory(name="Acme Cloud")
    incident = IncidentFactory(
        title="Queue outage",
        started_at=datetime(2024, 3, 1, 23, 30, tzinfo=UTC),
        resolved_at=datetime(2024, 3, 2, 1, 0, tzinfo=UTC),
    )
    incident.services.set(
        [Service.objects.create(vendor=vendor, name=name) for name in ("Queues", "Storage")]
    )
    incident.change_types.set(ChangeType.objects.filter(slug__in=["config-change", "code-deploy"]))
    record_events(
        incident=incident,
        events=[NewEvent(occurred_at=datetime(2024, 3, 1, 23, 45, tzinfo=UTC), kind="detection")],
    )

    text = client.get(reverse("postmortems:incident-export", args=[incident.slug])).content
    text = text.decode()

    assert "| Services | Queues, Storage |" in text
    assert "| Change types | Code deploy, Configuration change |" in text
    assert "QuerySet" not in text
    # 23:30 UTC is 15:30 in Los Angeles: the export says UTC and means it.
    assert "| Started | 2024-03-01 23:30 UTC |" in text
    assert "| Resolved | 2024-03-02 01:00 UTC |" in text
    assert "- **2024-03-01 23:45** · Detection" in text


EDITED = "Edited after publication"


def test_untouched_demo_postmortems_are_not_edited_after_publication(client, leap_day):
    for incident in Incident.objects.all():
        assert EDITED not in detail(client, incident.slug).content.decode(), incident.slug


def test_a_postmortem_published_through_review_is_not_edited_until_someone_edits_it(
    client, author, reviewer
):
    from postmortems.services import publish_incident, submit_for_review

    incident = IncidentFactory(status="draft")
    incident.authors.add(author)
    record_events(
        incident=incident,
        events=[NewEvent(occurred_at=datetime(2024, 3, 1, 12, tzinfo=UTC), kind="detection")],
    )
    submit_for_review(incident=incident, user=author)
    publish_incident(incident=incident, user=reviewer)
    client.force_login(author)
    assert EDITED not in detail(client, incident.slug).content.decode()

    incident.refresh_from_db()
    update_incident(
        incident_id=incident.id,
        expected_version=incident.version,
        changes=IncidentChanges(fields={"summary": "A typo fixed."}),
        user=author,
    )

    assert EDITED in detail(client, incident.slug).content.decode()
