"""In-place editors for an incident's factors, action items and sources.

They sit on the incident's edit page, outside its main form, each in its own
section (``#factors-section``, ``#action-items-section``, ``#sources-section``).
The edit page renders them with ``factor_editor_context`` and friends; every
endpoint here answers an htmx request with its section's fragment, and a plain
request with a redirect to the edit page (or, to show a form or its errors, a
small page around the same fragment, so everything works without JavaScript).

Invalid input: htmx does not swap 4xx responses by default, so an htmx request
gets 200 with the errors shown in the fragment it swaps in; a plain form post
gets 400 with the same errors, so that clients and tests see the failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db.models import BooleanField, ExpressionWrapper, Q
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_http_methods, require_POST

from postmortems import services_parts
from postmortems.choices import ActionItemStatus, FactorRole
from postmortems.forms_parts import (
    ActionItemForm,
    FactorForm,
    SourceForm,
    category_groups,
    owner_candidates,
)
from postmortems.models import ActionItem, Factor, FailureCategory, Incident, Source
from postmortems.shortcuts import get_incident_for

NEW = "new"  # the add form's prefix; edit forms use the row's pk, so ids never clash

FACTOR_HEADINGS = {
    FactorRole.ROOT_CAUSE: "Root causes",
    FactorRole.CONTRIBUTING: "Contributing factors",
    FactorRole.MITIGATING: "Mitigating factors",
}
# The statuses in which a follow-up past its due date is overdue.
UNFINISHED = (ActionItemStatus.OPEN, ActionItemStatus.IN_PROGRESS)


@dataclass(frozen=True)
class Part:
    """Where one kind of part is rendered: its fragment, the page around it, its section."""

    editor: str
    page: str
    section: str


FACTORS = Part("postmortems/_factor_editor.html", "postmortems/_factor_page.html", "factors")
ACTION_ITEMS = Part(
    "postmortems/_action_item_editor.html", "postmortems/_action_item_page.html", "action-items"
)
SOURCES = Part("postmortems/_source_editor.html", "postmortems/_source_page.html", "sources")


@dataclass
class FactorGroup:
    role: str
    heading: str
    factors: list[Factor]


# --- Context for the edit page -------------------------------------------------
# Keys are prefixed by the part, so the edit page can merge all three dicts.


def factor_editor_context(
    incident: Incident,
    *,
    form: FactorForm | None = None,
    edit_form: FactorForm | None = None,
    notice: str = "",
) -> dict:
    """The factor editor's context, in four queries (the factors, their evidence, the
    taxonomy, the timeline to cite), plus the evidence of the factor being edited."""
    factors = list(
        Factor.objects.filter(incident=incident)
        .select_related("category")
        .prefetch_related("evidence")
    )
    groups = category_groups(list(FailureCategory.objects.all()))
    events = list(incident.events.all())
    if form is None:
        next_position = max((f.position for f in factors), default=-1) + 1
        form = FactorForm(
            prefix=f"factor-{NEW}", initial={"position": next_position}, incident=incident
        )
    for each in (form, edit_form):
        if each is not None:
            each.use_categories(groups)
            each.use_events(events)
    return {
        "incident": incident,
        "factor_groups": [
            FactorGroup(role, FACTOR_HEADINGS[role], [f for f in factors if f.role == role])
            for role in FactorRole
        ],
        "factor_form": form,
        "factor_edit_form": edit_form,
        "factor_editing_id": edit_form.instance.pk if edit_form else None,
        "factor_category_groups": groups,
        "factor_notice": notice,
    }


def action_item_editor_context(
    incident: Incident,
    *,
    form: ActionItemForm | None = None,
    edit_form: ActionItemForm | None = None,
    notice: str = "",
) -> dict:
    """The action item editor's context, in two queries (the items, the possible owners)."""
    # Today in the viewer's own zone, the one they read due dates in.
    overdue = Q(due_date__lt=timezone.localdate(), status__in=UNFINISHED)
    items = (
        ActionItem.objects.filter(incident=incident)
        .select_related("owner")
        .annotate(is_overdue=ExpressionWrapper(overdue, output_field=BooleanField()))
    )
    owners = list(owner_candidates(incident))
    form = form or ActionItemForm(prefix=f"action-item-{NEW}")
    for each in (form, edit_form):
        if each is not None:
            each.use_owners(owners)
    return {
        "incident": incident,
        "action_items": list(items),
        "action_item_form": form,
        "action_item_edit_form": edit_form,
        "action_item_editing_id": edit_form.instance.pk if edit_form else None,
        "action_item_notice": notice,
    }


def source_editor_context(
    incident: Incident, *, form: SourceForm | None = None, notice: str = ""
) -> dict:
    """The source editor's context, in one query."""
    return {
        "incident": incident,
        "sources": list(Source.objects.filter(incident=incident)),
        "source_form": form or SourceForm(prefix=f"source-{NEW}"),
        "source_notice": notice,
    }


# --- Responses shared by every part --------------------------------------------


def _section(
    request: HttpRequest, part: Part, context: dict, *, invalid: bool = False
) -> HttpResponse:
    """The part's fragment for htmx; without htmx, a page around it (400 if input was invalid)."""
    if request.htmx:
        # 200 even when invalid: htmx would not swap a 4xx, and the errors would stay hidden.
        response = render(request, part.editor, context)
    else:
        response = render(request, part.page, context, status=400 if invalid else 200)
    # The same URL answers with a fragment or a page; caches must tell them apart.
    patch_vary_headers(response, ["HX-Request"])
    return response


def _saved(
    request: HttpRequest,
    part: Part,
    incident: Incident,
    build_context: Callable[..., dict],
    notice: str,
) -> HttpResponse:
    """After a write: the fresh fragment for htmx, else back to the edit page at the section."""
    if request.htmx:
        return _section(request, part, build_context(incident, notice=notice))
    messages.success(request, notice)
    edit_url = reverse("postmortems:incident-edit", args=[incident.slug])
    return redirect(f"{edit_url}#{part.section}-section")


def _write(form: BaseForm, write: Callable[[], object]) -> bool:
    """Run a service write; its validation errors become the form's errors."""
    try:
        write()
    except ValidationError as error:
        if not hasattr(error, "error_dict"):
            form.add_error(None, error)
            return False
        for name, errors in error.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
        return False
    return True


def _editable_incident(request: HttpRequest, slug: str) -> Incident:
    # 404 for an incident they may not see, 403 for one they may see but not edit.
    return get_incident_for(request.user, slug, edit=True)


# --- Factors ---------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def factor_create(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: the factor editor (htmx swaps a row back after Cancel). POST: add a factor."""
    incident = _editable_incident(request, slug)
    if request.method == "GET":
        return _section(request, FACTORS, factor_editor_context(incident))
    form = FactorForm(request.POST, prefix=f"factor-{NEW}", incident=incident)
    if form.is_valid() and _write(
        form,
        lambda: services_parts.add_factor(
            incident=incident, user=request.user, **form.cleaned_data
        ),
    ):
        return _saved(request, FACTORS, incident, factor_editor_context, "Factor added.")
    return _section(request, FACTORS, factor_editor_context(incident, form=form), invalid=True)


@login_required
@require_http_methods(["GET", "POST"])
def factor_edit(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """GET: the row as an inline form. POST: save the edit."""
    incident = _editable_incident(request, slug)
    factor = get_object_or_404(Factor, pk=pk, incident=incident)
    if request.method == "GET":
        return _factor_edit_form(request, incident, factor)
    form = FactorForm(
        request.POST, instance=factor, prefix=f"factor-{factor.pk}", incident=incident
    )
    if form.is_valid() and _write(
        form,
        lambda: services_parts.update_factor(factor=factor, user=request.user, **form.cleaned_data),
    ):
        return _saved(request, FACTORS, incident, factor_editor_context, "Factor saved.")
    context = factor_editor_context(incident, edit_form=form)
    return _section(request, FACTORS, context, invalid=True)


def _factor_edit_form(request: HttpRequest, incident: Incident, factor: Factor) -> HttpResponse:
    form = FactorForm(instance=factor, prefix=f"factor-{factor.pk}", incident=incident)
    if not request.htmx:
        # Without JavaScript, the whole editor with this row open is the edit page.
        return _section(request, FACTORS, factor_editor_context(incident, edit_form=form))
    form.use_categories(category_groups(list(FailureCategory.objects.all())))
    form.use_events(list(incident.events.all()))
    context = {
        "incident": incident,
        "factor": factor,
        "factor_edit_form": form,
        "factor_editing_id": factor.pk,
    }
    return render(request, "postmortems/_factor_row.html", context)


@login_required
@require_POST
def factor_delete(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    incident = _editable_incident(request, slug)
    factor = get_object_or_404(Factor, pk=pk, incident=incident)
    services_parts.delete_factor(factor=factor, user=request.user)
    return _saved(request, FACTORS, incident, factor_editor_context, "Factor deleted.")


# --- Action items ----------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def action_item_create(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: the action item editor. POST: add an action item."""
    incident = _editable_incident(request, slug)
    if request.method == "GET":
        return _section(request, ACTION_ITEMS, action_item_editor_context(incident))
    form = ActionItemForm(request.POST, prefix=f"action-item-{NEW}", incident=incident)
    if form.is_valid() and _write(
        form,
        lambda: services_parts.add_action_item(
            incident=incident, user=request.user, **form.cleaned_data
        ),
    ):
        notice = "Action item added."
        return _saved(request, ACTION_ITEMS, incident, action_item_editor_context, notice)
    context = action_item_editor_context(incident, form=form)
    return _section(request, ACTION_ITEMS, context, invalid=True)


@login_required
@require_http_methods(["GET", "POST"])
def action_item_edit(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """GET: the row as an inline form. POST: save the edit."""
    incident = _editable_incident(request, slug)
    item = get_object_or_404(ActionItem, pk=pk, incident=incident)
    if request.method == "GET":
        return _action_item_edit_form(request, incident, item)
    form = ActionItemForm(
        request.POST, instance=item, prefix=f"action-item-{item.pk}", incident=incident
    )
    if form.is_valid() and _write(
        form,
        lambda: services_parts.update_action_item(
            item=item, user=request.user, **form.cleaned_data
        ),
    ):
        notice = "Action item saved."
        return _saved(request, ACTION_ITEMS, incident, action_item_editor_context, notice)
    context = action_item_editor_context(incident, edit_form=form)
    return _section(request, ACTION_ITEMS, context, invalid=True)


def _action_item_edit_form(
    request: HttpRequest, incident: Incident, item: ActionItem
) -> HttpResponse:
    form = ActionItemForm(instance=item, prefix=f"action-item-{item.pk}", incident=incident)
    if not request.htmx:
        context = action_item_editor_context(incident, edit_form=form)
        return _section(request, ACTION_ITEMS, context)
    form.use_owners(list(owner_candidates(incident)))
    context = {
        "incident": incident,
        "item": item,
        "action_item_edit_form": form,
        "action_item_editing_id": item.pk,
    }
    return render(request, "postmortems/_action_item_row.html", context)


@login_required
@require_POST
def action_item_delete(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    incident = _editable_incident(request, slug)
    item = get_object_or_404(ActionItem, pk=pk, incident=incident)
    services_parts.delete_action_item(item=item, user=request.user)
    notice = "Action item deleted."
    return _saved(request, ACTION_ITEMS, incident, action_item_editor_context, notice)


# --- Sources ---------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def source_create(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: the source editor. POST: add a source (a URL already listed is a form error)."""
    incident = _editable_incident(request, slug)
    if request.method == "GET":
        return _section(request, SOURCES, source_editor_context(incident))
    form = SourceForm(request.POST, prefix=f"source-{NEW}")
    if form.is_valid() and _write(
        form, lambda: services_parts.add_source(incident=incident, **form.cleaned_data)
    ):
        return _saved(request, SOURCES, incident, source_editor_context, "Source added.")
    return _section(request, SOURCES, source_editor_context(incident, form=form), invalid=True)


@login_required
@require_POST
def source_delete(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    incident = _editable_incident(request, slug)
    source = get_object_or_404(Source, pk=pk, incident=incident)
    services_parts.delete_source(source=source)
    return _saved(request, SOURCES, incident, source_editor_context, "Source deleted.")
