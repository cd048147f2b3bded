#!/usr/bin/env python
"""Time ``patterns.services.refresh_patterns()`` over the bench database.

Each run calls the real function. Its phases are timed by wrapping the module functions it
calls (mining, statistics, the storing transaction, and their parts) for the duration of
the benchmark, and every SQL statement is timed through Django's execute wrapper, so the
report says where the time goes without changing ``patterns``. Warming the related lists
runs after the refresh, in a task of its own; each run times ``warm_related_lists()`` too,
separately (older code warmed inside the refresh; that is timed as part of it).
Run 1 starts from empty pattern tables (the first refresh of a knowledge base); later runs
find their patterns already stored (the nightly refresh). ``--explain`` adds a run that
also executes each statement under EXPLAIN (ANALYZE, BUFFERS), rolled back to a savepoint,
and prints the plans of the slowest ones.

For a knowledge base where a run would take hours, ``--warm N`` warms N related lists
instead of ``services.WARM_RELATED`` (the report scales the time up), and ``--statement-timeout S``
cancels any statement after S seconds: the phases listed in ``SKIPPABLE`` then run in a
savepoint and are reported as cancelled while the refresh goes on.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import re
import resource
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import common

PATTERN_TABLES = (
    "patterns_pattern", "patterns_incidentprofile", "patterns_vendorincident",
    "patterns_relatedlist", "patterns_statssnapshot",
)  # fmt: skip
RELATED_CALLS = "warm related lists / related_incidents"
# Phases whose result nothing later in the refresh needs: with a statement timeout they run in
# a savepoint, and a cancelled one is reported and skipped.
SKIPPABLE = {
    "prior completed actions": None,
    "sync members": 0,
    "vendor recurrences": 0,
    "related_incidents": [],
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="timed runs (default 3)")
    parser.add_argument(
        "--database-url",
        help=f"database to refresh (default: {common.BENCH_DATABASE} on the project's server)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the stored patterns before the first run"
    )
    parser.add_argument(
        "--explain", action="store_true", help="add a run that prints the slowest plans"
    )
    parser.add_argument("--top", type=int, default=8, help="statements and plans to show")
    parser.add_argument(
        "--warm", type=int, help="related lists to warm (default: services.WARM_RELATED)"
    )
    parser.add_argument(
        "--statement-timeout", type=float, help="cancel statements after this many seconds"
    )
    return parser.parse_args()


# --- Phase and statement timing -----------------------------------------------------------


@dataclass
class Statement:
    text: str
    phase: str
    calls: int = 0
    seconds: float = 0.0
    plan: str = ""
    plan_seconds: float = 0.0


@dataclass
class Recorder:
    """Collects phase times (nested, by path) and statement times during one run."""

    stack: list[str] = field(default_factory=list)
    phases: dict[str, list] = field(default_factory=lambda: defaultdict(lambda: [0, 0.0]))
    statements: dict[tuple, Statement] = field(default_factory=dict)
    cancelled: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    explain: bool = False
    tolerant: bool = False

    def phase(self, name: str, function: Callable) -> Callable:
        if self.tolerant and name in SKIPPABLE:
            function = self.skippable(name, function)

        @functools.wraps(function)
        def timed(*args, **kwargs):
            self.stack.append(name)
            path = " / ".join(self.stack)
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                entry = self.phases[path]
                entry[0] += 1
                entry[1] += time.perf_counter() - started
                self.stack.pop()

        return timed

    def skippable(self, name: str, function: Callable) -> Callable:
        """Run ``function`` in a savepoint; a statement timeout cancels only this phase."""
        from django.db import OperationalError, transaction
        from psycopg.errors import QueryCanceled

        def guarded(*args, **kwargs):
            try:
                with transaction.atomic():
                    return function(*args, **kwargs)
            except OperationalError as error:
                if not isinstance(error.__cause__, QueryCanceled):
                    raise
                self.cancelled[" / ".join(self.stack)] += 1
                return SKIPPABLE[name]

        return guarded

    def __call__(self, execute, sql, params, many, context):
        """Django execute wrapper: time the statement (and explain it first if asked)."""
        plan, plan_seconds = ("", 0.0)
        if self.explain and not many and _explainable(sql):
            plan, plan_seconds = explain(context["connection"], sql, params)
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.record(sql, time.perf_counter() - started, plan, plan_seconds)

    def record(self, sql: str, seconds: float, plan: str, plan_seconds: float) -> None:
        text = " ".join(sql.split())
        phase = " / ".join(self.stack) or "(outside any phase)"
        key = (text[:160], phase)
        entry = self.statements.setdefault(key, Statement(text, phase))
        entry.calls += 1
        entry.seconds += seconds
        if plan_seconds >= entry.plan_seconds:
            entry.plan, entry.plan_seconds = plan, plan_seconds


_EXPLAINABLE = re.compile(
    r"\s*((SELECT|WITH|INSERT|UPDATE|DELETE)\b|CREATE\s+(TEMP\w*\s+)?TABLE\b.*\bAS\b)",
    re.IGNORECASE | re.DOTALL,
)


def _explainable(sql: str) -> bool:
    return _EXPLAINABLE.match(sql) is not None


def explain(connection, sql: str, params) -> tuple[str, float]:
    """EXPLAIN (ANALYZE, BUFFERS) the statement and undo what it did.

    Runs on the driver connection (not through Django, so it is neither recorded nor
    explained again) with a client-side cursor, as Django binds parameters.
    """
    import psycopg
    from psycopg.errors import QueryCanceled

    raw = connection.connection
    in_transaction = not raw.autocommit or connection.in_atomic_block
    with psycopg.ClientCursor(raw) as cur:
        cur.execute("SAVEPOINT bench_explain" if in_transaction else "BEGIN")
        started = time.perf_counter()
        try:
            cur.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)
            plan = "\n".join(row[0] for row in cur.fetchall())
        except QueryCanceled:
            waited = time.perf_counter() - started
            return f"(cancelled at the statement timeout after {waited:.0f} s)", waited
        finally:
            cur.execute("ROLLBACK TO SAVEPOINT bench_explain" if in_transaction else "ROLLBACK")
    found = re.search(r"Execution Time: ([\d.]+) ms", plan)
    return plan, float(found.group(1)) / 1000 if found else 0.0


def instrument(recorder: Recorder) -> None:
    """Wrap the functions ``refresh_patterns`` reaches, where it looks them up."""
    from django.db import connection

    from patterns import metrics, mining, related, services, snapshot, trends

    try:  # older code had no profiles
        from patterns import profiles
    except ImportError:
        profiles = None

    wrap = [
        (profiles, "build_working_tables", "working tables"),
        (services, "recurring_patterns", "mining"),
        (mining, "mine", "mining"),
        (mining, "_load_sets", "attribute sets (SQL)"),
        (mining, "_combine", "combinations (Python)"),
        (mining, "_load_latest", "latest members of each set (SQL)"),
        (mining, "_describe", "describe and score (Python)"),
        (mining, "_count_combinations", "count combinations (SQL)"),
        (mining, "closed_patterns", "closedness (Python)"),
        (mining, "_load_context", "load context"),
        (mining, "_attribute_counts", "attribute counts (SQL)"),
        (snapshot, "build_snapshot", "statistics snapshot"),
        (services, "_store", "store"),
        (profiles, "sync_profiles", "sync profiles"),
        (profiles, "_sync_vendor_incidents", "vendor incidents"),
        (services, "_upsert_patterns", "upsert patterns"),
        (services, "_update_patterns", "update existing rows"),
        (services, "_write_patterns", "write rows"),
        (services, "_sync_members", "sync members"),
        (services, "_count_prior_completed_actions", "prior completed actions"),
        (getattr(services, "recurrence", None), "store_vendor_recurrences", "vendor recurrences"),
        (services, "warm_related_lists", "warm related lists"),
        (related, "related_incidents", "related_incidents"),
        (trends, "rising_attributes", "rising attributes"),
    ]
    for name in (
        "duration_stats", "downtime_by_vendor_year", "duration_distribution",
        "monthly_counts_by_change_type", "vendor_category_matrix",
    ):  # fmt: skip
        wrap.append((metrics, name, name))
    # The end of the storing transaction, where PostgreSQL checks the deferred foreign keys
    # of every row written; no statement of Django's shows it.
    wrap.append((connection, "commit", "commit"))
    for module, attribute, label in wrap:
        # The patterns code evolves: a function it no longer has is simply not timed.
        original = getattr(module, attribute, None) if module is not None else None
        if original is None:
            continue
        original = getattr(original, "__bench_original__", original)
        timed = recorder.phase(label, original)
        timed.__bench_original__ = original
        setattr(module, attribute, timed)


def code_version() -> str:
    """The last commit to ``patterns/`` and any uncommitted changes, so results name their code."""
    import hashlib
    import subprocess

    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=common.ROOT, capture_output=True, text=True)
        return result.stdout.rstrip("\n")

    commit = git("log", "-1", "--format=%h", "--", "patterns") or "unknown"
    changed = git("status", "--porcelain", "--", "patterns").splitlines()
    if not changed:
        return f"patterns/ at {commit}"
    digest = hashlib.sha256()
    for path in sorted((common.ROOT / "patterns").rglob("*.py")):
        digest.update(path.read_bytes())
    names = ", ".join(line[3:].removeprefix("patterns/") for line in changed)
    return f"patterns/ at {commit} with uncommitted changes to {names} ({digest.hexdigest()[:8]})"


# --- Memory ---------------------------------------------------------------------------------


def reset_peak_rss() -> None:
    """Reset this process's peak RSS (Linux: writing 5 to clear_refs resets VmHWM)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mib() -> float:
    try:
        status = Path("/proc/self/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024
    except (OSError, AttributeError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class BackendSampler:
    """Samples the RSS of the server process serving this connection (shared buffers it
    touched included; parallel workers not)."""

    def __init__(self, pid: int) -> None:
        import psutil

        self.process = psutil.Process(pid)
        self.peak = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.sample, daemon=True)

    def sample(self) -> None:
        while not self.stopped.wait(0.1):
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except Exception:  # the server may run as another user; then there is no figure
                return

    def __enter__(self) -> BackendSampler:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopped.set()
        self.thread.join()


def temp_bytes() -> int:
    """Bytes this database has spilled to temporary files so far (sorts, hashes)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT temp_bytes FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


# --- Runs -------------------------------------------------------------------------------------


@dataclass
class Result:
    label: str
    refresh: float  # wall time of refresh_patterns()
    warm: float | None  # wall time of warm_related_lists() run after it, when it is separate
    warm_lists: int  # how many related lists the code warms by default
    summary: object
    recorder: Recorder
    python_mib: float
    backend_mib: float | None
    temp_mib: float

    def related_estimate(self) -> float | None:
        """Seconds to warm the default number of related lists, from the lists warmed."""
        calls, seconds = self.recorder.phases.get(RELATED_CALLS, (0, 0.0))
        return seconds / calls * self.warm_lists if calls else None

    def refresh_estimate(self) -> float:
        """The refresh's wall time had it warmed the default number of lists itself."""
        estimate = self.related_estimate()
        if self.warm is not None or estimate is None:
            return self.refresh
        return self.refresh - self.recorder.phases[RELATED_CALLS][1] + estimate


def run(label: str, explain_plans: bool, args: argparse.Namespace) -> Result:
    from django.db import connection

    from patterns import services

    recorder = Recorder(explain=explain_plans, tolerant=args.statement_timeout is not None)
    instrument(recorder)
    connection.ensure_connection()
    if args.statement_timeout is not None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('statement_timeout', %s, false)",
                           [f"{round(args.statement_timeout * 1000)}"])  # fmt: skip
    pid = connection.connection.info.backend_pid
    spilled = temp_bytes()
    reset_peak_rss()
    warm_lists = getattr(services, "WARM_RELATED", 0)
    if args.warm is not None:
        services.WARM_RELATED = args.warm  # read inside refresh_patterns by versions that warm
    try:
        with BackendSampler(pid) as sampler, connection.execute_wrapper(recorder):
            started = time.perf_counter()
            summary = services.refresh_patterns()
            refresh = time.perf_counter() - started
            warm = warm_separately(recorder, args.warm if args.warm is not None else warm_lists)
    finally:
        services.WARM_RELATED = warm_lists
    backend = sampler.peak / 2**20 if sampler.peak else None
    spilled = (temp_bytes() - spilled) / 2**20
    return Result(
        label, refresh, warm, warm_lists, summary, recorder, peak_rss_mib(), backend, spilled
    )


def warm_separately(recorder: Recorder, lists: int) -> float | None:
    """Time ``warm_related_lists`` when the refresh leaves it to a task of its own."""
    from patterns import services

    if "warm related lists" in recorder.phases or not hasattr(services, "warm_related_lists"):
        return None
    started = time.perf_counter()
    services.warm_related_lists(lists)
    return time.perf_counter() - started


def print_result(result: Result, top: int) -> None:
    print(f"\n=== {result.label}: refresh_patterns() {result.refresh:.1f} s — {result.summary}")
    calls, seconds = result.recorder.phases.get(RELATED_CALLS, (0, 0.0))
    if result.warm is not None:
        print(f"then warm_related_lists({calls}) {result.warm:.1f} s")
    if calls:
        print(
            f"related lists: {seconds / calls:.2f} s each; the {result.warm_lists} the code "
            f"warms take about {result.related_estimate():,.0f} s"
        )
    backend = f"{result.backend_mib:,.0f} MiB" if result.backend_mib else "n/a"
    print(
        f"peak RSS: Python {result.python_mib:,.0f} MiB, server backend {backend}; "
        f"temporary files {result.temp_mib:,.0f} MiB"
    )
    print(f"{'phase':<86}{'calls':>7}{'seconds':>10}")
    cancelled = result.recorder.cancelled
    for path, (calls, seconds) in sorted(result.recorder.phases.items(), key=_phase_order):
        note = f"  ({cancelled[path]} cancelled at the timeout)" if cancelled.get(path) else ""
        print(f"{path:<86}{calls:>7}{seconds:>10.2f}{note}")
    statements = sorted(result.recorder.statements.values(), key=lambda s: -s.seconds)
    print(f"\nslowest statements (total over calls):\n{'seconds':>9}{'calls':>7}  statement")
    for entry in statements[:top]:
        print(f"{entry.seconds:>9.2f}{entry.calls:>7}  [{entry.phase}] {entry.text[:150]}")


def _phase_order(item: tuple) -> tuple:
    # Phases in the order refresh_patterns runs them, parts under their phase.
    order = ["working tables", "mining", "statistics snapshot", "store", "commit",
             "warm related lists"]  # fmt: skip
    path = item[0]
    head = next((i for i, name in enumerate(order) if path.startswith(name)), len(order))
    return (head, path)


def print_plans(result: Result, top: int) -> None:
    entries = sorted(result.recorder.statements.values(), key=lambda s: -s.plan_seconds)
    for entry in entries[:top]:
        print(f"\n--- {entry.plan_seconds:.2f} s under EXPLAIN ANALYZE [{entry.phase}]")
        print(entry.text[:600])
        print(entry.plan)


def print_table(results: list[Result]) -> None:
    """One line per run. ``refresh s`` includes warming when the refresh itself warms (scaled
    to the default number of lists); ``warm s`` is the default number of lists, scaled."""
    phases = ("working tables", "mining", "statistics snapshot", "store", "commit")
    heads = ("run", "refresh s", "tables", "mining", "stats", "store", "commit", "warm s",
             "patterns", "members", "py MiB", "pg MiB", "temp MiB")  # fmt: skip
    print("\n" + "".join(f"{h:>10}" for h in heads))
    for r in results:
        warm = r.related_estimate()
        cells = [r.label, f"{r.refresh_estimate():.1f}"]
        # Older code stored in a transaction of its own, its commit included.
        store = r.recorder.phases.get("store") or r.recorder.phases.get("store (one transaction)")
        found = {**r.recorder.phases, "store": store or [0, 0.0]}
        cells += [f"{found.get(p, [0, 0.0])[1]:.1f}" for p in phases]
        cells += [f"{warm:.1f}" if warm is not None else "-"]
        cells += [f"{r.summary.patterns:,}", f"{r.summary.members:,}", f"{r.python_mib:,.0f}"]
        cells += [f"{r.backend_mib:,.0f}" if r.backend_mib else "n/a", f"{r.temp_mib:,.0f}"]
        print("".join(f"{c:>10}" for c in cells))


def check_plants() -> None:
    """The planted patterns must come out with exactly the planted support and vendors."""
    from django.db import connection
    from generate import PLANTS

    from patterns.models import Pattern

    print("\nplanted patterns:")
    for plant in PLANTS:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(DISTINCT i.id), count(DISTINCT l.vendor_id) "
                "FROM postmortems_incident i "
                "JOIN postmortems_factor f ON f.incident_id = i.id "
                "JOIN postmortems_failurecategory c ON c.id = f.category_id "
                "JOIN postmortems_incidentvendor l ON l.incident_id = i.id "
                "WHERE c.slug = %s AND i.status = 'published'",
                [plant.categories[0]],
            )
            members, vendors = cursor.fetchone()
        found = Pattern.objects.filter(key=plant.key).first()
        got = (found.support, found.vendor_count) if found else (0, 0)
        verdict = "ok" if got == (members, vendors) else "MISMATCH"
        print(
            f"  {verdict:<9}{plant.key:<58} expected {members:,}/{vendors}, found "
            f"{got[0]:,}/{got[1]} (incidents/vendors)"
        )


def main() -> None:
    args = parse_args()
    url = common.bench_database_url(args.database_url)
    common.setup_django(url)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM postmortems_incident WHERE status = 'published'")
        published = cursor.fetchone()[0]
        if not published:
            raise SystemExit("The bench database has no incidents: run bench/generate first.")
        if not args.keep:
            cursor.execute(f"TRUNCATE {', '.join(PATTERN_TABLES)}")
    runs = f"{args.runs} run{'s' if args.runs != 1 else ''}"
    print(f"{published:,} published incidents; {runs}; {code_version()}")
    results = []
    for n in range(1, args.runs + 1):
        results.append(run(f"run {n}", False, args))
        print_result(results[-1], args.top)
    check_plants()
    if args.explain:
        explained = run("explain", True, args)
        print_result(explained, args.top)
        print_plans(explained, args.top)
    print_table(results)


if __name__ == "__main__":
    main()
