#!/usr/bin/env python
"""How fast the classifier suggests, per incident, with a model trained on the labelled set.

Texts are the labelled set's titles and summaries with status-page updates appended
(what imported incidents carry), cycled to ``--incidents``; the run is the real
``Classifier.suggest_many`` in chunks as ``classifier.services.classify`` calls it, on one
core. Reading the texts from PostgreSQL and writing the suggestions are measured apart
(``--with-database`` needs the bench database from ``bench/generate``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from classify_eval import cases, taxonomy_labels, trained_on

from classifier.suggesting import Classifier
from classifier.text import Passage

UPDATE = (
    "We are investigating elevated error rates. We have identified the issue and are "
    "applying a fix. The incident has been resolved."
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--incidents", type=int, default=20_000)
    parser.add_argument("--chunk", type=int, default=1_000)
    args = parser.parse_args()
    labelled = cases()
    model = trained_on(labelled)
    classifier = Classifier(1, model, taxonomy_labels())
    items = [
        (
            None,
            [
                Passage("title", c.title),
                Passage("summary", c.summary),
                Passage("update at 2024-03-01 12:00 UTC", UPDATE),
            ],
        )
        for c in labelled
    ]
    work = [items[i % len(items)] for i in range(args.incidents)]
    started = time.perf_counter()
    for start in range(0, len(work), args.chunk):
        classifier.suggest_many(work[start : start + args.chunk])
    seconds = time.perf_counter() - started
    rate = args.incidents / seconds
    print(
        f"{args.incidents} incidents in {seconds:.1f} s: {rate:,.0f}/s on one core; "
        f"1,000,000 would take {1_000_000 / rate / 60:.1f} min on one core, "
        f"{1_000_000 / rate / 120:.1f} min on two."
    )


if __name__ == "__main__":
    main()
