"""The one write path for imported status-page incidents.

Every format's parser produces an ``ImportBatch``; ``import_batch`` writes it:

* **Idempotent.** Incidents are keyed on (import source, external id) and
  updates on (incident, source, update id). The same payload twice writes
  nothing: no rows, no history entries.
* **Race-safe.** The database's unique constraints decide who creates an
  incident; the loser of a race finds the winner's row and compares with it.
* **Human work wins.** ``Incident.imported_values`` remembers what the importer
  last wrote; a field whose value differs was edited by a person and is left
  alone. Timeline events a person edited are left alone too. New updates
  still append.
* **Atomic per incident.** Each incident is written in its own transaction;
  one bad incident is reported and the others still import.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, transaction
from django.utils.text import slugify
from simple_history.models import HistoricalRecords

from imports.records import ImportBatch, ImportedIncident, ImportedUpdate
from postmortems.choices import Origin, ReviewStatus, Severity
from postmortems.models import Incident, Service, Vendor
from postmortems.services import create_incident, unique_slug
from timeline.choices import EventKind
from timeline.models import TimelineEvent
from timeline.services import NewEvent, record_events, save_event

IMPACT_SEVERITY = {
    "critical": Severity.CRITICAL,
    "major": Severity.MAJOR,
    "minor": Severity.MINOR,
    "none": Severity.NONE,
    "maintenance": Severity.NONE,
}
# The incident fields the importer owns (and a person may override).
OWNED_FIELDS = (
    "title",
    "severity",
    "started_at",
    "resolved_at",
    "duration_unknown",
    "is_maintenance",
)
MARKERS = (EventKind.DETECTION, EventKind.MITIGATION, EventKind.RESOLUTION)
CLOSING = ("resolved", "completed", "postmortem")


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[dict] = field(default_factory=list)
    incidents: list[dict] = field(default_factory=list)

    def record(self, outcome: str, external_id: str, slug: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)
        self.incidents.append({"external_id": external_id, "slug": slug, "outcome": outcome})

    def fail(self, external_id: str, message: str) -> None:
        self.failed += 1
        self.errors.append({"external_id": external_id, "message": message})

    def as_dict(self) -> dict:
        return asdict(self)


def import_source_key(fmt: str, vendor: Vendor) -> str:
    """Where an incident's external id is unique: the vendor's page, in one id space.

    A Statuspage incident arrives by pull and by webhook with the same id, so
    both share one key; RSS and Atom feeds of one vendor likewise.
    """
    family = {"statuspage-webhook": "statuspage", "atom": "feed", "rss": "feed"}.get(fmt, fmt)
    return f"{family}:{vendor.slug}"


def ensure_vendor(*, slug: str, name: str = "") -> Vendor:
    vendor, _ = Vendor.objects.get_or_create(
        slug=slug, defaults={"name": name or slug.replace("-", " ").title()}
    )
    return vendor


def import_batch(
    *,
    vendor: Vendor,
    fmt: str,
    batch: ImportBatch,
    user=None,
    on_progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Write every incident of ``batch`` for ``vendor``; report what happened to each."""
    report = ImportReport()
    for error in batch.errors:
        report.fail(error.external_id, error.message)
    source = import_source_key(fmt, vendor)
    for done, item in enumerate(batch.incidents, start=1):
        try:
            with transaction.atomic(), written_by_the_importer():
                outcome, incident = upsert_incident(
                    vendor=vendor, source=source, item=item, user=user
                )
        except (ValidationError, IntegrityError, DataError, ValueError) as exc:
            report.fail(item.external_id, error_message(exc))
        else:
            report.record(outcome, item.external_id, incident.slug)
        if on_progress is not None:
            on_progress(done)
    return report


@contextmanager
def written_by_the_importer():
    """History entries written inside carry no user, even during a request.

    A user on an entry means a person edited the row, which is how
    re-imports know to leave a person's text alone.
    """
    context = HistoricalRecords.context
    request = getattr(context, "request", None)
    if request is not None:
        del context.request
    try:
        yield
    finally:
        if request is not None:
            context.request = request


def error_message(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc).splitlines()[0]


# --- One incident ------------------------------------------------------------


@dataclass
class Desired:
    """What the payload says the incident should be, in model terms."""

    fields: dict
    events: list[NewEvent]
    services: list[Service]


def upsert_incident(
    *, vendor: Vendor, source: str, item: ImportedIncident, user=None
) -> tuple[str, Incident]:
    """Create or update one incident; ``user`` (who pushed it) authors a new draft."""
    desired = desired_state(vendor=vendor, source=source, item=item)
    incident, created = claim_incident(
        vendor=vendor, source=source, item=item, desired=desired, user=user
    )
    if created:
        record_events(incident=incident, events=desired.events)
        remember_imported_values(incident)
        return "created", incident
    changed = apply_fields(incident, desired.fields, raw=item.raw)
    changed |= apply_events(incident, source, desired.events)
    changed |= add_services(incident, desired.services)
    if changed:
        remember_imported_values(incident)
    return ("updated" if changed else "unchanged"), incident


def claim_incident(
    *, vendor: Vendor, source: str, item: ImportedIncident, desired: Desired, user=None
) -> tuple[Incident, bool]:
    """Create the incident, or lock the one that exists (ours, or a concurrent import's)."""
    existing = find_incident(source, item.external_id)
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():  # a savepoint: losing the race leaves us usable
            fields = dict(desired.fields)
            incident = create_incident(
                author=user,
                slug=unique_slug(f"{item.title} {slugify(item.external_id)[-8:]}", item.started_at),
                vendors=[vendor],
                primary_vendor=vendor,
                services=desired.services,
                origin=Origin.IMPORTED,
                import_source=source,
                external_id=item.external_id,
                raw_payload=item.raw,
                status=ReviewStatus.PUBLISHED if vendor.publish_imports else ReviewStatus.DRAFT,
                needs_review=not vendor.publish_imports,
                **fields,
            )
            return incident, True
    except (IntegrityError, ValidationError):
        # Another import created it between our look and our insert (the
        # unique constraint made it wait for that transaction to commit).
        existing = find_incident(source, item.external_id)
        if existing is None:
            raise
        return existing, False


def find_incident(source: str, external_id: str) -> Incident | None:
    return (
        Incident.objects.select_for_update()
        .filter(origin=Origin.IMPORTED, import_source=source, external_id=external_id)
        .first()
    )


def desired_state(*, vendor: Vendor, source: str, item: ImportedIncident) -> Desired:
    events = classify_updates(item)
    for event in events:
        event.source = source
    resolutions = [e.occurred_at for e in events if e.kind == EventKind.RESOLUTION]
    # The end comes from the updates when they give one; else from the page;
    # a closed incident with neither has an unknown duration, not a zero one.
    resolved_at = max(resolutions) if resolutions else item.resolved_at
    if resolved_at and item.started_at and resolved_at <= item.started_at:
        resolved_at = None
    closed = item.status.lower() in CLOSING
    return Desired(
        fields={
            "title": item.title[:300] or f"Untitled incident {item.external_id}",
            "severity": IMPACT_SEVERITY.get(item.impact.lower(), Severity.MINOR),
            "started_at": item.started_at,
            "resolved_at": resolved_at,
            "duration_unknown": closed and resolved_at is None,
            "is_maintenance": item.is_maintenance,
        },
        events=events,
        services=[component_service(vendor, c.external_id, c.name) for c in item.components],
    )


def component_service(vendor: Vendor, external_id: str, name: str) -> Service:
    """The vendor's service for a status-page component; a renamed component keeps its row."""
    service, created = Service.objects.get_or_create(
        vendor=vendor, external_id=external_id, defaults={"name": name[:200]}
    )
    if not created and name and service.name != name[:200]:
        service.name = name[:200]
        service.save(update_fields=["name"])
    return service


# --- Updates → timeline events -------------------------------------------------


def update_kind(status: str, *, detected: bool, has_resolved: bool) -> str:
    status = status.lower()
    if status == "investigating":
        return EventKind.STATUS_UPDATE if detected else EventKind.DETECTION
    if status == "identified":
        return EventKind.DIAGNOSIS
    if status in ("monitoring", "verifying"):
        return EventKind.MITIGATION
    if status in ("resolved", "completed"):
        return EventKind.RESOLUTION
    if status == "postmortem":
        # A postmortem is often posted days after the fix: it ends the
        # incident only when no "resolved" update did.
        return EventKind.NOTE if has_resolved else EventKind.RESOLUTION
    return EventKind.STATUS_UPDATE


def classify_updates(item: ImportedIncident) -> list[NewEvent]:
    """Timeline events for the updates, kinds chosen so the moments stay in order."""
    updates = sorted(item.updates, key=lambda u: (u.display_at, u.created_at or u.display_at))
    has_resolved = any(u.status.lower() in ("resolved", "completed") for u in updates)
    events, detected = [], False
    for update in updates:
        kind = update_kind(update.status, detected=detected, has_resolved=has_resolved)
        if kind in MARKERS and item.started_at and update.display_at < item.started_at:
            kind = EventKind.STATUS_UPDATE  # a back-dated update cannot precede the start
        if (
            kind == EventKind.RESOLUTION
            and item.started_at
            and update.display_at <= item.started_at
        ):
            # Backfilled history "resolves" at its creation time: that is not
            # an end, and must not make a zero-length outage.
            kind = EventKind.STATUS_UPDATE
        detected |= kind == EventKind.DETECTION
        events.append(new_event(update, kind))
    keep_moments_in_order(events)
    return events


def new_event(update: ImportedUpdate, kind: str) -> NewEvent:
    return NewEvent(
        occurred_at=update.display_at,
        kind=kind,
        description=update.body,
        body_format=update.body_format,
        external_id=update.external_id,
    )


def keep_moments_in_order(events: list[NewEvent]) -> None:
    """Demote marker events that would put detection after mitigation, or an end before them.

    Pages post updates out of order (a "monitoring" before the first
    "investigating", back-dated display times); such an update is still
    shown, as a status update, rather than rejecting the whole incident.
    """

    def moment(kind, pick):
        times = [e.occurred_at for e in events if e.kind == kind]
        return pick(times) if times else None

    def demote(kind):
        for e in events:
            if e.kind == kind:
                e.kind = EventKind.STATUS_UPDATE

    detected, mitigated = moment(EventKind.DETECTION, min), moment(EventKind.MITIGATION, min)
    if detected and mitigated and mitigated < detected:
        demote(EventKind.DETECTION)
    resolved = moment(EventKind.RESOLUTION, max)
    earliest = [t for t in (moment(EventKind.DETECTION, min), mitigated) if t]
    if resolved and earliest and resolved < max(earliest):
        demote(EventKind.RESOLUTION)


# --- Applying changes to an existing incident -------------------------------------


def encode(value) -> object:
    return value.isoformat() if isinstance(value, datetime) else value


def apply_fields(incident: Incident, desired: dict, *, raw: dict) -> bool:
    """Set the owned fields a person has not edited since the last import."""
    last = incident.imported_values
    changed = [
        name
        for name, value in desired.items()
        if encode(getattr(incident, name)) == last.get(name, encode(getattr(incident, name)))
        and encode(getattr(incident, name)) != encode(value)
    ]
    raw_changed = json.dumps(incident.raw_payload, sort_keys=True) != json.dumps(
        raw, sort_keys=True
    )
    if not changed and not raw_changed:
        return False
    for name in changed:
        setattr(incident, name, desired[name])
    incident.raw_payload = raw
    if changed:
        incident.full_clean()
        incident.version += 1
        incident.save()
    else:
        # The page changed only fields we keep verbatim: no edit for the history.
        Incident.objects.filter(id=incident.id).update(raw_payload=raw)
    return True


def apply_events(incident: Incident, source: str, desired: list[NewEvent]) -> bool:
    existing = {
        e.external_id: e for e in TimelineEvent.objects.filter(incident=incident, source=source)
    }
    # The importer writes without a user: an event with a history entry that
    # has one was edited by a person, and keeps that person's text.
    edited = set(
        TimelineEvent.history.filter(id__in=[e.id for e in existing.values()])
        .exclude(history_user=None)
        .values_list("id", flat=True)
    )
    new = [e for e in desired if e.external_id not in existing]
    changed = bool(new)
    if new:
        record_events(incident=incident, events=new)
    for wanted in desired:
        event = existing.get(wanted.external_id)
        if event is not None and event.id not in edited and differs(event, wanted):
            before = (event.kind, event.occurred_at)
            for name in ("occurred_at", "kind", "description", "body_format"):
                setattr(event, name, getattr(wanted, name))
            save_event(event=event, before=before)
            changed = True
    return changed


def differs(event: TimelineEvent, wanted: NewEvent) -> bool:
    return (event.occurred_at, event.kind, event.description, event.body_format) != (
        wanted.occurred_at,
        wanted.kind,
        wanted.description,
        wanted.body_format,
    )


def add_services(incident: Incident, services: list[Service]) -> bool:
    current = set(incident.services.values_list("id", flat=True))
    missing = [s for s in services if s.id not in current]
    if missing:
        incident.services.add(*missing)
    return bool(missing)


def remember_imported_values(incident: Incident) -> None:
    incident.refresh_from_db()
    values = {name: encode(getattr(incident, name)) for name in OWNED_FIELDS}
    Incident.objects.filter(id=incident.id).update(imported_values=values)


# --- Payloads in, jobs out ---------------------------------------------------------

# Larger pushes run as a background job (202 + job URL) instead of in the request.
SYNC_MAX_BYTES = 256 * 1024
SYNC_MAX_INCIDENTS = 50


def parse_payload(fmt: str, data: bytes) -> ImportBatch:
    """Parse ``data`` as ``fmt``; raises PayloadError when it is unreadable as a whole."""
    from imports.parsers import FORMATS

    return FORMATS[fmt](data)


def runs_in_background(data: bytes, batch: ImportBatch) -> bool:
    return len(data) > SYNC_MAX_BYTES or len(batch.incidents) > SYNC_MAX_INCIDENTS


def queue_import(*, vendor: Vendor, fmt: str, data: bytes, total: int, user=None):
    """Store the payload as a job and run it on a worker once this transaction commits."""
    from imports.models import ImportJob
    from imports.tasks import run_import_job

    job = ImportJob.objects.create(
        vendor=vendor, format=fmt, payload=data, total=total, created_by=user
    )
    run_import_job.delay_on_commit(str(job.id))
    return job


def run_import_job(job_id: str) -> ImportReport | None:
    """Run a queued job, recording progress as it goes; a finished job is not run twice."""
    from django.utils import timezone

    from imports.models import ImportJob, JobStatus

    claimed = ImportJob.objects.filter(
        id=job_id, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
    ).update(status=JobStatus.RUNNING, started_at=timezone.now())
    if not claimed:
        return None
    job = ImportJob.objects.select_related("vendor").get(id=job_id)

    def progress(done: int) -> None:
        if done % 25 == 0 or done == job.total:
            ImportJob.objects.filter(id=job.id).update(processed=done)

    try:
        batch = parse_payload(job.format, bytes(job.payload))
        report = import_batch(vendor=job.vendor, fmt=job.format, batch=batch, on_progress=progress)
    except Exception as exc:
        # The job page must say what went wrong, not stay "running" for ever.
        ImportJob.objects.filter(id=job.id).update(
            status=JobStatus.FAILED, error=error_message(exc), finished_at=timezone.now()
        )
        raise
    ImportJob.objects.filter(id=job.id).update(
        status=JobStatus.SUCCEEDED,
        processed=len(batch.incidents),
        report=report.as_dict(),
        payload=None,
        finished_at=timezone.now(),
    )
    return report
