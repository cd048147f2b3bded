"""The HTTP operations of ``bench/run``: what to request from Hindsight and from the floor.

Each operation pairs a Hindsight request with the floor request that answers the same
question; ``measure`` sends them round-robin (operation after operation, Hindsight and floor
in alternating order) so that whatever else the machine does hits both alike. The pages
group asks every page and API list people use, once as each person (``fixtures.ROLES``).
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
    operation named ``of``; ``server_ms``: Hindsight's server-time p50 ≤ limit ms, and its
    p99 ≤ ``p99`` ms when given."""

    kind: str
    limit: float
    of: str = ""
    p99: float | None = None

    def describe(self) -> str:
        if self.kind == "ratio":
            return f"≤ {self.limit:g}x floor"
        if self.kind == "deep":
            return f"≤ {self.limit:g}x page 1"
        if self.p99 is not None:
            return f"server ≤ {self.limit:g} / {self.p99:g} ms"
        return f"≤ {self.limit:g} ms server"


# The pages' targets: Hindsight's own time (gunicorn's), p50 and p99.
HTML_TARGET = Target("server_ms", 150, p99=500)
DIGEST_TARGET = Target("server_ms", 200, p99=500)
API_TARGET = Target("server_ms", 50, p99=200)
# What an answer's counts are (the table's "answer" column); the caps are the measured
# code's (``fixtures.product_caps``).
EXACT, PRECOMPUTED = "exact", "precomputed"


def capped(cap: int) -> str:
    return f"capped {cap:,}"


def ranked(cap: int, ranks: int) -> str:
    return f"capped {cap:,}, ranks newest {ranks:,}"


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
    answer: str = ""  # exact, precomputed or capped: how the page's counts are had
    # The same page at another scale has the same key, whatever vendor or term it names
    # (``bench/compare.py`` matches runs by it); the name by default.
    key: str = ""
    samples: dict[str, list[Sample]] = field(default_factory=lambda: {HINDSIGHT: [], FLOOR: []})
    spent: float = 0.0  # seconds measured so far, both sides
    closed: bool = False  # sampling stopped: the operation used up its time budget
    errors: dict[str, list[str]] = field(default_factory=lambda: {HINDSIGHT: [], FLOOR: []})


class UnexpectedStatus(Exception):
    """The server answered something else than the operation expects (a 500, a redirect…)."""


# What sending may raise besides a wrong status: a worker killed, a timeout, a reset.
SEND_ERRORS = (UnexpectedStatus, OSError, http.client.HTTPException)


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
                except SEND_ERRORS as exc:
                    # Counted and reported, not fatal: the app may be mid-change under us.
                    message = str(exc) if isinstance(exc, UnexpectedStatus) else repr(exc)
                    op.errors[side].append(message)
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
            "patterns dashboard HTML", "patterns", get("/patterns/", html), get("/dashboard", {}),
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


# --- Every page, as each person -----------------------------------------------------------------
# A page's requests are built per person: ``Account -> (round -> Request)``.


@dataclass(frozen=True)
class Page:
    label: str
    hindsight: Callable
    floor: Callable
    target: Target
    answer: str
    key: str = ""  # what the label says whatever the scale ("home ?vendor=largest")


def html_page(path: str) -> Callable:
    return lambda account: get(path, account.html)


def api_page(path: str) -> Callable:
    return lambda account: get(path, account.api)


def floor_page(route: str, **params) -> Callable:
    """The floor's route, for this person (``floor.visible``)."""
    return lambda account: floor_get(route, role=account.role, user=account.user_id, **params)


def home_pages(fx) -> list[Page]:
    """The home page unfiltered, by each filter alone, searched, and 21 pages in."""
    pages = fx.pages
    largest, small = pages.largest, pages.small
    filters = [
        (f"vendor={largest['slug']}", {"vendor": largest["id"]}, "vendor=largest"),
        (f"vendor={small['slug']}", {"vendor": small["id"]}, "vendor=small"),
        (f"change_type={pages.change_type['slug']}", {"change_type": pages.change_type["id"]},
         "change_type=commonest"),
        (f"category={pages.category['slug']}", {"category": pages.category["id"]},
         "category=commonest"),
        ("severity=critical", {"severity": "critical"}, ""),
        ("status=published", {"status": "published"}, ""),
        (f"started_after={pages.started_after}", {"started_after": pages.started_after},
         "started_after=a year back"),
    ]  # fmt: skip
    searches = [(fx.common_term, ""), (fx.selective_term, "q=selective"), (pages.phrase, "")]
    deep = pages.home_deep
    cap, ranks = pages.caps
    return [
        Page("home unfiltered", html_page("/"), floor_page("/home"), HTML_TARGET, PRECOMPUTED),
        *(
            Page(f"home ?{query}", html_page(f"/?{query}"), floor_page("/home", **params),
                 HTML_TARGET, capped(cap), f"home ?{key}" if key else "")
            for query, params, key in filters
        ),
        *(
            Page(f"home ?q={term}", html_page(f"/?q={quote(term)}"), floor_page("/home", q=term),
                 HTML_TARGET, ranked(cap, ranks), f"home ?{key}" if key else "")
            for term, key in searches
        ),
        Page(
            f"home page {max(d['page'] for d in deep.values())}",
            lambda a: get(deep[a.role]["path"], a.html),
            lambda a: floor_get("/home", role=a.role, user=a.user_id, **deep[a.role]["after"]),
            HTML_TARGET, PRECOMPUTED, "home page deep",
        ),
    ]  # fmt: skip


def listing_pages(fx) -> list[Page]:
    """Vendors, the taxonomy and the patterns: counts read from what was counted ahead."""
    pages = fx.pages
    largest, small = pages.largest, pages.small
    ct, cat = pages.change_type, pages.category
    listed = [
        Page("/vendors/", html_page("/vendors/"), floor_page("/vendors"), HTML_TARGET,
             PRECOMPUTED),
        Page("/vendors/?sort=count", html_page("/vendors/?sort=count"),
             floor_page("/vendors", sort="count"), HTML_TARGET, PRECOMPUTED),
        Page(f"/vendors/{largest['slug']}/", html_page(f"/vendors/{largest['slug']}/"),
             floor_page("/vendor", vendor=largest["id"]), HTML_TARGET, PRECOMPUTED,
             "/vendors/largest/"),
        Page(f"/vendors/{small['slug']}/ ({small['incidents']})",
             html_page(f"/vendors/{small['slug']}/"), floor_page("/vendor", vendor=small["id"]),
             HTML_TARGET, PRECOMPUTED, "/vendors/small/"),
        Page("/taxonomy/", html_page("/taxonomy/"), floor_page("/taxonomy"), HTML_TARGET,
             PRECOMPUTED),
        Page(f"/change-types/{ct['slug']}/", html_page(f"/change-types/{ct['slug']}/"),
             floor_page("/change-type", change_type=ct["id"]), HTML_TARGET, PRECOMPUTED,
             "/change-types/commonest/"),
        Page(f"/categories/{cat['slug']}/", html_page(f"/categories/{cat['slug']}/"),
             floor_page("/category", category=cat["id"]), HTML_TARGET, PRECOMPUTED,
             "/categories/commonest/"),
        Page("/patterns/", html_page("/patterns/"), floor_page("/dashboard"), HTML_TARGET,
             PRECOMPUTED),
    ]  # fmt: skip
    if fx.top_pattern is not None:
        listed.append(
            Page(f"/patterns/{fx.top_pattern}/", html_page(f"/patterns/{fx.top_pattern}/"),
                 floor_page("/pattern", id=fx.top_pattern), HTML_TARGET, PRECOMPUTED,
                 "/patterns/best family head/")
        )  # fmt: skip
    return listed


def one_incident_pages(fx) -> list[Page]:
    """The incident page opened for the first time (a never-opened incident each round)
    and again (the sampled ones, opened before measuring), its export, the digest's
    preview and the settings page."""
    fresh = fx.pages.first_views
    slug = fx.slugs[0]
    return [
        Page(
            "incident page, first view",
            lambda a: rotating([f"/incidents/{s}/" for s in fresh[a.role]], a.html),
            lambda a: rotating([f"/html-detail?slug={s}" for s in fresh[a.role]], {}),
            HTML_TARGET, EXACT,
        ),
        Page(
            "incident page, later view",
            lambda a: rotating([f"/incidents/{s}/" for s in fx.slugs], a.html),
            lambda a: rotating([f"/html-detail?slug={s}" for s in fx.slugs], {}),
            HTML_TARGET, EXACT,
        ),
        Page("incident export.md", html_page(f"/incidents/{slug}/export.md"),
             floor_page("/detail", slug=slug), HTML_TARGET, EXACT),
        Page("/digests/preview/", html_page("/digests/preview/"), floor_page("/digest-preview"),
             DIGEST_TARGET, EXACT),
        Page("/accounts/settings/", html_page("/accounts/settings/"), floor_page("/settings"),
             HTML_TARGET, EXACT),
    ]  # fmt: skip


def api_pages(fx) -> list[Page]:
    largest = fx.pages.largest
    return [
        Page("/api/incidents/", api_page("/api/incidents/"), floor_page("/api-list", size=50),
             API_TARGET, EXACT),
        Page(f"/api/incidents/?vendor={largest['slug']}",
             api_page(f"/api/incidents/?vendor={largest['slug']}"),
             floor_page("/api-list", vendor=largest["id"], size=50), API_TARGET, EXACT,
             "/api/incidents/?vendor=largest"),
        Page(f"/api/incidents/?q={fx.common_term}",
             api_page(f"/api/incidents/?q={quote(fx.common_term)}"),
             floor_page("/api-search", q=fx.common_term, size=50), API_TARGET, EXACT),
        Page("/api/vendors/", api_page("/api/vendors/"), floor_page("/api-vendors"), API_TARGET,
             EXACT),
        Page("/api/patterns/", api_page("/api/patterns/"), floor_page("/patterns"), API_TARGET,
             PRECOMPUTED),
        Page("/api/stats/", api_page("/api/stats/"), floor_page("/stats"), API_TARGET,
             PRECOMPUTED),
    ]  # fmt: skip


def page_operations(fx, roles: tuple[str, ...]) -> list[Operation]:
    """Every page as each person, a page's people side by side ("… · viewer")."""
    pages = home_pages(fx) + listing_pages(fx) + one_incident_pages(fx) + api_pages(fx)
    return [
        Operation(
            f"{page.label} · {role}", "pages", page.hindsight(fx.accounts[role]),
            page.floor(fx.accounts[role]), page.target, page.answer,
            key=f"{page.key or page.label} · {role}",
        )
        for page in pages
        for role in roles
    ]  # fmt: skip


def operations(fx, groups: set[str], roles: tuple[str, ...] = ()) -> list[Operation]:
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
    if "pages" in groups:
        ops += page_operations(fx, roles)
    return ops
