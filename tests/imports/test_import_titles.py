"""A title too long for its field is cut after a whole word, and kept whole in the summary."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from imports.records import ImportBatch, ImportedIncident
from imports.services import import_batch, parse_payload
from postmortems.models import Incident
from postmortems.services import IncidentChanges, update_incident
from tests.factories import VendorFactory
from tests.imports.status_page_fixtures import read_fixture

LONG_GCP = "google_cloud_long_title.json"
GCP_TITLE_START = "Multiple Google Cloud products are experiencing elevated error rates"
GCP_TITLE_END = "and are rolling it out."
T0 = datetime(2024, 2, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def vendor(db):
    return VendorFactory(slug="google-cloud", name="Google Cloud")


def feed_item(title: str, external_id: str = "item-1") -> ImportedIncident:
    return ImportedIncident(
        external_id=external_id,
        title=title,
        status="resolved",
        impact="minor",
        started_at=T0,
        resolved_at=T0 + timedelta(hours=1),
    )


def run_items(vendor, *items):
    return import_batch(vendor=vendor, fmt="rss", batch=ImportBatch(list(items)))


def run_gcp(vendor):
    return import_batch(
        vendor=vendor,
        fmt="google-cloud",
        batch=parse_payload("google-cloud", read_fixture(LONG_GCP)),
    )


def assert_cut_after_a_word(title: str, whole: str) -> None:
    assert len(title) <= 300 and title.endswith("…")
    kept = title.removesuffix("…")
    assert whole.startswith(kept) and whole[len(kept)] == " "


def test_a_long_google_cloud_headline_is_cut_after_a_word_with_an_ellipsis(vendor):
    run_gcp(vendor)

    incident = Incident.objects.get()
    assert incident.title.startswith(GCP_TITLE_START)
    assert incident.title.endswith("Customers may see…")
    assert_cut_after_a_word(incident.title, incident.summary)


def test_the_whole_headline_is_the_summary_on_the_incident_page(vendor, reviewer, client):
    run_gcp(vendor)
    incident = Incident.objects.get()
    client.force_login(reviewer)

    page = client.get(reverse("postmortems:incident-detail", args=[incident.slug])).content.decode()

    assert incident.summary.startswith(GCP_TITLE_START)
    assert incident.summary.endswith(GCP_TITLE_END)
    assert GCP_TITLE_END in page


def test_every_format_cuts_long_titles_the_same_way(vendor):
    whole = "Elevated latency " + "across every region we serve " * 12 + "today"

    run_items(vendor, feed_item(whole))

    incident = Incident.objects.get()
    assert_cut_after_a_word(incident.title, whole)
    assert incident.summary == whole


def test_a_title_without_spaces_is_cut_where_it_must_be(vendor):
    run_items(vendor, feed_item("x" * 400))

    assert Incident.objects.get().title == "x" * 299 + "…"


def test_a_title_that_fits_is_kept_as_is_and_leaves_the_summary_empty(vendor):
    run_items(vendor, feed_item("y" * 300))

    incident = Incident.objects.get()
    assert (incident.title, incident.summary) == ("y" * 300, "")


def test_importing_a_long_title_again_changes_nothing(vendor):
    run_gcp(vendor)
    version = Incident.objects.get().version

    report = run_gcp(vendor)

    assert report.unchanged == 1
    assert Incident.objects.get().version == version


def test_a_summary_a_person_wrote_wins_over_a_later_long_title(vendor, author):
    run_items(vendor, feed_item("API errors"))
    incident = Incident.objects.get()
    update_incident(
        incident_id=incident.id,
        expected_version=incident.version,
        changes=IncidentChanges(fields={"summary": "Our API gateway returned 502s for an hour."}),
        user=author,
    )

    run_items(vendor, feed_item("API errors " + "and more words " * 30))

    incident.refresh_from_db()
    assert incident.summary == "Our API gateway returned 502s for an hour."
    assert incident.title.endswith("…")


def test_a_summary_written_on_an_incident_imported_before_titles_were_kept_wins(vendor, author):
    run_items(vendor, feed_item("API errors"))
    incident = Incident.objects.get()
    update_incident(
        incident_id=incident.id,
        expected_version=incident.version,
        changes=IncidentChanges(fields={"summary": "Written by the on-call engineer."}),
        user=author,
    )
    # As an earlier import left it: no record of a summary.
    values = {k: v for k, v in Incident.objects.get().imported_values.items() if k != "summary"}
    Incident.objects.update(imported_values=values)

    run_items(vendor, feed_item("API errors " + "and more words " * 30))
    run_items(vendor, feed_item("API errors " + "and other words " * 30))

    assert Incident.objects.get().summary == "Written by the on-call engineer."
