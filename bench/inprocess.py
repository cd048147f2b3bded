"""The operations of ``bench/run`` that are not one HTTP request: the status-page import and
its COPY floor, the pattern refresh, and building the weekly digests.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

import psycopg
from web import Request, percentile, send

IMPORT_VENDOR = "bench-import"
UPDATE_STATUSES = ("investigating", "identified", "identified", "monitoring", "resolved")
COMPONENTS = [(f"bench{n:03d}cmp", f"Component {n}") for n in range(5)]


# --- Status-page import --------------------------------------------------------------------------


def statuspage_payload(prefix: str, incidents: int, updates: int) -> dict:
    """A Statuspage v2 ``incidents.json`` with ids unique to this run and round."""
    start = datetime(2020, 1, 1, tzinfo=UTC)
    items = []
    for n in range(incidents):
        began = start + timedelta(hours=7 * n)
        times = [began + timedelta(minutes=20 * u) for u in range(updates)]
        component = COMPONENTS[n % len(COMPONENTS)]
        items.append(
            {
                "id": f"{prefix}i{n}",
                "name": f"Degraded {component[1]} responses {prefix} {n}",
                "status": "resolved",
                "created_at": began.isoformat(),
                "updated_at": times[-1].isoformat(),
                "monitoring_at": times[-2].isoformat(),
                "resolved_at": times[-1].isoformat(),
                "impact": ("minor", "major", "critical")[n % 3],
                "shortlink": f"https://stspg.example/{prefix}{n}",
                "started_at": began.isoformat(),
                "page_id": "benchpage",
                "incident_updates": [
                    {
                        "id": f"{prefix}i{n}u{u}",
                        "status": UPDATE_STATUSES[u % len(UPDATE_STATUSES)],
                        "body": f"Update {u} on the degraded responses of {component[1]}.",
                        "incident_id": f"{prefix}i{n}",
                        "created_at": at.isoformat(),
                        "updated_at": at.isoformat(),
                        "display_at": at.isoformat(),
                        "affected_components": None,
                    }
                    for u, at in reversed(list(enumerate(times)))  # newest first, as pages do
                ],
                "components": [{"id": component[0], "name": component[1]}],
            }
        )
    page = {"id": "benchpage", "name": "Bench import", "url": "https://status.bench.example"}
    return {"page": page, "incidents": items}


def hindsight_import(hindsight, token: str, payload: dict) -> dict:
    """POST the payload to ``/api/imports/`` and run the job it queues, as the worker would.

    A payload this size is a background job (202 and a job URL). The job runs here, in
    this process, through ``imports.services.run_import_job`` (the function the worker's task
    calls), right after the POST; the time is the POST plus the job.
    """
    from imports import services

    body = {"vendor": IMPORT_VENDOR, "vendor_name": "Bench import", "format": "statuspage"}
    body = json.dumps({**body, "payload": payload}).encode()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    started = time.perf_counter()
    request = Request("POST", "/api/imports/", body, headers, expect=202)
    post_ms, answer = send(hindsight, request, "import")
    job = json.loads(answer)
    report = services.run_import_job(job["id"])
    seconds = time.perf_counter() - started
    if report is None or report.created != len(payload["incidents"]):
        raise SystemExit(f"the import job did not create every incident: {report}")
    return {"seconds": seconds, "post_s": post_ms / 1000, "created": report.created}


FLOOR_TABLES = {
    "bench_floor_incident": "postmortems_incident",
    "bench_floor_event": "timeline_timelineevent",
}
FLOOR_INCIDENT_COLUMNS = (
    "id", "title", "slug", "regions", "severity", "status", "started_at", "resolved_at",
    "summary", "impact", "analysis", "lessons", "detection_method", "data_loss", "near_miss",
    "origin", "import_source", "external_id", "raw_payload", "imported_values", "needs_review",
    "is_maintenance", "duration_unknown", "created_at", "updated_at", "version",
)  # fmt: skip
FLOOR_EVENT_COLUMNS = (
    "incident_id", "occurred_at", "kind", "description", "body_format", "source",
    "external_id", "position", "created_at", "updated_at",
)  # fmt: skip


def floor_tables(conn: psycopg.Connection) -> None:
    """Temporary copies of the two tables, with their indexes, checks and generated column."""
    for copy, table in FLOOR_TABLES.items():
        conn.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {copy} (LIKE {table} INCLUDING ALL)")
        conn.execute(f"TRUNCATE {copy}")
    conn.commit()


def floor_rows(data: bytes) -> tuple[list[tuple], list[tuple]]:
    """Incident and update rows straight from the payload: the least an import must write."""
    now = datetime.now(UTC)
    incidents, events = [], []
    for pk, item in enumerate(json.loads(data)["incidents"], start=1):
        incidents.append((
            pk, item["name"], f"floor-{item['id']}", [], item["impact"], "draft",
            item["started_at"], item["resolved_at"], "", "", "", "", "", False, False,
            "imported", f"statuspage:{IMPORT_VENDOR}", item["id"], json.dumps(item), "{}", True,
            False, False, now, now, 1,
        ))  # fmt: skip
        for position, update in enumerate(item["incident_updates"]):
            events.append((
                pk, update["display_at"], "status_update", update["body"], "text",
                f"statuspage:{IMPORT_VENDOR}", update["id"], position, now, now,
            ))  # fmt: skip
    return incidents, events


def floor_import(conn: psycopg.Connection, payload: dict) -> float:
    """Seconds to parse the payload and COPY its rows into the copies, committed."""
    data = json.dumps(payload).encode()
    started = time.perf_counter()
    incidents, events = floor_rows(data)
    with conn.cursor() as cur:
        for table, columns, rows in (
            ("bench_floor_incident", FLOOR_INCIDENT_COLUMNS, incidents),
            ("bench_floor_event", FLOOR_EVENT_COLUMNS, events),
        ):
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
    conn.commit()
    seconds = time.perf_counter() - started
    for copy in FLOOR_TABLES:
        conn.execute(f"TRUNCATE {copy}")
    conn.commit()
    return seconds


def measure_import(hindsight, token: str, url: str, run_id: str, args) -> dict:
    """Alternate Hindsight imports and COPY floors, each round with fresh ids."""
    rounds: list[dict] = []
    with psycopg.connect(url) as conn:
        floor_tables(conn)
        for r in range(args.import_rounds):
            payload = statuspage_payload(f"b{run_id}r{r}", args.import_incidents, 5)
            first, second = ("h", "f") if r % 2 == 0 else ("f", "h")
            result: dict = {}
            for side in (first, second):
                if side == "h":
                    result.update(hindsight_import(hindsight, token, payload))
                else:
                    result["floor_seconds"] = floor_import(conn, payload)
            rounds.append(result)
            print(f"  import round {r + 1}: {result}", flush=True)
    n = args.import_incidents
    hindsight_rate = statistics.median(n / r["seconds"] for r in rounds)
    floor_rate = statistics.median(n / r["floor_seconds"] for r in rounds)
    return {
        "rounds": rounds,
        "incidents": n,
        "updates_per_incident": 5,
        "hindsight_incidents_per_s": hindsight_rate,
        "floor_incidents_per_s": floor_rate,
        "ratio": hindsight_rate / floor_rate,
    }


# --- Pattern refresh -----------------------------------------------------------------------------


def measure_refresh() -> dict:
    from patterns import services

    started = time.perf_counter()
    summary = services.refresh_patterns()
    return {"seconds": time.perf_counter() - started, "summary": str(summary)}


# --- Weekly digests ------------------------------------------------------------------------------

SUBSCRIBERS = 10_000
SUBSCRIBER_DOMAIN = "bench.example"
TIME_ZONES = (
    "UTC", "Europe/London", "Europe/Berlin", "America/New_York", "America/Chicago",
    "America/Los_Angeles", "Asia/Tokyo", "Asia/Kolkata", "Australia/Sydney",
)  # fmt: skip


def ensure_subscribers(count: int = SUBSCRIBERS) -> int:
    """Email-only, confirmed subscriptions: 80% without filters, the rest filtered by vendors,
    categories or a minimum severity. Most keep the default Monday 09:00, in several zones."""
    from digests.models import DigestSubscription
    from postmortems.models import FailureCategory, Vendor

    existing = DigestSubscription.objects.filter(email__endswith=f"@{SUBSCRIBER_DOMAIN}")
    if existing.count() >= count:
        return 0
    existing.delete()
    rng = random.Random(1)
    vendors = list(Vendor.objects.order_by("id").values_list("id", flat=True)[:200])
    categories = list(FailureCategory.objects.values_list("id", flat=True))
    now = datetime.now(UTC)
    rows = [subscription(n, rng, now) for n in range(count)]
    created = DigestSubscription.objects.bulk_create(rows, batch_size=2000)
    vendor_links, category_links = [], []
    for sub in created:
        kind = rng.random()
        if kind < 0.8:
            continue  # no filters
        if kind < 0.88:
            vendor_links += [(sub.id, v) for v in rng.sample(vendors, rng.randint(1, 3))]
        elif kind < 0.95:
            category_links += [(sub.id, c) for c in rng.sample(categories, rng.randint(1, 2))]
        else:
            sub.min_severity = rng.choice(("critical", "major"))
            sub.save(update_fields=["min_severity"])
    link(DigestSubscription.vendors.through, "vendor_id", vendor_links)
    link(DigestSubscription.categories.through, "failurecategory_id", category_links)
    return count


def subscription(n: int, rng: random.Random, now: datetime):
    from digests.models import DigestSubscription

    default_time = rng.random() < 0.75
    return DigestSubscription(
        email=f"subscriber{n}@{SUBSCRIBER_DOMAIN}",
        time_zone=rng.choice(TIME_ZONES),
        weekday=0 if default_time else rng.randint(0, 4),
        hour=9 if default_time else rng.randint(7, 10),
        confirmed_at=now,
    )


def link(through, column: str, pairs: list[tuple[int, int]]) -> None:
    rows = [through(digestsubscription_id=s, **{column: o}) for s, o in pairs]
    through.objects.bulk_create(rows, batch_size=5000)


def measure_digests(limit: int | None) -> dict:
    """Build every bench subscriber's digest for its latest week, as the sending path does:
    the subscription loaded by id, then ``digest_email`` with one cache shared by the run."""
    from digests.content import DigestCache
    from digests.delivery import digest_email
    from digests.models import DigestSubscription
    from digests.schedule import latest_due_moment, period_ending

    now = datetime.now(UTC)
    subs = DigestSubscription.objects.filter(email__endswith=f"@{SUBSCRIBER_DOMAIN}").active()
    ids = list(subs.order_by("id").values_list("id", flat=True)[:limit])
    cache, times, quiet = DigestCache(), [], 0
    started = time.perf_counter()
    for pk in ids:
        t0 = time.perf_counter()
        sub = DigestSubscription.objects.select_related("user").get(pk=pk)
        moment = latest_due_moment(now, weekday=sub.weekday, hour=sub.hour, time_zone=sub.time_zone)
        message = digest_email(sub, period_ending(moment, sub.time_zone), cache=cache)
        if message is not None:
            message.message().as_bytes()  # the MIME text the transport would send
        else:
            quiet += 1
        times.append((time.perf_counter() - t0) * 1000)
        if len(times) % 1000 == 0:
            print(f"  {len(times):,} digests, {time.perf_counter() - started:,.0f} s", flush=True)
    return {
        "digests": len(times),
        "skipped_quiet": quiet,
        "p50_ms": statistics.median(times),
        "p99_ms": percentile(times, 99),
        "mean_ms": statistics.fmean(times),
        "total_s": time.perf_counter() - started,
        "shared_parts": len(cache.shared),
    }
