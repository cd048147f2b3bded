"""The timeline editor on the incident edit page: add, edit, delete and paste events.

Every view answers an htmx request with HTML to swap into the page, and a
plain form post (no JavaScript) with a redirect back to the edit page, or with
a page of its own when there are errors to show. Writes go through
``timeline.services`` only.

Version handshake: the edit page's main form carries the incident's
``version``. A timeline write that moves a moment bumps it, so the response
sends the new version back (out of band) when the page's version was current
before the write; otherwise someone else saved meanwhile, and the main form
must keep its stale version so that its next save is refused, not lost.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget

from postmortems.models import MOMENTS, Incident
from postmortems.shortcuts import get_incident_for
from timeline.choices import MANUAL_SOURCE
from timeline.editing import (
    NEW_EVENT_PREFIX,
    PASTE_PREFIX,
    empty_paste_context,
    timeline_editor_context,
)
from timeline.forms import (
    PASTED_EVENTS_PREFIX,
    PasteAction,
    PastedEventFormSet,
    PasteNotesForm,
    TimelineEventForm,
)
from timeline.models import TimelineEvent
from timeline.paste import ParsedLine, parse_notes
from timeline.services import NewEvent, delete_event, record_event, record_events, update_event

EDITOR_TEMPLATE = "timeline/_editor.html"
EDITOR_PAGE_TEMPLATE = "timeline/editor_page.html"
EVENT_ITEM_TEMPLATE = "timeline/_event_item.html"
PASTE_TEMPLATE = "timeline/_paste.html"
# Ids in the edit page that responses swap into; the templates use the same ids.
SECTION_TARGET = "#timeline-section"
PASTE_TARGET = "#timeline-paste"


# --- Views ----------------------------------------------------------------------


@login_required
@require_GET
def timeline_editor(request: HttpRequest, slug: str) -> HttpResponse:
    """The editor fragment (htmx), or a page holding it (a link followed without htmx)."""
    incident = get_incident_for(request.user, slug, edit=True)
    return _render_editor(request, incident)


@login_required
@require_POST
def event_create(request: HttpRequest, slug: str) -> HttpResponse:
    incident = get_incident_for(request.user, slug, edit=True)
    form = TimelineEventForm(request.POST, prefix=NEW_EVENT_PREFIX)
    if form.is_valid():
        fields = form.cleaned_data
        in_step = _try_write(
            request,
            incident,
            form,
            lambda: record_event(incident=incident, author=request.user, **fields),
        )
        if in_step is not None:
            return _written(request, incident, "Event added.", in_step=in_step)
    return _render_editor(request, incident, event_form=form)


@login_required
@require_http_methods(["GET", "POST"])
def event_edit(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """GET: the event's row as a form, in place. POST: save it."""
    incident = get_incident_for(request.user, slug, edit=True)
    event = get_object_or_404(incident.events, pk=pk)
    data = request.POST if request.method == "POST" else None
    form = _edit_form(event, data)
    if data is None:
        if request.htmx:
            context = {"incident": incident, "event": event, "manual_source": MANUAL_SOURCE}
            context.update(editing_event_id=event.pk, edit_form=form)
            return render(request, EVENT_ITEM_TEMPLATE, context)
        return _render_editor(request, incident, editing_event_id=event.pk, edit_form=form)
    if form.is_valid():
        changes = form.cleaned_data
        in_step = _try_write(request, incident, form, lambda: update_event(event=event, **changes))
        if in_step is not None:
            return _written(request, incident, "Event saved.", in_step=in_step)
    return _render_editor(request, incident, editing_event_id=event.pk, edit_form=form)


@login_required
@require_POST
def event_delete(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    incident = get_incident_for(request.user, slug, edit=True)
    event = get_object_or_404(incident.events, pk=pk)
    try:
        in_step = _write(request, incident, lambda: delete_event(event=event))
    except ValidationError as error:
        # Deleting the earliest impact start can move the start past detection.
        return _render_editor(request, incident, timeline_errors=error.messages)
    return _written(request, incident, "Event deleted.", in_step=in_step)


@login_required
@require_POST
def paste_notes(request: HttpRequest, slug: str) -> HttpResponse:
    """``action=preview``: show what the notes would add. ``action=save``: add it all."""
    incident = get_incident_for(request.user, slug, edit=True)
    form = PasteNotesForm(request.POST, prefix=PASTE_PREFIX)
    if request.POST.get("action") == PasteAction.SAVE:
        return _save_pasted(request, incident, form)
    return _paste_response(request, incident, _preview(incident, form))


# --- Writing ----------------------------------------------------------------------


def _write(request: HttpRequest, incident: Incident, write: Callable[[], object]) -> bool:
    """Run ``write`` under the incident's row lock; True if the page's version was current.

    The version is read before and after the write inside the same lock, so a
    concurrent save of the main form cannot slip between them unnoticed.
    """
    with transaction.atomic():
        before = (
            Incident.objects.select_for_update()
            .values_list("version", flat=True)
            .get(pk=incident.pk)
        )
        write()
        incident.refresh_from_db(fields=[*MOMENTS, "version"])
    return _posted_version(request) == before


def _try_write(
    request: HttpRequest, incident: Incident, form: Form, write: Callable[[], object]
) -> bool | None:
    """``_write``'s answer, or None when the services refused (nothing saved; errors in form)."""
    try:
        return _write(request, incident, write)
    except ValidationError as error:
        _add_service_errors(form, error)
        return None


def _posted_version(request: HttpRequest) -> int | None:
    try:
        return int(request.POST.get("version", ""))
    except ValueError:
        return None


def _add_service_errors(form: Form, error: ValidationError) -> None:
    """Show a refusal on the field it names, else above the form (moment order errors)."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error.messages)
        return
    for name, errors in error.error_dict.items():
        form.add_error(name if name in form.fields else None, errors)


def _written(
    request: HttpRequest, incident: Incident, message: str, *, in_step: bool
) -> HttpResponse:
    """After a write: the fresh editor plus out-of-band moments (htmx), or a redirect."""
    if not request.htmx:
        messages.success(request, message)
        return redirect(_edit_page_url(incident))
    context = timeline_editor_context(incident, timeline_message=message)
    context.update(timeline_oob=True, timeline_new_version=incident.version if in_step else None)
    return render(request, EDITOR_TEMPLATE, context)


def _render_editor(request: HttpRequest, incident: Incident, **state) -> HttpResponse:
    template = EDITOR_TEMPLATE if request.htmx else EDITOR_PAGE_TEMPLATE
    return render(request, template, timeline_editor_context(incident, **state))


def _edit_page_url(incident: Incident) -> str:
    return reverse("postmortems:incident-edit", args=[incident.slug]) + SECTION_TARGET


def _edit_form(event: TimelineEvent, data) -> TimelineEventForm:
    form = TimelineEventForm.for_event(event, data, prefix=f"timeline-event-{event.pk}")
    # Keyboard users land in the form that just replaced the row.
    form.fields["occurred_at"].widget.attrs["autofocus"] = True
    return form


# --- Pasting ----------------------------------------------------------------------


def _preview(incident: Incident, form: PasteNotesForm, formset=None, **extra) -> dict:
    """Paste context: the parsed lines, a formset row per event, the unreadable lines."""
    context = {**empty_paste_context(), "paste_form": form}
    if not form.is_valid():
        return context
    notes = form.cleaned_data["notes"]
    lines = _parse(notes, incident)
    events = [line for line in lines if line.ok]
    if formset is None:
        formset = PastedEventFormSet(
            prefix=PASTED_EVENTS_PREFIX, initial=[_row_initial(line) for line in events]
        )
    context["paste_preview"] = {
        "rows": list(zip(events, formset.forms, strict=False)),
        "formset": formset,
        "unreadable": [line for line in lines if not line.ok],
        "count": len(events),
        "digest": _digest(notes),
        "errors": [],
        **extra,
    }
    return context


def _save_pasted(request: HttpRequest, incident: Incident, form: PasteNotesForm) -> HttpResponse:
    formset = PastedEventFormSet(request.POST, prefix=PASTED_EVENTS_PREFIX)
    if not form.is_valid() or request.POST.get("digest") != _digest(form.cleaned_data["notes"]):
        # The rows no longer match the notes: show what the notes say now.
        message = "The notes changed after the preview: check this preview, then add the events."
        return _paste_response(request, incident, _preview(incident, form, message=message))
    if not formset.is_valid():
        return _paste_response(request, incident, _preview(incident, form, formset))
    new_events = [NewEvent(**row) for row in formset.cleaned_data]
    try:
        in_step = _write(
            request,
            incident,
            lambda: record_events(incident=incident, events=new_events, author=request.user),
        )
    except ValidationError as error:
        context = _preview(incident, form, formset, errors=error.messages)
        return _paste_response(request, incident, context)
    return _written(request, incident, f"Added {len(new_events)} events.", in_step=in_step)


def _paste_response(request: HttpRequest, incident: Incident, paste: dict) -> HttpResponse:
    """The paste box alone (htmx, wherever the button aimed), or the editor page around it."""
    if not request.htmx:
        return _render_editor(request, incident, **paste)
    response = render(request, PASTE_TEMPLATE, {"incident": incident, **paste})
    return reswap(retarget(response, PASTE_TARGET), "outerHTML")


def _parse(notes: str, incident: Incident) -> list[ParsedLine]:
    started = incident.started_at
    return parse_notes(
        notes,
        default_date=timezone.localdate(started) if started else None,
        default_tz=timezone.get_current_timezone(),
        anchor=started,
    )


def _row_initial(line: ParsedLine) -> dict:
    # ISO 8601 with its UTC offset: read back exactly, whatever zone the saver is in.
    return {
        "occurred_at": line.occurred_at.isoformat(),
        "kind": line.kind,
        "description": line.description,
    }


def _digest(notes: str) -> str:
    return hashlib.sha256(notes.encode()).hexdigest()[:20]
