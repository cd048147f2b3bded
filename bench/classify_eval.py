#!/usr/bin/env python
"""Measure the classifier against hand-made labels, by k-fold cross-validation.

The labelled set: the demo's public outages (``postmortems/demo/data``) and the reference
set (``classifier/reference``), each labelled by hand from its source. Every fold trains
the real model (``classifier.learning``) on the other folds and suggests for the held-out
outages from their **title and summary only** — what a status-page import carries — with
the real combination of lexicon and model (``classifier.suggesting``). The lexicon alone
(a fresh installation) is measured on the whole set.

Printed: precision, recall and F1 per label at the pre-tick threshold, micro and macro
F1, the precision and share of labels above the auto-accept threshold, and factor recall
among the suggestions shown. Needs no database.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import yaml  # noqa: E402

from classifier import learning, reference  # noqa: E402
from classifier.reference import ROLES, labels_of  # noqa: E402
from classifier.suggesting import REPORT_MIN, Classifier  # noqa: E402
from classifier.text import Passage, document  # noqa: E402

DEMO = ROOT / "postmortems" / "demo" / "data"
PRETICK = 0.5
AUTO_ACCEPT = 0.9


@dataclass(frozen=True)
class Case:
    slug: str
    title: str
    summary: str
    full_text: str  # what a written postmortem holds (training only)
    labels: frozenset[str]

    def short(self) -> list[Passage]:
        return [Passage("title", self.title), Passage("summary", self.summary)]


def taxonomy_labels() -> frozenset[str]:
    import importlib

    seed = importlib.import_module("postmortems.migrations.0002_seed_taxonomy")
    found = {f"ct:{slug}" for slug, *_ in seed.CHANGE_TYPES}
    found |= {f"f:{row[0]}:{role}" for row in seed.FAILURE_CATEGORIES for role in ROLES}
    return frozenset(found)


def cases() -> list[Case]:
    found = []
    for path in sorted(DEMO.glob("*.yaml")):
        if path.name == "vendors.yaml":
            continue
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        full = "\n".join(data.get(k) or "" for k in ("summary", "impact", "analysis", "lessons"))
        found.append(
            Case(
                data["slug"],
                data["title"],
                data.get("summary") or "",
                full,
                labels_of(data.get("change_types"), data.get("factors")),
            )
        )
    for example in reference.examples():
        found.append(
            Case(example.slug, example.title, example.summary, example.summary, example.labels)
        )
    return found


@dataclass
class Tally:
    tp: Counter
    fp: Counter
    fn: Counter

    @classmethod
    def empty(cls) -> Tally:
        return cls(Counter(), Counter(), Counter())

    def add(self, predicted: set[str], truth: set[str]) -> None:
        for label in predicted & truth:
            self.tp[label] += 1
        for label in predicted - truth:
            self.fp[label] += 1
        for label in truth - predicted:
            self.fn[label] += 1

    def totals(self, prefix: str = "") -> tuple[int, int, int]:
        def total(c):
            return sum(v for k, v in c.items() if k.startswith(prefix))

        return total(self.tp), total(self.fp), total(self.fn)


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else float("nan")
    r = tp / (tp + fn) if tp + fn else float("nan")
    f = 2 * p * r / (p + r) if tp and p + r else 0.0
    return p, r, f


def trained_on(train: list[Case]):
    """The real model, fitted on these outages' full text (every example in every fold)."""
    return learning.train(
        [document([Passage("title", c.title), Passage("summary", c.full_text)]) for c in train],
        [set(c.labels) for c in train],
        [learning.FULL] * len(train),
        labels=sorted(taxonomy_labels()),
        incident_ids=[None] * len(train),
    )


def predictions(classifier: Classifier, held_out: list[Case]) -> list[dict[str, float]]:
    out = classifier.suggest_many([(None, c.short()) for c in held_out])
    return [{s.label: s.confidence for s in o.change_types + o.factors} for o in out]


def evaluate(all_cases: list[Case], folds: int, seed: int, *, learned: bool) -> list[tuple]:
    known = taxonomy_labels()
    order = list(range(len(all_cases)))
    random.Random(seed).shuffle(order)
    fold_of = {index: n % folds for n, index in enumerate(order)}
    results = []
    for fold in range(folds if learned else 1):
        test = [c for i, c in enumerate(all_cases) if not learned or fold_of[i] == fold]
        model = None
        if learned:
            model = trained_on([c for i, c in enumerate(all_cases) if fold_of[i] != fold])
        classifier = Classifier(1 if model else 0, model, known)
        for case, scores in zip(test, predictions(classifier, test), strict=True):
            results.append((case, scores))
    return results


def report(name: str, results: list[tuple]) -> None:
    at = {t: Tally.empty() for t in (REPORT_MIN, 0.3, PRETICK, 0.7, 0.8, 0.85, AUTO_ACCEPT)}
    for case, scores in results:
        for threshold, tally in at.items():
            tally.add({k for k, v in scores.items() if v >= threshold}, set(case.labels))
    print(f"\n## {name} — {len(results)} outages")
    print("| threshold | labels | precision | recall | F1 (micro) | factor P | factor R |")
    print("|---|---|---|---|---|---|---|")
    for threshold, tally in at.items():
        p, r, f = prf(*tally.totals())
        fp_, fr, _ = prf(*tally.totals("f:"))
        tp, fp, _ = tally.totals()
        row = f"| ≥ {threshold:.2f} | {tp + fp} | {p:.2f} | {r:.2f} | {f:.2f} |"
        print(f"{row} {fp_:.2f} | {fr:.2f} |")
    tally = at[PRETICK]
    labels = sorted(set(tally.tp) | set(tally.fn) | set(tally.fp))
    f1s = [prf(tally.tp[x], tally.fp[x], tally.fn[x])[2] for x in labels]
    print(f"\nmacro F1 at ≥ {PRETICK:.2f}: {sum(f1s) / len(f1s):.2f} over {len(labels)} labels")
    print(f"\n| label | support | precision | recall | F1 |  (at ≥ {PRETICK:.2f})")
    print("|---|---|---|---|---|")
    for label in sorted(labels, key=lambda x: -(tally.tp[x] + tally.fn[x])):
        p, r, f = prf(tally.tp[label], tally.fp[label], tally.fn[label])
        print(f"| {label} | {tally.tp[label] + tally.fn[label]} | {p:.2f} | {r:.2f} | {f:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    all_cases = cases()
    print(f"# Classifier against hand labels: {len(all_cases)} outages, {args.folds}-fold")
    report("Lexicon alone (a fresh installation)", evaluate(all_cases, 1, args.seed, learned=False))
    report(
        f"Lexicon and learned model ({args.folds}-fold cross-validation)",
        evaluate(all_cases, args.folds, args.seed, learned=True),
    )


if __name__ == "__main__":
    main()
