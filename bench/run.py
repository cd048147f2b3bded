#!/usr/bin/env python
"""Measure Hindsight against its floor over the bench database, in one interleaved run.

Hindsight is served by gunicorn with production settings; the floor (``bench/floor.py``) is
the minimal SQL answering the same questions, served by the same gunicorn settings. HTTP
operations are sent round-robin between operations and between the two servers, so machine
noise hits both alike. Then the status-page import (against a COPY floor served the same
way, and against COPY in this process), and in this process the pattern refresh
(``--refresh``) and the weekly digests. Prints one table with each operation's target and
verdict.

Before measuring, the published counts the pages read are taken, as the task that follows
published changes takes them (``postmortems.tallies.take_counts``); the pages group then
asks every page and API list as each of ``--roles``.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import common

GROUPS = (
    "list", "detail", "search", "patterns", "pages", "create", "import", "refresh", "digest",
    "rss",
)  # fmt: skip
WEB_GROUPS = {"list", "detail", "search", "patterns", "pages", "create"}
ROLES = ("viewer", "author", "admin")  # fixtures.ROLES, without importing Django's app yet


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add = parser.add_argument
    add("--requests", type=int, default=200, help="measured requests per operation and side")
    add("--warmup", type=int, default=5, help="unmeasured rounds first (default 5)")
    add("--only", help=f"comma-separated groups to run: {', '.join(GROUPS)}")
    add("--skip", help="comma-separated groups to leave out")
    add("--refresh", action="store_true", help="also time refresh_patterns() (minutes at 1M)")
    add("--database-url", help=f"default: {common.BENCH_DATABASE} on the project's server")
    add("--commit", help="measure this commit (extracted with git archive) instead of the "
        "working tree, which others may be editing")  # fmt: skip
    add("--markdown", action="store_true", help="print the table as Markdown too")
    add("--json", type=Path, help="write every figure to this file")
    add("--op-seconds", type=float, default=120, help="stop sampling an operation after this "
        "many measured seconds, both sides together (default 120)")  # fmt: skip
    add("--slugs", type=int, default=50, help="incidents the detail pages rotate through")
    add("--first-views", type=int, default=3, help="never-opened incident pages to time")
    add("--deep-pages", type=int, default=100, help="how deep the deep list page is")
    add("--import-rounds", type=int, default=8, help="imports of a fresh payload (default 8)")
    add("--import-incidents", type=int, default=500, help="incidents per payload (5 updates each)")
    add("--digests", type=int, help="build only this many digests (default: all 10,000)")
    add("--roles", default=",".join(ROLES), help="who the pages group signs in as, "
        f"comma-separated (default {','.join(ROLES)})")  # fmt: skip
    args = parser.parse_args()
    given = [r for r in args.roles.split(",") if r]
    if not given or set(given) - set(ROLES):
        parser.error(f"--roles takes some of {', '.join(ROLES)}")
    args.roles = tuple(r for r in ROLES if r in given)  # always in this order
    return args


def chosen_groups(args: argparse.Namespace) -> set[str]:
    groups = set(args.only.split(",")) if args.only else set(GROUPS) - {"refresh"}
    if args.refresh:
        groups.add("refresh")
    groups -= set(args.skip.split(",")) if args.skip else set()
    unknown = groups - set(GROUPS)
    if unknown:
        raise SystemExit(f"Unknown group(s): {', '.join(sorted(unknown))}")
    return groups


def database_url(explicit: str | None) -> str:
    url = common.bench_database_url(explicit)
    host = unquote(urlsplit(url).hostname or "")
    if explicit and host == str(common.ROOT / "var" / "pgdata").lower():
        common._embedded_server_url()  # keep the embedded server up while we run
    return url


def attempt(out: dict, key: str, function, *args) -> None:
    """Run one phase into ``out[key]``; a failure is reported in the table, not fatal.

    Others change the app while benchmarks run: a phase broken by a half-finished edit must
    not throw away the figures of the others.
    """
    try:
        out[key] = function(*args)
    except Exception as exc:
        out[key] = {"error": f"{type(exc).__name__}: {exc}"}
        print(f"  {key} failed: {out[key]['error']}", flush=True)


def tallies_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("postmortems.tallies") is not None


def stored_patterns() -> int:
    from patterns.models import Pattern

    return Pattern.objects.count()


def extract(commit: str, into: Path) -> Path:
    """The files of ``commit``, read from git without touching the checkout."""
    import io
    import subprocess
    import tarfile

    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit], cwd=common.ROOT, capture_output=True, check=True
    ).stdout
    into.mkdir()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def load_app() -> None:
    """Import what the in-process phases call now, so the whole run measures one version of
    the code even if files change under it (the servers' workers import it at start too)."""
    import config.urls  # noqa: F401  (every view, serializer and service behind a URL)
    import digests.delivery  # noqa: F401
    import imports.services  # noqa: F401
    import patterns.services  # noqa: F401

    if tallies_available():  # not in code from before the published counts (``--commit``)
        import postmortems.tallies  # noqa: F401


def take_counts() -> dict:
    """Take the published counts the pages read, as the task after a change does; timed."""
    from postmortems import tallies

    started = time.monotonic()
    snapshot = tallies.take_counts()
    return {"seconds": time.monotonic() - started, "taken": snapshot is not None}


def run_web(url: str, secret: str, workdir: Path, groups: set[str], args, out: dict):
    """Start both servers, prepare, measure the HTTP operations and the import, stop."""
    import fixtures
    import inprocess
    import servers
    import web

    # The floor counts and ranks as many matches as the measured code does.
    cap, ranked = fixtures.product_caps()
    os.environ.update(FLOOR_CAP=str(cap), FLOOR_RANKED=str(ranked))
    hindsight, floor = servers.start_both(url, secret, workdir, args.code)
    both = {web.HINDSIGHT: hindsight, web.FLOOR: floor}
    try:
        pages = "pages" in groups
        roles = args.roles if pages else ()
        fx = fixtures.prepare(
            slugs=args.slugs, deep_pages=args.deep_pages, roles=roles, pages=pages
        )
        out["fixtures"] = {"vendors": fx.vendors, "selective_term": fx.selective_term}
        if pages:
            out["fixtures"]["pages"] = {
                k: v for k, v in vars(fx.pages).items() if k not in ("first_views",)
            }
        if "list" in groups:
            print(f"finding page {args.deep_pages + 1} of each list…", flush=True)
            fixtures.deep_pages(hindsight, fx)
        detail = "detail" in groups
        if detail or pages:
            print("opening the sampled incident pages once (first views)…", flush=True)
            timed = fixtures.first_views(hindsight, fx, args.first_views if detail else 0)
            if detail:  # the detail group's row; the pages group times first views itself
                out["first_views"] = timed
        if pages:
            print(f"following the home page's links as {', '.join(roles)}…", flush=True)
            fixtures.home_deep_pages(hindsight, fx, roles)
            # A never-opened incident for every round, warm-up included.
            fixtures.page_first_views(fx, roles, args.warmup + args.requests)
        operations = web.operations(fx, groups, roles)
        print(f"measuring {len(operations)} operations x 2 servers…", flush=True)
        web.measure(operations, both, rounds=args.requests, warmup=args.warmup,
                    budget=args.op_seconds)  # fmt: skip
        if "import" in groups:
            print("importing status-page payloads…", flush=True)
            measure = inprocess.measure_import
            attempt(out, "import", measure, hindsight, floor, fx.token, url, fx.run_id, args)
        for server in both.values():
            server.read_access_log()
        out["rss_mib"] = hindsight.worker_rss_mib()
        out["floor_rss_mib"] = floor.worker_rss_mib()
        return operations, both
    finally:
        for server in both.values():
            server.stop()


def build_rows(groups: set[str], operations, both, out: dict) -> list:
    import report

    http: dict = {}
    rows = report.http_rows(operations, both, http) if operations else []
    out["http"] = http
    first = report.first_view_row(out.get("first_views", []), http.get("detail HTML"))
    if first is not None:
        index = next((i for i, r in enumerate(rows) if r.operation == "detail HTML"), len(rows))
        rows.insert(index + 1, first)
    for key, made in (("counts", report.counts_row), ("import", report.import_rows),
                      ("refresh", report.refresh_row), ("digest", report.digest_row)):  # fmt: skip
        if key in out:
            failed = out[key].get("error")
            made = [report.Row(key, result=f"error: {failed}")] if failed else made(out[key])
            rows.extend(made if isinstance(made, list) else [made])
    if "rss" in groups and out.get("rss_mib"):
        rows.append(report.rss_row(out["rss_mib"]))
    return rows


def main() -> None:
    args = parse_args()
    groups = chosen_groups(args)
    url = database_url(args.database_url)
    with tempfile.TemporaryDirectory(prefix="hindsight-bench-") as workdir:
        # Messages the app may queue from this process go to this run's folder, not to the
        # one a development worker reads.
        os.environ["HINDSIGHT_DATA_DIR"] = str(Path(workdir) / "data")
        # The sessions the bench creates are checked against the servers' SECRET_KEY.
        secret = secrets.token_urlsafe(60)
        os.environ["SECRET_KEY"] = secret
        args.code = extract(args.commit, Path(workdir) / "code") if args.commit else common.ROOT
        sys.path.insert(0, str(args.code))  # the app measured, ahead of this checkout
        common.setup_django(url)
        common.migrate()  # the code measured may bring migrations the database lacks
        load_app()
        run(args, groups, url, secret, Path(workdir))


def run(args, groups: set[str], url: str, secret: str, workdir: Path) -> None:
    import inprocess
    import report

    info = report.machine(args.commit)
    if not info["published"]:
        raise SystemExit("The bench database has no incidents: run bench/generate first.")
    print(report.header(info), flush=True)
    out: dict = {"machine": info, "args": {k: str(v) for k, v in vars(args).items()}}
    if groups & {"list", "search", "pages"} and tallies_available():
        print("taking the published counts (take_counts)…", flush=True)
        attempt(out, "counts", take_counts)
        print(f"  {out['counts']}", flush=True)
    if "refresh" in groups or (groups & {"patterns", "pages"} and not stored_patterns()):
        print("refreshing patterns (the dashboard needs them)…", flush=True)
        attempt(out, "refresh", inprocess.measure_refresh)
        print(f"  {out['refresh']}", flush=True)
    if "digest" in groups:
        attempt(out, "subscribers", inprocess.ensure_subscribers)
    operations, both = [], {}
    if groups & (WEB_GROUPS | {"import", "rss"}):
        operations, both = run_web(url, secret, workdir, groups, args, out)
    if "digest" in groups:
        print("building digests…", flush=True)
        attempt(out, "digest", inprocess.measure_digests, args.digests)
    rows = build_rows(groups, operations, both, out)
    out["load_average_end"] = [round(x, 1) for x in os.getloadavg()]
    print("\n" + report.header(info))
    print(f"load average {', '.join(map(str, out['load_average_end']))} at the end\n")
    print(report.text_table(rows))
    if args.markdown:
        print("\n" + report.markdown_table(rows))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    started = time.monotonic()
    main()
    print(f"\n({time.monotonic() - started:,.0f} s)")
