"""Highlighted search snippets that are safe to show."""

from __future__ import annotations

from html import unescape

import markdown
from django.contrib.postgres.search import SearchHeadline
from django.db.models import F, QuerySet, TextField, Value
from django.db.models.functions import Concat
from django.utils.html import escape, strip_tags
from django.utils.safestring import SafeString, mark_safe

from postmortems.filtersets import search_query
from postmortems.models import SEARCH_CONFIG, Incident
from postmortems.rendering import MARKDOWN_EXTENSIONS

# ts_headline copies the stored text verbatim, HTML included. Marking matches
# with characters that never occur in postmortems lets us escape everything
# and only then turn the markers into <mark>.
START, STOP = "\u2063\u2064", "\u2064\u2063"
SPACE = Value(" ", output_field=TextField())
# "Best match" ranks at most this many matches, the newest: ranking every match of a word
# that half the knowledge base contains read half a million rows. A rarer term (fewer
# matches) is ranked over all of them; "Newest first" still pages through every match.
RANKED = 1_000


def newest_ids(results: QuerySet[Incident], limit: int) -> list[int]:
    """The ids of the newest ``limit`` of ``results``, newest first."""
    newest = results.order_by(F("started_at").desc(nulls_last=True), "-id")
    return list(newest.values_list("id", flat=True)[:limit])


def ranked_candidates(results: QuerySet[Incident], newest: list[int]) -> QuerySet[Incident]:
    """``results`` (a search) narrowed to the matches that "best match" ranks, given the
    newest of them: read once as ids, so that reading a page of them never walks the
    matches again."""
    return results.filter(id__in=newest[:RANKED])


def search_snippets(incident_ids: list[int], text: str) -> dict[int, SafeString]:
    """``{incident id: snippet with <mark>ed matches}`` for one page of results."""
    if not incident_ids or not text.strip():
        return {}
    rows = (
        Incident.objects.filter(id__in=incident_ids)
        .annotate(
            snippet=SearchHeadline(
                Concat("summary", SPACE, "impact", SPACE, "analysis", SPACE, "lessons"),
                search_query(text),
                config=SEARCH_CONFIG,
                start_sel=START,
                stop_sel=STOP,
                max_fragments=2,
                max_words=30,
                min_words=12,
                fragment_delimiter=" … ",
            )
        )
        .values_list("id", "snippet")
    )
    return {pk: highlight(snippet) for pk, snippet in rows}


def highlight(snippet: str) -> SafeString:
    safe = escape(as_plain_text(snippet)).replace(START, "<mark>").replace(STOP, "</mark>")
    return mark_safe(safe)  # escaped above; only our own tags added


def as_plain_text(snippet: str) -> str:
    """The words a reader of the rendered postmortem sees: Markdown syntax (``**``, ``#``,
    link targets) and stored HTML tags removed, on one line. The match markers are plain
    characters to Markdown, so they come through where their words do."""
    rendered = markdown.markdown(snippet, extensions=MARKDOWN_EXTENSIONS)
    return " ".join(unescape(strip_tags(rendered)).split())
