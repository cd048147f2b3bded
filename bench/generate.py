#!/usr/bin/env python
"""Fill a dedicated database with a synthetic knowledge base, for benchmarks.

By default: 1,000,000 published incidents (and 1% more drafts and reviews), 2,000 vendors
with their services, about 5 timeline events and 3 factors per incident, change types on
most incidents, action items on some, 1-2 vendors each. Vendors, change types and failure
categories follow Zipf-like laws over the taxonomy the migrations seeded. A few recurring
patterns are planted with a known size (see ``PLANTS``); each uses a failure category that
no other incident carries, so its support is exactly the number of incidents planted.

Rows are loaded with COPY into the schema the migrations built, indexes included, in one
transaction per batch: a thread builds batches while two connections (``--jobs``) load them.
"""

from __future__ import annotations

import argparse
import math
import queue
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import common
import words

from bench.popularity import CATEGORY_RANKS, CHANGE_TYPE_RANKS

DEFAULT_INCIDENTS = 1_000_000
DEFAULT_VENDORS = 2_000
UNPUBLISHED_SHARE = 0.01  # drafts and reviews on top of the published incidents
BATCH_SIZE = 20_000
YEARS = 12
CODE_NAMES = 40_000

# Popularity ranks of the seeded terms (bench/popularity.py).
# A change type makes its usual root cause likelier, so real associations exist to be found.
USUAL_CAUSE = {
    "config-change": "config-error",
    "code-deploy": "software-bug",
    "capacity-change": "capacity-overload",
    "traffic-change": "capacity-overload",
    "network-change": "network-failure",
    "hardware-maintenance": "hardware-failure",
    "manual-operation": "human-error",
    "upstream-change": "dependency-failure",
    "schema-migration": "data-integrity",
}
USUAL_CAUSE_CHANCE = 0.4


@dataclass(frozen=True)
class Plant:
    """A recurring pattern planted on purpose; sizes are for ``--scale 1``."""

    name: str
    change_type: str
    categories: tuple[str, ...]  # the first one is carried by no other incident
    incidents: int
    vendors: int

    @property
    def key(self) -> str:
        """The key ``patterns.mining`` gives the combination."""
        attributes = [f"ct:{self.change_type}", *(f"cat:{c}" for c in self.categories)]
        return "+".join(sorted(attributes))


PLANTS = (
    Plant("config pushed everywhere at once", "config-change",
          ("non-staged-rollout", "config-error"), 1_500, 150),
    Plant("leap-day date arithmetic", "time-event", ("time-handling", "software-bug"), 600, 60),
    Plant("certificate expired unnoticed", "none", ("certificate-expiry", "monitoring-gap"),
          400, 40),
    Plant("upstream change through a hidden dependency", "upstream-change",
          ("hidden-dependency",), 1_000, 100),
)  # fmt: skip
RESERVED = {plant.categories[0] for plant in PLANTS}

INCIDENT_COLUMNS = (
    "id", "title", "slug", "regions", "regions_affected", "regions_total", "severity", "status",
    "started_at", "detected_at", "mitigated_at", "resolved_at", "summary", "impact", "analysis",
    "lessons", "detection_method", "data_loss", "near_miss", "origin", "import_source",
    "external_id", "created_at", "updated_at", "version", "published_at", "duration_unknown",
    "imported_values", "is_maintenance", "needs_review", "auto_classified",
)  # fmt: skip
# Table, columns; the order is the load order (incidents first, although the foreign keys
# are deferred to the end of each batch's transaction anyway).
TABLES = {
    "postmortems_incident": INCIDENT_COLUMNS,
    "postmortems_incidentvendor": ("incident_id", "vendor_id", "is_primary"),
    "postmortems_incident_change_types": ("incident_id", "changetype_id"),
    "postmortems_incident_services": ("incident_id", "service_id"),
    "postmortems_factor": ("incident_id", "role", "category_id", "description", "position"),
    "timeline_timelineevent": (
        "incident_id", "occurred_at", "kind", "description", "body_format", "source",
        "external_id", "position", "created_at", "updated_at",
    ),
    "postmortems_actionitem": (
        "incident_id", "title", "type", "due_date", "status", "ticket_url", "completed_at",
        "created_at", "updated_at",
    ),
    "postmortems_source": ("incident_id", "url", "title", "kind"),
}  # fmt: skip


class Zipf:
    """Draws from ``items`` with weight 1 / rank**exponent."""

    def __init__(self, items: list, exponent: float) -> None:
        self.items = items
        self.cum_weights = list(_accumulate(1 / (r + 1) ** exponent for r in range(len(items))))

    def draw(self, rng: random.Random) -> Any:
        return rng.choices(self.items, cum_weights=self.cum_weights)[0]


def _accumulate(values: Iterator[float]) -> Iterator[float]:
    total = 0.0
    for value in values:
        total += value
        yield total


@dataclass
class Vendor:
    id: int
    slug: str
    name: str
    kind: str
    services: list[int] = field(default_factory=list)
    service_names: dict[int, str] = field(default_factory=dict)


@dataclass
class Taxonomy:
    change_types: dict[str, int]
    categories: dict[str, int]
    roles: dict[str, str]  # category slug -> typical role


# --- Command line and database ---------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the default sizes")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument(
        "--database-url",
        help=f"target database (default: {common.BENCH_DATABASE} on the project's server)",
    )
    parser.add_argument("--reset", action="store_true", help="empty the knowledge base first")
    parser.add_argument(
        "--jobs", type=int, default=2, help="loading connections (default 2, one per core)"
    )
    args = parser.parse_args()
    if args.scale <= 0 or args.jobs < 1:
        parser.error("--scale must be positive and --jobs at least 1")
    return args


def prepare_database(explicit_url: str | None) -> str:
    url = common.bench_database_url(explicit_url)
    if common.create_database(url):
        print(f"created database {urlsplit(url).path.lstrip('/')}")
    common.setup_django(url)
    common.migrate()
    return url


def knowledge_base_tables() -> list[str]:
    """Every table of incidents, vendors and what hangs off them; not the taxonomy."""
    from django.apps import apps

    from postmortems.models import ChangeType, FailureCategory

    keep = {ChangeType._meta.db_table, FailureCategory._meta.db_table}
    tables = []
    for label in ("postmortems", "timeline", "patterns"):
        for model in apps.get_app_config(label).get_models(include_auto_created=True):
            if model._meta.db_table not in keep:
                tables.append(model._meta.db_table)
    return tables


def reset(conn) -> None:
    tables = ", ".join(knowledge_base_tables())
    # CASCADE also empties the import sources and jobs that point at vendors.
    conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    conn.commit()


def load_taxonomy(conn) -> Taxonomy:
    change_types = dict(conn.execute("SELECT slug, id FROM postmortems_changetype").fetchall())
    rows = conn.execute("SELECT slug, id, typical_role FROM postmortems_failurecategory").fetchall()
    missing = {c for p in PLANTS for c in p.categories} - {slug for slug, _, _ in rows}
    if missing or {p.change_type for p in PLANTS} - change_types.keys():
        raise SystemExit(f"The seeded taxonomy lacks terms the plants need: {sorted(missing)}")
    return Taxonomy(
        change_types=change_types,
        categories={slug: pk for slug, pk, _ in rows},
        roles={slug: role for slug, _, role in rows},
    )


def ranked(slugs: list[str], ranks: list[str]) -> list[str]:
    """``slugs`` in popularity order: listed ones by rank, then the rest alphabetically."""
    position = {slug: i for i, slug in enumerate(ranks)}
    return sorted(slugs, key=lambda s: (position.get(s, len(ranks)), s))


# --- Vendors and services ------------------------------------------------------------------


def vendor_specs(count: int, rng: random.Random) -> list[tuple[str, str, str]]:
    """(name, slug, kind), biggest first."""
    specs = [(name, _slugify(name), kind) for name, kind in words.BIG_VENDORS[:count]]
    pairs = [f"{h} {t}" for h in words.VENDOR_HEADS for t in words.VENDOR_TAILS]
    rng.shuffle(pairs)
    n = 0
    while len(specs) < count:
        name = pairs[n % len(pairs)]
        if n >= len(pairs):
            name += f" {n // len(pairs) + 1}"
        specs.append((name, _slugify(name), rng.choice(words.OTHER_KINDS)))
        n += 1
    return specs


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _slugify(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")


def load_vendors(conn, count: int, rng: random.Random, now: datetime) -> list[Vendor]:
    """Insert the vendors and their services (existing slugs are reused) and return them."""
    specs = vendor_specs(count, rng)
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO postmortems_vendor (name, slug, kind, website, status_page_url, notes, "
            "created_at, updated_at, publish_imports) VALUES (%s, %s, %s, %s, %s, '', %s, %s, "
            "false) ON CONFLICT (slug) DO NOTHING",
            [
                (name, slug, kind, f"https://{slug}.example.com/",
                 f"https://status.{slug}.example.com/", now, now)
                for name, slug, kind in specs
            ],
        )  # fmt: skip
        ids = dict(cur.execute("SELECT slug, id FROM postmortems_vendor").fetchall())
    vendors = [Vendor(ids[slug], slug, name, kind) for name, slug, kind in specs]
    load_services(conn, vendors, rng)
    conn.commit()
    return vendors


def load_services(conn, vendors: list[Vendor], rng: random.Random) -> None:
    rows = []
    for rank, vendor in enumerate(vendors):
        # The big vendors run many services; the long tail one to four.
        size = rng.randint(12, 25) if rank < len(words.BIG_VENDORS) else rng.randint(1, 4)
        rows += [(vendor.id, name) for name in rng.sample(words.SERVICES, size)]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO postmortems_service (vendor_id, name, external_id) VALUES (%s, %s, '') "
            "ON CONFLICT DO NOTHING",
            rows,
        )
        found = cur.execute("SELECT id, vendor_id, name FROM postmortems_service").fetchall()
    by_id = {v.id: v for v in vendors}
    for service_id, vendor_id, name in found:
        if vendor_id in by_id:
            by_id[vendor_id].services.append(service_id)
            by_id[vendor_id].service_names[service_id] = name


# --- One incident -----------------------------------------------------------------------------


@dataclass
class Moments:
    started: datetime
    detected: datetime | None
    mitigated: datetime | None
    resolved: datetime | None
    duration_unknown: bool


class KnowledgeBase:
    """Builds the rows of a batch of incidents; deterministic for a seed."""

    def __init__(self, seed: int, taxonomy: Taxonomy, vendors: list[Vendor], now: datetime):
        self.rng = random.Random(seed)
        self.now = now
        self.span = YEARS * 365.25 * 86400
        self.vendors = vendors
        self.vendor_zipf = Zipf(vendors, 1.2)
        self.tax = taxonomy
        ct = ranked(list(taxonomy.change_types), CHANGE_TYPE_RANKS)
        self.change_zipf = Zipf(ct, 1.0)
        usable = ranked([c for c in taxonomy.categories if c not in RESERVED], CATEGORY_RANKS)
        self.usable_categories = usable
        self.root_zipf = Zipf([c for c in usable if taxonomy.roles[c] != "contributing"], 1.1)
        self.contrib_zipf = Zipf([c for c in usable if taxonomy.roles[c] != "root_cause"], 0.9)
        self.term_zipf = Zipf(words.TERMS, 0.8)
        self.code_names = words.code_names(CODE_NAMES, self.rng)
        first = now - timedelta(seconds=self.span)
        self.leap_years = [
            y
            for y in range(first.year, now.year + 1)
            if y % 4 == 0 and first < datetime(y, 2, 29, 23, 59, tzinfo=UTC) < now
        ]

    # Rows of one incident go to ``out`` (table -> list of rows).
    def incident(self, out: dict, pk: int, published: bool, plant: tuple | None) -> None:
        rng = self.rng
        vendor = plant[1] if plant else self.vendor_zipf.draw(rng)
        moments = self.moments(plant[0] if plant else None)
        change_types, factors = self.attributes(plant[0] if plant else None)
        imported = rng.random() < 0.35
        source = f"statuspage:{vendor.slug}" if imported else "manual"
        created = min(self.now, (moments.resolved or moments.started) + self.days(1.5))
        updated = min(self.now, created + self.days(3.0))
        out["postmortems_incident"].append(
            self.incident_row(pk, vendor, moments, published, imported, created, updated)
        )
        self.links(out, pk, vendor, change_types, single_vendor=plant is not None)
        for position, (role, slug) in enumerate(factors):
            text = rng.choice(words.FACTOR_TEXTS)
            out["postmortems_factor"].append((pk, role, self.tax.categories[slug], text, position))
        self.events(out, pk, moments, source, created, bool(change_types))
        self.action_items(out, pk, moments, created)
        if rng.random() < 0.5:
            kind = rng.choice(("status_page", "status_page", "official_postmortem", "news"))
            url = f"https://status.{vendor.slug}.example.com/incidents/{pk}"
            out["postmortems_source"].append((pk, url, f"{vendor.name} incident {pk}", kind))

    def days(self, median: float) -> timedelta:
        return timedelta(seconds=int(self.rng.lognormvariate(math.log(median * 86400), 1.0)))

    def moments(self, plant: Plant | None) -> Moments:
        rng = self.rng
        # u ** (1 / 1.6): more postmortems are written every year than the year before.
        started = self.now - timedelta(seconds=self.span * (1 - rng.random() ** (1 / 1.6)))
        if plant is not None and plant.change_type == "time-event":
            year = rng.choice(self.leap_years)
            started = datetime(year, 2, 29, rng.randrange(24), rng.randrange(60), tzinfo=UTC)
        started = started.replace(microsecond=0)
        # Log-normal stages: medians of 10 min to detect, 40 more to mitigate, an hour more
        # to resolve; the tails reach days.
        detected = started + timedelta(seconds=int(rng.lognormvariate(math.log(600), 1.1)))
        mitigated = detected + timedelta(seconds=int(rng.lognormvariate(math.log(2400), 1.2)))
        resolved = mitigated + timedelta(seconds=int(rng.lognormvariate(math.log(3600), 1.4)))
        unknown_end = rng.random() < 0.03 or resolved > self.now
        return Moments(
            started=started,
            detected=None if rng.random() < 0.01 else detected,
            mitigated=None if unknown_end or rng.random() < 0.02 else mitigated,
            resolved=None if unknown_end else resolved,
            duration_unknown=unknown_end and rng.random() < 0.5,
        )

    def attributes(self, plant: Plant | None) -> tuple[list[str], list[tuple[str, str]]]:
        """(change type slugs, [(role, category slug)])."""
        rng = self.rng
        if plant is not None:
            factors = [("root_cause", plant.categories[0])]
            factors += [("contributing", c) for c in plant.categories[1:]]
            # Uniform, so no extra category joins every member of the plant.
            factors.append(("contributing", rng.choice(self.usable_categories)))
            return [plant.change_type], factors
        change_types = []
        if rng.random() < 0.85:
            change_types.append(self.change_zipf.draw(rng))
            if rng.random() < 0.12:
                second = self.change_zipf.draw(rng)
                if second != change_types[0]:
                    change_types.append(second)
        return change_types, self.random_factors(change_types)

    def random_factors(self, change_types: list[str]) -> list[tuple[str, str]]:
        rng = self.rng
        usual = USUAL_CAUSE.get(change_types[0]) if change_types else None
        root = usual if usual and rng.random() < USUAL_CAUSE_CHANCE else self.root_zipf.draw(rng)
        factors = [("root_cause", root)]
        if rng.random() < 0.1:
            factors.append(("root_cause", self.root_zipf.draw(rng)))
        contributing = rng.choices((0, 1, 2, 3), (0.15, 0.35, 0.35, 0.15))[0]
        factors += [("contributing", self.contrib_zipf.draw(rng)) for _ in range(contributing)]
        if rng.random() < 0.2:
            factors.append(("mitigating", self.contrib_zipf.draw(rng)))
        return factors

    def incident_row(
        self,
        pk: int,
        vendor: Vendor,
        m: Moments,
        published: bool,
        imported: bool,
        created: datetime,
        updated: datetime,
    ) -> tuple:
        rng = self.rng
        service = self.service_name(vendor)
        region = rng.choice(words.REGIONS)
        regions, affected, total = [], None, None
        if vendor.kind == "cloud" and rng.random() < 0.6:
            regions = rng.sample(words.REGIONS, rng.randint(1, 3))
            total = rng.randint(20, 30)
            affected = rng.randint(len(regions), total)
        title, summary = self.texts(vendor, service, region, m)
        status = "published" if published else rng.choice(("draft", "in_review"))
        return (
            pk, title, f"{vendor.slug}-{m.started:%Y-%m-%d}-{pk}", regions, affected, total,
            rng.choices(("critical", "major", "minor", "none"), (10, 45, 40, 5))[0], status,
            m.started, m.detected, m.mitigated, m.resolved, summary, self.impact(),
            self.analysis(), rng.choice(words.LESSON_PHRASES),
            rng.choices(("alert", "customer_report", "status_page", "internal_report", "other"),
                        (50, 20, 10, 15, 5))[0],
            rng.random() < 0.03, rng.random() < 0.02,
            "imported" if imported else "manual", f"statuspage:{vendor.slug}" if imported else "",
            f"sp-{pk}" if imported else "", created, updated, rng.randint(1, 6),
            updated if published else None, m.duration_unknown, "{}", rng.random() < 0.02,
            imported and not published, False,
        )  # fmt: skip

    def service_name(self, vendor: Vendor) -> str:
        if vendor.services:
            return vendor.service_names[self.rng.choice(vendor.services)]
        return self.rng.choice(words.SERVICES)

    def texts(self, vendor: Vendor, service: str, region: str, m: Moments) -> tuple[str, str]:
        rng = self.rng
        symptom, term = rng.choice(words.SYMPTOMS), self.term_zipf.draw(rng)
        trigger = rng.choice(words.TRIGGERS)
        code = rng.choice(self.code_names) if rng.random() < 0.3 else ""
        title = rng.choice(
            (
                f"{rng.choice(words.ADJECTIVES)} {symptom} in {service} ({region})",
                f"{vendor.name} {service} {symptom} after {trigger}",
                f"{service} {symptom} caused by {term}",
                f"{_capital(symptom)} for {vendor.name} customers in {region}",
            )
        )
        if code:
            title = f"{title} [{code}]"
        summary = (
            f"On {m.started:%d %B %Y}, {vendor.name} {service} suffered {symptom} in {region} "
            f"after {trigger}. Engineers traced it to {term}"
            + (f" in the {code} component." if code else ".")
        )
        return title, summary

    def impact(self) -> str:
        share = self.rng.choice((2, 5, 10, 20, 35, 50, 80, 100))
        return f"{_capital(self.rng.choice(words.IMPACT_PHRASES))} for {share}% of requests."

    def analysis(self) -> str:
        first, second = self.rng.sample(words.ANALYSIS_PHRASES, 2)
        return f"{first} {second} The {self.term_zipf.draw(self.rng)} behaved as designed."

    def links(
        self, out: dict, pk: int, vendor: Vendor, change_types: list[str], single_vendor: bool
    ) -> None:
        rng = self.rng
        out["postmortems_incidentvendor"].append((pk, vendor.id, True))
        if not single_vendor and rng.random() < 0.25:
            other = self.vendor_zipf.draw(rng)
            if other.id != vendor.id:
                out["postmortems_incidentvendor"].append((pk, other.id, False))
        for slug in change_types:
            out["postmortems_incident_change_types"].append((pk, self.tax.change_types[slug]))
        count = rng.choices((0, 1, 2), (30, 55, 15))[0]
        for service_id in rng.sample(vendor.services, min(count, len(vendor.services))):
            out["postmortems_incident_services"].append((pk, service_id))

    def events(
        self, out: dict, pk: int, m: Moments, source: str, created: datetime, has_change: bool
    ) -> None:
        rng = self.rng
        timed = [("impact_start", m.started)]
        if has_change and rng.random() < 0.6:
            timed.insert(0, ("change", m.started - timedelta(minutes=rng.randint(1, 90))))
        if m.detected:
            timed.append(("detection", m.detected))
        after = m.detected or m.started
        until = m.mitigated or m.resolved or after + timedelta(hours=2)
        for _ in range(rng.choices((0, 1, 2), (35, 40, 25))[0]):
            kind = rng.choice(("status_update", "status_update", "diagnosis", "escalation"))
            offset = int((until - after).total_seconds() * rng.random())
            timed.append((kind, after + timedelta(seconds=offset)))
        timed += [(k, t) for k, t in (("mitigation", m.mitigated), ("resolution", m.resolved)) if t]
        timed.sort(key=lambda event: event[1])
        imported = source != "manual"
        for position, (kind, moment) in enumerate(timed):
            text = rng.choice(words.EVENT_TEXTS[kind])
            external = f"upd-{position}" if imported and kind == "status_update" else ""
            out["timeline_timelineevent"].append(
                (pk, moment, kind, text, "markdown", source, external, position, created, created)
            )

    def action_items(self, out: dict, pk: int, m: Moments, created: datetime) -> None:
        rng = self.rng
        if rng.random() >= 0.4:
            return
        for _ in range(rng.randint(1, 3)):
            status = rng.choices(("done", "wont_do", "in_progress", "open"), (50, 8, 12, 30))[0]
            done = min(self.now, created + self.days(20)) if status == "done" else None
            due = (m.started + timedelta(days=rng.randint(14, 90))).date()
            ticket = f"https://tracker.example.com/browse/OPS-{pk}" if rng.random() < 0.5 else ""
            title = f"{rng.choice(words.ACTION_VERBS)} {rng.choice(words.ACTION_OBJECTS)}"
            kind = rng.choice(("detective", "preventive", "corrective", "mitigative"))
            row = (pk, title, kind, due, status, ticket, done, created, done or created)
            out["postmortems_actionitem"].append(row)


# --- Batches and loading ----------------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    published: int
    unpublished: int
    first_id: int
    plants: dict[int, tuple]  # incident index -> (plant, vendor)
    drafts: frozenset[int]  # indexes of unpublished incidents

    @property
    def total(self) -> int:
        return self.published + self.unpublished


def make_plan(scale: float, vendors: list[Vendor], first_id: int, seed: int) -> Plan:
    rng = random.Random(seed + 1)
    published = max(1, round(DEFAULT_INCIDENTS * scale))
    unpublished = round(published * UNPUBLISHED_SHARE)
    total = published + unpublished
    sizes = [(p, *plant_size(p, scale, len(vendors))) for p in PLANTS]
    if (planted := sum(members for _, members, _ in sizes)) > published:
        raise SystemExit(f"--scale is too small: the plants alone need {planted} incidents.")
    chosen = rng.sample(range(total), unpublished + planted)
    drafts, rest = frozenset(chosen[:unpublished]), iter(chosen[unpublished:])
    plants = {}
    for plant, members, vendor_count in sizes:
        # The three biggest vendors and a random tail; every chosen vendor gets a member.
        picked = vendors[:3] + rng.sample(vendors[3:], vendor_count - 3)
        for n in range(members):
            plants[next(rest)] = (plant, picked[n % vendor_count])
    return Plan(published, unpublished, first_id, plants, drafts)


def plant_size(plant: Plant, scale: float, vendor_count: int) -> tuple[int, int]:
    members = max(6, round(plant.incidents * scale))
    vendors = max(3, round(plant.vendors * min(1.0, scale) ** 0.5))
    return members, min(vendors, members, vendor_count)


def batches(kb: KnowledgeBase, plan: Plan) -> Iterator[dict[str, list]]:
    for start in range(0, plan.total, BATCH_SIZE):
        out: dict[str, list] = {table: [] for table in TABLES}
        for index in range(start, min(start + BATCH_SIZE, plan.total)):
            published = index not in plan.drafts
            kb.incident(out, plan.first_id + index, published, plan.plants.get(index))
        yield out


def produce(source: Iterator, into: queue.Queue, consumers: int) -> None:
    """Run ``source`` in a thread: Python builds the next batches while the server ingests."""
    try:
        for item in source:
            into.put(item)
    except BaseException as error:  # handed to the loading threads, which re-raise it
        into.put(error)
    for _ in range(consumers):
        into.put(None)


@dataclass
class Meter:
    total: int
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0.0))
    started: float = field(default_factory=time.perf_counter)
    lock: threading.Lock = field(default_factory=threading.Lock)
    errors: list[BaseException] = field(default_factory=list)

    def add(self, rows: dict[str, int], seconds: dict[str, float]) -> None:
        with self.lock:
            for key, value in rows.items():
                self.rows[key] += value
            for key, value in seconds.items():
                self.seconds[key] += value
            done = self.rows["postmortems_incident"]
            elapsed = time.perf_counter() - self.started
            print(
                f"  {done:>10,} / {self.total:,} incidents  {elapsed:7.1f} s  "
                f"{done / elapsed:8,.0f} incidents/s",
                flush=True,
            )


COMMIT = "commit (deferred foreign-key checks)"
COUNTERS = (*TABLES, COMMIT)


def copy_batch(conn, batch: dict[str, list], meter: Meter) -> None:
    seconds = {}
    with conn.cursor() as cur:
        for table, columns in TABLES.items():
            started = time.perf_counter()
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in batch[table]:
                    copy.write_row(row)
            seconds[table] = time.perf_counter() - started
    started = time.perf_counter()
    conn.commit()
    seconds[COMMIT] = time.perf_counter() - started
    meter.add({table: len(rows) for table, rows in batch.items()}, seconds)


def load_batches(url: str, pending: queue.Queue, meter: Meter) -> None:
    """One loading connection: COPY each batch from the queue in a transaction of its own."""
    import psycopg

    try:
        with psycopg.connect(url) as conn:
            # Per connection only: a commit lost in a crash just means running the generator again.
            conn.execute("SET synchronous_commit = off")
            while (batch := pending.get()) is not None and not meter.errors:
                if isinstance(batch, BaseException):
                    raise batch
                copy_batch(conn, batch, meter)
    except BaseException as error:
        meter.errors.append(error)


def load(url: str, kb: KnowledgeBase, plan: Plan, jobs: int) -> Meter:
    """Load every batch over ``jobs`` connections: PostgreSQL's side of COPY (the generated
    search vector, the indexes, the foreign-key checks) is the slow part, and one backend
    uses one core."""
    meter = Meter(plan.total)
    pending: queue.Queue = queue.Queue(maxsize=jobs + 1)
    producer = threading.Thread(target=produce, args=(batches(kb, plan), pending, jobs))
    producer.daemon = True  # a failed load leaves it blocked on a full queue
    producer.start()
    loaders = [
        threading.Thread(target=load_batches, args=(url, pending, meter)) for _ in range(jobs)
    ]
    for loader in loaders:
        loader.start()
    for loader in loaders:
        loader.join()
    if meter.errors:
        raise meter.errors[0]
    return meter


def reset_sequences(conn) -> None:
    for table in ("postmortems_incident", "postmortems_vendor", "postmortems_service"):
        conn.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
        )
    conn.commit()


def report(meter: Meter, seconds: float, jobs: int) -> None:
    """Rows and COPY time per table; a table's seconds add up over the loading connections,
    so its rows/s is what one connection achieves."""
    total = sum(meter.rows.values())
    print(f"\n{'table':<38}{'rows':>12}{'COPY s':>9}{'rows/s':>11}   ({jobs} connections)")
    for table in TABLES:
        rows, spent = meter.rows[table], meter.seconds[table]
        print(f"{table:<38}{rows:>12,}{spent:>9.1f}{rows / max(spent, 1e-9):>11,.0f}")
    print(f"{COMMIT:<38}{'':>12}{meter.seconds[COMMIT]:>9.1f}")
    print(f"{'all tables, wall clock':<38}{total:>12,}{seconds:>9.1f}{total / seconds:>11,.0f}")


def report_plants(plan: Plan) -> None:
    print("\nplanted patterns (exact support and vendor count):")
    for plant in PLANTS:
        members = [v for p, v in plan.plants.values() if p is plant]
        vendors = len({v.id for v in members})
        print(f"  {plant.key:<58} {len(members):>6,} incidents  {vendors:>4} vendors")


def finish(conn) -> None:
    """VACUUM (ANALYZE): planner statistics, plus the visibility map and hint bits that
    autovacuum would set soon after a real load, so the first benchmark run is not charged
    for them."""
    conn.autocommit = True
    started = time.perf_counter()
    for table in (*TABLES, "postmortems_vendor", "postmortems_service"):
        conn.execute(f"VACUUM (ANALYZE) {table}")
    conn.execute("ANALYZE")
    print(f"\nVACUUM (ANALYZE) {time.perf_counter() - started:.1f} s")
    size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
    print(f"database size {size.fetchone()[0]}")
    for table in TABLES:
        row = conn.execute(
            "SELECT pg_size_pretty(pg_table_size(%s)), pg_size_pretty(pg_indexes_size(%s))",
            [table, table],
        ).fetchone()
        print(f"  {table:<36} table {row[0]:>9}  indexes {row[1]:>9}")


def main() -> None:
    args = parse_args()
    import psycopg

    url = prepare_database(args.database_url)
    print(f"database {urlsplit(url).path.lstrip('/')}, scale {args.scale}, seed {args.seed}")
    now = datetime.now(UTC).replace(microsecond=0)
    with psycopg.connect(url) as conn:
        if args.reset:
            reset(conn)
        started = time.perf_counter()
        rng = random.Random(args.seed)
        vendors = load_vendors(conn, max(20, round(DEFAULT_VENDORS * args.scale)), rng, now)
        first_id = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM postmortems_incident")
        plan = make_plan(args.scale, vendors, first_id.fetchone()[0], args.seed)
        print(f"{len(vendors):,} vendors; loading {plan.published:,} published incidents "
              f"and {plan.unpublished:,} drafts and reviews")  # fmt: skip
        kb = KnowledgeBase(args.seed, load_taxonomy(conn), vendors, now)
        meter = load(url, kb, plan, args.jobs)
        reset_sequences(conn)
        report(meter, time.perf_counter() - started, args.jobs)
        report_plants(plan)
        finish(conn)
    take_counts()


def take_counts() -> None:
    """The published counts the pages read, as the running product keeps them."""
    from postmortems.tallies import take_counts

    started = time.perf_counter()
    take_counts()
    print(f"published counts taken in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
