"""Template filters shared by every page: safe Markdown, durations, times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html

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
