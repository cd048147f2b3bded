"""RSS status feeds: AWS Health Dashboard (per-update items) and Azure (one item per incident)."""

import pytest

from imports.parsers.feeds import parse_rss
from imports.records import ItemError, PayloadError
from tests.imports.status_page_fixtures import by_id, read_fixture, utc

pytestmark = []  # pure parsing: no database

QUEUE_OUTAGE = "nimbusq-us-west-2_1673625900"
METRICS_NOTICE = "nimbusq-us-west-2_1678147500"
API_ERRORS = "nimbusq-us-west-2_1689696720"
LATENCIES = "nimbusq-us-west-2_1689866100"


@pytest.fixture(scope="module")
def aws_batch():
    return parse_rss(read_fixture("aws_rss.xml"))


@pytest.fixture(scope="module")
def aws(aws_batch):
    return by_id(aws_batch)


@pytest.fixture(scope="module")
def azure():
    return parse_rss(read_fixture("azure_rss.xml")).incidents


# --- AWS ------------------------------------------------------------------------------


def test_aws_items_of_one_event_become_one_incident_oldest_event_first(aws_batch):
    assert [i.external_id for i in aws_batch.incidents] == [
        QUEUE_OUTAGE,
        METRICS_NOTICE,
        API_ERRORS,
        LATENCIES,
    ]


def test_aws_updates_are_the_items_oldest_first_under_their_guid_fragment(aws):
    assert [(u.external_id, u.status) for u in aws[API_ERRORS].updates] == [
        ("nimbusq-us-west-2_1689696720", "investigating"),
        ("nimbusq-us-west-2_1689698400", "investigating"),
        ("nimbusq-us-west-2_1689701460", "resolved"),
    ]


def test_aws_pdt_dates_become_utc(aws):
    assert [u.display_at for u in aws[API_ERRORS].updates] == [
        utc(2023, 7, 18, 16, 12),
        utc(2023, 7, 18, 16, 40),
        utc(2023, 7, 18, 17, 31),
    ]


def test_aws_pst_dates_become_utc(aws):
    assert aws[QUEUE_OUTAGE].started_at == utc(2023, 1, 13, 16, 5)


def test_aws_resolved_item_closes_the_incident_at_its_time(aws):
    incident = aws[API_ERRORS]
    assert (incident.status, incident.started_at, incident.resolved_at) == (
        "resolved",
        utc(2023, 7, 18, 16, 12),
        utc(2023, 7, 18, 17, 31),
    )


def test_aws_lone_resolved_notice_is_closed_with_unknown_end(aws):
    incident = aws[METRICS_NOTICE]
    assert (incident.status, incident.resolved_at, len(incident.updates)) == ("resolved", None, 1)


def test_aws_event_without_resolution_is_open(aws):
    incident = aws[LATENCIES]
    assert (incident.status, incident.resolved_at) == ("investigating", None)


def test_aws_title_drops_the_state_prefix_and_resolved_marker(aws):
    assert aws[API_ERRORS].title == "Increased API Error Rates"


def test_aws_bilingual_title_keeps_both_languages(aws):
    assert aws[QUEUE_OUTAGE].title == (
        "キューが利用できない | Queue unavailable in a single Availability Zone"
    )


def test_aws_disruption_and_unavailable_are_major(aws):
    assert aws[QUEUE_OUTAGE].impact == "major"


def test_aws_error_rates_are_minor(aws):
    assert (aws[API_ERRORS].impact, aws[LATENCIES].impact) == ("minor", "minor")


def test_aws_component_is_the_service_named_after_the_channel(aws):
    assert [(c.external_id, c.name) for c in aws[API_ERRORS].components] == [
        ("nimbusq-us-west-2", "Amazon Nimbus Queue Service (Oregon)")
    ]


def test_aws_descriptions_are_html_with_escaped_markup_kept(aws):
    resolved = aws[QUEUE_OUTAGE].updates[-1]
    assert resolved.body_format == "html"
    assert "(usw2-az2) were unavailable.&lt;br&gt;The issue" in resolved.body
    assert resolved.body.startswith("午前8時5分から")


def test_aws_item_with_unreadable_date_is_reported(aws_batch):
    assert aws_batch.errors == [
        ItemError(
            "nimbusq-us-west-2_1677000000",
            "item #6: date 'sometime on Tuesday' is not a readable timestamp",
        )
    ]


def test_aws_raw_keeps_each_items_fields(aws):
    first = aws[API_ERRORS].raw["items"][0]
    assert first == {
        "guid": "http://status.aws.amazon.com/#nimbusq-us-west-2_1689696720",
        "title": "Informational message: Increased API Errors",
        "link": "http://status.aws.amazon.com/",
        "published": "Tue, 18 Jul 2023 09:12:00 PDT",
        "updated": "Tue, 18 Jul 2023 09:12:00 PDT",
        "description": "We are investigating increased API error rates in the US-WEST-2 Region.",
        "categories": [],
    }


def test_aws_interleaved_services_are_grouped_per_service():
    incidents = parse_rss(read_fixture("aws_all_rss.xml")).incidents
    assert [(i.external_id, [u.external_id for u in i.updates]) for i in incidents] == [
        (
            "nimbusq-us-west-2_1689782400",
            ["nimbusq-us-west-2_1689782400", "nimbusq-us-west-2_1689784200"],
        ),
        (
            "gizmo-eu-west-1_1689782700",
            ["gizmo-eu-west-1_1689782700", "gizmo-eu-west-1_1689786000"],
        ),
        ("nimbusq-us-west-2_1689789600", ["nimbusq-us-west-2_1689789600"]),
    ]


def test_aws_mixed_feed_names_components_by_service_slug():
    incidents = parse_rss(read_fixture("aws_all_rss.xml")).incidents
    assert [(c.external_id, c.name) for c in incidents[1].components] == [
        ("gizmo-eu-west-1", "gizmo-eu-west-1")
    ]


def test_aws_ids_are_stable_across_refetches():
    first = parse_rss(read_fixture("aws_rss.xml"))
    second = parse_rss(read_fixture("aws_rss.xml"))
    assert [(i.external_id, [u.external_id for u in i.updates]) for i in first.incidents] == [
        (i.external_id, [u.external_id for u in i.updates]) for i in second.incidents
    ]


# --- Azure ----------------------------------------------------------------------------


def test_azure_each_item_is_one_incident_oldest_first(azure):
    assert [i.external_id for i in azure] == [
        "VirtualMachines-WestEurope@2026-06-02T09:00:00Z",
        "Storage-EastUS2@2026-07-23T15:02:00Z",
        "VirtualMachines-WestEurope@2026-07-23T16:29:09Z",
    ]


def test_azure_reused_guid_gives_distinct_incidents(azure):
    reused = [i for i in azure if i.external_id.startswith("VirtualMachines-WestEurope@")]
    assert len(reused) == 2


def test_azure_single_update_shares_the_incident_id(azure):
    assert [u.external_id for u in azure[2].updates] == [azure[2].external_id]


def test_azure_z_and_gmt_dates_are_utc(azure):
    assert (azure[1].started_at, azure[2].started_at) == (
        utc(2026, 7, 23, 15, 2),
        utc(2026, 7, 23, 16, 29, 9),
    )


def test_azure_entity_escaped_description_is_an_html_body(azure):
    update = azure[2].updates[0]
    assert update.body_format == "html"
    assert update.body.startswith("<p><strong>Summary of impact:</strong> Starting at 14:10 UTC")
    assert "(Störung im Rechenzentrum)" in update.body


def test_azure_title_is_trimmed(azure):
    assert azure[2].title == "Virtual Machines - West Europe"


def test_azure_unavailable_title_is_major_and_others_minor(azure):
    assert [i.impact for i in azure] == ["minor", "major", "minor"]


def test_azure_listed_items_are_open(azure):
    assert {(i.status, i.resolved_at) for i in azure} == {("investigating", None)}


# --- Errors -------------------------------------------------------------------------------


def test_malformed_xml_is_a_payload_error():
    with pytest.raises(PayloadError, match="not a readable RSS feed: malformed XML"):
        parse_rss(read_fixture("malformed.xml"))


def test_html_page_is_a_payload_error():
    with pytest.raises(PayloadError, match="not an RSS feed"):
        parse_rss(read_fixture("not_a_feed.html"))


def test_json_is_a_payload_error():
    with pytest.raises(PayloadError, match="not a readable RSS feed"):
        parse_rss(read_fixture("statuspage_incidents.json"))


def test_atom_feed_is_a_payload_error():
    with pytest.raises(PayloadError, match="not an RSS feed: this is atom10"):
        parse_rss(read_fixture("atom.xml"))


def test_empty_payload_is_a_payload_error():
    with pytest.raises(PayloadError, match="empty payload"):
        parse_rss(b"")


def test_a_path_is_parsed_as_content_never_opened(tmp_path):
    feed_file = tmp_path / "feed.xml"
    feed_file.write_bytes(read_fixture("aws_rss.xml"))
    with pytest.raises(PayloadError):
        parse_rss(str(feed_file).encode())
