"""An imported incident keeps the vendor's link to it, and the vendor's own write-up."""

import json
from datetime import UTC, datetime

import pytest
from django.apps import apps
from django.urls import reverse
from rest_framework.test import APIClient

from imports.records import ImportBatch, ImportedIncident
from imports.services import import_batch, parse_payload
from postmortems.models import Incident, Source
from postmortems.services_parts import delete_source
from tests.factories import VendorFactory
from tests.imports.status_page_fixtures import read_fixture
from timeline.models import TimelineEvent
from timeline.services import update_event

LATE = "statuspage_incident_started_late.json"
LATE_PAGE = "https://status.quokka.example/incidents/r4t8w2m6q1zk"
POSTMORTEM = "statuspage_webhook_postmortem.json"


@pytest.fixture
def vendor(db):
    return VendorFactory(slug="quokka", name="Quokka")


def run(vendor, fmt, data: bytes):
    return import_batch(vendor=vendor, fmt=fmt, batch=parse_payload(fmt, data))


def with_page_url(url: str) -> bytes:
    payload = json.loads(read_fixture(LATE))
    payload["page"]["url"] = url
    return json.dumps(payload).encode()


def history_rows() -> int:
    return sum(
        m.objects.count()
        for app in ("postmortems", "timeline")
        for m in apps.get_app_config(app).get_models()
        if m.__name__.startswith("Historical")
    )


def sources() -> list[tuple[str, str, str]]:
    return list(Source.objects.values_list("url", "title", "kind"))


def test_the_vendors_incident_page_is_a_source_in_the_api_and_on_the_page(vendor, reviewer, client):
    run(vendor, "statuspage", read_fixture(LATE))
    incident = Incident.objects.get()
    api = APIClient()
    api.force_authenticate(reviewer)
    client.force_login(reviewer)

    shown = api.get(f"/api/incidents/{incident.slug}/").json()["sources"]
    page = client.get(reverse("postmortems:incident-detail", args=[incident.slug]))

    assert [(s["url"], s["title"], s["kind"]) for s in shown] == [
        (LATE_PAGE, "Quokka status page", "status_page")
    ]
    assert f'href="{LATE_PAGE}"' in page.content.decode()


@pytest.mark.parametrize(
    ("fixture", "fmt", "external_id", "link"),
    [
        (
            "google_cloud_incidents.json",
            "google-cloud",
            "Xq3vT8mN2pLk9RwYz4Ab",
            "https://status.cloud.google.com/incidents/Xq3vT8mN2pLk9RwYz4Ab",
        ),
        ("statuspage_webhook.json", "statuspage-webhook", None, "https://stspg.io/q0k7e1"),
        (
            "atom.xml",
            "atom",
            "k7q2m9x4w1ab",
            "https://status.quokka.example/incidents/k7q2m9x4w1ab",
        ),
    ],
)
def test_every_format_keeps_the_incidents_link(vendor, fixture, fmt, external_id, link):
    run(vendor, fmt, read_fixture(fixture))

    incident = (
        Incident.objects.get(external_id=external_id) if external_id else Incident.objects.get()
    )
    assert list(incident.sources.values_list("url", "kind")) == [(link, "status_page")]


def test_importing_the_same_page_again_adds_no_source_and_no_history(vendor):
    run(vendor, "statuspage", read_fixture(LATE))
    before = (sources(), history_rows())

    report = run(vendor, "statuspage", read_fixture(LATE))

    assert (report.updated, report.unchanged) == (0, 1)
    assert (sources(), history_rows()) == before


def test_a_moved_incident_page_moves_the_source_without_a_history_entry(vendor):
    run(vendor, "statuspage", read_fixture(LATE))
    source = Source.objects.get()
    before = history_rows()

    report = run(vendor, "statuspage", with_page_url("https://www.quokkastatus.example"))
    again = run(vendor, "statuspage", with_page_url("https://www.quokkastatus.example"))

    moved = Source.objects.get()
    assert moved.id == source.id
    assert moved.url == "https://www.quokkastatus.example/incidents/r4t8w2m6q1zk"
    assert (report.updated, again.unchanged) == (1, 1)
    assert history_rows() == before


def test_a_source_a_person_retitled_keeps_their_title_when_the_link_moves(vendor):
    run(vendor, "statuspage", read_fixture(LATE))
    Source.objects.update(title="Quokka's incident report")

    run(vendor, "statuspage", with_page_url("https://www.quokkastatus.example"))

    assert sources() == [
        (
            "https://www.quokkastatus.example/incidents/r4t8w2m6q1zk",
            "Quokka's incident report",
            "status_page",
        )
    ]


def test_a_source_a_person_removed_is_not_added_back(vendor):
    run(vendor, "statuspage", read_fixture(LATE))
    delete_source(source=Source.objects.get())

    same = run(vendor, "statuspage", read_fixture(LATE))
    moved = run(vendor, "statuspage", with_page_url("https://www.quokkastatus.example"))
    again = run(vendor, "statuspage", with_page_url("https://www.quokkastatus.example"))

    assert sources() == []
    assert (same.unchanged, moved.unchanged, again.unchanged) == (1, 1, 1)


def test_a_source_a_person_pointed_elsewhere_stays_theirs(vendor):
    run(vendor, "statuspage", read_fixture(LATE))
    Source.objects.update(url="https://blog.quokka.example/webhook-delays")

    run(vendor, "statuspage", with_page_url("https://www.quokkastatus.example"))

    assert [url for url, _, _ in sources()] == ["https://blog.quokka.example/webhook-delays"]


def test_incidents_imported_before_links_were_kept_get_their_source_once(vendor):
    run(vendor, "statuspage", read_fixture(LATE))
    # As an earlier import left it: no source, and no record of a link.
    Source.objects.all().delete()
    incident = Incident.objects.get()
    values = {k: v for k, v in incident.imported_values.items() if k != "source_url"}
    Incident.objects.update(imported_values=values)
    before = history_rows()

    first = run(vendor, "statuspage", read_fixture(LATE))
    second = run(vendor, "statuspage", read_fixture(LATE))

    assert sources() == [(LATE_PAGE, "Quokka status page", "status_page")]
    assert (first.updated, second.unchanged) == (1, 1)
    assert history_rows() == before
    assert Incident.objects.get().version == incident.version


def test_a_link_that_is_not_a_web_address_is_left_out_and_the_incident_imports(vendor):
    item = ImportedIncident(
        external_id="inc-1",
        title="Login failures",
        status="resolved",
        impact="minor",
        started_at=datetime(2024, 1, 5, 10, 0, tzinfo=UTC),
        resolved_at=datetime(2024, 1, 5, 11, 0, tzinfo=UTC),
        url="javascript:alert(1)",
    )

    report = import_batch(vendor=vendor, fmt="rss", batch=ImportBatch([item]))

    assert report.created == 1
    assert sources() == []


# --- The vendor's write-up -----------------------------------------------------------


def test_the_vendors_postmortem_is_a_note_on_the_timeline_not_the_end(vendor, reviewer, client):
    run(vendor, "statuspage-webhook", read_fixture(POSTMORTEM))

    incident = Incident.objects.get()
    note = incident.events.get(external_id="postmortem")
    assert (note.kind, note.body_format) == ("note", "html")
    assert note.occurred_at == datetime(2024, 6, 20, 15, 30, 1, 950000, tzinfo=UTC)
    assert note.description.startswith("<h2>What happened</h2>")
    assert incident.resolved_at == datetime(2024, 6, 18, 10, 47, 55, 640000, tzinfo=UTC)
    client.force_login(reviewer)
    page = client.get(reverse("postmortems:incident-detail", args=[incident.slug])).content
    assert b"<li>Staging configuration changes region by region.</li>" in page


def test_a_revised_postmortem_updates_the_note_and_the_same_one_changes_nothing(vendor):
    run(vendor, "statuspage-webhook", read_fixture(POSTMORTEM))
    before = history_rows()
    unchanged = run(vendor, "statuspage-webhook", read_fixture(POSTMORTEM))
    assert (unchanged.unchanged, history_rows()) == (1, before)

    revised = json.loads(read_fixture(POSTMORTEM))
    revised["incident"]["postmortem_body"] += "<p>Update: the timeout is now checked in CI.</p>"
    run(vendor, "statuspage-webhook", json.dumps(revised).encode())

    note = TimelineEvent.objects.get(external_id="postmortem")
    assert note.description.endswith("<p>Update: the timeout is now checked in CI.</p>")
    assert TimelineEvent.objects.filter(external_id="postmortem").count() == 1


def test_a_persons_edit_of_the_postmortem_note_wins(vendor, author):
    run(vendor, "statuspage-webhook", read_fixture(POSTMORTEM))
    note = TimelineEvent.objects.get(external_id="postmortem")
    note._history_user = author
    update_event(event=note, description="Our reading of the vendor's postmortem: …")

    revised = json.loads(read_fixture(POSTMORTEM))
    revised["incident"]["postmortem_body"] = "<p>Rewritten by the vendor.</p>"
    run(vendor, "statuspage-webhook", json.dumps(revised).encode())

    note.refresh_from_db()
    assert note.description == "Our reading of the vendor's postmortem: …"
