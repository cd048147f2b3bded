"""Filters of the pattern list (the API's ``/api/patterns/``)."""

from __future__ import annotations

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from patterns.attributes import CATEGORY_PREFIX, CHANGE_TYPE_PREFIX, CONTRIBUTING_PREFIX
from patterns.models import Pattern, PatternQuerySet
from postmortems.models import ChangeType, FailureCategory, Vendor

VOCABULARIES = {
    CHANGE_TYPE_PREFIX: ChangeType,
    CATEGORY_PREFIX: FailureCategory,
    CONTRIBUTING_PREFIX: FailureCategory,
}


class AttributeListField(forms.Field):
    """Repeated (``?attribute=a&attribute=b``) or comma-separated attributes of existing terms."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[str]:
        values = value if isinstance(value, list | tuple) else [value] if value else []
        return [part.strip() for v in values for part in str(v).split(",") if part.strip()]

    def validate(self, value: list[str]) -> None:
        super().validate(value)
        for attribute in value:
            prefix = next((p for p in VOCABULARIES if attribute.startswith(p)), None)
            if prefix is None:
                raise ValidationError(
                    "“%(value)s” is not an attribute: use ct:<change type>, cat:<category> or "
                    "cf:<category as a contributing factor>.",
                    params={"value": attribute},
                )
            slug = attribute.removeprefix(prefix)
            if not VOCABULARIES[prefix].objects.filter(slug=slug).exists():
                raise ValidationError(
                    "No change type or category “%(value)s”.", params={"value": attribute}
                )


@extend_schema_field(OpenApiTypes.STR)
class AttributeFilter(django_filters.Filter):
    field_class = AttributeListField

    def filter(self, queryset, value: list[str]):
        # The attributes of the combinations folded into a pattern count too: its members
        # share them all, and no other pattern is left to find them by.
        return queryset.filter(shared_attributes__contains=value) if value else queryset


def vendor_exists(slug: str) -> None:
    if not Vendor.objects.filter(slug=slug).exists():
        # Input goes in params: django-filter %-formats every message.
        raise ValidationError("No vendor with the slug “%(slug)s”.", params={"slug": slug})


class PatternFilterSet(django_filters.FilterSet):
    attribute = AttributeFilter(
        help_text="Patterns whose incidents share every attribute given (the pattern's own "
        "or those of the combinations folded into it), e.g. `ct:config-change`, "
        "`cat:non-staged-rollout`, or `cf:non-staged-rollout` (as a contributing factor); "
        "repeat the parameter or separate with commas.",
    )
    variants = django_filters.BooleanFilter(
        method="filter_variants",
        help_text="`true` lists every pattern, variants included; by default each family "
        "is listed once, by its head (a variant's `variant_of` names its head).",
    )
    vendor = django_filters.CharFilter(
        method="filter_vendor",
        validators=[vendor_exists],
        help_text="Patterns whose incidents involve this vendor (its slug).",
    )
    min_support = django_filters.NumberFilter(
        field_name="support",
        lookup_expr="gte",
        min_value=1,
        max_value=10**9,
        help_text="Only patterns shared by at least this many incidents. Default: the "
        "PATTERN_MIN_SUPPORT setting; combinations are stored from 2 incidents up.",
    )

    class Meta:
        model = Pattern
        fields: list[str] = []

    @property
    def qs(self) -> PatternQuerySet:
        queryset = super().qs
        # Without min_support the configured minimum applies: a combination seen only
        # twice is "emerging", not a pattern, unless asked for.
        if self.form.cleaned_data.get("min_support") is None:
            queryset = queryset.recurring()
        # Each family once unless variants are asked for.
        if not self.form.cleaned_data.get("variants"):
            queryset = queryset.families()
        return queryset

    def filter_variants(self, queryset, name, value):
        return queryset  # applied in ``qs``, after the other filters

    def filter_vendor(self, queryset, name, value: str):
        return queryset.filter(vendors__contains=[value])
