"""Vendor pages: the list with incident counts, one vendor's record, and adding a vendor.

Every count and list covers only the incidents the viewer may see.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template import Template
from django.utils.html import format_html
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import reswap, retarget, trigger_client_event

from core.pagination import InvalidCursor
from imports.forms import StatusSourceForm
from postmortems import analytics
from postmortems.analytics import VendorSort
from postmortems.choices import ReviewStatus
from postmortems.forms_vendors import VendorFilterForm, VendorForm, slug_taken_message
from postmortems.models import Incident, IncidentVendor, Vendor
from postmortems.tallies import counting_for
from postmortems.views.incidents import list_page

VENDORS_PER_PAGE = 100
VENDOR_FORM_ID = "vendor-form"
# _vendor_form.html extends this when htmx asks for the bare fragment, and
# base.html otherwise: one template serves the page and the editor's popover.
FRAGMENT_LAYOUT = Template("{% block content %}{% endblock %}")


def incident_table_context(request: HttpRequest, incidents: QuerySet[Incident]) -> dict:
    """The requested page of ``incidents``, newest first (an unknown start last), as
    _incident_table.html expects: a keyset page, so page 1,000 of a vendor's 200,000
    incidents costs what page 1 does, and no request counts them."""
    ordered = incidents.with_summary()
    cursor_error = ""
    try:
        page = list_page(ordered, "newest", request.GET.get("cursor"))
    except InvalidCursor as exc:
        page, cursor_error = list_page(ordered, "newest", None), str(exc)
    return {"page": page, "cursor_error": cursor_error, "ReviewStatus": ReviewStatus}


@login_required
@require_GET
def vendor_list(request: HttpRequest) -> HttpResponse:
    form = VendorFilterForm(request.GET)
    kind, sort = form.selection()
    rows = analytics.vendor_incident_counts(counting_for(request.user), kind=kind, sort=sort)
    # Counted and sorted whole (a list in memory), shown a page at a time: rendering two
    # thousand rows cost a second.
    page = Paginator(rows, VENDORS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "nav": "vendors",
        "form": form,
        "rows": page.object_list,
        "page": page,
        "sort": sort,
        "VendorSort": VendorSort,
    }
    return render(request, "postmortems/vendor_list.html", context)


@login_required
@require_GET
def vendor_detail(request: HttpRequest, slug: str) -> HttpResponse:
    vendor = get_object_or_404(Vendor.objects.prefetch_related("services"), slug=slug)
    # A semi-join: an incident is one row however its vendor links are read.
    links = IncidentVendor.objects.filter(vendor=vendor).values("incident_id")
    incidents = Incident.objects.visible_to(request.user).filter(id__in=links)
    counting = counting_for(request.user)
    context = {
        "nav": "vendors",
        "vendor": vendor,
        "incident_total": analytics.vendor_incident_total(vendor, counting),
        "downtime": analytics.vendor_downtime_by_year(vendor, counting),
        "unknown_duration_count": analytics.vendor_unknown_duration_count(vendor, counting),
        "top_change_types": analytics.top_change_types(vendor, counting),
        "top_categories": analytics.top_categories(vendor, counting),
        "status_sources": list(vendor.status_sources.all()),
        "source_form": StatusSourceForm(),
        **incident_table_context(request, incidents),
    }
    return render(request, "postmortems/vendor_detail.html", context)


@login_required
@permission_required("postmortems.add_vendor", raise_exception=True)
@require_http_methods(["GET", "POST"])
# One URL answers with a page or a fragment: caches must tell them apart.
@vary_on_headers("HX-Request")
def vendor_create(request: HttpRequest) -> HttpResponse:
    """Add a vendor, as a page or as the incident editor's "new vendor" popover (htmx).

    Without htmx: GET shows the form page; a valid POST redirects to the new
    vendor's page; an invalid one shows the form again with its errors.

    With htmx (``HX-Request``), the contract the incident editor relies on:

    - GET returns only the form fragment (``postmortems/_vendor_form.html``):
      ``<section id="vendor-form">`` holding a form that posts here with
      ``hx-post`` (and a plain ``action``, so it works without htmx). It sets
      no ``hx-target``: the editor sets ``hx-target``/``hx-swap`` on an
      ancestor (htmx inherits them), e.g. ``hx-target="#id_vendors"
      hx-swap="beforeend"``, and must place it outside its own ``<form>``.
    - A valid POST returns ``<option value="{id}" selected>{name}</option>``
      (status 200) for that target, and the header
      ``HX-Trigger: {"vendorCreated": {"id": <id>, "name": "<name>"}}``, an
      event on the form that bubbles, so the editor can close the popover or
      update its own vendor list.
    - An invalid POST returns the form fragment with its errors (status 200, so
      htmx swaps it) and ``HX-Retarget: #vendor-form`` with
      ``HX-Reswap: outerHTML``: the errors replace the form, never land in the
      select.

    Needs ``postmortems.add_vendor``; anyone else gets 403.
    """
    form = VendorForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        vendor = _save_vendor(form)
        if vendor is not None:
            return _vendor_created(request, vendor)
    return _vendor_form_response(request, form)


def _save_vendor(form: VendorForm) -> Vendor | None:
    try:
        with transaction.atomic():
            return form.save()
    except IntegrityError:
        # Someone took the slug between validation and the insert.
        form.add_error("slug", slug_taken_message(form.instance.slug, "another vendor"))
        return None


def _vendor_created(request: HttpRequest, vendor: Vendor) -> HttpResponse:
    if not request.htmx:
        messages.success(request, f"Vendor {vendor.name} added.")
        return redirect("postmortems:vendor-detail", slug=vendor.slug)
    response = HttpResponse(
        format_html('<option value="{}" selected>{}</option>', vendor.id, vendor.name)
    )
    return trigger_client_event(response, "vendorCreated", {"id": vendor.id, "name": vendor.name})


def _vendor_form_response(request: HttpRequest, form: VendorForm) -> HttpResponse:
    context = {
        "nav": "vendors",
        "form": form,
        "form_id": VENDOR_FORM_ID,
        "layout": FRAGMENT_LAYOUT if request.htmx else "base.html",
    }
    response = render(request, "postmortems/_vendor_form.html", context)
    if request.htmx and form.is_bound:
        retarget(response, f"#{VENDOR_FORM_ID}")
        reswap(response, "outerHTML")
    return response
