"""The incident page's "same outage" panel, and linking or unlinking another record of it."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from postmortems import same_outage
from postmortems.models import Incident
from postmortems.shortcuts import get_incident_for


def same_outage_panel(user, incident: Incident, *, can_edit: bool) -> dict:
    """What the panel shows: the outage's other records the reader may see and, for
    people who may edit, suggested ones. One query, two for an editor."""
    records = same_outage.outage_records(incident, user)
    suggested = same_outage.candidates(incident, user=user) if can_edit else []
    return {"records": records, "candidates": suggested, "can_edit": can_edit}


@login_required
@require_POST
def same_outage_link(request: HttpRequest, slug: str) -> HttpResponse:
    """Link the postmortem named in the form (a slug or its page's address) as the same
    outage as this one, then back to this one's page."""
    incident = get_incident_for(request.user, slug, edit=True)
    named = named_slug(request.POST.get("incident", ""))
    if not named:
        messages.error(request, "Name the other postmortem: its slug or its page's address.")
        return back(incident)
    try:
        other = get_incident_for(request.user, named)
    except Http404:
        messages.error(request, f"No postmortem “{named}” that you may see.")
        return back(incident)
    try:
        canonical = same_outage.link_same_outage(incident=incident, other=other, user=request.user)
    except (PermissionDenied, ValidationError) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", exc.args)))
    else:
        messages.success(
            request,
            f"Linked: one outage, counted once, by “{canonical.title}”.",
        )
    return back(incident)


@login_required
@require_POST
def same_outage_unlink(request: HttpRequest, slug: str) -> HttpResponse:
    """Make this postmortem, or the other record of its outage named in the form, a
    record of its own outage again."""
    incident = get_incident_for(request.user, slug, edit=True)
    record = incident
    if named := named_slug(request.POST.get("record", "")):
        record = get_incident_for(request.user, named)
        if record.pk != incident.pk and incident.pk not in _outage_ids(record):
            messages.error(request, f"“{record.title}” is not a record of this outage.")
            return back(incident)
    try:
        same_outage.unlink_same_outage(incident=record, user=request.user)
    except (PermissionDenied, ValidationError) as exc:
        messages.error(request, " ".join(getattr(exc, "messages", exc.args)))
    else:
        messages.success(request, f"“{record.title}” is a record of its own outage again.")
    return back(incident)


def _outage_ids(record: Incident) -> set[int]:
    """The records ``record`` is linked with directly: its canonical one, or its others."""
    if record.same_outage_as_id is not None:
        siblings = Incident.objects.filter(same_outage_as_id=record.same_outage_as_id)
        return {record.same_outage_as_id, *siblings.values_list("pk", flat=True)}
    return set(Incident.objects.filter(same_outage_as=record).values_list("pk", flat=True))


def named_slug(value: str) -> str:
    """A slug as typed, or the last part of a pasted incident page address."""
    value = value.strip()
    return value.rstrip("/").rsplit("/", 1)[-1] if "/" in value else value


def back(incident: Incident) -> HttpResponse:
    return redirect("postmortems:incident-detail", slug=incident.slug)
