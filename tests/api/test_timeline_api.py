"""An incident's timeline through the API: /api/incidents/{slug}/timeline/ and …/{id}/."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import TokenScope
from postmortems.choices import ReviewStatus
from postmortems.models import Incident
from tests.api.conftest import error_of
from tests.factories import IncidentFactory, TimelineEventFactory
from timeline.choices import EventKind
from timeline.models import TimelineEvent
from timeline.services import record_event

pytestmark = pytest.mark.django_db

START = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def events_url(incident) -> str:
    return reverse("timeline-api:event-list", args=[incident.slug])


def event_url(incident, event_id: int) -> str:
    return reverse("timeline-api:event-detail", args=[incident.slug, event_id])


def version_of(incident) -> int:
    return Incident.objects.get(pk=incident.pk).version


@pytest.fixture
def client(client_for, author):
    return client_for(author)


@pytest.fixture
def incident(author, incident_by):
    """A draft of the author's, started at START, with no timeline yet (version 1)."""
    return incident_by(author, status=ReviewStatus.DRAFT, started_at=START, detected_at=None)


@pytest.fixture
def note(incident):
    return TimelineEventFactory(
        incident=incident, occurred_at=START + timedelta(minutes=5), description="Paged."
    )


# --- Reading --------------------------------------------------------------------------


def test_the_timeline_lists_events_in_time_order_with_the_incident_version(client, incident):
    later = TimelineEventFactory(incident=incident, occurred_at=START + timedelta(hours=1))
    earlier = TimelineEventFactory(incident=incident, occurred_at=START)
    TimelineEventFactory()  # another incident's

    response = client.get(events_url(incident))

    assert response.status_code == 200
    assert response["ETag"] == '"1"'
    assert [e["id"] for e in response.json()["results"]] == [earlier.id, later.id]
    assert response.json()["results"][0] == {
        "id": earlier.id,
        "occurred_at": "2024-03-01T12:00:00Z",
        "kind": "note",
        "description": "Something happened.",
        "body_format": "markdown",
        "source": "manual",
        "external_id": "",
    }


def test_a_long_timeline_comes_in_pages(client, incident):
    for minute in range(3):
        TimelineEventFactory(incident=incident, occurred_at=START + timedelta(minutes=minute))

    first = client.get(events_url(incident), {"page_size": 2}).json()
    second = client.get(first["next"]).json()

    assert len(first["results"]) == 2 and len(second["results"]) == 1
    assert second["next"] is None


def test_the_list_runs_as_many_queries_for_50_events_as_for_2(client, author, incident_by):
    counts = []
    for n in (2, 50):
        incident = incident_by(author)
        for minute in range(n):
            TimelineEventFactory(incident=incident, occurred_at=START + timedelta(minutes=minute))
        client.get(events_url(incident))  # stamps the token's first use, once
        with CaptureQueriesContext(connection) as queries:
            response = client.get(events_url(incident))
        assert response.status_code == 200 and len(response.json()["results"]) == n
        counts.append(len(queries))

    # The token, the incident, its authors (who may see it), the page of events.
    assert counts == [4, 4]


def test_one_event_reads_with_the_incident_version(client, incident, note):
    response = client.get(event_url(incident, note.id))

    assert response.status_code == 200
    assert response["ETag"] == '"1"'
    assert response.json()["description"] == "Paged."


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_an_event_of_another_postmortem_is_not_found(client, incident, method):
    elsewhere = TimelineEventFactory(description="Not yours.")

    response = getattr(client, method)(
        event_url(incident, elsewhere.id), {"description": "Mine."}, HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 404
    assert TimelineEvent.objects.get(pk=elsewhere.pk).description == "Not yours."


def test_an_event_id_beyond_any_id_is_not_found(client, incident):
    response = client.get(event_url(incident, 2**70))

    assert response.status_code == 404
    error_of(response)


# --- Writing ----------------------------------------------------------------------------


def test_adding_an_event_writes_it_and_moves_the_incident_to_a_new_version(
    client, author, incident
):
    body = {"occurred_at": "2024-03-01T12:10:00Z", "kind": "escalation", "description": "Paged."}

    response = client.post(events_url(incident), body, HTTP_IF_MATCH='"1"')

    assert response.status_code == 201, response.json()
    event = TimelineEvent.objects.get(incident=incident)
    assert response.json()["id"] == event.id
    assert response["Location"].endswith(event_url(incident, event.id))
    assert response["ETag"] == '"2"'
    assert version_of(incident) == 2
    assert (event.kind, event.description, event.author) == ("escalation", "Paged.", author)
    assert event.occurred_at == START + timedelta(minutes=10)
    # A person's edit, for the history and for re-imports (which keep a person's text).
    assert event.history.get().history_user == author


def test_the_new_version_is_the_one_to_send_next(client, incident):
    first = client.post(
        events_url(incident), {"occurred_at": "2024-03-01T12:10:00Z"}, HTTP_IF_MATCH='"1"'
    )

    second = client.post(
        events_url(incident), {"occurred_at": "2024-03-01T12:20:00Z"}, HTTP_IF_MATCH=first["ETag"]
    )

    assert second.status_code == 201
    assert incident.events.count() == 2


def test_adding_a_detection_moves_the_incidents_detected_at(client, incident):
    body = {"occurred_at": "2024-03-01T12:07:30Z", "kind": "detection", "version": 1}

    response = client.post(events_url(incident), body)

    assert response.status_code == 201, response.json()
    incident.refresh_from_db()
    assert incident.detected_at == START + timedelta(minutes=7, seconds=30)
    assert incident.version == 2  # one edit, one new version


def test_editing_an_event_keeps_its_old_text_in_history(client, author, incident, note):
    response = client.patch(
        event_url(incident, note.id), {"description": "Paged the DBA."}, HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 200, response.json()
    assert response.json()["description"] == "Paged the DBA."
    assert response["ETag"] == '"2"'
    note.refresh_from_db()
    assert note.description == "Paged the DBA."
    latest, first = note.history.order_by("-history_date")[:2]
    assert (first.description, latest.description) == ("Paged.", "Paged the DBA.")
    assert latest.history_user == author


def test_moving_the_detection_moves_the_moment(client, author, incident):
    detection = record_event(
        incident=incident, occurred_at=START + timedelta(minutes=5), kind=EventKind.DETECTION
    )
    version = version_of(incident)

    response = client.patch(
        event_url(incident, detection.id),
        {"occurred_at": "2024-03-01T12:09:00Z", "version": version},
    )

    assert response.status_code == 200, response.json()
    incident.refresh_from_db()
    assert incident.detected_at == START + timedelta(minutes=9)
    assert incident.version == version + 1


def test_marking_an_event_as_the_detection_sets_the_moment(client, incident, note):
    response = client.patch(event_url(incident, note.id), {"kind": "detection", "version": 1})

    assert response.status_code == 200
    assert Incident.objects.get(pk=incident.pk).detected_at == note.occurred_at


def test_replacing_an_event_with_put(client, incident, note):
    read = client.get(event_url(incident, note.id)).json()

    response = client.put(
        event_url(incident, note.id),
        {**read, "description": "Replaced.", "kind": "diagnosis", "version": 1},
    )

    assert response.status_code == 200, response.json()
    note.refresh_from_db()
    assert (note.kind, note.description) == ("diagnosis", "Replaced.")


def test_deleting_an_event_removes_it_and_moves_the_version(client, incident, note):
    response = client.delete(event_url(incident, note.id), HTTP_IF_MATCH='"1"')

    assert response.status_code == 204
    assert response["ETag"] == '"2"'
    assert not TimelineEvent.objects.filter(pk=note.pk).exists()
    assert version_of(incident) == 2


def test_deleting_the_only_detection_clears_the_moment(client, incident):
    detection = record_event(
        incident=incident, occurred_at=START + timedelta(minutes=5), kind=EventKind.DETECTION
    )
    etag = client.get(events_url(incident))["ETag"]

    response = client.delete(event_url(incident, detection.id), HTTP_IF_MATCH=etag)

    assert response.status_code == 204
    assert Incident.objects.get(pk=incident.pk).detected_at is None


# --- Versions -----------------------------------------------------------------------------


@pytest.fixture
def edited(incident, note):
    """Someone else added an event after version 1 was read: the incident is at version 2."""
    record_event(incident=incident, occurred_at=START, kind=EventKind.NOTE, description="Theirs.")
    Incident.objects.filter(pk=incident.pk).update(version=2)
    return incident


def stale_write(client, incident, note, method: str, **extra):
    if method == "post":
        return client.post(
            events_url(incident),
            {"occurred_at": "2024-03-01T13:00:00Z", **extra.pop("body", {})},
            **extra,
        )
    if method == "patch":
        return client.patch(
            event_url(incident, note.id), {"description": "Mine.", **extra.pop("body", {})}, **extra
        )
    return client.delete(event_url(incident, note.id), **extra)


def nothing_written(incident, note) -> bool:
    note.refresh_from_db()
    return (
        TimelineEvent.objects.filter(incident=incident).count() == 2
        and note.description == "Paged."
        and version_of(incident) == 2
    )


@pytest.mark.parametrize("method", ["post", "patch", "delete"])
def test_a_stale_if_match_is_refused_with_412(client, edited, note, method):
    response = stale_write(client, edited, note, method, HTTP_IF_MATCH='"1"')

    assert response.status_code == 412
    error = error_of(response)
    assert (error["code"], error["current_version"]) == ("precondition_failed", 2)
    assert nothing_written(edited, note)


@pytest.mark.parametrize("method", ["post", "patch"])
def test_a_stale_body_version_is_refused_with_409(client, edited, note, method):
    response = stale_write(client, edited, note, method, body={"version": 1})

    assert response.status_code == 409
    error = error_of(response)
    assert (error["code"], error["current_version"]) == ("edit_conflict", 2)
    assert nothing_written(edited, note)


def test_a_conflict_says_the_timeline_changed_meanwhile(client, incident, note):
    client.post(events_url(incident), {"occurred_at": "2024-03-01T13:00:00Z", "version": 1})

    response = client.patch(event_url(incident, note.id), {"description": "Mine.", "version": 1})

    assert response.status_code == 409
    assert "timeline" in error_of(response)["changed_fields"]


@pytest.mark.parametrize("method", ["post", "patch", "delete"])
def test_a_write_without_a_version_is_refused_with_428(client, edited, note, method):
    response = stale_write(client, edited, note, method)

    assert response.status_code == 428
    assert error_of(response)["code"] == "precondition_required"
    assert "If-Match" in error_of(response)["message"]
    assert nothing_written(edited, note)


def test_if_match_and_version_must_agree(client, incident, note):
    response = client.patch(
        event_url(incident, note.id), {"description": "Mine.", "version": 7}, HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == ["version"]
    assert TimelineEvent.objects.get(pk=note.pk).description == "Paged."


# --- Bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"occurred_at": "1 March, around noon"}, "occurred_at"),
        ({"occurred_at": "2024-02-30T10:00:00Z"}, "occurred_at"),
        ({"occurred_at": "0001-01-01T00:00:00Z"}, "occurred_at"),  # unshowable west of UTC
        ({"occurred_at": 1709294400}, "occurred_at"),
        ({}, "occurred_at"),
        ({"occurred_at": "2024-03-01T12:10:00Z", "kind": "explosion"}, "kind"),
        ({"occurred_at": "2024-03-01T12:10:00Z", "description": "a\x00b"}, "description"),
        ({"occurred_at": "2024-03-01T12:10:00Z", "version": "one"}, "version"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_writes_nothing(client, incident, body, field):
    response = client.post(events_url(incident), body, HTTP_IF_MATCH='"1"')

    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == [field]
    assert not incident.events.exists()
    assert version_of(incident) == 1


def test_a_body_that_is_not_an_object_is_refused(client, incident):
    response = client.post(
        events_url(incident), json.dumps(["a list"]), content_type="application/json",
        HTTP_IF_MATCH='"1"',
    )  # fmt: skip

    assert response.status_code == 400
    assert not incident.events.exists()


def test_a_detection_before_the_start_is_refused_naming_the_time(client, incident):
    body = {"occurred_at": "2024-03-01T11:00:00Z", "kind": "detection", "version": 1}

    response = client.post(events_url(incident), body)

    assert response.status_code == 400
    fields = error_of(response)["fields"]
    assert list(fields) == ["occurred_at"]
    assert "detect" in fields["occurred_at"][0].lower()
    incident.refresh_from_db()
    assert (incident.detected_at, incident.version) == (None, 1)
    assert not incident.events.exists()


def test_re_kinding_an_event_into_an_impossible_moment_names_the_kind(client, incident):
    early = TimelineEventFactory(incident=incident, occurred_at=START - timedelta(hours=1))

    response = client.patch(event_url(incident, early.id), {"kind": "resolution", "version": 1})

    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == ["kind"]
    early.refresh_from_db()
    assert early.kind == "note"
    assert Incident.objects.get(pk=incident.pk).resolved_at is None


@pytest.fixture
def imported(incident):
    return TimelineEventFactory(
        incident=incident, source="statuspage", external_id="upd-1", body_format="html",
        description="<p>Investigating</p>",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("key", "value"), [("source", "manual"), ("external_id", "upd-2"), ("body_format", "markdown")]
)
def test_an_imported_events_import_keys_cannot_change(client, incident, imported, key, value):
    response = client.patch(
        event_url(incident, imported.id), {key: value, "description": "Edited.", "version": 1}
    )

    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == [key]
    imported.refresh_from_db()
    assert (imported.source, imported.external_id, imported.body_format) == (
        "statuspage", "upd-1", "html",
    )  # fmt: skip
    assert imported.description == "<p>Investigating</p>"


def test_an_imported_event_read_and_sent_back_with_a_new_text_is_edited(client, incident, imported):
    read = client.get(event_url(incident, imported.id)).json()

    response = client.put(
        event_url(incident, imported.id), {**read, "description": "Investigating.", "version": 1}
    )

    assert response.status_code == 200, response.json()
    imported.refresh_from_db()
    assert (imported.description, imported.source, imported.external_id) == (
        "Investigating.", "statuspage", "upd-1",
    )  # fmt: skip


def test_a_new_event_cannot_claim_an_import_source(client, incident):
    body = {"occurred_at": "2024-03-01T12:10:00Z", "source": "statuspage", "version": 1}

    response = client.post(events_url(incident), body)

    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == ["source"]
    assert not incident.events.exists()


# --- Who may --------------------------------------------------------------------------------


def test_a_draft_is_not_found_by_those_who_may_not_see_it(client_for, viewer, incident, note):
    client = client_for(viewer)

    assert client.get(events_url(incident)).status_code == 404
    assert client.get(event_url(incident, note.id)).status_code == 404
    response = client.post(events_url(incident), {"occurred_at": "2024-03-01T13:00:00Z"})
    assert response.status_code == 404
    assert incident.events.count() == 1


def test_a_viewer_reads_a_published_timeline_but_may_not_write_it(client_for, viewer, author):
    published = IncidentFactory(status=ReviewStatus.PUBLISHED)
    published.authors.add(author)
    client = client_for(viewer)

    read = client.get(events_url(published))
    write = client.post(
        events_url(published), {"occurred_at": "2024-03-01T13:00:00Z"}, HTTP_IF_MATCH='"1"'
    )

    assert read.status_code == 200
    assert write.status_code == 403
    assert error_of(write)["code"] == "permission_denied"
    assert not published.events.exists()


def test_a_read_only_token_may_not_write(client_for, author, incident):
    client = client_for(author, scope=TokenScope.READ)

    response = client.post(
        events_url(incident), {"occurred_at": "2024-03-01T13:00:00Z"}, HTTP_IF_MATCH='"1"'
    )

    assert response.status_code == 403
    assert error_of(response)["code"] == "read_only_token"
    assert not incident.events.exists()


def test_signed_out_clients_are_asked_to_sign_in(api_client, incident):
    assert api_client.get(events_url(incident)).status_code == 401


# --- The schema -------------------------------------------------------------------------


def test_the_timeline_endpoints_are_documented_with_the_version_rules(api_client):
    schema = api_client.get(reverse("api-schema"), {"format": "json"}).json()
    paths = schema["paths"]

    assert set(paths["/api/incidents/{slug}/timeline/"]) == {"get", "post"}
    detail = paths["/api/incidents/{slug}/timeline/{id}/"]
    assert set(detail) == {"get", "put", "patch", "delete"}
    for operation in (paths["/api/incidents/{slug}/timeline/"]["post"], detail["patch"]):
        assert {"400", "404", "409", "412", "428"} <= set(operation["responses"])
    assert {"412", "428"} <= set(detail["delete"]["responses"])
    request = schema["components"]["schemas"]["TimelineEventRequest"]["properties"]
    assert set(request) == {"occurred_at", "kind", "description", "version"}
