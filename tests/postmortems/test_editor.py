import pytest
from django.urls import reverse

from postmortems.choices import ReviewStatus
from postmortems.models import ChangeType, Incident
from tests.factories import IncidentFactory, VendorFactory

pytestmark = pytest.mark.django_db
CREATE = reverse("postmortems:incident-create")


def form_data(incident: Incident | None = None, **overrides) -> dict:
    data = {
        "title": "Config push loops blob front-ends",
        "severity": "critical",
        "detection_method": "alert",
        "summary": "Storage front-ends looped after a config change.",
        "impact": "",
        "analysis": "",
        "lessons": "",
        "regions": "West Europe, East US",
        "change_types": [ChangeType.objects.get(slug="config-change").id],
    }
    if incident is not None:
        data["version"] = incident.version
    data.update(overrides)
    return data


def test_an_author_creates_a_draft_whose_moments_join_the_timeline(client, author):
    client.force_login(author)

    response = client.post(
        CREATE,
        form_data(
            started_at="2014-11-19T00:51",
            detected_at="2014-11-19T01:00",
            resolved_at="2014-11-19T11:51",
        ),
    )

    incident = Incident.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("postmortems:incident-edit", args=[incident.slug])
    assert incident.status == ReviewStatus.DRAFT
    assert list(incident.authors.all()) == [author]
    assert incident.regions == ["West Europe", "East US"]
    assert [e.kind for e in incident.events.all()] == ["impact_start", "detection", "resolution"]
    assert incident.time_to_resolve.total_seconds() == 11 * 3600


def test_moments_in_the_wrong_order_are_refused_and_nothing_is_created(client, author):
    client.force_login(author)

    response = client.post(
        CREATE, form_data(started_at="2014-11-19T10:00", detected_at="2014-11-19T09:00")
    )

    assert response.status_code == 400
    assert "is before started at" in response.content.decode()
    assert not Incident.objects.exists()


def test_moments_are_read_in_the_authors_time_zone(client, author):
    from accounts.services import profile_for

    profile = profile_for(author)
    profile.time_zone = "America/Los_Angeles"
    profile.save()
    client.post(
        reverse("accounts:login"),
        {"username": "author", "password": "correct horse battery staple"},
    )

    client.post(CREATE, form_data(started_at="2012-02-28T16:00"))

    assert Incident.objects.get().started_at.isoformat() == "2012-02-29T00:00:00+00:00"


def test_a_viewer_cannot_open_the_editor(client, viewer):
    client.force_login(viewer)

    assert client.get(CREATE).status_code == 403
    assert client.post(CREATE, form_data()).status_code == 403
    assert not Incident.objects.exists()


@pytest.fixture
def draft(author):
    incident = IncidentFactory(status=ReviewStatus.DRAFT, summary="First words.")
    incident.authors.add(author)
    return incident


def edit_url(incident):
    return reverse("postmortems:incident-edit", args=[incident.slug])


def test_saving_an_edit_updates_the_postmortem_and_its_vendors(client, author, draft):
    azure, aws = VendorFactory(slug="azure"), VendorFactory(slug="aws")
    client.force_login(author)

    response = client.post(
        edit_url(draft),
        form_data(
            draft, summary="Better words.", vendors=[azure.id, aws.id], primary_vendor=aws.id
        ),
    )

    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.summary == "Better words."
    assert draft.primary_vendor == aws
    assert draft.version == 2


def test_the_second_of_two_concurrent_saves_is_refused_and_keeps_its_text(
    client, author, reviewer, draft
):
    draft.status = ReviewStatus.IN_REVIEW
    draft.save()
    loaded = draft.version
    client.force_login(reviewer)
    first = client.post(edit_url(draft), form_data(draft, summary="Reviewer's summary."))
    assert first.status_code == 302

    client.force_login(author)
    second = client.post(
        edit_url(draft), form_data(draft, version=loaded, summary="Author's careful summary.")
    )

    page = second.content.decode()
    assert second.status_code == 409
    assert "Someone else saved this postmortem" in page
    assert "Author&#x27;s careful summary." in page  # still in the form
    assert "<ins>Reviewer&#x27;s" in page  # what changed meanwhile
    assert Incident.objects.get(id=draft.id).summary == "Reviewer's summary."
    # Having seen the change, the author can save over it deliberately.
    assert second.context["form"]["version"].value() == draft.version + 1
    third = client.post(
        edit_url(draft), form_data(draft, version=draft.version + 1, summary="Merged summary.")
    )
    assert third.status_code == 302
    assert Incident.objects.get(id=draft.id).summary == "Merged summary."


def test_an_edit_breaking_the_region_count_shows_the_error_and_saves_nothing(client, author, draft):
    client.force_login(author)

    response = client.post(edit_url(draft), form_data(draft, regions_affected=18, regions_total=17))

    assert response.status_code == 400
    assert "cannot exceed" in response.content.decode()
    assert Incident.objects.get(id=draft.id).summary == "First words."


def test_markdown_preview_renders_safely(client, author):
    client.force_login(author)

    response = client.post(
        reverse("postmortems:markdown-preview"),
        {"field": "summary", "summary": "**bold** <script>alert(1)</script>"},
    )

    assert response.status_code == 200
    assert "<strong>bold</strong>" in response.content.decode()
    assert "<script" not in response.content.decode()
