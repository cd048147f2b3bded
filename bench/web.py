"""The HTTP operations of ``bench/run``: what to request from Hindsight and from the floor.

Each operation pairs a Hindsight request with the floor request that answers the same
question; ``measure`` sends them round-robin (operation after operation, Hindsight and floor
in alternating order) so that whatever else the machine does hits both alike.
"""

from __future__ import annotations

import http.client
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode, urlsplit

from servers import TIMEOUT, Server

HINDSIGHT, FLOOR = "hindsight", "floor"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    body: bytes | None = None
    headers: dict = field(default_factory=dict)
    expect: int = 200


@dataclass(frozen=True)
class Target:
    """``ratio``: Hindsight p50 ≤ limit x floor p50; ``deep``: ≤ limit x the p50 of the
    operation named ``of``; ``server_ms``: Hindsight's server-time p50 ≤ limit ms."""

    kind: str
    limit: float
    of: str = ""

    def describe(self) -> str:
        if self.kind == "ratio":
            return f"≤ {self.limit:g}x floor"
        if self.kind == "deep":
            return f"≤ {self.limit:g}x page 1"
        return f"≤ {self.limit:g} ms server"


@dataclass
class Sample:
    client_ms: float
    bench_id: str


@dataclass
class Operation:
    name: str
    group: str
    hindsight: Callable[[int], Request]
    floor: Callable[[int], Request]
    target: Target | None = None
    samples: dict[str, list[Sample]] = field(default_factory=lambda: {HINDSIGHT: [], FLOOR: []})
    spent: float = 0.0  # seconds measured so far, both sides
    closed: bool = False  # sampling stopped: the operation used up its time budget
    errors: dict[str, list[str]] = field(default_factory=lambda: {HINDSIGHT: [], FLOOR: []})


class UnexpectedStatus(Exception):
    """The server answered something else than the operation expects (a 500, a redirect…)."""


def send(server: Server, request: Request, bench_id: str) -> tuple[float, bytes]:
    """One request on a fresh connection (gunicorn's sync workers close each one)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    headers = {"X-Bench-Id": bench_id, **request.headers}
    started = time.perf_counter()
    conn.request(request.method, request.path, request.body, headers)
    response = conn.getresponse()
    body = response.read()
    elapsed = (time.perf_counter() - started) * 1000
    conn.close()
    if response.status != request.expect:
        raise UnexpectedStatus(
            f"{server.name} answered {response.status} to {request.method} {request.path}: "
            f"{body[:200]!r}"
        )
    return elapsed, body


def get_json(server: Server, path: str, headers: dict) -> dict:
    return json.loads(send(server, Request("GET", path, headers=headers), "setup")[1])


def measure(
    operations: list[Operation],
    servers: dict[str, Server],
    *,
    rounds: int,
    warmup: int,
    budget: float,
) -> None:
    """Round-robin over operations and sides; an operation stops after ``budget`` seconds."""
    started = time.monotonic()
    for r in range(warmup + rounds):
        for k, op in enumerate(operations):
            if op.closed:
                continue
            sides = [HINDSIGHT, FLOOR] if (r + k) % 2 == 0 else [FLOOR, HINDSIGHT]
            for side in sides:
                request = (op.hindsight if side == HINDSIGHT else op.floor)(r)
                bench_id = f"{side[0]}{r}-{k}"
                try:
                    ms, _ = send(servers[side], request, bench_id)
                except UnexpectedStatus as exc:
                    # Counted and reported, not fatal: the app may be mid-change under us.
                    op.errors[side].append(str(exc))
                    continue
                if r >= warmup:
                    op.samples[side].append(Sample(ms, bench_id))
                    op.spent += ms / 1000
            op.closed = r >= warmup and op.spent > budget
        if r % 10 == 9 or r == warmup + rounds - 1:
            print(
                f"  round {r + 1}/{warmup + rounds} ({time.monotonic() - started:,.0f} s)",
                file=sys.stderr,
            )


# --- Results ---------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (p99 of 200 samples is the second slowest)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def side_stats(op: Operation, side: str, servers: dict[str, Server]) -> dict | None:
    samples = op.samples[side]
    if not samples:
        return None
    client = [s.client_ms for s in samples]
    logged = servers[side].server_us
    server = [logged[s.bench_id] / 1000 for s in samples if s.bench_id in logged]
    return {
        "n": len(samples),
        "p50_ms": statistics.median(client),
        "p99_ms": percentile(client, 99),
        "mean_ms": statistics.fmean(client),
        "requests_per_s": 1000 / statistics.fmean(client),
        "server_p50_ms": statistics.median(server) if server else None,
        "server_p99_ms": percentile(server, 99) if server else None,
    }


# --- Building the operations -----------------------------------------------------------------


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def get(path: str, headers: dict) -> Callable[[int], Request]:
    request = Request("GET", path, headers=headers)
    return lambda _round: request


def floor_get(route: str, **params) -> Callable[[int], Request]:
    return get(f"{route}?{urlencode(params)}", {})


def list_operations(fx, api: dict, html: dict) -> list[Operation]:
    """Vendor-filtered lists, API and HTML, page 1 and a page deep in the list."""
    ops = []
    for vendor in fx.vendors:
        slug, vid = vendor["slug"], vendor["id"]
        label = f"{slug} ({vendor['incidents']:,})"
        first_api, first_html = f"list API {label} p1", f"list HTML {label} p1"
        deep_api, deep_html = fx.deep[slug]["api"], fx.deep[slug]["html"]
        ops += [
            Operation(
                first_api, "list", get(f"/api/incidents/?vendor={slug}&page_size=50", api),
                floor_get("/api-list", vendor=vid, size=50), Target("ratio", 3),
            ),
            Operation(
                f"list API {label} p{deep_api['page']}", "list", get(deep_api["path"], api),
                floor_get("/api-list", vendor=vid, size=50, **deep_api["after"]),
                Target("deep", 1.5, first_api),
            ),
            Operation(
                first_html, "list", get(f"/?vendor={slug}", html),
                floor_get("/html-list", vendor=vid, size=25), Target("ratio", 3),
            ),
            Operation(
                f"list HTML {label} p{deep_html['page']}", "list", get(deep_html["path"], html),
                floor_get("/html-list", vendor=vid, size=25, **deep_html["after"]),
                Target("deep", 1.5, first_html),
            ),
        ]  # fmt: skip
    return ops


def rotating(paths: list[str], headers: dict) -> Callable[[int], Request]:
    requests = [Request("GET", p, headers=headers) for p in paths]
    return lambda r: requests[r % len(requests)]


def detail_operations(fx, api: dict, html: dict) -> list[Operation]:
    slugs = fx.slugs
    return [
        Operation(
            "detail API", "detail", rotating([f"/api/incidents/{s}/" for s in slugs], api),
            rotating([f"/detail?slug={s}" for s in slugs], {}), Target("ratio", 4),
        ),
        Operation(
            "detail HTML", "detail", rotating([f"/incidents/{s}/" for s in slugs], html),
            rotating([f"/html-detail?slug={s}" for s in slugs], {}), Target("ratio", 4),
        ),
    ]  # fmt: skip


def search_operations(fx, api: dict, html: dict) -> list[Operation]:
    ops = []
    for kind, term in (("selective", fx.selective_term), ("common", fx.common_term)):
        target = Target("ratio", 3) if kind == "selective" else None
        q = quote(term)
        ops += [
            Operation(
                f"search API {kind} “{term}”", "search",
                get(f"/api/incidents/?q={q}&page_size=50", api),
                floor_get("/api-search", q=term, size=50), target,
            ),
            Operation(
                f"search HTML {kind} “{term}”", "search", get(f"/?q={q}", html),
                floor_get("/html-search", q=term, size=25), target,
            ),
        ]  # fmt: skip
    return ops


def pattern_operations(fx, api: dict, html: dict) -> list[Operation]:
    floor = get("/patterns", {})
    return [
        Operation(
            "patterns API", "patterns", get("/api/patterns/", api), floor,
            Target("server_ms", 10),
        ),
        Operation(
            "patterns dashboard HTML", "patterns", get("/patterns/", html), floor,
            Target("server_ms", 10),
        ),
    ] + ([] if fx.top_pattern is None else [
        Operation(
            "pattern API, best family head", "patterns",
            get(f"/api/patterns/{fx.top_pattern}/", api),
            floor_get("/pattern", id=fx.top_pattern), Target("server_ms", 10),
        ),
        Operation(
            "pattern page HTML, best family head", "patterns",
            get(f"/patterns/{fx.top_pattern}/", html),
            floor_get("/pattern", id=fx.top_pattern), Target("server_ms", 10),
        ),
    ])  # fmt: skip


def create_operation(fx, api: dict) -> Operation:
    """POST a new postmortem; a unique title per request (the slug follows from it)."""
    headers = {**api, "Content-Type": "application/json"}

    def hindsight(r: int) -> Request:
        body = {
            "title": f"Bench write {fx.run_id} {r}",
            "vendors": [fx.write_vendor["slug"]],
            "primary_vendor": fx.write_vendor["slug"],
            "severity": "minor",
            "summary": "Written by the benchmark.",
            "started_at": fx.now_iso,
            "change_types": [fx.change_type["slug"]],
            "factors": [
                {"category": c["slug"], "role": role, "description": ""}
                for c, role in zip(fx.categories, ("root_cause", "contributing"), strict=True)
            ],
        }
        return Request("POST", "/api/incidents/", json.dumps(body).encode(), headers, 201)

    def floor(r: int) -> Request:
        body = {
            "title": f"Bench write {fx.run_id} {r} floor",
            "slug": f"bench-write-{fx.run_id}-{r}-floor",
            "vendor": fx.write_vendor["id"],
            "severity": "minor",
            "summary": "Written by the benchmark.",
            "started_at": fx.now_iso,
            "change_type": fx.change_type["id"],
            "categories": [c["id"] for c in fx.categories],
            "roles": ["root_cause", "contributing"],
            "user": fx.user_id,
        }
        headers = {"Content-Type": "application/json"}
        return Request("POST", "/create", json.dumps(body).encode(), headers, 201)

    return Operation("create API", "create", hindsight, floor)


def operations(fx, groups: set[str]) -> list[Operation]:
    api = {"Authorization": f"Bearer {fx.token}"}
    html = {"Cookie": f"sessionid={fx.session_key}"}
    ops: list[Operation] = []
    if "list" in groups:
        ops += list_operations(fx, api, html)
    if "detail" in groups:
        ops += detail_operations(fx, api, html)
    if "search" in groups:
        ops += search_operations(fx, api, html)
    if "patterns" in groups:
        ops += pattern_operations(fx, api, html)
    if "create" in groups:
        ops.append(create_operation(fx, api))
    return ops
