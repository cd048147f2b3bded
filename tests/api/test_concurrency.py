"""Optimistic concurrency: every incident write names the version it is based on."""

import pytest
from django.urls import reverse

from postmortems.models import Incident
from postmortems.services import IncidentChanges, update_incident
from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def edited(author, incident_by):
    """An incident someone already edited once: it is at version 2."""
    incident = incident_by(author, summary="Current text.")
    Incident.objects.filter(pk=incident.pk).update(version=2)
    return Incident.objects.get(pk=incident.pk)


@pytest.fixture
def client(client_for, author):
    return client_for(author)


def url(incident) -> str:
    return reverse("postmortems-api:incident-detail", args=[incident.slug])


def test_a_stale_if_match_is_refused_with_412(client, edited):
    response = client.patch(url(edited), {"summary": "Mine."}, HTTP_IF_MATCH='"1"')

    assert response.status_code == 412
    error = error_of(response)
    assert error["code"] == "precondition_failed"
    assert error["current_version"] == 2
    assert Incident.objects.get(pk=edited.pk).summary == "Current text."


def test_a_stale_body_version_is_refused_with_409(client, edited):
    response = client.patch(url(edited), {"summary": "Mine.", "version": 1})

    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "edit_conflict"
    assert error["current_version"] == 2
    assert isinstance(error["changed_fields"], list)
    assert Incident.objects.get(pk=edited.pk).summary == "Current text."


def test_a_write_without_a_version_is_refused_with_428(client, edited):
    response = client.patch(url(edited), {"summary": "Mine."})

    assert response.status_code == 428
    error = error_of(response)
    assert error["code"] == "precondition_required"
    assert "If-Match" in error["message"] and "version" in error["message"]
    assert Incident.objects.get(pk=edited.pk).summary == "Current text."


def test_if_match_star_names_no_version(client, edited):
    response = client.patch(url(edited), {"summary": "Mine."}, HTTP_IF_MATCH="*")

    assert response.status_code == 428


def test_a_fresh_if_match_is_applied_and_answers_the_new_etag(client, edited):
    response = client.patch(url(edited), {"summary": "Mine."}, HTTP_IF_MATCH='"2"')

    assert response.status_code == 200
    assert response["ETag"] == '"3"'
    assert response.json()["version"] == 3
    assert Incident.objects.get(pk=edited.pk).summary == "Mine."


def test_a_fresh_body_version_is_applied(client, edited):
    response = client.patch(url(edited), {"summary": "Mine.", "version": 2})

    assert response.status_code == 200
    assert response["ETag"] == '"3"'


def test_a_weak_etag_is_accepted(client, edited):
    response = client.patch(url(edited), {"summary": "Mine."}, HTTP_IF_MATCH='W/"2"')

    assert response.status_code == 200


def test_if_match_and_version_must_agree(client, edited):
    response = client.patch(url(edited), {"summary": "Mine.", "version": 1}, HTTP_IF_MATCH='"2"')

    assert response.status_code == 400
    assert "version" in error_of(response)["fields"]
    assert Incident.objects.get(pk=edited.pk).summary == "Current text."


def test_the_etag_read_is_the_one_to_send_back(client, edited):
    etag = client.get(url(edited))["ETag"]

    response = client.put(url(edited), {"title": "Retitled"}, HTTP_IF_MATCH=etag)

    assert response.status_code == 200


def test_a_conflict_names_the_fields_changed_meanwhile(client, author, incident_by):
    incident = incident_by(author, summary="First.")
    someone_else = IncidentChanges(fields={"summary": "Theirs."})
    update_incident(incident_id=incident.id, expected_version=1, changes=someone_else)

    by_body = client.patch(url(incident), {"title": "Mine", "version": 1})
    by_header = client.patch(url(incident), {"title": "Mine"}, HTTP_IF_MATCH='"1"')

    assert "summary" in error_of(by_body)["changed_fields"]
    assert "summary" in error_of(by_header)["changed_fields"]
    assert Incident.objects.get(pk=incident.pk).title == incident.title
