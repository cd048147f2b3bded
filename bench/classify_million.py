#!/usr/bin/env python
"""Retrain and classify a whole generated knowledge base, as the nightly task does.

Runs against the bench database (``bench/generate``): trains a new version from its
newest labelled postmortems (``classifier.services.retrain``), then stores suggestions for
every incident, labelled or not, in ``--processes`` processes
(``classifier.services.classify_in_processes``), and prints the times.
"""

from __future__ import annotations

import argparse
import time

import common


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0, help="only the first N incidents")
    parser.add_argument("--database-url")
    args = parser.parse_args()
    common.setup_django(common.bench_database_url(args.database_url))
    common.migrate()

    from classifier import services
    from postmortems.models import Incident

    started = time.monotonic()
    model = services.retrain()
    print(
        f"retrain: model v{model.version} from {model.trained_on} postmortems and "
        f"{model.reference_examples} reference outages in {time.monotonic() - started:.1f} s"
    )
    ids = list(Incident.objects.order_by("id").values_list("id", flat=True))
    if args.limit:
        ids = ids[: args.limit]
    started = time.monotonic()
    last = [started]

    def progress(outcome):
        now = time.monotonic()
        if now - last[0] > 30:
            print(f"  {outcome.classified:,} in {now - started:.0f} s", flush=True)
            last[0] = now

    outcome = services.classify_in_processes(
        ids, processes=args.processes, auto_accept=False, on_progress=progress
    )
    seconds = time.monotonic() - started
    print(
        f"classify: {outcome.classified:,} incidents in {seconds:.0f} s "
        f"({outcome.classified / seconds:,.0f}/s, {args.processes} processes)"
    )


if __name__ == "__main__":
    main()
