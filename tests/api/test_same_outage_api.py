"""/api/incidents/{slug}/same-outage/: an outage's other records, suggestions, linking and
unlinking under the API's version rules; and `same_outage_as` on every incident."""

from datetime import timedelta

import pytest
from django.urls import reverse

from postmortems.choices import ReviewStatus
from postmortems.models import Incident
from postmortems.same_outage import link_same_outage
from tests.api.conftest import T0, error_of, link_vendor
from tests.factories import ImportedIncidentFactory, IncidentFactory

pytestmark = pytest.mark.django_db


def same_outage(incident) -> str:
    return reverse("postmortems-api:incident-same-outage", args=[incident.slug])


def detail(incident) -> str:
    return reverse("postmortems-api:incident-detail", args=[incident.slug])


@pytest.fixture
def feed(acme):
    incident = ImportedIncidentFactory(
        slug="api-errors-feed",
        title="API errors for some requests",
        started_at=T0,
        resolved_at=T0 + timedelta(minutes=45),
    )
    link_vendor(incident, acme, primary=True)
    return incident


@pytest.fixture
def postmortem(acme):
    incident = IncidentFactory(
        slug="api-errors-postmortem",
        title="API errors after a certificate rotation",
        started_at=T0 - timedelta(minutes=5),
        resolved_at=T0 + timedelta(minutes=50),
        analysis="The new certificate lacked an intermediate.",
    )
    link_vendor(incident, acme, primary=True)
    return incident


def version(incident) -> int:
    return Incident.objects.get(pk=incident.pk).version


def test_an_unlinked_postmortem_lists_its_suggestions(client_for, viewer, feed, postmortem):
    response = client_for(viewer).get(same_outage(postmortem))

    assert response.status_code == 200
    body = response.json()
    assert body["same_outage_as"] is None and body["other_records"] == []
    [candidate] = body["candidates"]
    assert (candidate["slug"], candidate["title"]) == (feed.slug, feed.title)
    assert 0 < candidate["score"] <= 1
    assert "same vendor: Acme Cloud" in candidate["reasons"]
    assert "times overlap by 45 min" in candidate["reasons"]


def test_posting_another_record_links_the_outage_under_its_canonical_record(
    client_for, admin_user, feed, postmortem
):
    response = client_for(admin_user).post(
        same_outage(feed),
        {"incident": postmortem.slug},
        format="json",
        HTTP_IF_MATCH=f'"{feed.version}"',
    )

    assert response.status_code == 200, response.json()
    assert response.json() == {
        "same_outage_as": postmortem.slug,
        "other_records": [],
        "candidates": [],
    }
    assert response["ETag"] == f'"{feed.version + 1}"'
    assert Incident.objects.get(pk=feed.pk).same_outage_as_id == postmortem.pk
    assert version(postmortem) == postmortem.version


def test_linking_from_the_canonical_side_names_the_other_records(
    client_for, admin_user, feed, postmortem
):
    response = client_for(admin_user).post(
        same_outage(postmortem), {"incident": feed.slug, "version": postmortem.version}
    )

    assert response.status_code == 200
    assert response.json()["other_records"] == [feed.slug]
    assert response["ETag"] == f'"{postmortem.version}"'  # the import changed, not this one


def test_a_link_must_say_which_version_it_is_based_on(client_for, admin_user, feed, postmortem):
    response = client_for(admin_user).post(same_outage(feed), {"incident": postmortem.slug})

    assert response.status_code == 428
    assert "If-Match" in error_of(response)["message"]
    assert Incident.objects.get(pk=feed.pk).same_outage_as is None


def test_a_stale_if_match_is_412_and_a_stale_version_409_and_nothing_is_linked(
    client_for, admin_user, feed, postmortem
):
    client = client_for(admin_user)

    header = client.post(same_outage(feed), {"incident": postmortem.slug}, HTTP_IF_MATCH='"99"')
    body = client.post(same_outage(feed), {"incident": postmortem.slug, "version": 99})

    assert header.status_code == 412
    assert error_of(header)["current_version"] == feed.version
    assert body.status_code == 409
    assert Incident.objects.get(pk=feed.pk).same_outage_as is None


def test_a_reader_who_may_not_edit_gets_403(client_for, viewer, feed, postmortem):
    response = client_for(viewer).post(
        same_outage(feed), {"incident": postmortem.slug}, HTTP_IF_MATCH=f'"{feed.version}"'
    )

    assert response.status_code == 403
    assert Incident.objects.get(pk=feed.pk).same_outage_as is None


def test_a_draft_the_client_may_not_see_cannot_be_named(client_for, author, postmortem, acme):
    draft = IncidentFactory(slug="secret-draft", status=ReviewStatus.DRAFT)
    postmortem.authors.add(author)
    postmortem.status = ReviewStatus.DRAFT
    postmortem.save()

    response = client_for(author).post(
        same_outage(postmortem), {"incident": draft.slug}, HTTP_IF_MATCH=f'"{postmortem.version}"'
    )

    assert response.status_code == 400
    assert "secret-draft" in error_of(response)["fields"]["incident"][0]
    assert "may see" in error_of(response)["fields"]["incident"][0]


def test_linking_an_incident_to_itself_is_a_400(client_for, admin_user, postmortem):
    response = client_for(admin_user).post(
        same_outage(postmortem),
        {"incident": postmortem.slug},
        HTTP_IF_MATCH=f'"{postmortem.version}"',
    )

    assert response.status_code == 400
    assert "itself" in error_of(response)["message"] + str(error_of(response)["fields"])


def test_delete_unlinks_under_if_match(client_for, admin_user, feed, postmortem):
    link_same_outage(incident=feed, other=postmortem, user=admin_user)
    current = version(feed)
    client = client_for(admin_user)

    without = client.delete(same_outage(feed))
    stale = client.delete(same_outage(feed), HTTP_IF_MATCH=f'"{current - 1}"')
    done = client.delete(same_outage(feed), HTTP_IF_MATCH=f'"{current}"')

    assert (without.status_code, stale.status_code, done.status_code) == (428, 412, 200)
    assert done.json()["same_outage_as"] is None
    assert done["ETag"] == f'"{current + 1}"'
    assert Incident.objects.get(pk=feed.pk).same_outage_as is None


def test_an_incident_names_the_published_record_it_is_another_record_of(
    client_for, admin_user, viewer, feed, postmortem
):
    link_same_outage(incident=feed, other=postmortem, user=admin_user)
    client = client_for(viewer)

    linked = client.get(detail(feed)).json()
    canonical = client.get(detail(postmortem)).json()
    listed = {
        row["slug"]: row
        for row in client.get(reverse("postmortems-api:incident-list")).json()["results"]
    }

    assert linked["same_outage_as"] == postmortem.slug
    assert canonical["same_outage_as"] is None
    assert listed[feed.slug]["same_outage_as"] == postmortem.slug


def test_a_draft_canonical_record_is_never_named(client_for, admin_user, viewer, feed, postmortem):
    postmortem.status = ReviewStatus.DRAFT
    postmortem.save()
    link_same_outage(incident=feed, other=postmortem, user=admin_user)

    assert client_for(viewer).get(detail(feed)).json()["same_outage_as"] is None
    assert client_for(viewer).get(same_outage(feed)).json()["same_outage_as"] is None
    assert client_for(admin_user).get(same_outage(feed)).json()["same_outage_as"] == postmortem.slug
