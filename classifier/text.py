"""What the classifier reads of an incident: its title, summary, analysis, lessons and the
bodies of its timeline updates, HTML stripped, cut into sentences that can be quoted back
as evidence."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import nh3

FIELDS = ("title", "summary", "impact", "analysis", "lessons")
# Enough of a long postmortem to classify it; more text costs time and says little more.
MAX_CHARS = 20_000
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])|\n\s*\n|\n\s*[-*•]\s+")
SPACE = re.compile(r"\s+")
MARKDOWN_NOISE = re.compile(r"[*_`#>]+")


@dataclass(frozen=True)
class Passage:
    source: str  # "title", "summary", "update at 2021-06-08 09:58 UTC", …
    text: str


def plain(text: str, *, is_html: bool = False) -> str:
    """Text without markup: tags dropped (their words kept), entities decoded."""
    if is_html or "<" in text:
        text = nh3.clean(text, tags=set())
        text = html.unescape(text)
    return MARKDOWN_NOISE.sub(" ", text)


def passages(
    fields: Mapping[str, str], updates: Iterable[tuple[str, str, str]] = ()
) -> list[Passage]:
    """An incident's passages: its fields, then its updates (``(when, body, format)``)."""
    found = [Passage(name, plain(fields.get(name) or "")) for name in FIELDS]
    for when, body, body_format in updates:
        found.append(Passage(f"update at {when}", plain(body or "", is_html=body_format == "html")))
    return [p for p in found if p.text.strip()]


def document(found: list[Passage]) -> str:
    """One text for the model; the title counts twice (it is what a status page says first)."""
    title = next((p.text for p in found if p.source == "title"), "")
    return f"{title}\n{title}\n" + "\n".join(p.text for p in found)[:MAX_CHARS]


@dataclass(frozen=True)
class Sentence:
    source: str
    text: str
    start: int  # where the sentence starts in its passage's text


def sentences(found: list[Passage]) -> list[Sentence]:
    out: list[Sentence] = []
    for passage in found:
        position = 0
        for piece in SENTENCE_END.split(passage.text[:MAX_CHARS]):
            cleaned = SPACE.sub(" ", piece).strip()
            if len(cleaned) >= 3:
                out.append(Sentence(passage.source, cleaned, position))
            position += len(piece) + 1
    return out


def quote(sentence: str, limit: int = 300) -> str:
    """A sentence short enough to show in a row, cut after a word."""
    if len(sentence) <= limit:
        return sentence
    cut = sentence[:limit].rsplit(" ", 1)[0]
    return f"{cut}…"
