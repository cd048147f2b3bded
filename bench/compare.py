#!/usr/bin/env python
"""Two ``bench/run --json`` outputs side by side, as one Markdown table.

    bench/compare.py /tmp/bench-100k.json /tmp/bench-1m.json --labels 100k,1M

One row per HTTP operation of either run (in the order of the larger run's table, then any
the other run alone has), matched by key: "/vendors/largest/ · viewer" is the largest vendor's
page in each run, whichever vendor that is. Each row gives the operation as the larger run
names it, how its answer is had and its target, Hindsight's server-time p50 and p99 in each
run, and the verdict of the larger run (the one with more published incidents; the second
file on a tie). A run's failed requests show in its verdict.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path, nargs=2, metavar="RUN.json")
    parser.add_argument("--labels", help="names of the two runs, comma-separated (default: "
                        "their published incidents, e.g. 100k,1M)")  # fmt: skip
    parser.add_argument("--group", help="only operations of this group (e.g. pages)")
    return parser.parse_args()


def size_label(published: int) -> str:
    if published >= 1_000_000:
        return f"{published / 1_000_000:g}M"
    if published >= 1_000:
        return f"{published / 1_000:g}k"
    return str(published)


def ms(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.1f}" if value < 100 else f"{value:,.0f}"


def verdict(figures: dict | None) -> str:
    if figures is None:
        return ""
    if figures.get("errors"):
        failed = sum(len(e) for e in figures["errors"].values())
        return f"FAIL ({failed} errors)"
    ok = figures.get("pass")
    return "—" if ok is None else ("pass" if ok else "FAIL")


def cells(figures: dict | None) -> list[str]:
    """Server p50 and p99 of Hindsight in one run ("error" when no request succeeded)."""
    if figures is None:
        return ["", ""]
    mine = figures.get("hindsight")
    if mine is None:
        return ["error", "error"]
    return [ms(mine.get("server_p50_ms")), ms(mine.get("server_p99_ms"))]


def by_key(http: dict) -> dict:
    """The run's operations by key: the same page at both scales, whichever vendor, term or
    pattern each run's fixtures chose (older runs without keys: by name)."""
    return {figures.get("key", name): {"name": name, **figures} for name, figures in http.items()}


def table(runs: list[dict], labels: list[str], group: str | None) -> str:
    larger = 0 if runs[0]["machine"]["published"] > runs[1]["machine"]["published"] else 1
    https = [by_key(run.get("http", {})) for run in runs]
    names = list(dict.fromkeys([*https[larger], *https[1 - larger]]))
    if group:
        names = [n for n in names if any(h.get(n, {}).get("group") == group for h in https)]
    heads = ["operation", "answer", "target"]
    for label in labels:
        heads += [f"{label} p50", f"{label} p99"]
    heads.append(f"result at {labels[larger]}")
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    for name in names:
        figures = [h.get(name) for h in https]
        described = figures[larger] or figures[1 - larger]
        row = [described["name"], described.get("answer", ""), described.get("target", "")]
        for each in figures:
            row += cells(each)
        row.append(verdict(figures[larger]))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def header(run: dict, label: str) -> str:
    info = run["machine"]
    return (
        f"- {label}: {info['date']}, {info['published']:,} published incidents, "
        f"PostgreSQL {info['postgresql']}, code {info['code']}"
    )


def main() -> None:
    args = parse_args()
    runs = [json.loads(path.read_text()) for path in args.runs]
    labels = args.labels.split(",") if args.labels else []
    if len(labels) != 2:
        labels = [size_label(run["machine"]["published"]) for run in runs]
    print("\n".join(header(run, label) for run, label in zip(runs, labels, strict=True)))
    print("\nServer time (gunicorn's, ms) of Hindsight.\n")
    print(table(runs, labels, args.group))


if __name__ == "__main__":
    main()
