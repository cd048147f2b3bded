"""Previewing one's own weekly digest in the browser."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from digests import tokens
from digests.choices import Weekday
from postmortems.models import IncidentVendor
from tests.factories import DigestSubscriptionFactory, IncidentFactory, VendorFactory

pytestmark = pytest.mark.django_db

PREVIEW = reverse("digests:preview")
PREVIEW_EMAIL = reverse("digests:preview-email")
# Wednesday 18 Nov 2026, noon UTC: the next Monday 09:00 UTC digest covers 16 to 23 Nov.
NOW = datetime(2026, 11, 18, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def signed_in(client, viewer):
    client.force_login(viewer)
    return client


def test_the_preview_needs_a_signed_in_person(client):
    for path in (PREVIEW, PREVIEW_EMAIL):
        response = client.get(path)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_preview_shows_the_coming_digest_so_far(signed_in):
    IncidentFactory(title="Storage front-ends stop", published_at=NOW - timedelta(days=1))

    response = signed_in.get(PREVIEW)

    page = response.content.decode()
    assert response.status_code == 200
    assert response.context["period"].week == "2026-W48"
    assert "1 new postmortem — week of 16 Nov" in response.context["rendered"].subject
    assert response.context["rendered"].subject in page
    assert "Storage front-ends stop" in response.context["rendered"].text
    assert f'src="{PREVIEW_EMAIL}"' in page and "sandbox" in page


def test_the_preview_follows_the_persons_filters(signed_in, viewer):
    wanted, other = VendorFactory(name="Wanted"), VendorFactory(name="Other")
    for vendor in (wanted, other):
        incident = IncidentFactory(
            title=f"{vendor.name} outage", published_at=NOW - timedelta(days=1)
        )
        IncidentVendor.objects.create(incident=incident, vendor=vendor)
    subscription = DigestSubscriptionFactory(user=viewer, weekday=Weekday.MONDAY)
    subscription.vendors.set([wanted])

    text = signed_in.get(PREVIEW).context["rendered"].text

    assert "Wanted outage" in text and "Other outage" not in text


def test_the_html_part_is_served_with_a_policy_for_email_markup(signed_in, viewer):
    subscription = DigestSubscriptionFactory(user=viewer)

    response = signed_in.get(PREVIEW_EMAIL)

    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "style-src 'unsafe-inline'" in policy
    assert "script-src 'none'" in policy and "default-src 'none'" in policy
    assert "frame-ancestors 'self'" in policy
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    # The unsubscribe link is the subscriber's real one.
    assert tokens.unsubscribe_url(subscription) in response.content.decode()


def test_the_preview_page_itself_keeps_the_strict_policy(signed_in):
    response = signed_in.get(PREVIEW)

    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"


def test_without_a_subscription_the_preview_uses_the_defaults(signed_in, viewer):
    response = signed_in.get(PREVIEW)

    assert response.status_code == 200
    assert "You are not subscribed" in response.content.decode()
    assert (response.context["subscription"].pk, response.context["subscription"].hour) == (
        None,
        9,
    )
    assert reverse("accounts:settings") in signed_in.get(PREVIEW_EMAIL).content.decode()


def test_a_past_week_can_be_previewed(signed_in):
    IncidentFactory(title="Older outage", published_at=datetime(2026, 11, 3, tzinfo=UTC))

    response = signed_in.get(PREVIEW, {"week": "2026-W46"})

    assert response.context["period"].end == datetime(2026, 11, 9, 9, tzinfo=UTC)
    assert "Older outage" in response.context["rendered"].text
    assert "?week=2026-W46" in response.content.decode()


def test_a_malformed_week_is_a_400_that_says_why(signed_in):
    malformed = signed_in.get(PREVIEW, {"week": "next week"})
    missing = signed_in.get(PREVIEW, {"week": "2026-W60"})

    assert (malformed.status_code, missing.status_code) == (400, 400)
    assert "write it like 2026-W48" in malformed.content.decode()
    assert "2026 has no week 60." in missing.content.decode()

    assert signed_in.get(PREVIEW_EMAIL, {"week": "nope"}).status_code == 400


def test_the_plain_text_preview_can_be_scrolled_from_the_keyboard(signed_in):
    page = signed_in.get(PREVIEW).content.decode()

    # A scrollable region must take focus, or keyboard users cannot read its long lines.
    assert '<pre class="digest-preview-text" tabindex="0"' in page
