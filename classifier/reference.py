"""The reference set: public outage reports, summarised in our own words and labelled by
hand (``classifier/reference/*.yaml``, each with its source).

It trains every model beside the knowledge base's own postmortems, so that a fresh
installation learns from more than the lexicon, and it is the labelled set the
classification benchmark measures against. None of its outages is one of the demo's.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from classifier.lexicon import ct, factor
from classifier.text import Passage

DIRECTORY = Path(__file__).resolve().parent / "reference"
ROLES = ("root_cause", "contributing")


@dataclass(frozen=True)
class Example:
    slug: str
    title: str
    vendor: str
    date: str
    source: str
    source_kind: str
    summary: str
    labels: frozenset[str]

    def passages(self) -> list[Passage]:
        return [Passage("title", self.title), Passage("summary", self.summary)]


def labels_of(change_types, factors) -> frozenset[str]:
    found = {ct(slug) for slug in change_types or ()}
    found |= {factor(f["category"], f["role"]) for f in factors or () if f["role"] in ROLES}
    return frozenset(found)


@lru_cache(maxsize=1)
def examples() -> tuple[Example, ...]:
    found = []
    for path in sorted(DIRECTORY.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        found.append(
            Example(
                slug=data["slug"],
                title=data["title"],
                vendor=data.get("vendor", ""),
                date=str(data.get("date", "")),
                source=data.get("source", ""),
                source_kind=data.get("source_kind", ""),
                summary=data.get("summary", ""),
                labels=labels_of(data.get("change_types"), data.get("factors")),
            )
        )
    return tuple(found)
