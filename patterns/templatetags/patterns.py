"""Panels other apps' pages include, so that ``postmortems`` never imports ``patterns``."""

from django import template
from django.conf import settings

from patterns import insights

register = template.Library()


@register.inclusion_tag("patterns/_incident_panels.html")
def incident_pattern_panels(incident):
    return {
        "incident": incident,
        "insights": insights.incident_insights(incident),
        "min_support": settings.PATTERN_MIN_SUPPORT,
    }


@register.inclusion_tag("patterns/_vendor_recurrences.html")
def vendor_recurrence_panel(vendor):
    return {"vendor": vendor, "recurrences": insights.vendor_recurrences(vendor)}


@register.inclusion_tag("patterns/_vendor_patterns.html")
def vendor_pattern_panel(vendor):
    return {"vendor": vendor, "patterns": insights.vendor_patterns(vendor)}


@register.filter
def fixes(count: int) -> str:
    """'recurred after 3 completed action items'."""
    return f"recurred after {count} completed action item{'s' if count != 1 else ''}"


@register.filter
def percent(share: float) -> str:
    """0.83 -> "83%"."""
    return f"{round(share * 100)}%"
