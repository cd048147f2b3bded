"""Subscribing to the weekly digest and previewing it, in a real browser."""

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import expect

from digests.models import DigestSubscription
from postmortems.models import IncidentVendor
from tests.browser.conftest import sign_in
from tests.factories import FactorFactory, IncidentFactory, VendorFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_person_subscribes_with_filters_and_previews_the_digest(new_page, people):
    get_user_model().objects.filter(username="viewer").update(email="viewer@example.com")
    aws = VendorFactory(name="AWS", slug="aws")
    incident = IncidentFactory(title="S3 requests fail in one region", published_at=timezone.now())
    IncidentVendor.objects.create(incident=incident, vendor=aws)
    FactorFactory(incident=incident)  # a software bug, as the filter below asks
    page = new_page()
    violations = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text)
            if "Content Security Policy" in message.text or "Refused" in message.text
            else None
        ),
    )
    sign_in(page, "viewer")

    page.get_by_role("link", name="viewer").click()
    digest = page.locator("#weekly-digest")
    expect(digest.get_by_role("textbox", name="Send to")).to_have_value("viewer@example.com")
    digest.get_by_role("combobox", name="Every").select_option(label="Tuesday")
    digest.get_by_role("combobox", name="At", exact=True).select_option(label="07:00")
    digest.get_by_role("combobox", name="Time zone").select_option("Asia/Tokyo")
    digest.get_by_role("listbox", name="Vendors").select_option(label="AWS")
    digest.get_by_role("listbox", name="Failure categories").select_option(label="Software bug")
    digest.get_by_role("combobox", name="Minimum severity").select_option(label="Major or worse")
    digest.get_by_role("radio", name="Nothing", exact=True).check()
    digest.get_by_role("button", name="Send me the digest").click()

    expect(page.get_by_text("Saved. The weekly digest goes to viewer@example.com.")).to_be_visible()
    expect(page.locator(".digest-next")).to_contain_text("Next digest: Tuesday")
    expect(page.locator(".digest-next")).to_contain_text("07:00 Asia/Tokyo")
    subscription = DigestSubscription.objects.get(user__username="viewer")
    assert subscription.is_active and subscription.quiet_week == "skip"
    assert [v.slug for v in subscription.vendors.all()] == ["aws"]

    page.get_by_role("link", name="Preview this week's digest").click()

    expect(page.get_by_role("heading", name="Digest preview")).to_be_visible()
    expect(page.locator("#digest-subject")).to_contain_text("1 new postmortem")
    expect(page.locator("pre")).to_contain_text("S3 requests fail in one region")
    frame = page.frame_locator("iframe.digest-preview-frame")
    expect(frame.get_by_role("link", name="S3 requests fail in one region")).to_be_visible()
    assert violations == []
