"""The patterns dashboard and pattern pages: thin views over precomputed tables."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.views.decorators.http import require_POST

from patterns import charts, insights
from patterns.models import Pattern, StatsSnapshot
from patterns.snapshot import dashboard_snapshot
from patterns.tasks import refresh_patterns
from postmortems import permissions
from postmortems.models import ChangeType, FailureCategory, Vendor

MIN_SUPPORT_CHOICES = (2, 3, 5, 10)


def _min_support(request: HttpRequest) -> int:
    try:
        value = int(request.GET.get("min_support", ""))
    except ValueError:
        return settings.PATTERN_MIN_SUPPORT
    # Stored patterns start at 2 incidents; anything lower shows the same.
    return max(value, 2)


@login_required
def dashboard(request: HttpRequest) -> HttpResponse:
    snapshot = dashboard_snapshot()
    stats = snapshot.data if snapshot else None
    min_support = _min_support(request)
    # Auto-classified incidents take part by default: most of a knowledge base is imported,
    # and they are marked wherever they appear; the switch shows what holds without them.
    hand_labelled = request.GET.get("hand_labelled") == "1"
    context = {
        "nav": "patterns",
        "stats": stats,
        "min_support": min_support,
        "hand_labelled": hand_labelled,
        "min_support_choices": sorted({*MIN_SUPPORT_CHOICES, settings.PATTERN_MIN_SUPPORT}),
        "pattern_lists": pattern_lists(snapshot, stats, min_support, hand_labelled),
        "snapshot_sections": snapshot_sections(snapshot) if snapshot else "",
        "computed_at": datetime.fromisoformat(stats["computed_at"]) if stats else None,
        "user_is_admin": permissions.is_admin(request.user),
    }
    return render(request, "patterns/dashboard.html", context)


def pattern_lists(
    snapshot: StatsSnapshot | None, stats: dict | None, min_support: int, hand_labelled: bool
) -> str:
    """The top and emerging patterns, drawn once per refresh, minimum support and time zone.

    Patterns change only when a refresh stores new ones, with a new snapshot in the same
    transaction. Not kept under DEBUG, so a template edit shows at once.
    """

    def draw() -> str:
        context = {
            "stats": stats,
            "min_support": min_support,
            "patterns": insights.top_patterns(min_support, hand_labelled=hand_labelled),
            "emerging": list(insights.emerging_patterns()) if min_support > 2 else [],
        }
        return render_to_string("patterns/_pattern_lists.html", context)

    if snapshot is None or settings.DEBUG:
        return mark_safe(draw())
    version = f"{snapshot.pk}:{snapshot.computed_at.isoformat()}"
    zone = timezone.get_current_timezone_name()
    key = (
        f"patterns:dashboard-lists:{version}:{min_support}:{hand_labelled}:{zone}:{get_language()}"
    )
    html = cache.get(key)
    if html is None:
        html = draw()
        cache.set(key, html, LISTS_SECONDS)
    return mark_safe(html)


# A day: the lists of an older refresh are never asked for again and expire.
LISTS_SECONDS = 24 * 3600


def snapshot_sections(snapshot: StatsSnapshot) -> str:
    """The dashboard's rising, chart and duration sections, drawn once per snapshot.

    They depend on the snapshot alone, and drawing them (thousands of SVG shapes and table
    cells) costs many times what the rest of the page does, so the markup is kept in the
    cache until a refresh stores another snapshot. One entry, replaced rather than added
    to, so old snapshots' markup does not pile up. Not kept under DEBUG, so a template
    edit shows at once.
    """
    key = f"patterns:dashboard-sections:{get_language()}"
    version = (snapshot.pk, snapshot.computed_at)
    cached = None if settings.DEBUG else cache.get(key)
    if cached is not None and cached[0] == version:
        return cached[1]
    stats = snapshot.data
    html = render_to_string(
        "patterns/_snapshot_sections.html",
        {
            "stats": stats,
            "charts": dashboard_charts(stats),
            "duration_labels": [label for _, label in DURATION_LABELS],
            "duration_rows": duration_rows(stats, "change_type"),
        },
    )
    cache.set(key, (version, html), timeout=None)
    return html


def dashboard_charts(stats: dict) -> list[charts.Chart]:
    """The three dashboard charts, built from the stored snapshot (no queries)."""
    monthly, heat = stats["monthly"], stats["heat_map"]
    return [
        charts.stacked_bar_chart(
            title="Incidents per month by change type",
            months=monthly["months"],
            series=[(label, counts) for label, counts in monthly["series"]],
        ),
        charts.distribution_chart(
            title="Time to resolve by change type",
            rows=[
                charts.DistributionRow(
                    label=row["group"],
                    n=row["n"],
                    unknown=row["unknown"],
                    **{q: row[q] for q in ("p10", "p25", "p50", "p75", "p90")},
                )
                for row in stats["resolve_distribution"]
            ],
        ),
        charts.heat_map(
            title="Incidents by vendor and failure category",
            rows=heat["rows"],
            columns=heat["columns"],
            counts=heat["counts"],
        ),
    ]


DURATION_LABELS = (
    ("detect", "Time to detect"),
    ("mitigate", "Time to mitigate"),
    ("resolve", "Time to resolve"),
)


def duration_rows(stats: dict, group_by: str) -> list[dict]:
    """One row per group with detect, mitigate and resolve side by side."""
    cells: dict[str, dict[str, dict]] = {}
    for entry in stats["durations"][group_by]:
        cells.setdefault(entry["group"], {})[entry["duration"]] = {
            "median": charts.format_duration(entry["median"]),
            "p90": charts.format_duration(entry["p90"]),
            "n": entry["n"],
            "unknown": entry["unknown"],
        }
    return [
        {"group": group, "cells": [by_duration[name] for name, _ in DURATION_LABELS]}
        for group, by_duration in cells.items()
    ]


@login_required
def pattern_detail(request: HttpRequest, pk: int) -> HttpResponse:
    # Whatever its support: emerging patterns are linked from the dashboard and incident pages.
    pattern = get_object_or_404(Pattern.objects.select_related("variant_of"), pk=pk)
    quarters = quarter_range(list(pattern.quarter_counts))
    context = {
        "nav": "patterns",
        "pattern": pattern,
        "measure_explained": MEASURE_EXPLAINED.get(pattern.measure, ""),
        "head": pattern.variant_of,
        "variants": list(insights.variants_of(pattern)),
        # With the attributes of the combinations folded into it: every member has them all.
        "attributes": attribute_links(pattern.shared_attributes or pattern.attributes),
        "vendors": pattern_vendor_links(pattern),
        "members": insights.pattern_members(pattern),
        "shown_limit": insights.PATTERN_PAGE_MEMBERS,
        "trend": charts.stacked_bar_chart(
            title="Members per quarter",
            months=quarters,
            series=[("Incidents", [pattern.quarter_counts.get(q, 0) for q in quarters])],
            legend_title="",  # one series: the title says what the bars count
        ),
        "emerging": pattern.support < settings.PATTERN_MIN_SUPPORT,
    }
    return render(request, "patterns/pattern_detail.html", context)


# What each measure tests, in a sentence under the evidence (see ``patterns.evidence``).
MEASURE_EXPLAINED = {
    "association": "Tested against the attributes occurring independently (Fisher's exact "
    "test; for three attributes, beyond the pair they extend).",
    "recurrence": "Tested against the typical contributing factor's share of incidents "
    "(binomial test).",
    "spread": "Tested against its incidents falling on vendors at random, in proportion to "
    "each vendor's incidents.",
}


def pattern_vendor_links(pattern: Pattern) -> str:
    """``vendor_links`` of the pattern, drawn once per refresh (a vendor renamed since shows
    its new name after the next one)."""
    key = f"patterns:vendor-links:{pattern.pk}:{pattern.computed_at.isoformat()}"
    html = None if settings.DEBUG else cache.get(key)
    if html is None:
        html = vendor_links(pattern.vendors)
        cache.set(key, html, LISTS_SECONDS)
    return mark_safe(html)


def vendor_links(slugs: list[str]) -> str:
    """Every vendor of a pattern as links, alphabetically, written in one pass.

    A large pattern names thousands of vendors: one URL reversed and filled in per vendor,
    not a template tag and a resolver call each.
    """
    names = Vendor.objects.filter(slug__in=slugs).order_by("name").values_list("slug", "name")
    head, _, tail = reverse("postmortems:vendor-detail", args=["SLUG"]).rpartition("SLUG")
    return format_html_join(
        ", ", '<a href="{}">{}</a>', ((f"{head}{slug}{tail}", name) for slug, name in names)
    )


def quarter_range(quarters: list[str]) -> list[str]:
    """Every quarter from the first to the last given ("2012-Q1"), so gaps show as gaps."""
    if not quarters:
        return []
    index = [int(q[:4]) * 4 + int(q[-1]) - 1 for q in quarters]
    return [f"{i // 4}-Q{i % 4 + 1}" for i in range(min(index), max(index) + 1)]


def attribute_links(attributes: list[str]) -> list[tuple[str, str]]:
    """(name, url) per attribute: two queries, one per vocabulary."""
    kinds = {
        "ct": (ChangeType, "postmortems:change-type-detail", "{}"),
        "cat": (FailureCategory, "postmortems:category-detail", "{}"),
        "cf": (FailureCategory, "postmortems:category-detail", "{} (contributing factor)"),
    }
    links = []
    for prefix, (model, url_name, label) in kinds.items():
        slugs = [a.split(":", 1)[1] for a in attributes if a.startswith(f"{prefix}:")]
        names = dict(model.objects.filter(slug__in=slugs).values_list("slug", "name"))
        links += [
            (label.format(names.get(slug, slug)), reverse(url_name, args=[slug])) for slug in slugs
        ]
    return links


@login_required
@require_POST
def refresh(request: HttpRequest) -> HttpResponse:
    """Queue a refresh now rather than waiting for the next change or the nightly run."""
    if not permissions.is_admin(request.user):
        raise PermissionDenied("Only admins start a refresh.")
    refresh_patterns.delay()
    messages.success(request, "A refresh is queued; the worker recomputes patterns in seconds.")
    return redirect("patterns:dashboard")
