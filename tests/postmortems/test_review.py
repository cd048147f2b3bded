import pytest
from django.urls import reverse

from postmortems.choices import ReviewActionKind, ReviewStatus
from postmortems.models import Incident
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(author):
    incident = IncidentFactory(status=ReviewStatus.DRAFT)
    incident.authors.add(author)
    return incident


def act(client, user, incident, action, comment=""):
    client.force_login(user)
    return client.post(
        reverse("postmortems:incident-review", args=[incident.slug]),
        {"action": action, "comment": comment},
    )


def status_of(incident) -> str:
    return Incident.objects.get(id=incident.id).status


def test_submit_then_publish_records_who_did_what(client, author, reviewer, draft):
    act(client, author, draft, "submit")
    act(client, reviewer, draft, "publish", "Clear and complete.")

    incident = Incident.objects.get(id=draft.id)
    assert incident.status == ReviewStatus.PUBLISHED
    assert incident.published_at is not None
    assert list(incident.reviewers.all()) == [reviewer]
    log = [(a.kind, a.actor, a.comment) for a in incident.review_actions.all()]
    assert log == [
        (ReviewActionKind.SUBMITTED, author, ""),
        (ReviewActionKind.PUBLISHED, reviewer, "Clear and complete."),
    ]
    page = client.get(reverse("postmortems:incident-detail", args=[draft.slug])).content.decode()
    assert "Submitted for review" in page and "Clear and complete." in page


def test_sending_back_needs_a_comment(client, author, reviewer, draft):
    act(client, author, draft, "submit")

    response = act(client, reviewer, draft, "return", "   ")

    assert response.status_code == 302
    assert status_of(draft) == ReviewStatus.IN_REVIEW
    follow = client.get(response["Location"])
    assert "Say what the authors should change." in follow.content.decode()


def test_sent_back_postmortems_return_to_draft_with_the_comment(client, author, reviewer, draft):
    act(client, author, draft, "submit")

    act(client, reviewer, draft, "return", "Add the detection gap.")

    assert status_of(draft) == ReviewStatus.DRAFT
    assert draft.review_actions.last().comment == "Add the detection gap."


def test_authors_cannot_publish_their_own_postmortem(client, author, draft):
    act(client, author, draft, "submit")

    assert act(client, author, draft, "publish").status_code == 403
    assert status_of(draft) == ReviewStatus.IN_REVIEW


def test_a_reviewer_cannot_approve_what_they_wrote(client, reviewer):
    incident = IncidentFactory(status=ReviewStatus.IN_REVIEW)
    incident.authors.add(reviewer)

    assert act(client, reviewer, incident, "publish").status_code == 403


def test_admins_may_publish_anything_in_review(client, admin_user, author, draft):
    act(client, author, draft, "submit")

    act(client, admin_user, draft, "publish")

    assert status_of(draft) == ReviewStatus.PUBLISHED


def test_publishing_a_draft_that_was_never_submitted_is_refused(client, reviewer, draft):
    draft.status = ReviewStatus.DRAFT
    draft.save()

    assert act(client, reviewer, draft, "publish").status_code == 403
    assert status_of(draft) == ReviewStatus.DRAFT


def test_an_unknown_action_is_a_400(client, author, draft):
    assert act(client, author, draft, "delete-everything").status_code == 400
