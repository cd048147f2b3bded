"""Status-page import throughput: Hindsight's import path against a COPY floor.

```sh
.venv/bin/python bench/import_throughput.py --database-url postgres://…/hindsight_bench_import
```

Each round generates a Statuspage v2 ``incidents.json`` whose ids are new to the run
(components, HTML and Markdown bodies, nulls, every impact, back-dated and out-of-order
updates, open, backfilled and postmortem incidents) and times:

* **hindsight**: ``imports.services`` parsing and importing the payload in this process,
  committed (what the worker runs for a pushed job or a poll);
* **reimport**: the same payload again, which must change nothing;
* **update**: the page a day later (every incident renamed, closed by a postmortem update);
* **api** (``--api``): a POST to ``/api/imports/`` (a job, for a payload this size) and the
  job run in this process, as a worker would run it;
* **floor**: ``floor.import_floor``, the floor ``bench/run`` uses too: reading the same
  payload and COPYing the rows an import of it persists (incidents with their history
  entries, vendor and service links, timeline events with theirs) into the real tables,
  committed: the least any import of it must do.

Rates are incidents per second, the median of the rounds; statements are counted COPY
included. The incidents a round imports are deleted afterwards, so the database keeps its
size. ``measure()`` is the entry point for other scripts; it needs a database Hindsight's
migrations have been applied to.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import statistics
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import floor
from common import bench_database_url, setup_django

VENDOR = "bench-status-import"
SOURCE = f"statuspage:{VENDOR}"
COMPONENTS = [
    ("API", "api"),
    ("Dashboard", "web"),
    ("Webhooks", "hooks"),
    ("Git operations", "git"),
    ("Actions", "ci"),
    ("Packages", "pkg"),
    ("Pages", "pages"),
    ("Codespaces", "dev"),
    ("Notifications", "notify"),
    ("Search", "search"),
    ("Billing", "billing"),
    ("SSO", "sso"),
]
ZONES = ["Z", "+00:00", "-07:00", "-08:00", "+01:00", "+05:30"]
IMPACTS = ["none", "minor", "minor", "minor", "major", "major", "critical", None]
WORDS = [
    *("elevated", "error", "rates", "latency", "requests", "customers", "region", "database"),
    *("replica", "queue", "workers", "deploy", "configuration", "rollback", "certificate"),
    *("dns", "cache", "saturation", "timeouts", "degraded", "partial", "outage", "monitoring"),
    *("mitigation", "recovery", "capacity", "failover", "network", "storage", "authentication"),
]


# --- The payload ---------------------------------------------------------------------------------


def stamp(moment: datetime, zone: str) -> str:
    """A Statuspage timestamp: milliseconds and an offset (pages print their own zone)."""
    if zone == "Z":
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    sign, hours, minutes = zone[0], int(zone[1:3]), int(zone[4:6])
    offset = timedelta(hours=hours, minutes=minutes) * (1 if sign == "+" else -1)
    local = (moment.astimezone(UTC) + offset).replace(tzinfo=None)
    return local.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + zone


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def body(rng: random.Random, status: str) -> str:
    """Plain text, Markdown or legacy HTML, 60 to 600 characters."""
    lines = [sentence(rng, rng.randint(6, 18)) for _ in range(rng.randint(1, 4))]
    style = rng.random()
    if style < 0.25:
        items = "".join(f"<li><strong>{status}</strong> - {line}</li>" for line in lines)
        return f"<p>{lines[0]}</p><ul>{items}</ul>"
    if style < 0.5:
        return f"**{status.title()}**: " + "\n\n".join(f"- {line}" for line in lines)
    return "\r\n".join(lines)


def lifecycle(rng: random.Random, updates: int) -> tuple[str, list[str]]:
    """The incident's status and its updates' statuses, oldest first."""
    roll = rng.random()
    if roll < 0.05:
        steps = ["investigating", "identified", "identified", "monitoring"]
        statuses = (steps * updates)[:updates]
        return statuses[-1], statuses
    middle = ["identified", "investigating", "identified", "monitoring"]
    statuses = ["investigating", *(middle * updates)[: max(updates - 2, 0)], "resolved"][-updates:]
    if roll < 0.12 and updates > 1:
        statuses[-1] = "postmortem"
        statuses[-2] = "resolved"
        return "postmortem", statuses
    return "resolved", statuses


def incident(rng: random.Random, ident: str, n: int, updates: int) -> dict:
    zone = rng.choice(ZONES)
    began = datetime(2016, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randint(0, 5_000_000))
    status, statuses = lifecycle(rng, updates)
    times = sorted(began + timedelta(minutes=rng.randint(1, 240)) for _ in statuses)
    affected = rng.sample(COMPONENTS, rng.choice([0, 1, 1, 1, 2, 3]))
    backfilled = rng.random() < 0.03
    raw_updates = []
    for u, (state, at) in enumerate(zip(statuses, times, strict=True)):
        created = at + (timedelta(hours=rng.randint(1, 30)) if backfilled else timedelta())
        display = at - timedelta(minutes=rng.randint(5, 90)) if rng.random() < 0.08 else at
        raw_updates.append(
            {
                "id": f"{ident}u{u:02d}",
                "status": state,
                "body": body(rng, state),
                "incident_id": ident,
                "created_at": stamp(created, zone),
                "updated_at": stamp(created + timedelta(seconds=rng.randint(0, 5)), zone),
                "display_at": stamp(display, zone),
                "affected_components": [
                    {
                        "code": f"cmp{code}",
                        "name": name,
                        "old_status": "degraded_performance",
                        "new_status": "operational" if state == "resolved" else "partial_outage",
                    }
                    for name, code in affected
                ]
                if affected and rng.random() < 0.5
                else None,
                "deliver_notifications": rng.random() < 0.8,
                "custom_tweet": None,
                "tweet_id": rng.randint(10**17, 10**18) if rng.random() < 0.2 else None,
            }
        )
    closed = status in ("resolved", "postmortem")
    resolved = next((t for s, t in zip(statuses, times, strict=True) if s == "resolved"), None)
    return {
        "id": ident,
        "name": f"{sentence(rng, rng.randint(3, 8))[:-1]} ({n})",
        "status": status,
        "created_at": stamp(began, zone),
        "updated_at": stamp(times[-1], zone),
        "monitoring_at": stamp(times[-2], zone) if len(times) > 1 and closed else None,
        "resolved_at": stamp(began if backfilled else resolved, zone) if resolved else None,
        "impact": rng.choice(IMPACTS),
        "shortlink": f"https://stspg.io/{ident[-6:]}",
        "started_at": stamp(began, zone),
        "page_id": "bnch1mp0rt01",
        "incident_updates": list(reversed(raw_updates)),  # pages list the newest first
        "components": [
            {
                "id": f"cmp{code}",
                "name": name,
                "status": "operational",
                "created_at": "2015-06-01T10:00:00.000Z",
                "updated_at": stamp(times[-1], zone),
                "position": position,
                "description": None,
                "showcase": True,
                "start_date": None,
                "group_id": None,
                "page_id": "bnch1mp0rt01",
                "group": False,
                "only_show_if_degraded": False,
            }
            for position, (name, code) in enumerate(affected, start=1)
        ],
    }


def statuspage_payload(incidents: int, updates: int, *, seed: int | None = None) -> dict:
    """An ``incidents.json`` of ``incidents`` incidents with ``updates`` updates each."""
    rng = random.Random(seed)
    run = secrets.token_hex(3)
    items = [incident(rng, f"{run}{n:06x}", n, updates) for n in range(incidents)]
    page = {
        "id": "bnch1mp0rt01",
        "name": "Bench Status",
        "url": "https://status.bench.example",
        "time_zone": "Etc/UTC",
        "updated_at": "2024-05-02T10:00:00.000Z",
    }
    return {"page": page, "incidents": items}


# --- Hindsight -----------------------------------------------------------------------------------


def hindsight_import(data: bytes) -> tuple[float, int, dict]:
    """Seconds and statements (COPY included) to parse ``data`` and import it, committed;
    and the import's report."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from imports.services import ensure_vendor, import_batch, parse_payload

    vendor = ensure_vendor(slug=VENDOR, name="Bench status import")
    # Listing the statements costs microseconds each: nothing beside an import's own work.
    with CaptureQueriesContext(connection) as statements:
        started = time.perf_counter()
        batch = parse_payload("statuspage", data)
        report = import_batch(vendor=vendor, fmt="statuspage", batch=batch)
        seconds = time.perf_counter() - started
    return seconds, len(statements), report.as_dict()


def api_import(data: bytes) -> tuple[float, dict]:
    """Seconds for a POST to /api/imports/ and the job it queues, run here as a worker would."""
    from unittest import mock

    from django.contrib.auth.models import Group, User
    from rest_framework.test import APIRequestFactory, force_authenticate

    from imports import services, tasks
    from imports.api.views import ImportJobViewSet

    user, created = User.objects.get_or_create(username="bench-status-importer")
    if created:
        user.groups.add(Group.objects.get(name="author"))
    body = {"vendor": VENDOR, "format": "statuspage", "payload": json.loads(data)}
    request = APIRequestFactory(SERVER_NAME="localhost").post(
        "/api/imports/", json.dumps(body), content_type="application/json"
    )
    force_authenticate(request, user=user)
    view = ImportJobViewSet.as_view({"post": "create"})
    # The job runs here rather than on a worker: nothing is sent to the broker.
    with mock.patch.object(tasks.run_import_job, "delay_on_commit"):
        started = time.perf_counter()
        response = view(request)
        if response.status_code == 202:
            report = services.run_import_job(response.data["id"]).as_dict()
        else:
            report = response.data["report"]
        seconds = time.perf_counter() - started
    return seconds, report


def forget(external_ids: list[str]) -> None:
    """Delete a round's incidents and their history, so every round starts from the same data."""
    from django.db import connection, transaction

    from postmortems.models import Incident

    with transaction.atomic():
        ids = list(
            Incident.objects.filter(import_source=SOURCE, external_id__in=external_ids).values_list(
                "id", flat=True
            )
        )
        Incident.objects.filter(id__in=ids).delete()
        with connection.cursor() as cursor:
            for table in ("timeline_historicaltimelineevent", "postmortems_historicalincident"):
                column = "incident_id" if "timeline" in table else "id"
                cursor.execute(f"DELETE FROM {table} WHERE {column} = ANY(%s)", [ids])


# --- The floor -----------------------------------------------------------------------------------


def floor_round(conn, data: bytes) -> float:
    """Seconds for the floor (``floor.import_floor``: the rows an import of new incidents
    writes, COPYed into the real tables, committed); what it wrote is deleted afterwards."""
    from imports.services import ensure_vendor

    vendor = ensure_vendor(slug=VENDOR, name="Bench status import")
    seconds, ids = floor.import_floor(conn, data, vendor_id=vendor.id, source=f"floor:{VENDOR}")
    floor.forget_import_floor(conn, ids)
    return seconds


# --- Putting it together -------------------------------------------------------------------------


def ensure_django(url: str) -> None:
    from django.conf import settings

    if not settings.configured:
        setup_django(url)
        return
    wanted = urlsplit(url).path.lstrip("/")
    if settings.DATABASES["default"]["NAME"] != wanted:
        raise SystemExit(
            f"Django is set up on {settings.DATABASES['default']['NAME']!r}, not {wanted!r}."
        )


def measure(
    url: str,
    incidents: int = 2000,
    updates: int = 5,
    *,
    rounds: int = 3,
    api: bool = False,
    seed: int | None = 1,
) -> dict:
    """Incidents per second through Hindsight's import and through the COPY floor.

    ``ratio`` is Hindsight's rate over the floor's, the median of the rounds' ratios (each
    round runs both back to back, so a busy machine slows both alike).
    """
    import psycopg

    ensure_django(url)
    times: dict[str, list[float]] = defaultdict(list)
    statements: dict[str, list[int]] = defaultdict(list)
    report: dict = {}
    with psycopg.connect(url) as floor_conn:
        warm_up(floor_conn)
        for round_ in range(rounds):
            payload = statuspage_payload(
                incidents, updates, seed=None if seed is None else seed + round_
            )
            data = json.dumps(payload).encode()
            times["floor"].append(floor_round(floor_conn, data))
            try:
                for name, body in (("hindsight", data), ("reimport", data),
                                   ("update", json.dumps(revised(payload)).encode())):  # fmt: skip
                    seconds, count, outcome = hindsight_import(body)
                    times[name].append(seconds)
                    statements[name].append(count)
                    report = report or outcome
                    check(name, outcome, incidents - report["failed"])
            finally:
                forget([item["id"] for item in payload["incidents"]])
            if api:
                times["api"].append(api_round(incidents, updates, seed=(seed or 0) + 1000 + round_))
    rates = {name: round(incidents / statistics.median(t), 1) for name, t in times.items()}
    return {
        "incidents": incidents,
        "updates": updates,
        "rounds": rounds,
        **{f"{name}_per_s": rate for name, rate in rates.items()},
        "ratio": ratio(times["hindsight"], times["floor"]),
        **{
            f"{name}_statements_per_incident": round(statistics.median(counts) / incidents, 4)
            for name, counts in statements.items()
        },
        "report": summary(report),
    }


def warm_up(floor_conn) -> None:
    """A small import each way, unmeasured: the first one loads modules and fills the
    connections' catalogue caches."""
    payload = statuspage_payload(5, 5)
    data = json.dumps(payload).encode()
    floor_round(floor_conn, data)
    try:
        hindsight_import(data)
    finally:
        forget([item["id"] for item in payload["incidents"]])


def ratio(hindsight: list[float], floors: list[float]) -> float:
    return round(statistics.median(f / h for h, f in zip(hindsight, floors, strict=True)), 3)


def revised(payload: dict) -> dict:
    """The payload as the page shows it later: every incident renamed, and closed by a
    postmortem posted a day after its last update."""
    page = json.loads(json.dumps(payload))
    for item in page["incidents"]:
        item["name"] += " (postmortem)"
        item["status"] = "postmortem"
        last = max(datetime.fromisoformat(u["display_at"]) for u in item["incident_updates"])
        posted = stamp(last + timedelta(days=1), "Z")
        newest = item["incident_updates"][0]
        item["incident_updates"].insert(
            0,
            {
                **newest,
                "id": newest["id"] + "pm",
                "status": "postmortem",
                "body": "A detailed analysis follows: the deploy was rolled back.",
                **dict.fromkeys(("created_at", "updated_at", "display_at"), posted),
            },
        )
    return page


def api_round(incidents: int, updates: int, *, seed: int) -> float:
    payload = statuspage_payload(incidents, updates, seed=seed)
    try:
        seconds, report = api_import(json.dumps(payload).encode())
    finally:
        forget([item["id"] for item in payload["incidents"]])
    check("api", report, incidents - report["failed"])
    return seconds


# What each run must do with the incidents the first import took (a generated page, like a
# real one, may hold an incident whose moments cannot be put in order: it fails every time).
EXPECTED = {"hindsight": "created", "api": "created", "reimport": "unchanged", "update": "updated"}


def check(name: str, report: dict, fit: int) -> None:
    incidents = sum(report[key] for key in ("created", "updated", "unchanged", "failed"))
    if report[EXPECTED[name]] != fit or fit < incidents * 0.99:
        raise SystemExit(f"{name}: not every incident {EXPECTED[name]}: {brief(report)}")


def summary(report: dict) -> dict:
    return {key: report.get(key) for key in ("created", "updated", "unchanged", "failed")}


def brief(report: dict) -> dict:
    return {**summary(report), "errors": report.get("errors", [])[:3]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="the bench database (default: hindsight_bench)")
    parser.add_argument("--incidents", type=int, default=2000)
    parser.add_argument("--updates", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--api", action="store_true", help="also time the API and job path")
    args = parser.parse_args()
    url = bench_database_url(args.database_url)
    result = measure(url, args.incidents, args.updates, rounds=args.rounds, api=args.api)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
