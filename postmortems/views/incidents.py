"""Reading postmortems: the searchable list, the incident page and its Markdown export."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string

from core.pagination import InvalidCursor, SortKey, keyset_page, rows_in_order
from postmortems import facets, permissions, search
from postmortems.choices import FactorRole
from postmortems.facets import incident_facets
from postmortems.filtersets import IncidentFilterSet, chosen
from postmortems.history import incident_history
from postmortems.models import Factor, Incident, IncidentVendor
from postmortems.search import newest_ids, ranked_candidates, search_snippets
from postmortems.shortcuts import get_incident_for
from postmortems.views.incident_body import incident_body
from postmortems.views.same_outage import same_outage_panel
from timeline.models import TimelineEvent
from timeline.presentation import timeline_display_context

PAGE_SIZE = 25
SORTS = {
    # Undated incidents (some imports, near misses found in testing) come last.
    "newest": ("Newest first", SortKey(("started_at", "id"), descending=True)),
    "oldest": ("Oldest first", SortKey(("started_at", "id"), descending=False)),
    "updated": ("Recently updated", SortKey(("updated_at", "id"), descending=True)),
    "relevance": ("Best match", SortKey(("rank", "id"), descending=True)),
}


def chosen_sort(request, searching: bool) -> str:
    sort = request.GET.get("sort") or ("relevance" if searching else "newest")
    if sort not in SORTS or (sort == "relevance" and not searching):
        sort = "newest"
    return sort


@login_required
def incident_list(request):
    """Home: search, filter, facet and page through the postmortems the user may see."""
    visible = Incident.objects.visible_to(request.user)
    filterset = IncidentFilterSet(request.GET or None, queryset=visible)
    results = filterset.qs if filterset.is_bound and filterset.is_valid() else visible
    text = filterset.form.cleaned_data.get("q", "") if filterset.is_bound else ""
    searching = bool(text and filterset.is_valid())
    sort = chosen_sort(request, searching)
    newest = None
    if sort == "relevance":
        # The newest matches, read once: both what "best match" ranks and what the
        # facets count.
        newest = newest_ids(results, max(search.RANKED, facets.CAP + 1))
        results_shown = ranked_candidates(results, newest)
    else:
        results_shown = results
    ordered = results_shown.with_summary()
    try:
        page = list_page(ordered, sort, request.GET.get("cursor"))
        cursor_error = ""
    except InvalidCursor as exc:
        page = list_page(ordered, sort, None)
        cursor_error = str(exc)
    snippets = search_snippets([i.id for i in page.items], text) if searching else {}
    context = {
        "nav": "incidents",
        "filterset": filterset,
        "page": page,
        "rows": [(incident, snippets.get(incident.id)) for incident in page.items],
        "facets": incident_facets(
            request.user, results, filtered=is_filtered(filterset), newest=newest
        ),
        "ranked_limit": search.RANKED,
        "sort": sort,
        "sorts": [
            (key, label) for key, (label, _) in SORTS.items() if key != "relevance" or searching
        ],
        "searching": searching,
        "query_without_cursor": _query_without(request, "cursor"),
        # A new search keeps the filters chosen (but starts from the first page).
        "kept_filters": [
            (k, v) for k in request.GET if k not in ("q", "cursor") for v in request.GET.getlist(k)
        ],
        "query_without_sort": _query_without(request, "cursor", "sort"),
        "cursor_error": cursor_error,
        "invalid": filterset.is_bound and not filterset.is_valid(),
    }
    status = 400 if context["invalid"] else 200
    return render(request, "postmortems/incident_list.html", context, status=status)


def is_filtered(filterset: IncidentFilterSet) -> bool:
    if not (filterset.is_bound and filterset.is_valid()):
        return False
    return any(chosen(value) for value in filterset.form.cleaned_data.values())


def list_page(incidents, sort: str, cursor: str | None):
    return keyset_page(
        incidents,
        key=SORTS[sort][1],
        cursor=cursor,
        size=PAGE_SIZE,
        read_rows=lambda ids: rows_in_order(incidents, ids),
    )


def _query_without(request, *names: str) -> str:
    query = request.GET.copy()
    for name in names:
        query.pop(name, None)
    return query.urlencode()


def detail_queryset():
    """Everything the incident page shows, in a fixed number of queries."""
    return Incident.objects.prefetch_related(
        "incident_vendors__vendor",
        "services__vendor",
        "change_types",
        Prefetch(
            "factors",
            queryset=Factor.objects.select_related("category__parent").prefetch_related("evidence"),
        ),
        "action_items__owner",
        "sources",
        "review_actions__actor",
        "reviewers",
    )


def header_queryset():
    """What the page's header and review panel show, and who may do what (the body's
    text is read only when the body is rendered)."""
    return Incident.objects.defer(*BODY_ONLY_COLUMNS).prefetch_related(
        Prefetch("incident_vendors", queryset=IncidentVendor.objects.select_related("vendor")),
        "services",
        "review_actions__actor",
        "reviewers",
    )


BODY_ONLY_COLUMNS = (
    "summary", "impact", "analysis", "lessons", "raw_payload", "imported_values", "search_vector",
)  # fmt: skip


@login_required
def incident_detail(request, slug: str):
    incident = get_incident_for(request.user, slug, queryset=header_queryset())
    can_edit = permissions.can_edit(request.user, incident)
    context = {
        "nav": "incidents",
        "incident": incident,
        "can_edit": can_edit,
        # Depends on who reads (what they may see and do), so never part of the cached body.
        "same_outage": same_outage_panel(request.user, incident, can_edit=can_edit),
        "can_submit": permissions.can_submit(request.user, incident),
        "can_review": permissions.can_review(request.user, incident),
        "edited_after_publication": incident.edited_after_publication,
        "body": incident_body(incident, lambda: render_body(request, incident.pk)),
    }
    return render(request, "postmortems/incident_detail.html", context)


def render_body(request, incident_id: int) -> str:
    """The page's body: the postmortem itself, its history and the analysis panels."""
    incident = detail_queryset().get(pk=incident_id)
    events = list(TimelineEvent.objects.filter(incident=incident).for_display())
    factors = list(incident.factors.all())
    context = {
        "incident": incident,
        "factor_groups": [
            (role.label, [f for f in factors if f.role == role])
            for role in FactorRole
            if any(f.role == role for f in factors)
        ],
        "history": incident_history(incident, extra_groups=(timeline_history(incident),)),
        **timeline_display_context(incident, events),
    }
    return render_to_string("postmortems/_incident_body.html", context, request=request)


def timeline_history(incident: Incident) -> tuple:
    records = (
        TimelineEvent.history.filter(incident_id=incident.id)
        .select_related("history_user")
        .order_by("id", "history_date")
    )
    return records, lambda r: f"Timeline event: {r.get_kind_display()}"


@login_required
def incident_export(request, slug: str):
    """The postmortem as one clean Markdown document, for wikis and tickets."""
    incident = get_incident_for(request.user, slug, queryset=detail_queryset())
    events = TimelineEvent.objects.filter(incident=incident)
    factors = list(incident.factors.all())
    text = render_to_string(
        "postmortems/export.md",
        {
            "incident": incident,
            "events": events,
            "root_causes": [f for f in factors if f.role == FactorRole.ROOT_CAUSE],
            "contributing": [f for f in factors if f.role == FactorRole.CONTRIBUTING],
            "mitigating": [f for f in factors if f.role == FactorRole.MITIGATING],
        },
    )
    response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{incident.slug}.md"'
    return response
