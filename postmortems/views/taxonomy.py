"""Taxonomy pages: every change type and failure category, and the incidents of each.

Every count and list covers only the incidents the viewer may see.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from postmortems import analytics
from postmortems.models import ChangeType, Factor, FailureCategory, Incident
from postmortems.tallies import counting_for
from postmortems.views.vendors import incident_table_context


@login_required
@require_GET
def taxonomy(request: HttpRequest) -> HttpResponse:
    counting = counting_for(request.user)
    context = {
        "nav": "taxonomy",
        "change_types": analytics.change_type_counts(counting),
        "category_groups": analytics.category_counts_by_parent(counting),
    }
    return render(request, "postmortems/taxonomy.html", context)


@login_required
@require_GET
def change_type_detail(request: HttpRequest, slug: str) -> HttpResponse:
    change_type = get_object_or_404(ChangeType, slug=slug)
    links = Incident.change_types.through.objects.filter(changetype=change_type)
    incidents = Incident.objects.visible_to(request.user).filter(id__in=links.values("incident_id"))
    context = {
        "nav": "taxonomy",
        "change_type": change_type,
        "incident_total": analytics.label_incident_total(
            counting_for(request.user), change_type=change_type
        ),
        **incident_table_context(request, incidents),
    }
    return render(request, "postmortems/change_type_detail.html", context)


@login_required
@require_GET
def category_detail(request: HttpRequest, slug: str) -> HttpResponse:
    category = get_object_or_404(
        FailureCategory.objects.select_related("parent").prefetch_related("children"), slug=slug
    )
    visible = Incident.objects.visible_to(request.user)
    counting = counting_for(request.user)
    # A subquery, not a join: an incident citing the category twice is listed once.
    incidents = visible.filter(pk__in=Factor.objects.filter(category=category).values("incident"))
    context = {
        "nav": "taxonomy",
        "category": category,
        "incident_total": analytics.label_incident_total(counting, category=category),
        "role_counts": analytics.category_role_counts(category, counting),
        **incident_table_context(request, incidents),
    }
    return render(request, "postmortems/category_detail.html", context)
