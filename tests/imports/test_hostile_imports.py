"""A hostile incident in a pushed payload is reported as failed, naming what is wrong with
it, and writes nothing of its own; the other incidents of the payload still import."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from imports import services
from imports.models import ImportJob
from postmortems.models import Incident, Service, Vendor
from timeline.models import TimelineEvent

pytestmark = pytest.mark.django_db

FIXTURE = json.loads(
    (Path(__file__).parent.parent / "fixtures/imports/statuspage_small.json").read_text()
)
GOOD_ID = FIXTURE["incidents"][0]["id"]


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def api(author, monkeypatch):
    # Imported in the request whatever its size, so the report is in the answer.
    monkeypatch.setattr(services, "SYNC_MAX_BYTES", 64 * 1024 * 1024)
    client = APIClient()
    client.force_authenticate(author)
    return client


def with_bad_incident(spoil: Callable[[dict], object]) -> dict:
    """The fixture's incident, and a copy of it (id "bad1") spoiled by ``spoil``."""
    payload = copy.deepcopy(FIXTURE)
    bad = copy.deepcopy(payload["incidents"][0])
    bad["id"] = "bad1"
    for update in bad["incident_updates"]:
        update["id"] = "bad-" + update["id"]
    spoil(bad)
    payload["incidents"].append(bad)
    return payload


def first_update(incident: dict) -> dict:
    return incident["incident_updates"][0]


def set_(target: Callable[[dict], dict], **values) -> Callable[[dict], None]:
    return lambda incident: target(incident).update(values)


def itself(incident: dict) -> dict:
    return incident


def first_component(incident: dict) -> dict:
    return incident["components"][0]


def identified(incident: dict) -> dict:
    return incident["incident_updates"][2]


SPOILED = {
    "a NUL in the title": (set_(itself, name="Outage\x00"), "Title holds a NUL character"),
    "a NUL in an update's text": (
        set_(first_update, body="Fixed\x00"),
        "The text of update 'bad-u5resolved01' holds a NUL character",
    ),
    "a NUL in a component's name": (
        set_(first_component, name="Storage\x00"),
        "Component name holds a NUL character",
    ),
    "a NUL in a field Hindsight keeps but does not read": (
        set_(itself, extra={"notes": ["ok", "no\x00"]}),
        "holds a NUL character at extra.notes.1, which PostgreSQL cannot store",
    ),
    "a start in year 1, east of UTC": (
        set_(itself, started_at="0001-01-01T00:00:00+09:00"),
        "beyond the years a timestamp can hold",
    ),
    "a start in 1850": (
        set_(itself, started_at="1850-05-01T08:00:00Z"),
        "is not between the years 1900 and 2999",
    ),
    "an update in year 9999": (
        set_(identified, display_at="9999-12-31T23:00:00Z"),
        "Update 'bad-u3identif001': its time, 9999-12-31T23:00:00+00:00, is not between",
    ),
    "an update whose HTML nests 2,000 deep": (
        set_(first_update, body="<div>" * 2_000 + "gone" + "</div>" * 2_000),
        "its text is nested deeper than 64 levels",
    ),
    "a title of 1.6 MB of words": (
        set_(itself, name=" ".join(f"w{n:x}" for n in range(250_000))),
        "too long to index for search (1.6 MB; at most 1 MB)",
    ),
    "a title under 1 MB of too many distinct words": (
        set_(itself, name=" ".join(f"w{n:x}" for n in range(120_000))),
        "hold too many distinct words to index for search",
    ),
}


def rows() -> tuple[int, ...]:
    return tuple(m.objects.count() for m in (Incident, TimelineEvent, Service, ImportJob))


@pytest.mark.parametrize(("spoil", "says"), SPOILED.values(), ids=SPOILED.keys())
def test_a_hostile_incident_fails_by_name_and_the_others_import(api, spoil, says):
    payload = with_bad_incident(spoil)

    response = api.post(
        "/api/imports/", {"vendor": "acme", "format": "statuspage", "payload": payload}, "json"
    )

    assert response.status_code == 200, response.content[:500]
    report = response.json()["report"]
    assert (report["created"], report["failed"]) == (1, 1)
    assert report["errors"][0]["external_id"] == "bad1"
    assert says in report["errors"][0]["message"]
    assert list(Incident.objects.values_list("external_id", flat=True)) == [GOOD_ID]
    assert not TimelineEvent.objects.filter(external_id__startswith="bad-").exists()


def test_a_lone_surrogate_in_the_pages_json_fails_that_incident_only(api):
    # Only JSON text can carry one ("\ud800"): Python's JSON encoder writes it so.
    payload = with_bad_incident(set_(itself, extra="\ud800"))
    body = json.dumps({"vendor": "acme", "format": "statuspage", "payload": payload})

    response = api.post("/api/imports/", body, content_type="application/json")

    report = response.json()["report"]
    assert (report["created"], report["failed"]) == (1, 1)
    assert "holds a lone surrogate at extra" in report["errors"][0]["message"]


@pytest.mark.parametrize(
    ("fmt", "payload", "says"),
    [
        ("statuspage", '{"incidents": ' + "[" * 5_000 + "]" * 5_000 + "}", "nested deeper"),
        ("statuspage", '{"incidents": [{"id": ' + "9" * 5_000 + "}]}", "digits"),
        ("rss", '<rss version="2.0"><channel><item><title>&#xD800;</title>', "readable RSS"),
        (
            "atom",
            '<?xml version="1.0"?><!DOCTYPE f [<!ENTITY a "' + "a" * 100_000 + '">]>'
            '<feed xmlns="http://www.w3.org/2005/Atom"><title>' + "&a;" * 2_000 + "</title>",
            "amplification",
        ),
    ],
    ids=["deep JSON text", "a huge integer", "a surrogate's reference", "quadratic blowup"],
)
def test_a_payload_string_unreadable_as_a_whole_is_a_400_and_writes_nothing(
    api, fmt, payload, says
):
    before = (rows(), Vendor.objects.count())

    response = api.post(
        "/api/imports/", {"vendor": "newcomer", "format": fmt, "payload": payload}, "json"
    )

    assert response.status_code == 400
    assert says in " ".join(response.json()["error"]["fields"]["payload"])
    assert (rows(), Vendor.objects.count()) == before


def test_an_external_entity_is_not_read(api, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("do not import me")
    feed = (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<rss version="2.0"><channel><title>c</title><item><title>Outage &x;</title>'
        "<guid>g1</guid><pubDate>Mon, 01 Jan 2024 00:00:00 GMT</pubDate></item></channel></rss>"
    )

    response = api.post(
        "/api/imports/", {"vendor": "acme", "format": "rss", "payload": feed}, "json"
    )

    assert response.status_code in (200, 400)
    assert not Incident.objects.filter(title__contains="do not import").exists()
    assert "do not import" not in response.content.decode()
