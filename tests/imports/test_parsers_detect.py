"""FORMATS registry and format detection (the CLI's guess when no format is given)."""

import pytest

from imports.parsers import FORMATS, detect_format
from imports.records import ImportBatch
from tests.imports.status_page_fixtures import read_fixture

pytestmark = []  # pure parsing: no database


def test_formats_has_exactly_the_supported_keys():
    assert set(FORMATS) == {
        "statuspage",
        "statuspage-webhook",
        "google-cloud",
        "rss",
        "atom",
        "statusio",
        "cachet",
    }


@pytest.mark.parametrize(
    ("fixture", "fmt"),
    [
        ("statuspage_incidents.json", "statuspage"),
        ("statuspage_incidents_partly_broken.json", "statuspage"),
        ("statuspage_incident_single.json", "statuspage"),
        ("statuspage_summary.json", "statuspage"),
        ("statuspage_maintenances.json", "statuspage"),
        ("statuspage_webhook.json", "statuspage-webhook"),
        ("statuspage_webhook_maintenance.json", "statuspage-webhook"),
        ("statuspage_webhook_component.json", "statuspage-webhook"),
        ("google_cloud_incidents.json", "google-cloud"),
        ("aws_rss.xml", "rss"),
        ("aws_all_rss.xml", "rss"),
        ("azure_rss.xml", "rss"),
        ("atom.xml", "atom"),
        ("statusio.json", "statusio"),
        ("cachet.json", "cachet"),
        # Recognisably RSS, if broken: the parser then reports why.
        ("malformed.xml", "rss"),
    ],
)
def test_detect_format_names_each_fixtures_format(fixture, fmt):
    assert detect_format(read_fixture(fixture)) == fmt


@pytest.mark.parametrize("fixture", ["malformed.json", "statuspage_status.json", "not_a_feed.html"])
def test_detect_format_gives_up_on_unknown_payloads(fixture):
    assert detect_format(read_fixture(fixture)) is None


@pytest.mark.parametrize("data", [b"", b"42", b'"text"', b'{"data": {"type": "status_page"}}'])
def test_detect_format_gives_up_on_other_json(data):
    assert detect_format(data) is None


def test_detected_format_parses_its_fixture():
    for name in (
        "statuspage_summary.json",
        "google_cloud_incidents.json",
        "atom.xml",
        "cachet.json",
    ):
        data = read_fixture(name)
        assert isinstance(FORMATS[detect_format(data)](data), ImportBatch)
