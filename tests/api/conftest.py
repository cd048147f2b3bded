from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.models import TokenScope
from accounts.tokens import create_token
from postmortems.models import IncidentVendor
from tests.factories import IncidentFactory, VendorFactory

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fresh_throttle_counts():
    # Throttle counts live in the (process-wide) cache; each test starts from zero.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    # Every test here creates users; hashing their passwords properly is slow and
    # is not what these tests are about.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def api_client() -> APIClient:
    return APIClient()


@pytest.fixture
def client_for(db) -> Callable[..., APIClient]:
    """An APIClient that sends a new token of ``user`` (read-write unless told)."""

    def make(user, scope: str = TokenScope.READ_WRITE) -> APIClient:
        _, key = create_token(user=user, name="tests", scope=scope)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        return client

    return make


@pytest.fixture
def incident_by(db) -> Callable[..., object]:
    """An incident written by ``author`` (any factory fields may be given)."""

    def make(author, **fields):
        incident = IncidentFactory(**fields)
        incident.authors.add(author)
        return incident

    return make


@pytest.fixture
def acme(db):
    return VendorFactory(slug="acme", name="Acme Cloud")


def link_vendor(incident, vendor, *, primary: bool = False) -> None:
    IncidentVendor.objects.create(incident=incident, vendor=vendor, is_primary=primary)


def error_of(response) -> dict:
    """The error object of an API error response, after checking the shared shape."""
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert error["status"] == response.status_code
    assert {"status", "code", "message", "fields"} <= set(error)
    assert isinstance(error["message"], str) and error["message"]
    return error
