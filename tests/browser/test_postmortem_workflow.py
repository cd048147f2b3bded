"""The browser as people use it: a real headless Chromium against the live server."""

import pytest
from playwright.sync_api import expect

from postmortems.choices import ReviewStatus
from postmortems.models import Incident
from tests.browser.conftest import sign_in
from tests.factories import IncidentFactory

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

NOTES = """2012-02-29 01:15 UTC — Hosts start migrating workloads
01:45 UTC: Operations alerted by monitoring that VM creation fails everywhere
02:30 UTC - Root cause identified: certificate expiry computed as year + 1"""


def write_postmortem(page) -> str:
    page.get_by_role("link", name="New postmortem").click()
    page.get_by_role("textbox", name="Title", exact=True).fill(
        "Leap-year certificate rollover stops guest agents"
    )
    page.get_by_label("Severity").select_option("critical")
    page.get_by_role("textbox", name="Summary", exact=True).fill(
        "Guest agents could not create certificates on **29 February**."
    )
    expect(page.locator("#preview-summary strong")).to_have_text("29 February")  # live preview
    page.get_by_label("Started at").fill("2012-02-29T00:00")
    page.get_by_role("button", name="Create draft").click()
    expect(page.get_by_role("heading", name="Edit postmortem")).to_be_visible()
    return page.url


def paste_timeline(page) -> None:
    page.get_by_role("textbox", name="Notes", exact=True).fill(NOTES)
    page.get_by_role("button", name="Preview", exact=True).click()
    add = page.get_by_role("button", name="Add these 3 events")
    expect(add).to_be_visible()
    # The alert line is the detection moment: confirm the guessed kind.
    page.get_by_label("Kind of the event on line 2").select_option("detection")
    add.click()
    expect(page.locator("#timeline-section")).to_contain_text("Hosts start migrating workloads")
    expect(page.locator("#incident-moments")).to_contain_text("01:45")


def add_factor(page, role: str, category: str, text: str) -> None:
    section = page.locator("#factors-section")
    section.get_by_label("Role").first.select_option(label=role)
    section.get_by_label("Category").first.select_option(label=category)
    section.get_by_label("Description").first.fill(text)
    section.get_by_role("button", name="Add factor").click()
    expect(section).to_contain_text(text)


def test_author_writes_reviewer_publishes_viewer_finds_it(new_page, people):
    author = new_page()
    sign_in(author, "author")
    write_postmortem(author)
    paste_timeline(author)
    add_factor(author, "Root cause", "Time handling", "Expiry computed as year + 1.")
    add_factor(author, "Contributing factor", "Misdiagnosis", "Hosts blamed hardware.")
    author.get_by_role("link", name="View the postmortem").click()
    author.get_by_role("button", name="Submit for review").click()
    expect(author.locator(".messages")).to_contain_text("Submitted for review")
    incident = Incident.objects.get()
    assert incident.status == ReviewStatus.IN_REVIEW

    reviewer = new_page()
    sign_in(reviewer, "reviewer")
    reviewer.goto(f"/incidents/{incident.slug}/")
    reviewer.get_by_label("Comment").fill("Clear timeline. Ship it.")
    reviewer.get_by_role("button", name="Publish").click()
    expect(reviewer.locator(".messages")).to_contain_text("Published")

    viewer = new_page()
    sign_in(viewer, "viewer")
    viewer.get_by_role("searchbox").fill("certificate rollover")
    viewer.get_by_role("button", name="Search").click()
    viewer.get_by_role("link", name="Leap-year certificate rollover stops guest agents").click()
    timeline = viewer.locator(".timeline li, .timeline-event").all_inner_texts()
    text = "\n".join(timeline)
    order = [text.index(s) for s in ("Impact began", "Hosts start migrating", "Operations alerted",
                                      "Root cause identified")]  # fmt: skip
    assert order == sorted(order)
    expect(viewer.get_by_text("Expiry computed as year + 1.")).to_be_visible()
    expect(viewer.get_by_text("Time to detect")).to_be_visible()
    expect(viewer.locator(".facts")).to_contain_text("1 h 45 min")


HOSTILE = (
    "Look: <script>alert('script')</script> <img src=x onerror=\"alert('img')\"> "
    "[click me](javascript:alert('link')) <a href=\"javascript:alert('a')\">a</a> "
    '<svg onload="alert(\'svg\')"></svg> <p style="color:red" onclick="alert(\'p\')">p</p>'
)


def test_hostile_markdown_stays_inert_on_the_page_and_in_the_preview(new_page, people):
    incident = IncidentFactory(title="Hostile write-up", summary=HOSTILE, lessons=HOSTILE)
    incident.authors.add(people["author"])

    page = new_page()
    sign_in(page, "author")
    page.goto(f"/incidents/{incident.slug}/")
    page.get_by_text("click me").first.click()
    page.get_by_text("p", exact=True).first.click()
    page.goto(f"/incidents/{incident.slug}/edit/")
    expect(page.locator("#preview-summary")).to_contain_text("Look:")
    page.wait_for_timeout(300)

    assert page.dialogs == []
    assert page.locator("#preview-summary script, #preview-summary [onerror]").count() == 0


def test_two_editors_at_once_the_second_keeps_their_text(new_page, people):
    incident = IncidentFactory(status=ReviewStatus.IN_REVIEW, summary="Original summary.")
    incident.authors.add(people["author"])
    first, second = new_page(), new_page()
    sign_in(first, "reviewer")
    sign_in(second, "author")
    for page in (first, second):
        page.goto(f"/incidents/{incident.slug}/edit/")

    first.get_by_role("textbox", name="Summary", exact=True).fill("The reviewer's summary.")
    first.get_by_role("button", name="Save changes").click()
    expect(first.locator(".messages")).to_contain_text("Saved")
    second.get_by_role("textbox", name="Summary", exact=True).fill(
        "The author's long, careful summary."
    )
    second.get_by_role("button", name="Save changes").click()

    expect(second.get_by_role("heading", name="Someone else saved this postmortem")).to_be_visible()
    expect(second.get_by_role("textbox", name="Summary", exact=True)).to_have_value(
        "The author's long, careful summary."
    )
    expect(second.locator(".conflict ins")).to_contain_text("reviewer's")
    assert Incident.objects.get(id=incident.id).summary == "The reviewer's summary."


def test_a_vendor_created_in_the_editor_dialog_joins_the_vendor_picker(new_page, people):
    page = new_page()
    sign_in(page, "author")
    page.goto("/incidents/new/")

    page.get_by_role("button", name="+ New vendor").click()
    dialog = page.get_by_role("dialog", name="New vendor")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Name").fill("Fastly")
    dialog.get_by_role("button", name="Add vendor").click()

    expect(dialog).to_be_hidden()
    expect(page.locator("#id_vendors option:checked")).to_have_text("Fastly")
    expect(page.locator("#id_primary_vendor")).to_contain_text("Fastly")
