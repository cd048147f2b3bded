"""What the timeline editor shows: its context on the incident edit page and on its own.

The incident editor (``postmortems.views.editor``) and the timeline's own views both
render ``timeline/_editor.html`` from this context; neither imports the other's views.
"""

from __future__ import annotations

from django.utils import timezone

from postmortems.models import Incident
from timeline.choices import MANUAL_SOURCE
from timeline.forms import PasteAction, PasteNotesForm, TimelineEventForm

NEW_EVENT_PREFIX = "timeline-new"
PASTE_PREFIX = "timeline-paste"


def timeline_editor_context(incident: Incident, **state) -> dict:
    """Context for ``timeline/_editor.html``: the events (one query) and empty forms.

    ``state`` overrides parts of it: a bound form with errors, the event being
    edited, a paste preview, a message.
    """
    context = {
        "incident": incident,
        "timeline_events": list(incident.events.all()),
        "event_form": TimelineEventForm(prefix=NEW_EVENT_PREFIX),
        "editing_event_id": None,
        "edit_form": None,
        "timeline_errors": [],
        "timeline_message": "",
        "manual_source": MANUAL_SOURCE,
        **empty_paste_context(),
    }
    context.update(state)
    return context


def empty_paste_context() -> dict:
    return {
        "paste_form": PasteNotesForm(prefix=PASTE_PREFIX),
        "paste_action": PasteAction,
        "paste_preview": None,
        "timeline_zone": timezone.get_current_timezone_name(),
    }
