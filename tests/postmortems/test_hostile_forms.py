"""Hostile input to the editor's forms: a form error beside the field, nothing written, and
never a server error."""

from __future__ import annotations

import hashlib

import pytest
from django.urls import reverse

from postmortems.choices import ReviewStatus
from postmortems.models import Factor, FailureCategory, Incident, ReviewAction, Source, Vendor
from tests.factories import IncidentFactory
from timeline.models import TimelineEvent

pytestmark = pytest.mark.django_db

NESTED_LIST = "\n".join("    " * level + "- deeper" for level in range(300))
DISTINCT_WORDS = " ".join(f"q{i:x}z" for i in range(400_000))  # 3.0 MB
OUT_OF_RANGE = "between the years 1900 and 2999"


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def signed_in(client, author):
    client.force_login(author)
    return client


@pytest.fixture
def incident(author):
    incident = IncidentFactory(status=ReviewStatus.DRAFT)
    incident.authors.add(author)
    return incident


def incident_form(**overrides) -> dict:
    return {
        "title": "Config push loops blob front-ends",
        "severity": "critical",
        "summary": "Storage front-ends looped after a config change.",
        "impact": "",
        "analysis": "",
        "lessons": "",
        "regions": "",
        **overrides,
    }


def written() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (Incident, TimelineEvent, Factor, Source))


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"started_at": "9999-12-31T23:59"}, OUT_OF_RANGE),
        ({"started_at": "1850-01-01T00:00"}, OUT_OF_RANGE),
        ({"summary": DISTINCT_WORDS}, "too long to index for search (3.0 MB; at most 1 MB)"),
        ({"lessons": NESTED_LIST}, "nested deeper than 64 levels"),
        ({"impact": "<blockquote>" * 1_000}, "too deep to show"),
        ({"regions_affected": str(2**63)}, "less than or equal to 2147483647"),
    ],
    ids=["year 9999", "year 1850", "3 MB of words", "lists 300 deep", "quotes 1,000 deep", "2**63"],
)
def test_a_new_postmortem_with_hostile_input_is_a_form_error(signed_in, overrides, says):
    response = signed_in.post(reverse("postmortems:incident-create"), incident_form(**overrides))

    assert response.status_code == 400
    field = next(iter(overrides))
    assert says in " ".join(response.context["form"].errors[field])
    assert written() == (0, 0, 0, 0)


def test_an_edit_nested_too_deep_changes_nothing(signed_in, incident):
    url = reverse("postmortems:incident-edit", args=[incident.slug])

    response = signed_in.post(url, incident_form(summary=NESTED_LIST, version=incident.version))

    assert response.status_code == 400
    assert "nested deeper than 64 levels" in response.context["form"].errors["summary"][0]
    incident.refresh_from_db()
    assert (incident.version, incident.summary) == (1, "Requests failed.")


def test_a_factor_nested_too_deep_is_a_form_error(signed_in, incident):
    category = FailureCategory.objects.get(slug="software-bug")
    url = reverse("postmortems:factor-create", args=[incident.slug])
    data = {"role": "root_cause", "category": category.pk, "description": NESTED_LIST}

    response = signed_in.post(url, {f"factor-new-{k}": v for k, v in data.items()})

    assert response.status_code == 400
    assert "nested deeper than 64 levels" in response.content.decode()
    assert not Factor.objects.exists()


def test_a_source_url_too_long_for_its_index_is_a_form_error(signed_in, incident):
    url = "https://status.example.com/" + "".join(chr(0x4E00 + i) for i in range(900))
    data = {"url": url, "title": "", "kind": "postmortem"}

    response = signed_in.post(
        reverse("postmortems:source-create", args=[incident.slug]),
        {f"source-new-{k}": v for k, v in data.items()},
    )

    assert response.status_code == 400
    assert "at most 2000 bytes (it has 2727" in response.content.decode()
    assert not Source.objects.exists()


def test_an_event_in_year_9999_is_a_form_error(signed_in, incident):
    data = {"occurred_at": "9999-12-31T23:59:59", "kind": "note", "description": "Late."}

    response = signed_in.post(
        reverse("timeline:event-create", args=[incident.slug]),
        {f"timeline-new-{k}": v for k, v in data.items()},
    )

    assert response.status_code < 500
    assert OUT_OF_RANGE in response.content.decode()
    assert not TimelineEvent.objects.exists()


@pytest.mark.parametrize(
    ("notes", "says"),
    [
        # The second line would roll past midnight into year 10000.
        ("9999-12-31 23:59 UTC — Caches drain\n00:01 UTC — Traffic back", "Line 1: 9999-12-31"),
        ("0001-01-01 00:00 +09:00 — Before the calendar", "Line 1: 0001-01-01"),
        ("2024-03-01 10:00 UTC — Fine\n9999-12-31 23:59 -09:00 — After it", "Line 2: 9999-12-31"),
    ],
    ids=["past midnight of 9999", "year 1 east of UTC", "year 9999 west of UTC"],
)
def test_pasted_notes_beyond_the_calendar_are_a_form_error(signed_in, incident, notes, says):
    response = signed_in.post(
        reverse("timeline:paste", args=[incident.slug]),
        {"timeline-paste-notes": notes, "action": "preview"},
    )

    assert response.status_code < 500
    assert f"{says} is not {OUT_OF_RANGE}" in response.content.decode()
    assert not TimelineEvent.objects.exists()


def test_a_pasted_event_saved_beyond_the_range_is_refused(signed_in, incident):
    notes = "2024-03-01 10:00 UTC — Fine"
    rows = {"occurred_at": "9999-12-31T23:59:59-09:00", "kind": "note", "description": "x"}

    response = signed_in.post(
        reverse("timeline:paste", args=[incident.slug]),
        {
            "timeline-paste-notes": notes,
            "digest": hashlib.sha256(notes.encode()).hexdigest()[:20],
            "action": "save",
            "pasted-TOTAL_FORMS": "1",
            "pasted-INITIAL_FORMS": "0",
            **{f"pasted-0-{k}": v for k, v in rows.items()},
        },
    )

    assert response.status_code < 500
    assert OUT_OF_RANGE in response.content.decode()
    assert not TimelineEvent.objects.exists()


def test_a_vendor_whose_notes_nest_too_deep_is_a_form_error(signed_in):
    data = {"name": "Deep Cloud", "slug": "", "kind": "cloud", "notes": NESTED_LIST}

    response = signed_in.post(reverse("postmortems:vendor-create"), data)

    assert "nested deeper than 64 levels" in " ".join(response.context["form"].errors["notes"])
    assert not Vendor.objects.filter(name="Deep Cloud").exists()


@pytest.mark.parametrize(
    ("comment", "says"),
    [("Looks good\x00", "The comment holds a NUL character"), (NESTED_LIST, "too deep to show")],
    ids=["a NUL", "lists 300 deep"],
)
def test_a_hostile_review_comment_is_refused_and_nothing_changes(
    client, author, reviewer, comment, says
):
    incident = IncidentFactory(status=ReviewStatus.IN_REVIEW)
    incident.authors.add(author)
    client.force_login(reviewer)
    url = reverse("postmortems:incident-review", args=[incident.slug])

    response = client.post(url, {"action": "publish", "comment": comment}, follow=True)

    assert response.status_code == 200
    assert says in response.content.decode()
    incident.refresh_from_db()
    assert incident.status == ReviewStatus.IN_REVIEW
    assert not ReviewAction.objects.exists()


def test_the_markdown_preview_of_lists_nested_too_deep_is_a_400(signed_in):
    response = signed_in.post(
        reverse("postmortems:markdown-preview"), {"field": "summary", "summary": NESTED_LIST}
    )

    assert response.status_code == 400
    assert "nested deeper than 64 levels" in response.content.decode()
