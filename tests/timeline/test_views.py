from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.services import SESSION_TIME_ZONE
from postmortems.choices import ReviewStatus
from tests.factories import IncidentFactory, TimelineEventFactory
from timeline.choices import EventKind
from timeline.models import TimelineEvent
from timeline.services import record_event

T0 = datetime(2012, 2, 29, 0, 0, tzinfo=UTC)
HTMX = {"HTTP_HX_REQUEST": "true"}
NEW = "timeline-new"
NOTES = "timeline-paste-notes"
LEAP_DAY_NOTES = (
    "00:51 UTC: storage front-ends stop responding\n"
    "2012-02-29 01:15 UTC — Hosts start migrating workloads\n"
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(author):
    incident = IncidentFactory(status=ReviewStatus.DRAFT, started_at=T0, slug="leap-day")
    incident.authors.add(author)
    return incident


@pytest.fixture
def as_author(client, author):
    client.force_login(author)
    return client


def url(name: str, incident, *args) -> str:
    return reverse(f"timeline:{name}", args=[incident.slug, *args])


def edit_page(incident) -> str:
    return reverse("postmortems:incident-edit", args=[incident.slug]) + "#timeline-section"


def new_event(at: str, kind: str = EventKind.NOTE, description: str = "", prefix: str = NEW):
    return {
        f"{prefix}-occurred_at": at,
        f"{prefix}-kind": kind,
        f"{prefix}-description": description,
    }


def use_time_zone(client, name: str) -> None:
    session = client.session
    session[SESSION_TIME_ZONE] = name
    session.save()


class FormFields(HTMLParser):
    """What a browser would submit from a page: inputs, the chosen options, textareas."""

    def __init__(self):
        super().__init__()
        self.fields: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name and attrs.get("type") not in ("submit", "button"):
            self.fields[name] = attrs.get("value") or ""
        elif tag == "select":
            self._select = name
        elif tag == "option" and self._select:
            if "selected" in attrs or self._select not in self.fields:
                self.fields[self._select] = attrs["value"]
        elif tag == "textarea":
            self._textarea = name
            self.fields[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.fields[self._textarea] += data.removeprefix("\n")


def form_fields(response) -> dict[str, str]:
    parser = FormFields()
    parser.feed(response.content.decode())
    return parser.fields


# --- Adding, editing, deleting ----------------------------------------------------


def test_adding_an_event_with_htmx_returns_the_editor_with_the_event(as_author, draft):
    response = as_author.post(
        url("event-create", draft),
        new_event("2012-02-29T00:51", EventKind.NOTE, "Storage front-ends stop responding"),
        **HTMX,
    )

    assert response.status_code == 200
    assert response.templates[0].name == "timeline/_editor.html"
    assert "Event added." in response.text
    assert "Storage front-ends stop responding" in response.text
    event = TimelineEvent.objects.get(incident=draft)
    assert event.occurred_at == datetime(2012, 2, 29, 0, 51, tzinfo=UTC)


def test_the_typed_time_is_read_in_the_viewers_zone(as_author, draft):
    use_time_zone(as_author, "America/Los_Angeles")

    form = as_author.get(url("editor", draft), **HTMX)
    as_author.post(url("event-create", draft), new_event("2012-02-28T17:45"), **HTMX)

    assert "in your time zone, America/Los_Angeles" in form.text
    event = TimelineEvent.objects.get(incident=draft)
    assert event.occurred_at == datetime(2012, 2, 29, 1, 45, tzinfo=UTC)


def test_without_htmx_adding_redirects_back_to_the_edit_page(as_author, draft):
    response = as_author.post(url("event-create", draft), new_event("2012-02-29T00:51"))

    assert response.status_code == 302
    assert response.url == edit_page(draft)
    assert TimelineEvent.objects.filter(incident=draft).count() == 1


def test_without_htmx_an_invalid_event_is_shown_on_a_page_with_its_error(as_author, draft):
    response = as_author.post(url("event-create", draft), new_event(""))

    assert response.status_code == 200
    assert response.templates[0].name == "timeline/editor_page.html"
    assert "This field is required." in response.text
    assert not TimelineEvent.objects.filter(incident=draft).exists()


def test_a_marker_event_sets_the_moment_and_the_response_updates_the_moments(as_author, draft):
    response = as_author.post(
        url("event-create", draft),
        new_event("2012-02-29T01:45", EventKind.DETECTION, "Ops alerted"),
        **HTMX,
    )

    draft.refresh_from_db()
    assert draft.detected_at == datetime(2012, 2, 29, 1, 45, tzinfo=UTC)
    assert '<dl id="incident-moments" class="facts timeline-moments" hx-swap-oob="true">' in (
        response.text
    )
    assert "(after 1 h 45 min)" in response.text


def test_edit_swaps_the_row_into_a_form_with_the_current_values(as_author, draft):
    event = TimelineEventFactory(incident=draft, occurred_at=T0, description="Dates roll over")
    use_time_zone(as_author, "Europe/Paris")

    response = as_author.get(url("event-edit", draft, event.pk), **HTMX)

    assert response.status_code == 200
    assert response.text.lstrip().startswith(f'<li id="timeline-event-{event.pk}"')
    assert 'value="2012-02-29T01:00:00"' in response.text  # midnight UTC in Paris
    assert "Dates roll over</textarea>" in response.text
    assert "autofocus" in response.text


def test_without_htmx_edit_opens_a_page_with_the_row_as_a_form(as_author, draft):
    event = TimelineEventFactory(incident=draft, occurred_at=T0, description="Dates roll over")

    response = as_author.get(url("event-edit", draft, event.pk))

    assert response.templates[0].name == "timeline/editor_page.html"
    assert f'name="timeline-event-{event.pk}-occurred_at"' in response.text
    assert "Back to the postmortem" in response.text


def test_editing_an_event_moves_the_moment_it_set(as_author, draft):
    event = record_event(incident=draft, occurred_at=T0 + timedelta(hours=2), kind="detection")
    prefix = f"timeline-event-{event.pk}"

    response = as_author.post(
        url("event-edit", draft, event.pk),
        new_event("2012-02-29T01:45", EventKind.DETECTION, "Ops alerted", prefix=prefix),
        **HTMX,
    )

    assert "Event saved." in response.text
    draft.refresh_from_db()
    assert draft.detected_at == datetime(2012, 2, 29, 1, 45, tzinfo=UTC)
    event.refresh_from_db()
    assert event.description == "Ops alerted"


def test_deleting_an_event_with_htmx_removes_it_and_its_moment(as_author, draft):
    event = record_event(incident=draft, occurred_at=T0 + timedelta(hours=2), kind="detection")

    response = as_author.post(url("event-delete", draft, event.pk), **HTMX)

    assert "Event deleted." in response.text
    assert f'id="timeline-event-{event.pk}"' not in response.text
    assert not TimelineEvent.objects.filter(pk=event.pk).exists()
    draft.refresh_from_db()
    assert draft.detected_at is None


def test_delete_asks_for_confirmation_first(as_author, draft):
    TimelineEventFactory(incident=draft, occurred_at=T0, kind=EventKind.CHANGE)

    response = as_author.get(url("editor", draft), **HTMX)

    assert 'hx-confirm="Delete the change event at 29 Feb 2012 00:00?"' in response.text


def test_without_htmx_deleting_redirects_back_to_the_edit_page(as_author, draft):
    event = TimelineEventFactory(incident=draft)

    response = as_author.post(url("event-delete", draft, event.pk))

    assert response.url == edit_page(draft)
    assert not TimelineEvent.objects.filter(pk=event.pk).exists()


def test_an_event_of_another_incident_is_not_found(as_author, draft):
    elsewhere = TimelineEventFactory()  # on a published incident the author does not write

    response = as_author.post(url("event-delete", draft, elsewhere.pk), **HTMX)

    assert response.status_code == 404
    assert TimelineEvent.objects.filter(pk=elsewhere.pk).exists()


# --- Moments out of order -----------------------------------------------------------


def test_a_detection_before_the_start_is_refused_with_a_message_and_nothing_saved(as_author, draft):
    version = draft.version

    response = as_author.post(
        url("event-create", draft),
        {**new_event("2012-02-28T23:00", EventKind.DETECTION, "Too early"), "version": version},
        **HTMX,
    )

    assert response.status_code == 200
    assert "Detected at 2012-02-28 23:00 UTC is before started at 2012-02-29 00:00 UTC" in (
        response.text
    )
    assert 'role="alert"' in response.text
    assert 'value="Too early"' in response.text or "Too early</textarea>" in response.text
    assert "hx-swap-oob" not in response.text
    assert not TimelineEvent.objects.filter(incident=draft).exists()
    draft.refresh_from_db()
    assert (draft.detected_at, draft.version) == (None, version)


def test_an_edit_that_breaks_the_moment_order_keeps_the_event_as_it_was(as_author, draft):
    draft.resolved_at = T0 + timedelta(hours=10)
    draft.save()
    event = record_event(incident=draft, occurred_at=T0 + timedelta(hours=1), kind="detection")
    prefix = f"timeline-event-{event.pk}"

    response = as_author.post(
        url("event-edit", draft, event.pk),
        new_event("2012-02-29T12:00", EventKind.DETECTION, "Late", prefix=prefix),
        **HTMX,
    )

    assert "is before detected at 2012-02-29 12:00 UTC" in response.text
    event.refresh_from_db()
    assert event.occurred_at == T0 + timedelta(hours=1)
    draft.refresh_from_db()
    assert draft.detected_at == T0 + timedelta(hours=1)


# --- The version handshake ------------------------------------------------------------


def test_a_current_page_gets_the_new_version_out_of_band(as_author, draft):
    before = draft.version

    response = as_author.post(
        url("event-create", draft),
        {**new_event("2012-02-29T01:45", EventKind.DETECTION), "version": before},
        **HTMX,
    )

    draft.refresh_from_db()
    assert draft.version == before + 1
    assert (
        f'<input type="hidden" name="version" id="id_version" value="{draft.version}" '
        'hx-swap-oob="true">'
    ) in response.text


def test_a_stale_page_does_not_get_the_new_version(as_author, draft):
    stale = draft.version
    draft.title = "Edited by someone else"
    draft.version += 1
    draft.save()

    response = as_author.post(
        url("event-create", draft),
        {**new_event("2012-02-29T01:45", EventKind.DETECTION), "version": stale},
        **HTMX,
    )

    assert TimelineEvent.objects.filter(incident=draft).count() == 1
    assert 'id="id_version"' not in response.text
    assert 'id="incident-moments"' in response.text  # the moments are still brought up to date


def test_every_editor_write_sends_the_pages_version_along(as_author, draft):
    TimelineEventFactory(incident=draft)

    response = as_author.get(url("editor", draft), **HTMX)

    # Add, delete, edit (its form is fetched) and "Add these events" all post it.
    assert response.text.count('hx-include="#id_version"') == 2
    edit = as_author.get(url("event-edit", draft, draft.events.get().pk), **HTMX)
    assert 'hx-include="#id_version"' in edit.text
    paste = as_author.post(url("paste", draft), {NOTES: "00:51 UTC x", "action": "preview"}, **HTMX)
    assert 'value="save"' in paste.text and 'hx-include="#id_version"' in paste.text


# --- Permissions ------------------------------------------------------------------------


def test_a_viewer_may_not_edit_a_published_timeline(client, viewer):
    incident = IncidentFactory(status=ReviewStatus.PUBLISHED)
    client.force_login(viewer)

    editor = client.get(url("editor", incident), **HTMX)
    added = client.post(url("event-create", incident), new_event("2024-03-01T12:30"), **HTMX)

    assert (editor.status_code, added.status_code) == (403, 403)
    assert not TimelineEvent.objects.filter(incident=incident).exists()


def test_another_author_cannot_even_see_a_draft(client, other_author, draft):
    client.force_login(other_author)

    editor = client.get(url("editor", draft), **HTMX)
    pasted = client.post(url("paste", draft), {NOTES: LEAP_DAY_NOTES, "action": "preview"})

    assert (editor.status_code, pasted.status_code) == (404, 404)


def test_an_author_edits_their_own_draft(as_author, draft):
    response = as_author.get(url("editor", draft), **HTMX)

    assert response.status_code == 200
    assert "Add an event" in response.text


def test_a_reviewer_edits_an_incident_in_review(client, reviewer):
    incident = IncidentFactory(status=ReviewStatus.IN_REVIEW)
    client.force_login(reviewer)

    response = client.post(
        url("event-create", incident), new_event("2024-03-01T12:30", description="Checked"), **HTMX
    )

    assert response.status_code == 200
    assert TimelineEvent.objects.get(incident=incident).description == "Checked"


def test_signed_out_visitors_are_sent_to_sign_in(client, draft):
    response = client.get(url("editor", draft), **HTMX)

    assert response.status_code == 302
    assert response.url.startswith(reverse("accounts:login"))


# --- Pasting notes ------------------------------------------------------------------------


def test_preview_shows_the_parsed_events_and_the_lines_it_could_not_read(as_author, draft):
    notes = LEAP_DAY_NOTES + "25:00 UTC — impossible\n"

    response = as_author.post(url("paste", draft), {NOTES: notes, "action": "preview"}, **HTMX)

    assert response.status_code == 200
    assert response["HX-Retarget"] == "#timeline-paste"
    assert "Preview: 2 events, 1 line not understood" in response.text
    assert "Wed 29 Feb 2012 00:51" in response.text
    assert "Hosts start migrating workloads" in response.text
    assert "“25:00” is not a time of day." in response.text
    assert "Add these 2 events" in response.text
    assert not TimelineEvent.objects.filter(incident=draft).exists()


def test_preview_shows_the_time_in_the_viewers_zone_and_in_utc(as_author, draft):
    use_time_zone(as_author, "America/Los_Angeles")

    response = as_author.post(
        url("paste", draft), {NOTES: "00:51 UTC: storage down", "action": "preview"}, **HTMX
    )

    assert "Tue 28 Feb 2012 16:51" in response.text
    assert "Wed 29 Feb 2012 00:51" in response.text


def test_preview_offers_the_inferred_kind_as_a_labelled_choice(as_author, draft):
    response = as_author.post(
        url("paste", draft), {NOTES: "01:45 UTC — Ops alerted", "action": "preview"}, **HTMX
    )

    fields = form_fields(response)
    assert fields["pasted-0-kind"] == EventKind.DETECTION
    assert fields["pasted-0-occurred_at"] == "2012-02-29T01:45:00+00:00"
    assert '<label class="timeline-sr" for="id_pasted-0-kind">' in response.text


def test_saving_the_preview_adds_every_event_and_sets_the_moments(as_author, draft):
    preview = as_author.post(
        url("paste", draft), {NOTES: LEAP_DAY_NOTES, "action": "preview"}, **HTMX
    )
    fields = form_fields(preview)
    fields["pasted-0-kind"] = EventKind.DETECTION  # the person corrects the inferred kind

    response = as_author.post(
        url("paste", draft), {**fields, "action": "save", "version": draft.version}, **HTMX
    )

    assert response.status_code == 200
    assert "Added 2 events." in response.text
    events = list(TimelineEvent.objects.filter(incident=draft))
    assert [(e.occurred_at, e.kind, e.description) for e in events] == [
        (
            datetime(2012, 2, 29, 0, 51, tzinfo=UTC),
            EventKind.DETECTION,
            "storage front-ends stop responding",
        ),
        (
            datetime(2012, 2, 29, 1, 15, tzinfo=UTC),
            EventKind.NOTE,
            "Hosts start migrating workloads",
        ),
    ]
    draft.refresh_from_db()
    assert draft.detected_at == datetime(2012, 2, 29, 0, 51, tzinfo=UTC)
    assert f'id="id_version" value="{draft.version}" hx-swap-oob="true"' in response.text


def test_pasted_events_are_added_all_or_nothing(as_author, draft):
    notes = "2012-02-28 23:00 UTC — Ops alerted\n01:15 UTC — Hosts start migrating workloads\n"
    preview = as_author.post(url("paste", draft), {NOTES: notes, "action": "preview"}, **HTMX)

    response = as_author.post(
        url("paste", draft), {**form_fields(preview), "action": "save"}, **HTMX
    )

    assert response["HX-Retarget"] == "#timeline-paste"
    assert "Nothing was added." in response.text
    assert "Detected at 2012-02-28 23:00 UTC is before started" in response.text
    assert not TimelineEvent.objects.filter(incident=draft).exists()


def test_notes_changed_after_the_preview_are_previewed_again_not_saved(as_author, draft):
    preview = as_author.post(
        url("paste", draft), {NOTES: LEAP_DAY_NOTES, "action": "preview"}, **HTMX
    )
    fields = {**form_fields(preview), NOTES: LEAP_DAY_NOTES + "02:00 UTC — more\n"}

    response = as_author.post(url("paste", draft), {**fields, "action": "save"}, **HTMX)

    assert "The notes changed after the preview" in response.text
    assert "Add these 3 events" in response.text
    assert not TimelineEvent.objects.filter(incident=draft).exists()


def test_without_htmx_saving_pasted_notes_redirects_to_the_edit_page(as_author, draft):
    preview = as_author.post(url("paste", draft), {NOTES: LEAP_DAY_NOTES, "action": "preview"})

    response = as_author.post(url("paste", draft), {**form_fields(preview), "action": "save"})

    assert preview.templates[0].name == "timeline/editor_page.html"
    assert response.status_code == 302
    assert response.url == edit_page(draft)
    assert TimelineEvent.objects.filter(incident=draft).count() == 2


# --- Efficiency ------------------------------------------------------------------------------


def editor_queries(client, incident, events: int) -> int:
    for minute in range(events):
        TimelineEventFactory(incident=incident, occurred_at=T0 + timedelta(minutes=minute))
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url("editor", incident), **HTMX)
    assert response.text.count('class="timeline-edit-item') == events
    return len(queries)


def test_the_editor_costs_the_same_queries_for_2_and_for_20_events(as_author, author):
    small, large = IncidentFactory(), IncidentFactory()
    small.authors.add(author)
    large.authors.add(author)

    # session, user, incident, its authors, the user's permissions and groups, the events
    assert editor_queries(as_author, small, 2) == editor_queries(as_author, large, 20)
