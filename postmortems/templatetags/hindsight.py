"""Template filters shared by every page: safe Markdown, durations, times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html, strip_tags

from postmortems.rendering import render_body, render_markdown

register = template.Library()


@register.filter
def markdown(text: str):
    return render_markdown(text)


@register.filter
def body(event):
    """An event or any object with ``description`` and ``body_format``."""
    return render_body(event.description, event.body_format)


@register.filter
def duration(value: timedelta | None) -> str:
    """``1 d 10 h 15 min``: precise enough for an outage, short enough for a header."""
    if value is None:
        return "—"
    minutes = int(value.total_seconds() // 60)
    if minutes < 1:
        return f"{int(value.total_seconds())} s"
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [
        f"{days} d" if days else "",
        f"{hours} h" if hours else "",
        f"{minutes} min" if minutes else "",
    ]
    return " ".join(p for p in parts if p)


@register.simple_tag
def when(value: datetime | None, fmt: str = "j M Y H:i"):
    """A time in the viewer's zone, with the UTC time one toggle (or hover) away."""
    if value is None:
        return "—"
    local = timezone.localtime(value)
    utc = value.astimezone(UTC)
    return format_html(
        '<time datetime="{}" title="{} UTC"><span class="t-local">{} {}</span>'
        '<span class="t-utc">{} UTC</span></time>',
        value.isoformat(),
        date_format(utc, fmt),
        date_format(local, fmt),
        local.tzname(),
        date_format(utc, fmt),
    )


@register.simple_tag(takes_context=True)
def toggle_query(context, name: str, value: str) -> str:
    """The current query string with ``name=value`` added, or removed if present.

    Used by facet links; the page cursor is dropped because the results change.
    """
    query = context["request"].GET.copy()
    query.pop("cursor", None)
    values = query.getlist(name)
    if value in values:
        values.remove(value)
    else:
        values.append(value)
    query.setlist(name, values)
    return "?" + query.urlencode()


@register.simple_tag(takes_context=True)
def is_selected(context, name: str, value: str) -> bool:
    return value in context["request"].GET.getlist(name)


@register.filter
def plain_text(event) -> str:
    """An event's text on one line, tags removed: for Markdown list items in exports."""
    text = event.description or ""
    if event.body_format == "html":
        text = strip_tags(text)
    return " ".join(text.split())


@register.filter
def getfield(form, name: str):
    return form[name]
