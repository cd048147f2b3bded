#!/usr/bin/env python
"""Evaluate the pattern engine on knowledge bases with planted truth (``planted.py``).

For each size: empty a dedicated database (``hindsight_patterns_eval`` on the project's
server, created and migrated on first use), plant a knowledge base of that many published
incidents, run the real ``patterns.services.refresh_patterns()`` and print, per planted
pattern, whether a pattern with exactly its key and members was stored, its rank among the
family heads and its evidence; then the top family heads with the generator's verdict on
each, precision@10 and the refresh time. Nothing in ``patterns/`` is changed.
"""

from __future__ import annotations

import argparse
import time
from urllib.parse import urlsplit, urlunsplit

import common
import planted
from refresh_patterns import code_version

DATABASE = "hindsight_patterns_eval"
SIZES = (100, 10_000, 1_000_000)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default=",".join(map(str, SIZES)),
        help="published incidents per run, comma-separated (default 100,10000,1000000)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "--database-url", help=f"target database (default: {DATABASE} on the project's server)"
    )
    args = parser.parse_args()
    try:
        args.sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error("--sizes takes whole numbers, e.g. 100,10000")
    if not args.sizes or min(args.sizes) < 100:
        parser.error("--sizes: at least 100 incidents each")
    return args


def database_url(explicit: str | None) -> str:
    """The explicit URL, or ``hindsight_patterns_eval`` beside the bench database; the
    protected and test databases are refused either way."""
    if explicit:
        return common.bench_database_url(explicit)
    url = common.bench_database_url(None)
    return common.bench_database_url(urlunsplit(urlsplit(url)._replace(path=f"/{DATABASE}")))


def knowledge_base_tables() -> list[str]:
    """Every table of incidents, vendors and what hangs off them, and the pattern tables; the
    taxonomy stays (the planted categories are reused from run to run)."""
    from django.apps import apps

    from postmortems.models import ChangeType, FailureCategory

    keep = {ChangeType._meta.db_table, FailureCategory._meta.db_table}
    return [
        model._meta.db_table
        for label in ("postmortems", "timeline", "patterns")
        for model in apps.get_app_config(label).get_models(include_auto_created=True)
        if model._meta.db_table not in keep
    ]


def reset() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        # CASCADE also empties what points at vendors or incidents in other apps.
        cursor.execute(f"TRUNCATE {', '.join(knowledge_base_tables())} RESTART IDENTITY CASCADE")


def run(size: int, seed: int) -> planted.Evaluation:
    from django.db import transaction

    reset()
    with transaction.atomic():
        truth = planted.plant(size, seed)
    return planted.evaluate(truth)


def main() -> None:
    args = parse_args()
    url = database_url(args.database_url)
    if common.create_database(url):
        print(f"created database {urlsplit(url).path.lstrip('/')}")
    common.setup_django(url)
    common.migrate()
    print(f"database {urlsplit(url).path.lstrip('/')}, seed {args.seed}, sizes "
          f"{', '.join(f'{s:,}' for s in args.sizes)}; {code_version()}")  # fmt: skip
    started = time.perf_counter()
    for size in args.sizes:
        print(f"\n=== {size:,} incidents ===", flush=True)
        print(planted.format_evaluation(run(size, args.seed)), flush=True)
    print(f"\n{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
