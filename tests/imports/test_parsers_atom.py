"""Atom status feeds (Statuspage-style incident history)."""

import pytest

from imports.parsers.feeds import parse_atom
from imports.records import PayloadError
from tests.imports.status_page_fixtures import by_id, read_fixture, utc

pytestmark = []  # pure parsing: no database


@pytest.fixture(scope="module")
def batch():
    return parse_atom(read_fixture("atom.xml"))


@pytest.fixture(scope="module")
def entries(batch):
    return by_id(batch)


def test_entries_become_incidents_oldest_first(batch):
    assert [i.external_id for i in batch.incidents] == [
        "tag:status.quokka.example,2005:Notice/55@2023-07-10T22:00:00Z",
        "k7q2m9x4w1ab",
        "0p3n1nc1d3nt",
    ]
    assert batch.errors == []


def test_entry_linking_an_incident_takes_the_incident_code_as_id(entries):
    assert entries["k7q2m9x4w1ab"].url == "https://status.quokka.example/incidents/k7q2m9x4w1ab"


def test_update_id_is_the_entry_id(entries):
    assert [u.external_id for u in entries["k7q2m9x4w1ab"].updates] == [
        "tag:status.quokka.example,2005:Incident/17000001"
    ]


def test_status_is_the_newest_update_word_in_the_content(entries):
    assert (entries["k7q2m9x4w1ab"].status, entries["0p3n1nc1d3nt"].status) == (
        "resolved",
        "identified",
    )


def test_resolved_entry_ends_at_its_updated_time(entries):
    incident = entries["k7q2m9x4w1ab"]
    assert (incident.started_at, incident.resolved_at) == (
        utc(2023, 7, 18, 21, 2, 11),
        utc(2023, 7, 18, 23, 40, 5),
    )


def test_open_entry_has_no_end(entries):
    assert entries["0p3n1nc1d3nt"].resolved_at is None


def test_html_content_is_an_html_body_with_unicode(entries):
    update = entries["k7q2m9x4w1ab"].updates[0]
    assert update.body_format == "html"
    assert "Sorry for the Störung 🙏" in update.body


def test_text_content_is_a_text_body(entries):
    update = entries["tag:status.quokka.example,2005:Notice/55@2023-07-10T22:00:00Z"].updates[0]
    assert update.body_format == "text"


def test_entry_without_incident_link_is_one_incident_keyed_on_id_and_date(entries):
    notice = entries["tag:status.quokka.example,2005:Notice/55@2023-07-10T22:00:00Z"]
    assert (notice.title, notice.started_at) == (
        "Network maintenance tonight",
        utc(2023, 7, 10, 22),
    )


def test_rss_feed_is_a_payload_error():
    with pytest.raises(PayloadError, match="not an Atom feed: this is rss20"):
        parse_atom(read_fixture("aws_rss.xml"))


def test_malformed_xml_is_a_payload_error():
    with pytest.raises(PayloadError, match="not a readable Atom feed: malformed XML"):
        parse_atom(b"<feed xmlns='http://www.w3.org/2005/Atom'><entry><title>cut")
