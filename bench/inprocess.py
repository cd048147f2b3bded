"""The operations of ``bench/run`` that are not one HTTP request: the status-page import and
its COPY floor, the pattern refresh, and building the weekly digests.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import floor
import psycopg
import servers
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


def import_body(payload: dict) -> bytes:
    """The body of a push to ``/api/imports/``, which the floor's ``/import`` takes too."""
    body = {"vendor": IMPORT_VENDOR, "vendor_name": "Bench import", "format": "statuspage"}
    return json.dumps({**body, "payload": payload}).encode()


def hindsight_import(hindsight, token: str, payload: dict) -> dict:
    """POST the payload to ``/api/imports/`` and run the job it queues, as the worker would.

    A payload this size is a background job (202 and a job URL). The job runs here, in
    this process, through ``imports.services.run_import_job`` (the function the worker's task
    calls), right after the POST; the time is the POST plus the job.
    """
    from imports import services

    body = import_body(payload)
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


def floor_http_import(
    floor_server, conn: psycopg.Connection, payload: dict, vendor_id: int
) -> float:
    """Seconds for the floor's ``POST /import`` of the body Hindsight is sent; what it wrote
    is deleted afterwards, untimed."""
    query = urlencode({"vendor_id": vendor_id, "source": f"floor:{IMPORT_VENDOR}"})
    request = Request("POST", f"/import?{query}", import_body(payload), {}, expect=201)
    started = time.perf_counter()
    _, answer = send(floor_server, request, "import")
    seconds = time.perf_counter() - started
    floor.forget_import_floor(conn, json.loads(answer)["ids"])
    return seconds


def forget_hindsight_import(conn: psycopg.Connection, payload: dict) -> None:
    """Delete the incidents an import of ``payload`` created, as the floor's are, so rounds
    and runs all start from the same database (not timed)."""
    ids = conn.execute(
        "SELECT id FROM postmortems_incident WHERE import_source = %s AND external_id = ANY(%s)",
        [f"statuspage:{IMPORT_VENDOR}", [item["id"] for item in payload["incidents"]]],
    ).fetchall()
    floor.forget_import_floor(conn, [row[0] for row in ids])


def floor_import(conn: psycopg.Connection, payload: dict, vendor_id: int) -> float:
    """Seconds for the floor (``floor.import_floor``) to write the payload, committed; what
    it wrote is deleted afterwards, untimed."""
    seconds, ids = floor.import_floor(
        conn, json.dumps(payload).encode(), vendor_id=vendor_id, source=f"floor:{IMPORT_VENDOR}"
    )
    floor.forget_import_floor(conn, ids)
    return seconds


def warm_up(hindsight, floor_server, token: str, conn: psycopg.Connection, vendor_id: int,
            run_id: str) -> None:  # fmt: skip
    """Unmeasured imports first, as the HTTP operations have warm-up rounds. Each gunicorn
    worker loads the URLs, views and parsers on its first request, and Celery's producer on
    its first queued job; this process loads the job's code on its first job; each
    connection of the floor fills its catalogue caches on its first COPY. The payloads are
    just big enough to be queued, so the warm-up runs the measured path."""
    from imports.services import SYNC_MAX_INCIDENTS

    for n in range(2 * servers.WORKERS):  # workers take connections as they come: a few each
        payload = statuspage_payload(f"b{run_id}w{n}", SYNC_MAX_INCIDENTS + 1, 5)
        hindsight_import(hindsight, token, payload)
        forget_hindsight_import(conn, payload)
        floor_http_import(floor_server, conn, payload, vendor_id)
    floor_import(conn, statuspage_payload(f"b{run_id}wf", SYNC_MAX_INCIDENTS + 1, 5), vendor_id)


def measure_import(hindsight, floor_server, token: str, url: str, run_id: str, args) -> dict:
    """Each round, a fresh payload imported three ways, in turn first: through Hindsight, through
    the floor's ``/import`` (the target's floor: the same body over HTTP) and through the floor
    in this process (COPY from memory, reported beside it)."""
    from imports.services import ensure_vendor

    vendor = ensure_vendor(slug=IMPORT_VENDOR, name="Bench import")
    rounds: list[dict] = []
    with psycopg.connect(url) as conn:
        warm_up(hindsight, floor_server, token, conn, vendor.id, run_id)
        for r in range(args.import_rounds):
            payload = statuspage_payload(f"b{run_id}r{r}", args.import_incidents, 5)
            result: dict = {}
            for side in ("hindsight", "floor", "copy")[r % 3 :] + ("hindsight", "floor", "copy")[
                : r % 3
            ]:
                if side == "hindsight":
                    result.update(hindsight_import(hindsight, token, payload))
                    forget_hindsight_import(conn, payload)
                elif side == "floor":
                    result["floor_seconds"] = floor_http_import(
                        floor_server, conn, payload, vendor.id
                    )
                else:
                    result["copy_seconds"] = floor_import(conn, payload, vendor.id)
            rounds.append(result)
            print(f"  import round {r + 1}: {result}", flush=True)
    n = args.import_incidents
    rates = {
        key: statistics.median(
            n / r[f"{key}_seconds" if key != "hindsight" else "seconds"] for r in rounds
        )
        for key in ("hindsight", "floor", "copy")
    }
    return {
        "rounds": rounds,
        "incidents": n,
        "updates_per_incident": 5,
        "hindsight_incidents_per_s": rates["hindsight"],
        "floor_incidents_per_s": rates["floor"],
        "ratio": rates["hindsight"] / rates["floor"],
        "copy_incidents_per_s": rates["copy"],
        "copy_ratio": rates["hindsight"] / rates["copy"],
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
