"""The triage queue in a real browser, driven from the keyboard: j/k to move, 1-9 to tick,
a to accept, x to reject, e to edit."""

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from classifier import services
from postmortems.choices import Origin, ReviewStatus
from postmortems.models import Incident, IncidentVendor
from tests.browser.conftest import sign_in
from tests.factories import IncidentFactory, VendorFactory

CURRENT = re.compile(r"\bis-current\b")
TEXTS = {
    "leap": (
        "Leap second crashes the resolvers",
        "A leap second made the clock step backwards and the resolvers crashed.",
    ),
    "config": (
        "Elevated API errors",
        "A configuration change was pushed to every region at once and crashed the proxies.",
    ),
    "quiet": ("Degraded performance", "This incident has been resolved."),
}


@pytest.fixture
def queue(people, monkeypatch):
    monkeypatch.setattr(services.reference, "examples", lambda: ())
    vendor = VendorFactory(slug="quokka", name="Quokka")
    made = {}
    for n, (key, (title, summary)) in enumerate(TEXTS.items()):
        incident = IncidentFactory(
            title=title,
            slug=f"quokka-{key}",
            summary=summary,
            status=ReviewStatus.DRAFT,
            origin=Origin.IMPORTED,
            import_source="statuspage:quokka",
            external_id=key,
            started_at=datetime(2024, 3, 1 + n, tzinfo=UTC),
        )
        IncidentVendor.objects.create(incident=incident, vendor=vendor, is_primary=True)
        made[key] = incident
    services.classify([i.id for i in made.values()], auto_accept=False)
    return made


def test_a_reviewer_works_through_the_queue_with_the_keyboard(new_page, queue):
    page = new_page()
    sign_in(page, "reviewer")
    page.get_by_role("link", name="Needs classification").click()

    rows = page.locator("#triage-list > li")
    assert rows.count() == 3
    # Most confident first: the leap second (two strong cues) leads, the quiet one is last.
    assert "Leap second" in rows.nth(0).inner_text()
    assert "Degraded performance" in rows.nth(2).inner_text()
    first = rows.nth(0)
    assert first.get_attribute("class").count("is-current") == 1
    # The evidence is quoted with the matching words highlighted.
    assert first.locator("blockquote mark").first.inner_text().lower() == "leap second"
    ticked = first.locator('input[name="label"]:checked')
    assert ticked.count() >= 2  # time event and time handling, both above the threshold

    page.keyboard.press("a")  # accept the leap second's ticked labels
    page.get_by_text("Accepted").first.wait_for()
    leap = Incident.objects.get(slug="quokka-leap")
    assert "time-event" in {c.slug for c in leap.change_types.all()}
    assert leap.factors.filter(category__slug="time-handling").exists()
    assert leap.classification.state == "accepted"

    # The queue moved on by itself to the next row.
    second = page.locator("#triage-quokka-config")
    expect(second).to_have_class(CURRENT)
    boxes = second.locator('input[name="label"]')
    was = boxes.nth(0).is_checked()
    page.keyboard.press("1")  # untick the first suggestion
    assert boxes.nth(0).is_checked() is not was
    page.keyboard.press("1")  # and tick it again
    page.keyboard.press("j")
    expect(page.locator("#triage-quokka-quiet")).to_have_class(CURRENT)
    page.keyboard.press("x")  # reject the one that names no cause
    page.locator("#triage-quokka-quiet").get_by_text("Rejected").wait_for()
    assert Incident.objects.get(slug="quokka-quiet").classification.state == "rejected"
    assert not Incident.objects.get(slug="quokka-quiet").change_types.exists()

    page.keyboard.press("k")
    expect(page.locator("#triage-quokka-config")).to_have_class(CURRENT)
    page.keyboard.press("e")
    page.wait_for_url("**/incidents/quokka-config/edit/")

    # Back in the queue, only the untouched incident is left.
    page.goto("/triage/")
    assert page.locator("#triage-list > li").count() == 1


def test_a_viewer_has_no_queue(new_page, queue):
    page = new_page()
    sign_in(page, "viewer")
    assert page.get_by_role("link", name="Needs classification").count() == 0
    response = page.goto("/triage/")
    assert response.status == 403
