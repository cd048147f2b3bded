"""The results table of ``bench/run``: rows, verdicts against the targets, text and Markdown."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import common
from web import FLOOR, HINDSIGHT, Operation, Target, side_stats

HEADS = (
    "operation", "n", "Hindsight p50", "p99", "server p50", "server p99", "req/s", "floor p50",
    "p99", "ratio", "answer", "target", "result",
)  # fmt: skip


@dataclass
class Row:
    operation: str
    n: str = ""
    p50: str = ""
    p99: str = ""
    server_p50: str = ""
    server_p99: str = ""
    rps: str = ""
    floor_p50: str = ""
    floor_p99: str = ""
    ratio: str = ""
    answer: str = ""
    target: str = "—"
    result: str = ""

    def cells(self) -> list[str]:
        return list(self.__dict__.values())


def ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("pass" if ok else "FAIL")


def judge(target: Target | None, mine: dict, floor: dict | None, page1: dict | None) -> bool | None:
    if target is None:
        return None
    if target.kind == "ratio":
        return mine["p50_ms"] <= target.limit * floor["p50_ms"]
    if target.kind == "deep":
        return page1 is not None and mine["p50_ms"] <= target.limit * page1["p50_ms"]
    if mine["server_p50_ms"] is None or mine["server_p50_ms"] > target.limit:
        return False
    return target.p99 is None or mine["server_p99_ms"] <= target.p99


def error_summary(op: Operation) -> str:
    """How many answers were not the expected one, by status (``500 x3``; ``other`` for a
    reset connection or a timeout), and on which side."""
    parts = []
    for side in (HINDSIGHT, FLOOR):
        codes = Counter(
            (found.group(1) if (found := re.search(r"answered (\d+)", e)) else "other")
            for e in op.errors[side]
        )
        if codes:
            each = ", ".join(f"{code} x{n}" for code, n in sorted(codes.items()))
            parts.append(f"{side} {each}")
    return "; ".join(parts)


def http_rows(operations: list[Operation], servers: dict, results: dict) -> list[Row]:
    """One row per HTTP operation; fills ``results`` with the figures for --json.

    An answer that was not the expected one (a 500, a 503, a redirect to the login page, a
    reset connection) is never a pass: the row fails and says how many and which, and an
    operation with no right answer at all is a row of its own with the first error.
    """
    rows = []
    by_name = {op.name: op for op in operations}
    for op in operations:
        mine, floor = side_stats(op, HINDSIGHT, servers), side_stats(op, FLOOR, servers)
        target = op.target.describe() if op.target else "—"
        errors = error_summary(op)
        if mine is None or floor is None:
            if errors:
                first = (op.errors[HINDSIGHT] + op.errors[FLOOR])[0][:120]
                results[op.name] = {
                    "errors": op.errors, "target": target, "pass": False, "answer": op.answer,
                    "group": op.group, "key": op.key or op.name,
                }  # fmt: skip
                rows.append(Row(op.name, answer=op.answer, target=target,
                                result=f"FAIL ({errors}): {first}"))  # fmt: skip
            continue
        page1 = None
        if op.target and op.target.kind == "deep":
            page1 = side_stats(by_name[op.target.of], HINDSIGHT, servers)
        ok = judge(op.target, mine, floor, page1)
        ratio = mine["p50_ms"] / floor["p50_ms"] if floor else None
        if page1 is not None:  # say how far from page 1 it is: the ratio column is the floor's
            target += f" ({mine['p50_ms'] / page1['p50_ms']:.2f}x)"
        results[op.name] = {
            "hindsight": mine, "floor": floor, "ratio": ratio, "pass": ok, "target": target,
            "answer": op.answer, "group": op.group, "key": op.key or op.name,
        }  # fmt: skip
        result = verdict(ok)
        if errors:
            results[op.name]["errors"] = op.errors
            results[op.name]["pass"] = False
            result = f"FAIL ({errors})"
        rows.append(
            Row(
                op.name, str(mine["n"]), ms(mine["p50_ms"]), ms(mine["p99_ms"]),
                ms(mine["server_p50_ms"]), ms(mine["server_p99_ms"]),
                f"{mine['requests_per_s']:,.1f}", ms(floor["p50_ms"]), ms(floor["p99_ms"]),
                f"{ratio:,.1f}x", op.answer, target, result,
            )
        )  # fmt: skip
    return rows


def first_view_row(times: list[dict], detail: dict | None) -> Row | None:
    if not times:
        return None
    import statistics

    from web import percentile

    values = [t["ms"] for t in times]
    p50 = statistics.median(values)
    # Shown beside the page's floor for scale only: that floor reads the related incidents
    # a first view computes, scores and stores, so no target applies to this row.
    floor = detail["floor"] if detail else None
    ratio = p50 / floor["p50_ms"] if floor else None
    return Row(
        "detail HTML, first view (related computed)", str(len(values)), ms(p50),
        ms(percentile(values, 99)), floor_p50=ms(floor["p50_ms"]) if floor else "",
        floor_p99=ms(floor["p99_ms"]) if floor else "", ratio=f"{ratio:,.1f}x" if ratio else "",
        target="—", result="—",
    )  # fmt: skip


def import_rows(result: dict) -> list[Row]:
    """Against the floor served over HTTP, as Hindsight is (the target); and, for reference,
    against COPY from memory in the bench's own process."""
    ok = result["ratio"] >= 0.5
    name = f"status-page import ({result['incidents']} incidents x 5 updates), incidents/s"
    rounds, rate = str(len(result["rounds"])), f"{result['hindsight_incidents_per_s']:,.0f}/s"
    rows = [
        Row(name, rounds, rate, floor_p50=f"{result['floor_incidents_per_s']:,.0f}/s (COPY)",
            ratio=f"{result['ratio']:.3g}x", target="≥ 0.5x COPY", result=verdict(ok)),
    ]  # fmt: skip
    if "copy_ratio" in result:
        copy = f"{result['copy_incidents_per_s']:,.0f}/s (COPY)"
        ratio = f"{result['copy_ratio']:.3g}x"
        rows.append(Row("  the same, floor in the bench's process (no HTTP)", rounds, rate,
                        floor_p50=copy, ratio=ratio, target=""))  # fmt: skip
    return rows


def refresh_row(result: dict) -> Row:
    seconds = result["seconds"]
    return Row(
        "pattern refresh, whole knowledge base",
        "1",
        f"{seconds:,.1f} s",
        target="≤ 60 s",
        result=verdict(seconds <= 60),
    )


def digest_row(result: dict) -> Row:
    return Row(
        f"digest per subscriber ({result['digests']:,}; mean {result['mean_ms']:.1f} ms)",
        str(result["digests"]), ms(result["p50_ms"]), ms(result["p99_ms"]),
        target="≤ 50 ms mean", result=verdict(result["mean_ms"] <= 50),
    )  # fmt: skip


def counts_row(result: dict) -> Row:
    """``postmortems.tallies.take_counts`` before measuring: the published counts the pages
    read, as the task a minute after changes (and nightly) takes them."""
    return Row("published counts taken (take_counts)", "1", f"{result['seconds']:,.1f} s")


def rss_row(rss: list[float]) -> Row:
    each = ", ".join(f"{r:,.0f}" for r in rss)
    return Row(
        f"web worker RSS after the run, MiB ({each})",
        str(len(rss)),
        f"{max(rss):,.0f} MiB",
        target="< 300 MB",
        result=verdict(max(rss) * 2**20 < 300e6),
    )


# --- Printing ------------------------------------------------------------------------------------


def text_table(rows: list[Row]) -> str:
    table = [list(HEADS)] + [row.cells() for row in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(HEADS))]
    lines = []
    for n, cells in enumerate(table):
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        lines.append("  ".join([first, *rest]))
        if n == 0:
            lines.append("-" * len(lines[0]))
    return "\n".join(lines)


def markdown_table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADS) + " |", "|" + "---|" * len(HEADS)]
    lines += ["| " + " | ".join(c or "" for c in row.cells()) + " |" for row in rows]
    return "\n".join(lines)


def machine(commit: str | None) -> dict:
    """Date, CPU, cores, memory, PostgreSQL and the size of the knowledge base."""
    from django.db import connection

    cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
    mem = re.search(r"MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text())
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (pg,) = cursor.fetchone()
        cursor.execute(
            "SELECT count(*), count(*) FILTER (WHERE status = 'published') "
            "FROM postmortems_incident"
        )
        total, published = cursor.fetchone()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu.group(1) if cpu else platform.processor(),
        "cores": os.cpu_count(),
        "ram_gib": round(int(mem.group(1)) / 2**20, 1) if mem else None,
        "postgresql": pg,
        "python": platform.python_version(),
        "incidents": total,
        "published": published,
        "code": code_version(commit),
        # Other work on the machine shows here; interleaving spreads it over both sides.
        "load_average": [round(x, 1) for x in os.getloadavg()],
    }


def code_version(commit: str | None) -> str:
    """The commit measured, or this checkout's last commit and whether it has changes."""

    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=common.ROOT, capture_output=True, text=True)
        return result.stdout.strip()

    if commit:
        return f"{git('rev-parse', '--short', commit)} ({commit}, extracted)"
    dirty = " with uncommitted changes" if git("status", "--porcelain", "--untracked=no") else ""
    return f"{git('log', '-1', '--format=%h') or 'unknown'}{dirty} (working tree)"


def header(info: dict) -> str:
    return (
        f"{info['date']}; {info['cpu']}, {info['cores']} cores, {info['ram_gib']} GiB RAM; "
        f"PostgreSQL {info['postgresql']}; Python {info['python']}; "
        f"{info['incidents']:,} incidents ({info['published']:,} published); code {info['code']}; "
        f"load average {', '.join(map(str, info['load_average']))} at the start"
    )
