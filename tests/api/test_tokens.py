"""API tokens: created on the settings page, shown once, hashed at rest, revocable."""

import hashlib
import re
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import ApiToken, TokenScope
from accounts.tokens import create_token
from tests.api.conftest import T0, error_of
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
SETTINGS = reverse("accounts:settings")
CREATE = reverse("accounts:token-create")
INCIDENTS = reverse("postmortems-api:incident-list")
KEY = re.compile(r"hs_[0-9a-f]{8}_[A-Za-z0-9_-]{40,}")


def bearer(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def create_on_settings_page(client, **data) -> str:
    response = client.post(CREATE, {"name": "CI import", "scope": TokenScope.READ, **data})
    assert response.status_code == 200
    return KEY.search(response.content.decode()).group()


def test_a_new_key_is_shown_once_with_a_copy_hint(client, author):
    client.force_login(author)

    response = client.post(CREATE, {"name": "CI import", "scope": TokenScope.READ_WRITE})
    page = response.content.decode()
    key = KEY.search(page).group()
    later = client.get(SETTINGS).content.decode()

    assert "Copy your new key now" in page
    assert "no-store" in response["Cache-Control"]
    assert key not in later
    token = ApiToken.objects.get(user=author)
    assert f"hs_{token.prefix}…" in later
    assert "CI import" in later and "Read and write" in later and "Never" in later


def test_the_key_is_stored_only_as_its_hash(client, author):
    client.force_login(author)

    key = create_on_settings_page(client)

    token = ApiToken.objects.get(user=author)
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key.startswith(f"hs_{token.prefix}_")
    secret = key.rsplit("_", 1)[1]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM accounts_apitoken")
        stored = " ".join(str(value) for row in cursor.fetchall() for value in row)
    assert secret not in stored


def test_the_key_works_as_a_bearer_token_and_records_its_use(client, author):
    client.force_login(author)
    key = create_on_settings_page(client)

    response = bearer(key).get(INCIDENTS)

    assert response.status_code == 200
    assert ApiToken.objects.get(user=author).last_used_at is not None


def test_the_token_keyword_works_too(author):
    _, key = create_token(user=author, name="curl")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")

    assert client.get(INCIDENTS).status_code == 200


def test_a_revoked_token_is_refused_with_a_clear_message(client, author):
    client.force_login(author)
    key = create_on_settings_page(client)
    token = ApiToken.objects.get(user=author)

    revoked = client.post(reverse("accounts:token-revoke", args=[token.pk]))
    response = bearer(key).get(INCIDENTS)

    assert revoked.status_code == 302
    assert response.status_code == 401
    error = error_of(response)
    assert error["code"] == "authentication_failed"
    assert "revoked" in error["message"]
    assert "hs_" not in client.get(SETTINGS).content.decode()


def test_people_cannot_revoke_each_others_tokens(client, author, other_author):
    token, key = create_token(user=other_author, name="theirs")
    client.force_login(author)

    response = client.post(reverse("accounts:token-revoke", args=[token.pk]))

    assert response.status_code == 404
    assert bearer(key).get(INCIDENTS).status_code == 200


def test_revoking_asks_for_confirmation_first(client, author):
    create_token(user=author, name="build bot")
    client.force_login(author)

    page = client.get(SETTINGS).content.decode()

    assert 'data-confirm="Revoke the token “build bot”?' in page


def test_an_unknown_key_is_refused(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer hs_00000000_not-a-real-secret")

    response = api_client.get(INCIDENTS)

    assert response.status_code == 401
    assert error_of(response)["message"] == "Invalid API token."


def test_a_malformed_authorization_header_is_refused(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer two words")

    response = api_client.get(INCIDENTS)

    assert response.status_code == 401
    assert "Bearer <key>" in error_of(response)["message"]


def test_last_used_is_written_at_most_once_a_minute(author):
    _, key = create_token(user=author, name="poller")
    client = bearer(key)
    with time_machine.travel(T0, tick=False) as traveller:
        client.get(INCIDENTS)
        traveller.shift(timedelta(seconds=30))
        with CaptureQueriesContext(connection) as soon:
            client.get(INCIDENTS)
        traveller.shift(timedelta(seconds=31))
        with CaptureQueriesContext(connection) as later:
            client.get(INCIDENTS)

    def token_updates(queries) -> int:
        return sum(
            q["sql"].startswith('UPDATE "accounts_apitoken"') for q in queries.captured_queries
        )

    assert token_updates(soon) == 0
    assert token_updates(later) == 1
    assert ApiToken.objects.get(user=author).last_used_at == T0 + timedelta(seconds=61)


def test_a_read_only_token_cannot_write(client_for, author):
    client = client_for(author, scope=TokenScope.READ)

    response = client.post(INCIDENTS, {"title": "Nope"})

    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "read_only_token"
    assert "read-only" in error["message"]
    assert client.get(INCIDENTS).status_code == 200


def test_a_token_of_a_disabled_account_is_refused(author):
    _, key = create_token(user=author, name="old")
    author.is_active = False
    author.save()

    assert bearer(key).get(INCIDENTS).status_code == 401


def test_an_admin_revokes_tokens_in_the_admin(client, author):
    token, key = create_token(user=author, name="leaked")
    superuser = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(superuser)

    response = client.post(
        reverse("admin:accounts_apitoken_changelist"),
        {"action": "revoke_selected", "_selected_action": [token.pk]},
    )

    assert response.status_code == 302
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    assert bearer(key).get(INCIDENTS).status_code == 401


def test_an_admin_mints_a_token_for_someone_and_sees_the_key_once(client, author):
    superuser = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(superuser)
    add = reverse("admin:accounts_apitoken_add")

    response = client.post(add, {"user": author.pk, "name": "bot", "scope": TokenScope.READ})

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    key = KEY.search(response.content.decode()).group()
    token = ApiToken.objects.get(user=author)
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert bearer(key).get(INCIDENTS).status_code == 200
    changelist = client.get(reverse("admin:accounts_apitoken_changelist")).content.decode()
    assert key not in changelist


def test_a_browser_session_works_with_its_csrf_token(author):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(author)
    client.get(SETTINGS)  # sets the CSRF cookie, as any page does
    data = {"title": "From the browser"}

    refused = client.post(INCIDENTS, data, format="json")
    accepted = client.post(
        INCIDENTS, data, format="json", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value
    )

    assert refused.status_code == 403
    assert "CSRF" in error_of(refused)["message"]
    assert accepted.status_code == 201


def test_an_invalid_token_form_shows_its_errors(client, author):
    client.force_login(author)

    response = client.post(CREATE, {"name": "", "scope": "everything"})

    assert response.status_code == 400
    assert not ApiToken.objects.exists()
