from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.template.loader import render_to_string
from django.utils import timezone

from tests.factories import IncidentFactory, TimelineEventFactory
from timeline.choices import EventKind
from timeline.presentation import timeline_display_context, timeline_rows

T0 = datetime(2012, 2, 29, 0, 0, tzinfo=UTC)


def event(minutes: float, kind: str = EventKind.NOTE, description: str = "Something happened."):
    # Unsaved events: the presentation never touches the database.
    return TimelineEventFactory.build(
        occurred_at=T0 + timedelta(minutes=minutes), kind=kind, description=description
    )


def incident(**moments):
    return IncidentFactory.build(started_at=T0, **moments)


def test_a_day_header_appears_where_the_viewers_calendar_turns():
    # In Los Angeles the outage runs from 28 February into 1 March.
    events = [event(-60), event(60), event(9 * 60), event(33 * 60)]

    with timezone.override(ZoneInfo("America/Los_Angeles")):
        rows = timeline_rows(events, incident())

    assert [row.day_changed for row in rows] == [True, False, True, True]
    assert [row.day_label for row in rows if row.day_changed] == [
        "Tuesday 28 February 2012 (PST)",
        "Wednesday 29 February 2012 (PST)",
        "Thursday 1 March 2012 (PST)",
    ]


def test_day_headers_differ_for_a_viewer_in_another_zone():
    events = [event(-60), event(60), event(9 * 60)]

    with timezone.override(ZoneInfo("Asia/Tokyo")):
        rows = timeline_rows(events, incident())

    # 23:00 UTC on the 28th is already 08:00 on the 29th in Tokyo: one day only.
    assert [row.day_changed for row in rows] == [True, False, False]


def test_gaps_of_a_minute_or_more_are_shown_with_their_length():
    events = [event(0), event(0.5), event(1.5), event(151.5)]

    rows = timeline_rows(events, incident())

    assert [row.gap_label for row in rows] == ["", "", "+1 min", "+2 h 30 min"]
    assert [row.long_gap for row in rows] == [False, False, False, True]


def test_offsets_count_from_the_start_and_go_negative_before_it():
    events = [event(-20, EventKind.CHANGE), event(0, EventKind.IMPACT_START), event(105)]

    rows = timeline_rows(events, incident())

    assert [row.offset_label for row in rows] == ["T\u221220 min", "T+0", "T+1 h 45 min"]
    assert rows[0].offset == timedelta(minutes=-20)
    assert rows[0].offset_description == "20 min before the impact started"


def test_without_a_start_there_are_no_offsets():
    rows = timeline_rows([event(5)], IncidentFactory.build(started_at=None))

    assert rows[0].offset is None
    assert rows[0].offset_label == ""


def test_the_events_that_set_the_moments_are_marked():
    moments = incident(
        detected_at=T0 + timedelta(minutes=51),
        mitigated_at=T0 + timedelta(hours=5),
        resolved_at=T0 + timedelta(hours=34),
    )
    events = [
        event(0, EventKind.IMPACT_START),
        event(51, EventKind.DETECTION),
        event(90, EventKind.DETECTION),  # a later detection does not set the moment
        event(300, EventKind.MITIGATION),
        event(600, EventKind.RESOLUTION),  # an early "resolved": the latest one counts
        event(34 * 60, EventKind.RESOLUTION),
        event(34 * 60 + 5, EventKind.NOTE),
    ]

    rows = timeline_rows(events, moments)

    assert [row.marker.label if row.marker else None for row in rows] == [
        "Impact start",
        "Detection",
        None,
        "Mitigation",
        None,
        "Resolution",
        None,
    ]


def test_two_markers_at_the_same_time_mark_the_moment_once():
    events = [event(51, EventKind.DETECTION), event(51, EventKind.DETECTION)]

    rows = timeline_rows(events, incident(detected_at=T0 + timedelta(minutes=51)))

    assert [row.marker is not None for row in rows] == [True, False]


def test_building_the_rows_needs_no_database():
    # No django_db mark: pytest-django makes any query in this test fail.
    events = [event(minutes) for minutes in range(0, 300, 30)]

    context = timeline_display_context(incident(), events)

    assert len(context["timeline_rows"]) == 10


def test_the_visual_timeline_shows_days_gaps_markers_and_sanitised_text():
    moments = incident(detected_at=T0 + timedelta(minutes=51))
    events = [
        event(-20, EventKind.CHANGE, "Rollout of **new agents**"),
        event(51, EventKind.DETECTION, "Alerts fire <script>alert(1)</script>"),
        event(26 * 60, EventKind.RECOVERY, "Clusters back"),
    ]

    with timezone.override(ZoneInfo("UTC")):
        html = render_to_string(
            "timeline/_timeline.html",
            {"incident": moments, **timeline_display_context(moments, events)},
        )

    assert "Tuesday 28 February 2012 (UTC)" in html
    assert "Wednesday 29 February 2012 (UTC)" in html
    assert "Thursday 1 March 2012 (UTC)" in html
    assert "+1 h 11 min" in html
    assert "T\u221220 min" in html
    assert "this event sets the incident's detection time" in html
    assert "<strong>new agents</strong>" in html
    assert "<script>" not in html
    assert 'class="badge timeline-badge timeline-kind-change">Change<' in html
    assert html.count('<li class="timeline-item') == 3


def test_an_empty_timeline_says_so():
    html = render_to_string(
        "timeline/_timeline.html",
        {"incident": incident(), **timeline_display_context(incident(), [])},
    )

    assert "No timeline events yet." in html
