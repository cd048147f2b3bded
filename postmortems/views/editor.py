"""Writing postmortems: create, edit (with optimistic concurrency) and Markdown preview."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.html import escape
from django.views.decorators.http import require_POST

from postmortems import limits, permissions
from postmortems.forms import MARKDOWN_FIELDS, IncidentForm, NewIncidentForm
from postmortems.history import changes_since
from postmortems.models import MOMENTS, Incident
from postmortems.rendering import render_markdown
from postmortems.services import EditConflict, IncidentChanges, create_incident, update_incident
from postmortems.shortcuts import get_incident_for
from postmortems.views.parts import (
    action_item_editor_context,
    factor_editor_context,
    source_editor_context,
)
from timeline.editing import timeline_editor_context
from timeline.services import record_moment_events


@login_required
def incident_create(request):
    if not permissions.can_create(request.user):
        raise PermissionDenied("Only authors, reviewers and admins write postmortems.")
    form = NewIncidentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            incident = save_new_incident(form, request.user)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request, "Draft saved. Now add its timeline, factors and action items below."
            )
            return redirect("postmortems:incident-edit", slug=incident.slug)
    return render(
        request,
        "postmortems/incident_form.html",
        {"form": form, "nav": "incidents", "markdown_fields": MARKDOWN_FIELDS, "moments": MOMENTS},
        status=400 if form.is_bound and form.errors else 200,
    )


@transaction.atomic
def save_new_incident(form: NewIncidentForm, user) -> Incident:
    data = form.cleaned_data
    incident = create_incident(
        author=user,
        vendors=data["vendors"],
        primary_vendor=data["primary_vendor"],
        change_types=data["change_types"],
        services=data["services"],
        **form.changed_model_fields(),
    )
    incident._history_user = user
    record_moment_events(incident=incident, author=user)
    return incident


def editor_queryset():
    return Incident.objects.prefetch_related("incident_vendors", "change_types", "services")


@login_required
def incident_edit(request, slug: str):
    incident = get_incident_for(request.user, slug, edit=True, queryset=editor_queryset())
    form = IncidentForm(request.POST or None, instance=incident)
    conflict = None
    if request.method == "POST" and form.is_valid():
        try:
            save_edit(form, incident, request.user)
        except EditConflict as exc:
            conflict, form = conflict_report(form, exc)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Saved.")
            return redirect("postmortems:incident-detail", slug=incident.slug)
    context = {
        "form": form,
        "incident": incident,
        "conflict": conflict,
        "nav": "incidents",
        "markdown_fields": MARKDOWN_FIELDS,
        **timeline_editor_context(incident),
        **factor_editor_context(incident),
        **action_item_editor_context(incident),
        **source_editor_context(incident),
    }
    status = 409 if conflict else 400 if form.is_bound and form.errors else 200
    return render(request, "postmortems/incident_form.html", context, status=status)


def save_edit(form: IncidentForm, incident: Incident, user) -> Incident:
    data = form.cleaned_data
    return update_incident(
        incident_id=incident.id,
        expected_version=data["version"] or incident.version,
        changes=IncidentChanges(
            fields=form.changed_model_fields(),
            change_types=data["change_types"],
            services=data["services"],
            vendors=data["vendors"],
            primary_vendor=data["primary_vendor"],
        ),
        user=user,
    )


def conflict_report(form: IncidentForm, exc: EditConflict) -> tuple[dict, IncidentForm]:
    """Keep the editor's text in the form, show what others saved since they loaded it,
    and let the next save go through against the current version."""
    data = form.data.copy()
    loaded_version = int(data.get("version") or 0)
    data["version"] = exc.current.version
    rebound = IncidentForm(data, instance=exc.current)
    rebound.is_valid()
    return {
        "current": exc.current,
        "changes": changes_since(exc.current, loaded_version),
    }, rebound


@login_required
@require_POST
def markdown_preview(request):
    """Render one Markdown field exactly as the incident page will (sanitised)."""
    if not permissions.can_create(request.user):
        raise PermissionDenied
    field = request.POST.get("field", "")
    text = request.POST.get(field, "") if field in MARKDOWN_FIELDS else request.POST.get("text", "")
    too_deep = limits.nesting_problem(text)  # the renderer would recurse past its stack
    if too_deep:
        return HttpResponse(f'<p class="error">{escape(too_deep)}</p>', status=400)
    html = render_markdown(text)
    return HttpResponse(html or '<p class="muted">Nothing to preview yet.</p>')
