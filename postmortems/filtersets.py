"""One filterset for incidents, shared by the HTML list and the API (query-string names)."""

from __future__ import annotations

from html import escape

import django_filters
from django import forms
from django.contrib.postgres.search import SearchQuery, SearchRank
from django.db.models import F, QuerySet
from django.forms.utils import flatatt
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from postmortems.choices import ReviewStatus, Severity
from postmortems.models import (
    SEARCH_CONFIG,
    ChangeType,
    Factor,
    FailureCategory,
    Incident,
    IncidentVendor,
    Vendor,
)


def search_query(text: str) -> SearchQuery:
    # websearch syntax is what people type into search boxes: quotes for
    # phrases, "or", and -word to exclude; it never raises on odd input.
    return SearchQuery(text, search_type="websearch", config=SEARCH_CONFIG)


def chosen(value) -> bool:
    """Whether a multiple-choice filter was given any choice. Its empty value is the
    queryset's ``none()``, whose truth Django finds only by compiling it."""
    if isinstance(value, QuerySet):
        return not value.query.is_empty()
    return bool(value)


class NamedOptions(forms.SelectMultiple):
    """A multiple select over a model's rows by slug, labelled by name, written in one pass.

    Django renders each option through a template and builds a model instance per row:
    for the 2,000 vendors of a large knowledge base, that was most of the list page's
    time. Only the choices differ: the field still validates against its queryset.
    """

    def __init__(self, model, attrs=None) -> None:
        super().__init__(attrs)
        self.model = model

    def render(self, name, value, attrs=None, renderer=None) -> str:
        chosen = {str(v) for v in (value or [])}
        rows = self.model._default_manager.values_list("slug", "name")
        # The standard library's escape: Django's, per value, cost as much as the rest.
        options = "".join(
            f'<option value="{escape(slug)}"{" selected" if slug in chosen else ""}>'
            f"{escape(label)}</option>"
            for slug, label in rows
        )
        final = self.build_attrs(self.attrs, {**(attrs or {}), "name": name})
        return format_html("<select multiple{}>{}</select>", flatatt(final), mark_safe(options))


class IncidentFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_search", label="Search")
    # Many-to-many filters are semi-joins (id IN subquery): an incident matching
    # twice still appears once, and no DISTINCT is needed over the whole row.
    vendor = django_filters.ModelMultipleChoiceFilter(
        to_field_name="slug",
        queryset=Vendor.objects.all(),
        widget=NamedOptions(Vendor),
        method="filter_vendor",
        label="Vendor",
    )
    change_type = django_filters.ModelMultipleChoiceFilter(
        to_field_name="slug",
        queryset=ChangeType.objects.all(),
        widget=NamedOptions(ChangeType),
        method="filter_change_type",
        label="Change type",
    )
    category = django_filters.ModelMultipleChoiceFilter(
        to_field_name="slug",
        queryset=FailureCategory.objects.all(),
        widget=NamedOptions(FailureCategory),
        method="filter_category",
        label="Failure category",
    )
    # A column of the incident itself: no join, so no DISTINCT (which sorted every match).
    severity = django_filters.MultipleChoiceFilter(choices=Severity.choices, distinct=False)
    status = django_filters.MultipleChoiceFilter(
        choices=ReviewStatus.choices, label="Review status", distinct=False
    )
    started_after = django_filters.DateFilter(
        field_name="started_at",
        lookup_expr="date__gte",
        label="Started on or after",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    started_before = django_filters.DateFilter(
        field_name="started_at",
        lookup_expr="date__lte",
        label="Started on or before",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    updated_since = django_filters.IsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", label="Updated since"
    )

    class Meta:
        model = Incident
        fields: list[str] = []

    # django-filter calls these with an empty value too: nothing is built for it (building
    # the three unused subqueries cost a fifth of a selective search's time).
    def filter_vendor(self, queryset, name, value):
        if not chosen(value):
            return queryset
        links = IncidentVendor.objects.filter(vendor__in=value).values("incident_id")
        return queryset.filter(id__in=links)

    def filter_change_type(self, queryset, name, value):
        if not chosen(value):
            return queryset
        links = Incident.change_types.through.objects.filter(changetype__in=value)
        return queryset.filter(id__in=links.values("incident_id"))

    def filter_category(self, queryset, name, value):
        if not chosen(value):
            return queryset
        factors = Factor.objects.filter(category__in=value).values("incident_id")
        return queryset.filter(id__in=factors)

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not chosen(value):
            return queryset
        query = search_query(value)
        return queryset.filter(search_vector=query).annotate(
            rank=SearchRank(F("search_vector"), query)
        )
