"""Load the demo postmortems from ``data/*.yaml`` through the ordinary write paths.

Loading is idempotent: a vendor or incident whose slug exists is left as it is
(people may have edited it since), so running the loader again changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import yaml
from django.db import transaction

from postmortems.choices import ReviewStatus
from postmortems.models import (
    MOMENTS,
    ActionItem,
    ChangeType,
    Factor,
    FailureCategory,
    Incident,
    Service,
    Source,
    Vendor,
)
from postmortems.services import create_incident, publish_directly
from timeline.services import NewEvent, record_events

DATA_DIR = Path(__file__).resolve().parent / "data"
VENDORS_FILE = "vendors.yaml"


class DemoDataError(Exception):
    """A demo file contradicts itself or names something the taxonomy lacks."""


@dataclass
class DemoLoadResult:
    created: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def demo_files() -> list[Path]:
    return sorted(p for p in DATA_DIR.glob("*.yaml") if p.name != VENDORS_FILE)


def load_demo() -> DemoLoadResult:
    """Create every demo vendor and postmortem that does not exist yet."""
    vendors = {row["slug"]: ensure_vendor(row) for row in read_yaml(DATA_DIR / VENDORS_FILE)}
    result = DemoLoadResult()
    for path in demo_files():
        data = read_yaml(path)
        if Incident.objects.filter(slug=data["slug"]).exists():
            result.unchanged.append(data["slug"])
            continue
        load_incident(data, vendors)
        result.created.append(data["slug"])
    return result


def read_yaml(path: Path):
    with path.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def ensure_vendor(row: dict) -> Vendor:
    vendor, _ = Vendor.objects.get_or_create(
        slug=row["slug"],
        defaults={
            k: row.get(k, "") for k in ("name", "kind", "website", "status_page_url", "notes")
        },
    )
    return vendor


def parse_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def by_slug(model, slugs: list[str]) -> list:
    found = {obj.slug: obj for obj in model.objects.filter(slug__in=slugs)}
    missing = sorted(set(slugs) - set(found))
    if missing:
        raise DemoDataError(f"Unknown {model._meta.verbose_name} slugs: {', '.join(missing)}")
    return [found[s] for s in slugs]


@transaction.atomic
def load_incident(data: dict, vendors: dict[str, Vendor]) -> Incident:
    primary = next((vendors[v["slug"]] for v in data["vendors"] if v.get("primary")), None)
    incident = create_incident(
        title=data["title"],
        slug=data["slug"],
        status=ReviewStatus.DRAFT,  # published once whole, below
        vendors=[vendors[v["slug"]] for v in data["vendors"]],
        primary_vendor=primary,
        change_types=by_slug(ChangeType, data["change_types"]),
        services=[
            Service.objects.get_or_create(vendor=vendors[s["vendor"]], name=s["name"])[0]
            for s in data.get("services", [])
        ],
        **{m: parse_time(data.get(m)) for m in MOMENTS},
        **{k: data[k] for k in ("severity", "summary", "impact", "analysis", "lessons")},
        **{k: data.get(k) for k in ("regions_affected", "regions_total")},
        regions=data.get("regions", []),
        detection_method=data.get("detection_method", ""),
        data_loss=data.get("data_loss", False),
        near_miss=data.get("near_miss", False),
    )
    events = record_events(
        incident=incident,
        events=[
            NewEvent(occurred_at=parse_time(e["at"]), kind=e["kind"], description=e["description"])
            for e in data["timeline"]
        ],
    )
    add_factors(incident, data.get("factors", []), events)
    add_action_items(incident, data.get("action_items", []))
    for source in data.get("sources", []):
        Source.objects.create(incident=incident, **source)
    check_moments_agree(incident, data)
    # Published by the load's last write, so the postmortem is not "edited after
    # publication" by its own timeline and factors.
    return publish_directly(incident=incident)


def add_factors(incident: Incident, rows: list[dict], events: list) -> None:
    categories = by_slug(FailureCategory, [row["category"] for row in rows])
    for position, (row, category) in enumerate(zip(rows, categories, strict=True)):
        factor = Factor.objects.create(
            incident=incident,
            role=row["role"],
            category=category,
            description=row["description"],
            position=position,
        )
        for index in row.get("evidence", []):
            events[index].evidence_for.add(factor)


def add_action_items(incident: Incident, rows: list[dict]) -> None:
    for row in rows:
        item = ActionItem(incident=incident, **row)
        item.full_clean()
        item.save()


def check_moments_agree(incident: Incident, data: dict) -> None:
    # The timeline's marker events set the moments; a demo file whose stated
    # moments disagree with its own timeline is a data error, not a choice.
    incident.refresh_from_db()
    for moment in MOMENTS:
        if getattr(incident, moment) != parse_time(data.get(moment)):
            raise DemoDataError(
                f"{data['slug']}: {moment} is {data.get(moment)} in the file but "
                f"{getattr(incident, moment)} from its timeline."
            )
