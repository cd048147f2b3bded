import pytest
from django.urls import reverse

from accounts.models import Profile
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db
LOGIN = reverse("accounts:login")
PASSWORD = "correct horse battery staple"


def test_signing_in_with_the_right_password(client, viewer):
    response = client.post(LOGIN, {"username": "viewer", "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == reverse("postmortems:incident-list")


def test_a_wrong_password_says_so(client, viewer):
    response = client.post(LOGIN, {"username": "viewer", "password": "nope"})

    assert response.status_code == 200
    assert "do not match" in response.content.decode()


def test_repeated_failures_lock_the_account_out_for_that_address(client, viewer, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(LOGIN, {"username": "viewer", "password": "guess"})

    locked = client.post(LOGIN, {"username": "viewer", "password": PASSWORD})

    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_signing_out_needs_a_post(client, viewer):
    client.force_login(viewer)

    response = client.post(reverse("accounts:logout"))

    assert response.status_code == 302
    assert "_auth_user_id" not in client.session


def test_the_chosen_time_zone_is_used_for_every_time_shown(client, viewer):
    incident = IncidentFactory(title="Tokyo view")
    client.post(LOGIN, {"username": "viewer", "password": PASSWORD})

    client.post(reverse("accounts:settings"), {"time_zone": "Asia/Tokyo"})
    page = client.get(reverse("postmortems:incident-detail", args=[incident.slug]))

    assert Profile.objects.get(user=viewer).time_zone == "Asia/Tokyo"
    # IncidentFactory starts at 12:00 UTC: 21:00 in Tokyo, with UTC one toggle away.
    assert "1 Mar 2024 21:00 JST" in page.content.decode()
    assert "1 Mar 2024 12:00 UTC" in page.content.decode()


def test_an_unknown_time_zone_is_refused(client, viewer):
    client.force_login(viewer)

    response = client.post(reverse("accounts:settings"), {"time_zone": "Mars/Olympus"})

    assert "Select a valid choice" in response.content.decode()


def test_pages_carry_a_content_security_policy_without_inline_script(client, viewer):
    client.force_login(viewer)

    policy = client.get(reverse("postmortems:incident-list"))["Content-Security-Policy"]

    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
