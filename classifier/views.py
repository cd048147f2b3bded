"""The triage queue: incidents without taxonomy, most confident suggestions first, accepted
or rejected from the keyboard (``static/js/triage.js``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.dateparse import parse_date
from django.views.decorators.http import require_POST

from classifier import services
from classifier.models import Suggestion
from classifier.suggesting import Suggested, Suggestions
from postmortems import permissions, same_outage
from postmortems import services as postmortem_services
from postmortems.models import ChangeType, FailureCategory, Incident, Vendor

PAGE_SIZE = 25


@dataclass
class Choice:
    suggested: Suggested
    name: str
    ticked: bool


@dataclass
class Row:
    incident: Incident
    suggestions: Suggestions
    choices: list[Choice]
    can_act: bool
    can_publish: bool
    same_outage: list = field(default_factory=list)  # candidate other records of it
    outcome: str = ""
    error: str = ""

    @property
    def evidence(self) -> Suggested | None:
        return next((c.suggested for c in self.choices if c.suggested.evidence), None)


@dataclass
class Filters:
    vendor: Vendor | None
    since: date | None
    until: date | None

    @classmethod
    def from_request(cls, request: HttpRequest) -> Filters:
        slug = request.GET.get("vendor", "")
        vendor = Vendor.objects.filter(slug=slug).first() if slug else None
        return cls(
            vendor,
            parse_date(request.GET.get("since", "")),
            parse_date(request.GET.get("until", "")),
        )

    def apply(self, queryset: QuerySet[Incident]) -> QuerySet[Incident]:
        if self.vendor is not None:
            queryset = queryset.filter(incident_vendors__vendor=self.vendor)
        if self.since is not None:
            queryset = queryset.filter(started_at__date__gte=self.since)
        if self.until is not None:
            queryset = queryset.filter(started_at__date__lte=self.until)
        return queryset


def queue(user, filters: Filters, page: int) -> tuple[list[Suggestion], bool]:
    """A page of the queue: stored suggestions of incidents the user sees, still unlabelled."""
    # Another record of an outage counted by its canonical one needs no labels of its own.
    unlabelled = services.without_taxonomy(Incident.objects.visible_to(user))
    incidents = filters.apply(unlabelled.filter(same_outage_as__isnull=True))
    found = list(
        Suggestion.objects.filter(incident__in=incidents.values("id"))
        .order_by("-top_confidence", "incident_id")
        .select_related("incident")
        .prefetch_related("incident__authors", "incident__incident_vendors__vendor")[
            page * PAGE_SIZE : (page + 1) * PAGE_SIZE + 1
        ]
    )
    return found[:PAGE_SIZE], len(found) > PAGE_SIZE


def make_row(user, incident: Incident, suggestions: Suggestions, names: dict) -> Row:
    choices = [
        Choice(s, names.get(s.label, s.slug), s.confidence >= services.PRETICK)
        for s in suggestions.change_types + suggestions.factors
    ]
    can_act = permissions.can_classify(user, incident)
    return Row(
        incident=incident,
        suggestions=suggestions,
        choices=choices,
        can_act=can_act,
        can_publish=permissions.can_publish_import(user, incident),
        # The same outage recorded elsewhere (a written postmortem, another feed): confirm it
        # here and it is counted once. Bounded: a query or two per row of a 25-row page.
        same_outage=same_outage.candidates(incident, user=user) if can_act else [],
    )


def label_names() -> dict[str, str]:
    names = {f"ct:{slug}": name for slug, name in ChangeType.objects.values_list("slug", "name")}
    for slug, name in FailureCategory.objects.values_list("slug", "name"):
        names[f"f:{slug}:root_cause"] = f"{name} (root cause)"
        names[f"f:{slug}:contributing"] = f"{name} (contributing)"
    return names


@login_required
def triage(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("postmortems.change_incident"):
        raise PermissionDenied("Only authors, reviewers and admins classify incidents.")
    filters = Filters.from_request(request)
    try:
        page = max(0, int(request.GET.get("page", "0")))
    except ValueError:
        page = 0
    found, has_next = queue(request.user, filters, page)
    names = label_names()
    rows = [
        make_row(request.user, s.incident, Suggestions.from_payload(s.payload), names)
        for s in found
    ]
    return render(
        request,
        "classifier/triage.html",
        {
            "rows": rows,
            "filters": filters,
            "vendors": Vendor.objects.order_by("name").only("slug", "name"),
            "page": page,
            "has_next": has_next,
            "nav": "triage",
            "threshold": services.PRETICK,
        },
    )


def _classifiable(request: HttpRequest, slug: str) -> Incident:
    incident = get_object_or_404(
        Incident.objects.visible_to(request.user).prefetch_related("authors"), slug=slug
    )
    if not permissions.can_classify(request.user, incident):
        raise PermissionDenied("You may read this incident but not label it.")
    return incident


def _answer(
    request: HttpRequest, incident: Incident, outcome: str, error: str = ""
) -> HttpResponse:
    """The row, done (htmx swaps it in place), or back to the queue with a message."""
    if request.htmx:
        suggestions = services.suggestions_for(incident)
        row = make_row(request.user, incident, suggestions, label_names())
        row.outcome, row.error = outcome, error
        return render(
            request, "classifier/_triage_row.html", {"row": row, "threshold": services.PRETICK}
        )
    (messages.error if error else messages.success)(request, error or outcome)
    return redirect("classifier:triage")


@login_required
@require_POST
def accept(request: HttpRequest, slug: str) -> HttpResponse:
    incident = _classifiable(request, slug)
    chosen = request.POST.getlist("label")
    publish = request.POST.get("publish") == "on" and permissions.can_publish_import(
        request.user, incident
    )
    try:
        version = int(request.POST.get("version", ""))
    except ValueError:
        return _answer(request, incident, "", "The form lost its version; reload the queue.")
    change_types = [label[3:] for label in chosen if label.startswith("ct:")]
    factors = [tuple(label[2:].split(":", 1)) for label in chosen if label.startswith("f:")]
    try:
        written = services.accept(
            incident=incident,
            user=request.user,
            expected_version=version,
            change_types=change_types,
            factors=factors,
            publish=publish,
        )
    except postmortem_services.EditConflict:
        return _answer(
            request, incident, "", "Someone changed this incident meanwhile; reload to see it."
        )
    except ValidationError as exc:
        return _answer(request, incident, "", " ".join(exc.messages))
    done = f"Accepted {len(chosen)} label{'s' if len(chosen) != 1 else ''}"
    return _answer(request, written, done + (" and published." if publish else "."))


@login_required
@require_POST
def reject(request: HttpRequest, slug: str) -> HttpResponse:
    incident = _classifiable(request, slug)
    services.reject(incident=incident, user=request.user)
    return _answer(request, incident, "Rejected: it leaves the queue unlabelled.")


@login_required
@require_POST
def link(request: HttpRequest, slug: str) -> HttpResponse:
    """Confirm a suggested other record of the same outage: counted once from now on, and
    this incident leaves the queue (its outage is labelled where it is counted)."""
    incident = _classifiable(request, slug)
    other = get_object_or_404(
        Incident.objects.visible_to(request.user), slug=request.POST.get("other", "")
    )
    try:
        canonical = same_outage.link_same_outage(incident=incident, other=other, user=request.user)
    except (PermissionDenied, ValidationError) as exc:
        return _answer(request, incident, "", " ".join(getattr(exc, "messages", exc.args)))
    return _answer(
        request, incident, f"Linked: the same outage as “{canonical.title}”, counted once."
    )
