"""The links in digest emails: confirm an address, unsubscribe (RFC 8058 one-click)."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from digests import tokens
from digests.models import DigestSubscription
from tests.factories import DigestSubscriptionFactory, UserFactory

pytestmark = pytest.mark.django_db

ONE_CLICK = "List-Unsubscribe=One-Click"


@pytest.fixture
def subscription():
    return DigestSubscriptionFactory(email="reader@example.com")


@pytest.fixture
def pending():
    return DigestSubscriptionFactory(email="new@example.com", confirmed_at=None)


def unsubscribe_path(subscription) -> str:
    return reverse("digests:unsubscribe", args=[tokens.unsubscribe_token(subscription)])


def confirm_path(subscription) -> str:
    return reverse("digests:confirm", args=[tokens.confirm_token(subscription)])


def fresh(subscription) -> DigestSubscription:
    return DigestSubscription.objects.get(pk=subscription.pk)


# --- Confirming -------------------------------------------------------------------


def test_opening_the_confirm_link_only_asks(client, pending):
    response = client.get(confirm_path(pending))

    assert response.status_code == 200
    assert "Yes, confirm this address" in response.content.decode()
    assert fresh(pending).confirmed_at is None


def test_the_confirm_button_confirms_the_address(pending):
    browser = Client(enforce_csrf_checks=True)
    path = confirm_path(pending)
    assert browser.post(path).status_code == 403  # confirming needs the page's own form

    page = browser.get(path)
    response = browser.post(path, {"csrfmiddlewaretoken": str(page.context["csrf_token"])})

    assert response.status_code == 200
    assert "The weekly digest will go to" in response.content.decode()
    assert fresh(pending).is_active


def test_confirming_twice_keeps_the_first_time(client, subscription):
    first = subscription.confirmed_at

    response = client.post(confirm_path(subscription))

    assert response.status_code == 200
    assert fresh(subscription).confirmed_at == first


def test_a_confirm_link_expires_after_a_week(client, pending):
    path = confirm_path(pending)

    with time_machine.travel(datetime.now(UTC) + tokens.CONFIRM_MAX_AGE + timedelta(hours=1)):
        response = client.post(path)

    assert response.status_code == 400
    assert "This link has expired." in response.content.decode()
    assert fresh(pending).confirmed_at is None


# --- Unsubscribing -----------------------------------------------------------------


def test_anyone_can_open_the_unsubscribe_link_and_it_only_asks(client, subscription):
    response = client.get(unsubscribe_path(subscription))

    assert response.status_code == 200
    assert "Stop sending the Hindsight weekly digest to" in response.content.decode()
    assert fresh(subscription).is_active


def test_the_unsubscribe_button_unsubscribes(client, subscription):
    response = client.post(unsubscribe_path(subscription), {"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    assert "You will no longer receive" in response.content.decode()
    assert fresh(subscription).unsubscribed_at is not None


def test_a_mail_providers_one_click_post_needs_no_csrf_token(subscription):
    # RFC 8058: the provider POSTs this exact body, with no cookie and no token.
    provider = Client(enforce_csrf_checks=True)

    response = provider.post(
        unsubscribe_path(subscription),
        ONE_CLICK,
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 200
    assert fresh(subscription).unsubscribed_at is not None


def test_unsubscribing_again_changes_nothing(client, subscription):
    client.post(unsubscribe_path(subscription))
    first = fresh(subscription).unsubscribed_at

    response = client.post(unsubscribe_path(subscription))

    assert response.status_code == 200
    assert "You will no longer receive" in response.content.decode()
    assert fresh(subscription).unsubscribed_at == first


def test_a_person_who_unsubscribed_is_shown_where_to_start_again(client):
    person = DigestSubscriptionFactory(user=UserFactory(username="grace"), email="g@example.com")

    page = client.post(unsubscribe_path(person)).content.decode()

    assert reverse("accounts:settings") in page


def test_a_tampered_link_is_refused_and_changes_nothing(client, subscription):
    token = tokens.unsubscribe_token(subscription)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")

    response = client.post(reverse("digests:unsubscribe", args=[tampered]))

    assert response.status_code == 400
    assert "This link is not valid." in response.content.decode()
    assert fresh(subscription).is_active


def test_a_confirm_token_is_not_an_unsubscribe_token(client, subscription):
    token = tokens.confirm_token(subscription)

    response = client.post(reverse("digests:unsubscribe", args=[token]))

    assert response.status_code == 400
    assert fresh(subscription).is_active


def test_an_unsubscribe_token_does_not_confirm(client, pending):
    response = client.post(reverse("digests:confirm", args=[tokens.unsubscribe_token(pending)]))

    assert response.status_code == 400
    assert fresh(pending).confirmed_at is None


def test_a_link_for_an_address_that_changed_is_refused(client, subscription):
    path = unsubscribe_path(subscription)
    DigestSubscription.objects.filter(pk=subscription.pk).update(email="moved@example.com")

    response = client.post(path)

    assert response.status_code == 400
    assert fresh(subscription).is_active


def test_the_link_pages_keep_the_strict_content_security_policy(client, subscription):
    for response in (
        client.get(unsubscribe_path(subscription)),
        client.get(confirm_path(subscription)),
        client.get(reverse("digests:unsubscribe", args=["nonsense"])),
    ):
        policy = response["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "style-src 'self'" in policy
        assert "unsafe-inline" not in policy
        assert "<script>" not in response.content.decode()
        assert " style=" not in response.content.decode()
