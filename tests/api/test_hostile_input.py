"""Hostile input to /api/: a precise 400 (413 for a body over the limit) naming the field,
in the API's error shape, and nothing written. Never a server error.

Each case posts through the real endpoints; the row counts of everything a write could
touch are compared before and after.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.urls import reverse

from imports.models import ImportJob, StatusSource
from postmortems.choices import ReviewStatus
from postmortems.models import ActionItem, Factor, Incident, ReviewAction, Source, Vendor
from tests.api.conftest import error_of
from tests.factories import IncidentFactory, VendorFactory
from timeline.models import TimelineEvent

pytestmark = pytest.mark.django_db

INCIDENTS = "/api/incidents/"
IMPORTS = "/api/imports/"
FIXTURE = json.loads(
    (Path(__file__).parent.parent / "fixtures/imports/statuspage_small.json").read_text()
)
WRITTEN = (
    Incident, TimelineEvent, Vendor, ImportJob, Factor, ActionItem, Source, ReviewAction,
    StatusSource,
)  # fmt: skip
# Words that share nothing, so that each is a lexeme of its own in the search index.
DISTINCT_WORDS = " ".join(f"q{i:x}z" for i in range(400_000))  # 3.0 MB
NESTED_LIST = "\n".join("    " * level + "- deeper" for level in range(300))
# Each entity is ten of the one before: &lol7; would be 10 million "lol"s.
ENTITIES = [f'<!ENTITY lol{n} "{("&lol" + str(n - 1 or "") + ";") * 10}">' for n in range(1, 8)]
BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(ENTITIES)
    + "]>"
    + '<rss version="2.0"><channel><title>&lol7;</title><item><title>&lol7;</title>'
    "<guid>a</guid><pubDate>Mon, 01 Jan 2024 00:00:00 GMT</pubDate></item></channel></rss>"
)
LONG_UNICODE_URL = "https://status.example.com/" + "".join(chr(0x4E00 + i) for i in range(900))


def counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in WRITTEN}


def deep(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def push(payload, fmt: str = "statuspage", **extra) -> dict:
    return {"vendor": "acme", "format": fmt, "payload": payload, **extra}


@dataclass
class Case:
    """One hostile request and the answer it must get."""

    body: object  # JSON-encoded unless ``raw``
    field: str | None  # the field the error names; None for a whole-body error
    says: str  # words the message (or the field's message) must hold
    path: str = INCIDENTS
    method: str = "post"
    raw: bool = False
    status: int = 400


CASES = {
    # --- Nesting ---------------------------------------------------------------------------
    "100,000 [ as an incident": Case("[" * 100_000, None, "nested deeper than 64", raw=True),
    "100,000 [ as an import": Case("[" * 100_000, None, "nested deeper than 64", IMPORTS, raw=True),
    "5,000 { inside a payload": Case(
        '{"vendor": "acme", "format": "statuspage", "payload": ' + deep(5_000) + "}",
        None,
        "nested deeper than 64",
        IMPORTS,
        raw=True,
    ),
    "a payload just too deep for writing it again": Case(
        '{"vendor": "acme", "format": "statuspage", "payload": ' + deep(300) + "}",
        None,
        "nested deeper than 64",
        IMPORTS,
        raw=True,
    ),
    "5,000 { in a payload given as a string": Case(
        push(deep(5_000)), "payload", "nested deeper than 64 levels", IMPORTS
    ),
    "an integer of 5,000 digits in a payload string": Case(
        push('{"incidents": [{"id": ' + "7" * 5_000 + "}]}"), "payload", "digits", IMPORTS
    ),
    "billion laughs in an RSS feed": Case(
        push(BILLION_LAUGHS, "rss"), "payload", "amplification", IMPORTS
    ),
    "a lone surrogate's character reference in a feed": Case(
        push(
            BILLION_LAUGHS.split("<!DOCTYPE")[0] + '<rss version="2.0"><channel><item>'
            "<title>&#xD800;</title></item></channel></rss>",
            "rss",
        ),
        "payload",
        "not a readable RSS feed",
        IMPORTS,
    ),
    "a summary of Markdown lists 300 deep": Case(
        {"title": "Deep", "summary": NESTED_LIST}, "summary", "nested deeper than 64 levels"
    ),
    "HTML elements 1,000 deep in the analysis": Case(
        {"title": "Deep", "analysis": "<div>" * 1_000 + "x"}, "analysis", "too deep to show"
    ),
    "a factor whose description nests 300 deep": Case(
        {
            "title": "Deep factor",
            "factors": [
                {"role": "root_cause", "category": "software-bug", "description": NESTED_LIST}
            ],
        },
        "factors.0.description",
        "nested deeper than 64 levels",
    ),
    "vendor notes nested 300 deep": Case(
        {"name": "Deep Cloud", "notes": NESTED_LIST}, "notes", "too deep to show", "/api/vendors/"
    ),
    # --- The search index ------------------------------------------------------------------
    "a 3 MB summary of distinct words": Case(
        {"title": "Big", "summary": DISTINCT_WORDS},
        "summary",
        "too long to index for search (3.0 MB; at most 1 MB)",
    ),
    "under 1 MB, but too many distinct words for the index": Case(
        {"title": "Wordy", "summary": "Short.", "analysis": DISTINCT_WORDS[:900_000]},
        "analysis",
        "too many distinct words to index for search",
    ),
    # --- Numbers and times -----------------------------------------------------------------
    "regions affected of 2**63": Case(
        {"title": "T", "regions_affected": 2**63}, "regions_affected", "less than or equal"
    ),
    "regions affected of 1e400": Case(
        '{"title": "T", "regions_affected": 1e400}', "regions_affected", "valid integer", raw=True
    ),
    "a negative factor position": Case(
        {
            "title": "T",
            "factors": [{"role": "root_cause", "category": "software-bug", "position": -1}],
        },
        "factors.0.position",
        "greater than or equal to 0",
    ),
    "a start in year 9999": Case(
        {"title": "T", "started_at": "9999-12-31T23:59:59Z"},
        "started_at",
        "between the years 1900 and 2999",
    ),
    "a start in year 1, east of UTC": Case(
        {"title": "T", "started_at": "0001-01-01T00:00:00+09:00"}, "started_at", "out of range"
    ),
    "a start in year 10000": Case(
        {"title": "T", "started_at": "10000-01-01T00:00:00Z"}, "started_at", "wrong format"
    ),
    "an action item completed in year 9999": Case(
        {
            "title": "T",
            "action_items": [
                {
                    "title": "Fix",
                    "type": "preventive",
                    "status": "done",
                    "completed_at": "9999-12-31T00:00:00Z",
                }
            ],
        },
        "action_items.0.completed_at",
        "between the years 1900 and 2999",
    ),
    # --- Characters PostgreSQL cannot store ------------------------------------------------
    "a NUL in the title": Case({"title": "Outage\x00"}, "title", "Null characters"),
    "a lone surrogate in the summary": Case(
        '{"title": "T", "summary": "\\udfff x"}', "summary", "Surrogate", raw=True
    ),
    "a NUL in a vendor slug": Case({"title": "T", "vendors": ["acme\x00"]}, "vendors.0", "Invalid"),
    # --- Sizes of indexed values -----------------------------------------------------------
    "a vendor slug of 5,000 characters": Case(
        push(FIXTURE) | {"vendor": "v" * 5_000}, "vendor", "no more than 100", IMPORTS
    ),
    "a polled URL too long for its unique index": Case(
        {"vendor": "acme", "url": LONG_UNICODE_URL, "format": "rss"},
        "url",
        "at most 2000 bytes",
        "/api/status-sources/",
    ),
    # --- Query strings and URLs ------------------------------------------------------------
    "a NUL in an incident's slug": Case(
        None, None, "Not found", INCIDENTS + "%00/", "get", status=404
    ),
    "a NUL in a vendor's slug": Case(
        None, None, "Not found", "/api/vendors/%00/", "get", status=404
    ),
    "a NUL in a change type's slug": Case(
        None, None, "Not found", "/api/change-types/%00/", "get", status=404
    ),
    "a NUL in a category's slug": Case(
        None, None, "Not found", "/api/categories/%00/", "get", status=404
    ),
    "a NUL in a patterns filter": Case(
        None, "vendor", "Null characters", "/api/patterns/?vendor=%00", "get"
    ),
    "a NUL in the search": Case(None, "q", "Null characters", INCIDENTS + "?q=%00", "get"),
    "a garbage cursor": Case(None, "cursor", "damaged", INCIDENTS + "?cursor=garbage", "get"),
    "a cursor of 10,000 characters": Case(
        None, "cursor", "damaged", INCIDENTS + "?cursor=" + "A" * 10_000, "get"
    ),
    "1,500 query parameters": Case(
        None,
        None,
        "more than the 1000 parameters accepted",
        INCIDENTS + "?" + "&".join(f"p{n}=1" for n in range(1_500)),
        "get",
    ),
    "a date filter in year 10000": Case(
        None, "started_after", "valid date", INCIDENTS + "?started_after=10000-01-01", "get"
    ),
}


@pytest.fixture
def api(client_for, admin_user):
    VendorFactory(slug="acme", name="Acme Cloud")
    return client_for(admin_user)


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_hostile_input_is_refused_by_name_and_writes_nothing(api, case: Case):
    before = counts()

    body = case.body if case.raw or case.body is None else json.dumps(case.body)
    if case.method == "get":
        response = api.get(case.path)
    else:
        response = api.generic(case.method.upper(), case.path, body, "application/json")

    assert response.status_code == case.status, response.content[:500]
    error = error_of(response)
    if case.field is None:
        assert case.says in error["message"]
    else:
        assert case.field in error["fields"], error
        assert case.says in " ".join(error["fields"][case.field])
        assert case.field in error["message"]
    assert counts() == before


def test_an_edit_too_big_to_index_changes_nothing(api, admin_user):
    incident = IncidentFactory(status=ReviewStatus.DRAFT)
    incident.authors.add(admin_user)
    url = reverse("postmortems-api:incident-detail", args=[incident.slug])

    response = api.patch(url, {"version": 1, "summary": DISTINCT_WORDS}, format="json")

    assert response.status_code == 400
    assert "too long to index for search" in error_of(response)["fields"]["summary"][0]
    incident.refresh_from_db()
    assert (incident.version, incident.summary) == (1, "Requests failed.")


def test_text_under_1_mb_that_the_index_holds_is_saved(api):
    # Between 256 KB and 1 MB the database is asked; repeated words take little room.
    summary = "Front-ends looped after a configuration change.\n" * 18_000  # 880 KB

    response = api.post(INCIDENTS, {"title": "Long", "summary": summary}, format="json")

    assert response.status_code == 201, response.content[:300]
    assert Incident.objects.get().summary == summary.strip()


def test_a_word_too_long_for_the_index_is_saved_unindexed(api):
    # PostgreSQL leaves out of the index a word over 2,047 characters, with a notice.
    response = api.post(INCIDENTS, {"title": "Long word", "summary": "x" * 3_000}, format="json")

    assert response.status_code == 201
    assert Incident.objects.get().summary == "x" * 3_000


def test_a_body_over_the_limit_is_a_413_and_writes_nothing(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    before = counts()

    response = api.post(IMPORTS, push({"incidents": [], "pad": "x" * 20_000}), format="json")

    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"
    assert counts() == before


def test_a_huge_page_size_is_capped(api):
    response = api.get(INCIDENTS + "?page_size=" + "9" * 30)

    assert response.status_code == 200
    assert response.json()["results"] == []


def test_a_review_comment_nested_too_deep_is_refused(client_for, author, reviewer):
    incident = IncidentFactory(status=ReviewStatus.IN_REVIEW)
    incident.authors.add(author)
    url = reverse("postmortems-api:incident-publish", args=[incident.slug])

    response = client_for(reviewer).post(url, {"comment": NESTED_LIST}, format="json")

    assert response.status_code == 400
    assert "nested deeper than 64 levels" in error_of(response)["fields"]["comment"][0]
    incident.refresh_from_db()
    assert incident.status == ReviewStatus.IN_REVIEW
    assert not ReviewAction.objects.exists()


def test_a_timeline_event_nested_too_deep_is_refused(api, admin_user):
    incident = IncidentFactory(status=ReviewStatus.DRAFT)
    incident.authors.add(admin_user)
    url = reverse("timeline-api:event-list", args=[incident.slug])
    event = {"occurred_at": "2024-03-01T12:30:00Z", "kind": "note", "version": incident.version}

    response = api.post(url, {**event, "description": NESTED_LIST}, format="json")

    assert response.status_code == 400
    assert "too deep to show" in error_of(response)["fields"]["description"][0]
    assert not TimelineEvent.objects.exists()
