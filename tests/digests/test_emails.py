"""The digest's emails: one multipart message whose two parts say the same thing."""

import re
from datetime import UTC, date, datetime
from html.parser import HTMLParser

import pytest
from django.conf import settings
from django.urls import reverse

from digests.content import (
    ActionItemEntry,
    Digest,
    NumberUnit,
    PatternEntry,
    PostmortemEntry,
    RisingEntry,
    WeekNumber,
    build_digest,
)
from digests.emails import confirmation_message, digest_message, render_digest
from digests.models import DigestSubscription
from digests.schedule import period_ending
from tests.factories import DigestSubscriptionFactory, IncidentFactory

SITE = settings.SITE_URL
PERIOD = period_ending(datetime(2026, 11, 23, 9, tzinfo=UTC), "UTC")
UNSUBSCRIBE = f"{SITE}/digest/unsubscribe/signed-token/"
PREFERENCES = f"{SITE}{reverse('accounts:settings')}"
URL = re.compile(r"https?://\S+")


class Page(HTMLParser):
    """What a test needs from an HTML part: its tags, links, styles and visible text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    @property
    def hrefs(self) -> set[str]:
        return {attrs["href"] for tag, attrs in self.tags if tag == "a"}

    @property
    def visible_text(self) -> str:
        return " ".join("".join(self.text).split())


def postmortem(n: int, **kwargs) -> PostmortemEntry:
    values = {
        "title": f"Storage outage {n}",
        "url": f"{SITE}/incidents/storage-outage-{n}/",
        "vendors": ["Azure", "Akamai"],
        "severity": "Critical",
        "duration": "3 h 20 min",
        "root_cause": "Configuration error: A certificate was not renewed.",
        "published_at": datetime(2026, 11, 17, 10, tzinfo=UTC),
    }
    return PostmortemEntry(**{**values, **kwargs})


def item(title: str, **kwargs) -> ActionItemEntry:
    values = {
        "title": title,
        "incident_title": "Storage outage 1",
        "url": f"{SITE}/incidents/storage-outage-1/",
        "owner": "alice",
        "due_date": date(2026, 11, 2),
        "completed_at": None,
    }
    return ActionItemEntry(**{**values, **kwargs})


def full_digest(subscription: DigestSubscription | None = None, **kwargs) -> Digest:
    values = {
        "period": PERIOD,
        "postmortems": [postmortem(1), postmortem(2, vendors=[], root_cause="")],
        "more_postmortems": 3,
        "more_url": f"{SITE}/?vendor=azure",
        "new_patterns": [
            PatternEntry("Config change + rollout not staged", f"{SITE}/patterns/7/", 3, 1, [], 0)
        ],
        "grown_patterns": [
            PatternEntry("OS upgrade + software bug", f"{SITE}/patterns/9/", 6, 2, ["Azure"], 0)
        ],
        "rising": [RisingEntry("Certificate expiry", f"{SITE}/categories/cert/", 6, 1.5, 30)],
        "overdue_items": [item("Alert on certificate age")],
        "completed_items": [
            item("Add a canary stage", completed_at=datetime(2026, 11, 18, 15, tzinfo=UTC))
        ],
        "numbers": [
            WeekNumber("Postmortems published", 5, 2, 1.25),
            WeekNumber("Downtime", 12000, 3600, 2700, unit=NumberUnit.DURATION),
        ],
        "subscription": subscription or DigestSubscription(email="reader@example.com"),
        "more_patterns": 4,
    }
    return Digest(**{**values, **kwargs})


def quiet_digest(**kwargs) -> Digest:
    empty = {
        "postmortems": [],
        "more_postmortems": 0,
        "new_patterns": [],
        "grown_patterns": [],
        "rising": [],
        "completed_items": [],
        "overdue_items": [],
        "more_patterns": 0,
    }
    return full_digest(**{**empty, **kwargs})


def render(digest: Digest):
    return render_digest(digest, unsubscribe_url=UNSUBSCRIBE, preferences_url=PREFERENCES)


def message_for(digest: Digest):
    return digest_message(
        digest, to="reader@example.com", unsubscribe_url=UNSUBSCRIBE, message_id="<d.1@host>"
    )


# --- The message ----------------------------------------------------------------------------


def test_digest_is_one_multipart_message_with_a_text_and_an_html_part():
    mime = message_for(full_digest()).message()

    assert mime.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in mime.get_payload()]
    assert parts == ["text/plain", "text/html"]


def test_digest_message_carries_the_unsubscribe_and_automatic_mail_headers():
    message = message_for(full_digest())
    mime = message.message()

    assert message.from_email == settings.DEFAULT_FROM_EMAIL
    assert message.to == ["reader@example.com"]
    assert mime["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    assert mime["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mime["Message-ID"] == "<d.1@host>"
    assert mime["Auto-Submitted"] == "auto-generated"
    assert mime["X-Auto-Response-Suppress"] == "All"


def test_subject_is_the_digests_subject_on_one_line():
    digest = full_digest()

    rendered = render(digest)

    assert rendered.subject == digest.subject
    assert rendered.subject == (
        "5 new postmortems, 6 recurring patterns, 1 overdue action item — week of 16 Nov"
    )
    assert message_for(digest).subject == rendered.subject


# --- Same content in both parts ---------------------------------------------------------------


def test_every_link_is_absolute():
    rendered = render(full_digest(subscription=DigestSubscription(user_id=1)))

    hrefs = Page(rendered.html).hrefs
    assert hrefs
    assert all(href.startswith(SITE) for href in hrefs)
    assert all(url.startswith(SITE) for url in URL.findall(rendered.text))


def test_text_and_html_parts_carry_the_same_links():
    rendered = render(full_digest(subscription=DigestSubscription(user_id=1)))

    assert Page(rendered.html).hrefs == set(URL.findall(rendered.text))


def test_text_and_html_parts_carry_the_same_titles_and_figures():
    digest = full_digest()
    rendered = render(digest)
    html_text = Page(rendered.html).visible_text

    expected = [
        *(entry.title for entry in digest.postmortems),
        "Configuration error: A certificate was not renewed.",
        "Severity: Critical · Vendors: Azure, Akamai · Duration: 3 h 20 min",
        "Vendors: none",
        "And 3 more",
        "Config change + rollout not staged",
        "+2 this week, 6 in all · Azure",
        "And 4 more",
        "Certificate expiry: 6 incidents in the last 30 days, about 1.5 expected",
        "Alert on certificate age — due 2 Nov 2026",
        "Add a canary stage — completed 18 Nov by alice",
        "+3 vs last week",
        "3 h 20 min",  # this week's downtime
        "+2 h 20 min vs last week",
        "1.2",  # the 12-week average of postmortems published
        "45 min",
    ]
    for fragment in expected:
        assert fragment in html_text, fragment
        assert fragment in " ".join(rendered.text.split()), fragment


def test_text_part_lists_the_numbers_as_a_table():
    text = render(full_digest()).text

    assert "This week   Last week   12-week average" in text
    assert re.search(r"Postmortems published\s+5\s+2\s+1\.2\s+\+3 vs last week", text)
    assert re.search(r"Downtime\s+3 h 20 min\s+1 h\s+45 min", text)


def test_footer_offers_settings_only_to_subscribers_with_an_account():
    with_account = render(full_digest(subscription=DigestSubscription(user_id=1)))
    email_only = render(full_digest(subscription=DigestSubscription(email="ops@example.com")))

    assert PREFERENCES in Page(with_account.html).hrefs
    assert PREFERENCES in with_account.text
    assert Page(email_only.html).hrefs >= {UNSUBSCRIBE}
    assert PREFERENCES not in Page(email_only.html).hrefs
    assert PREFERENCES not in email_only.text
    assert f"Unsubscribe: {UNSUBSCRIBE}" in email_only.text


# --- HTML for mail clients ------------------------------------------------------------------


def test_html_has_no_style_blocks_scripts_or_external_resources():
    tags = Page(render(full_digest()).html).tags

    names = {tag for tag, _ in tags}
    assert names.isdisjoint({"style", "script", "link", "img", "iframe"})
    assert not any("class" in attrs for _, attrs in tags)


def test_html_styles_every_text_element_inline():
    tags = Page(render(full_digest()).html).tags

    styled = {"body", "h1", "h2", "p", "a", "th", "td"}
    unstyled = [(tag, attrs) for tag, attrs in tags if tag in styled and not attrs.get("style")]
    assert unstyled == []


def test_html_keeps_to_600_pixels_and_has_a_hidden_preheader():
    html = render(full_digest()).html

    assert "max-width:600px" in html
    preheader = re.search(r'<div style="display:none;[^"]*">([^<&]*)', html)
    assert preheader[1] == "Critical: Storage outage 1"


def test_html_has_a_heading_per_section():
    headings = re.findall(r"<h2[^>]*>([^<(]*)", render(full_digest()).html)

    assert [h.strip() for h in headings] == [
        "New postmortems",
        "Recurring patterns",
        "Rising failure categories",
        "Your overdue action items",
        "Action items completed",
        "The week in numbers",
    ]


@pytest.mark.django_db
def test_titles_written_by_people_are_escaped_in_html_only():
    incident = IncidentFactory(title="<script>alert(1)</script> & more", published_at=PERIOD.start)
    digest = build_digest(DigestSubscriptionFactory(), PERIOD)

    rendered = render(digest)

    assert "<script" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in rendered.html
    assert f"* {incident.title}\n" in rendered.text


# --- Quiet weeks ------------------------------------------------------------------------------


def test_a_quiet_week_says_so_briefly():
    rendered = render(quiet_digest())
    text = Page(rendered.html).visible_text

    assert "Nothing new this week" in text
    assert "Nothing new this week" in rendered.text
    assert "The week in numbers" not in text
    assert "THE WEEK IN NUMBERS" not in rendered.text
    assert Page(rendered.html).hrefs == {f"{SITE}/", UNSUBSCRIBE}


def test_a_quiet_week_still_lists_the_readers_overdue_items():
    rendered = render(quiet_digest(overdue_items=[item("Rotate the keys")]))

    assert "Rotate the keys — due 2 Nov 2026" in Page(rendered.html).visible_text
    assert "Rotate the keys — due 2 Nov 2026" in rendered.text
    assert rendered.subject == "Nothing new, 1 overdue action item — week of 16 Nov"


# --- Confirmation -----------------------------------------------------------------------------


def confirm(**kwargs):
    subscription = DigestSubscription(email="ops@example.com", **kwargs)
    return confirmation_message(subscription, confirm_url=f"{SITE}/digest/confirm/token/")


def test_confirmation_asks_to_confirm_with_the_link_in_both_parts():
    message = confirm()
    html = message.alternatives[0].content

    assert message.subject == "Confirm your Hindsight weekly digest"
    assert message.to == ["ops@example.com"]
    assert Page(html).hrefs == {f"{SITE}/digest/confirm/token/"}
    assert set(URL.findall(message.body)) == {f"{SITE}/digest/confirm/token/"}


def test_confirmation_says_when_the_digest_arrives_and_that_nothing_comes_unconfirmed():
    message = confirm(weekday=4, hour=7, time_zone="Europe/Paris")
    html_text = Page(message.alternatives[0].content).visible_text

    for part in (html_text, " ".join(message.body.split())):
        assert "every Friday at 07:00 (Europe/Paris time)" in part
        assert "Nothing is sent unless you confirm" in part
        assert "valid for 7 days" in part


def test_confirmation_is_marked_as_automatic_mail():
    mime = confirm().message()

    assert mime.get_content_type() == "multipart/alternative"
    assert mime["Auto-Submitted"] == "auto-generated"
    assert mime["List-Unsubscribe"] is None
