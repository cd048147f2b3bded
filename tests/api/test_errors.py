"""Every error from /api/ has one shape: {"error": {status, code, message, fields}}."""

import logging

import pytest
from django.urls import reverse
from rest_framework.settings import api_settings

from postmortems.api.views import ChangeTypeViewSet
from tests.api.conftest import error_of

pytestmark = pytest.mark.django_db
INCIDENTS = reverse("postmortems-api:incident-list")


def test_400_names_each_field_by_its_dotted_path(client_for, author, acme):
    body = {
        "title": "",
        "vendors": ["acme", "nope"],
        "regions": ["West Europe", "x" * 101],
        "started_at": "yesterday-ish",
    }

    response = client_for(author).post(INCIDENTS, body)

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "invalid"
    assert set(error["fields"]) == {"title", "vendors.1", "regions.1", "started_at"}
    assert "nope" in error["fields"]["vendors.1"][0]
    assert "vendors.1" in error["message"]


def test_400_for_a_whole_object_error_from_a_service(client_for, author):
    body = {"title": "Too wide", "regions_affected": 5, "regions_total": 3}

    response = client_for(author).post(INCIDENTS, body)

    assert response.status_code == 400
    error = error_of(response)
    assert error["fields"] == {
        "non_field_errors": ["Regions affected cannot exceed the regions in total."]
    }
    assert error["message"] == "Regions affected cannot exceed the regions in total."


def test_400_for_malformed_json(client_for, author):
    response = client_for(author).post(INCIDENTS, '{"title": ', content_type="application/json")

    assert response.status_code == 400
    assert error_of(response)["code"] == "parse_error"


def test_401_says_how_to_authenticate(api_client):
    response = api_client.get(INCIDENTS)

    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_403_explains_the_refusal(client_for, viewer):
    response = client_for(viewer).post(INCIDENTS, {"title": "Nope"})

    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "permission_denied"
    assert "authors" in error["message"]


def test_404_for_an_unknown_incident(client_for, viewer):
    response = client_for(viewer).get(reverse("postmortems-api:incident-detail", args=["nope"]))

    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_404_for_an_unknown_api_path(client_for, viewer):
    response = client_for(viewer).get("/api/nothing-here/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "/api/docs/" in error_of(response)["message"]


def test_404_hints_at_the_missing_slash(client_for, viewer):
    response = client_for(viewer).post("/api/incidents", {"title": "x"})

    assert response.status_code == 404
    assert error_of(response)["message"] == "API paths end with a slash: /api/incidents/"


def test_405_for_a_method_an_endpoint_lacks(client_for, admin_user):
    url = reverse("postmortems-api:change-type-detail", args=["config-change"])

    response = client_for(admin_user).delete(url)

    assert response.status_code == 405
    assert error_of(response)["code"] == "method_not_allowed"


def test_413_for_a_body_over_the_limit(client_for, author, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1_000

    response = client_for(author).post(INCIDENTS, {"title": "x", "summary": "y" * 2_000})

    assert response.status_code == 413
    error = error_of(response)
    assert error["code"] == "payload_too_large"
    assert "1000 bytes" in error["message"]


def test_415_for_a_body_that_is_not_json(client_for, author):
    response = client_for(author).post(INCIDENTS, "title=x", content_type="text/plain")

    assert response.status_code == 415
    assert error_of(response)["code"] == "unsupported_media_type"


def test_415_for_form_data(client_for, author):
    response = client_for(author).post(INCIDENTS, {"title": "x"}, format="multipart")

    assert response.status_code == 415


def test_429_when_throttled_with_retry_after(client_for, viewer, monkeypatch):
    monkeypatch.setitem(api_settings.DEFAULT_THROTTLE_RATES, "user", "2/minute")
    client = client_for(viewer)

    codes = [client.get(INCIDENTS).status_code for _ in range(3)]
    response = client.get(INCIDENTS)

    assert codes == [200, 200, 429]
    assert response.status_code == 429
    assert error_of(response)["code"] == "throttled"
    assert 0 < int(response["Retry-After"]) <= 60


def test_anonymous_clients_have_their_own_rate(api_client, monkeypatch):
    monkeypatch.setitem(api_settings.DEFAULT_THROTTLE_RATES, "anon", "1/hour")

    first = api_client.get(reverse("api-schema"))
    second = api_client.get(reverse("api-schema"))

    assert first.status_code == 200
    assert second.status_code == 429
    assert int(second["Retry-After"]) > 60


def test_500_keeps_the_shape_and_logs_the_error(client_for, viewer, monkeypatch, caplog):
    def broken(self, *args, **kwargs):
        raise RuntimeError("database on fire")

    monkeypatch.setattr(ChangeTypeViewSet, "list", broken)

    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = client_for(viewer).get(reverse("postmortems-api:change-type-list"))

    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "server_error"
    assert "fire" not in error["message"]
    assert "database on fire" in caplog.text
