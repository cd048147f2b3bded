"""The one write path for imported status-page incidents.

Every format's parser produces an ``ImportBatch``; ``import_batch`` writes it:

* **Idempotent.** Incidents are keyed on (import source, external id) and
  updates on (incident, source, update id). The same payload twice writes
  nothing: no rows, no history entries.
* **Race-safe.** Imports of one source take turns chunk by chunk (an advisory
  lock), and the database's unique constraints back that up.
* **Human work wins.** ``Incident.imported_values`` remembers what the importer
  last wrote; a field whose value differs was edited by a person and is left
  alone. Timeline events a person edited are left alone too. New updates
  still append.
* **Batched.** Incidents are written in chunks of ``CHUNK_SIZE``, each in one
  transaction and a fixed number of statements (``imports/upsert.py``), with
  history entries written in bulk too.
* **One bad incident loses nothing.** An incident that cannot be written is
  reported and the others still import: problems known in advance (ids too
  long, moments out of order) leave it out of its chunk; a chunk the database
  refuses is written again incident by incident, each in its own transaction.
"""

from __future__ import annotations

import gc
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, transaction
from simple_history.models import HistoricalRecords

from core.bulk import load_bytes, store_bytes
from imports import signals
from imports.records import ImportBatch, ImportedIncident
from imports.upsert import Outcome, write_chunk
from postmortems.models import Vendor

CHUNK_SIZE = 500
WRITE_ERRORS = (ValidationError, IntegrityError, DataError, ValueError)


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[dict] = field(default_factory=list)
    incidents: list[dict] = field(default_factory=list)
    # What happens next to the incidents written (their classification), if anything.
    classification: dict = field(default_factory=dict)

    def record(self, outcome: str, external_id: str, slug: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)
        self.incidents.append({"external_id": external_id, "slug": slug, "outcome": outcome})

    def fail(self, external_id: str, message: str) -> None:
        self.failed += 1
        self.errors.append({"external_id": external_id, "message": message})

    def as_dict(self) -> dict:
        # Field by field: dataclasses.asdict deep-copies every entry, which for a payload
        # of thousands of incidents costs more than writing one of its chunks.
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "errors": [dict(error) for error in self.errors],
            "incidents": [dict(entry) for entry in self.incidents],
            **({"classification": dict(self.classification)} if self.classification else {}),
        }


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
    chunk_size: int | None = None,
) -> ImportReport:
    """Write every incident of ``batch`` for ``vendor``; report what happened to each.

    ``user`` (who pushed the payload) becomes the author of the drafts it creates;
    ``on_progress`` hears how many incidents are done after each chunk.
    """
    report = ImportReport()
    for error in batch.errors:
        report.fail(error.external_id, error.message)
    source = import_source_key(fmt, vendor)
    done = 0
    for chunk in chunks(batch.incidents, chunk_size or CHUNK_SIZE):
        for outcome in import_chunk(vendor=vendor, source=source, items=chunk, user=user):
            if outcome.outcome == "failed":
                report.fail(outcome.external_id, outcome.message)
            else:
                report.record(outcome.outcome, outcome.external_id, outcome.slug)
        done += len(chunk)
        if on_progress is not None:
            on_progress(done)
    written = [e["slug"] for e in report.incidents if e["outcome"] in ("created", "updated")]
    if written:
        signals.incidents_imported.send(sender=ImportReport, slugs=written, report=report)
    return report


def chunks(items: list[ImportedIncident], size: int) -> Iterator[list[ImportedIncident]]:
    """Runs of at most ``size`` incidents; an id seen again starts a new run, so the second
    copy updates what the first created, as it would have one incident at a time."""
    chunk: list[ImportedIncident] = []
    ids: set[str] = set()
    for item in items:
        if len(chunk) >= size or item.external_id in ids:
            yield chunk
            chunk, ids = [], set()
        chunk.append(item)
        ids.add(item.external_id)
    if chunk:
        yield chunk


def import_chunk(
    *, vendor: Vendor, source: str, items: list[ImportedIncident], user=None
) -> list[Outcome]:
    """Write a chunk in one transaction; if the database refuses it, one incident at a time."""
    try:
        with transaction.atomic(), written_by_the_importer():
            outcomes = write_chunk(vendor=vendor, source=source, items=items, user=user)
            if any(o.published for o in outcomes):
                refresh_patterns_soon()
            return outcomes
    except WRITE_ERRORS as exc:
        if len(items) == 1:
            return [Outcome(items[0].external_id, "failed", message=error_message(exc))]
    return [
        outcome
        for item in items
        for outcome in import_chunk(vendor=vendor, source=source, items=[item], user=user)
    ]


def refresh_patterns_soon() -> None:
    """Published postmortems changed: ask for the debounced pattern refresh.

    Bulk writes send no ``post_save``, so the signal that schedules it for an
    edit never fires here; this asks the same way, once per chunk.
    """
    from patterns.signals import request_refresh

    request_refresh()


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


@contextmanager
def collector_paused():
    """Python's cycle collector off while a payload is read and imported (a decorator too).

    A payload of megabytes decodes into hundreds of thousands of objects, none in a cycle,
    all freed by reference counting. Allocating them starts a collection every 700 objects,
    and now and then a full one that walks every object the process holds: a tenth of a
    queued import's time, a third of some imports', for nothing to collect.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# --- Payloads in, jobs out ---------------------------------------------------------

# Larger pushes run as a background job (202 + job URL) instead of in the request.
SYNC_MAX_BYTES = 256 * 1024
SYNC_MAX_INCIDENTS = 50


def parse_payload(fmt: str, data: bytes) -> ImportBatch:
    """Parse ``data`` as ``fmt``; raises PayloadError when it is unreadable as a whole."""
    from imports.parsers import FORMATS

    return FORMATS[fmt](data)


def count_payload(fmt: str, data: bytes) -> int:
    """How many incidents ``data`` holds; raises PayloadError when it is unreadable as a
    whole, as ``parse_payload`` would. Cheaper than parsing: a queued payload is parsed by
    the job, so the request only checks and counts it."""
    from imports.parsers import FORMATS
    from imports.parsers.common import count_items

    return count_items(FORMATS[fmt], data)


def runs_in_background(data: bytes, count: int) -> bool:
    return len(data) > SYNC_MAX_BYTES or count > SYNC_MAX_INCIDENTS


def queue_import(*, vendor: Vendor, fmt: str, data: bytes, total: int, user=None):
    """Store the payload as a job and run it on a worker once this transaction commits."""
    from imports.models import ImportJob

    job = ImportJob.objects.create(vendor=vendor, format=fmt, total=total, created_by=user)
    store_bytes(ImportJob, job.id, "payload", compress_payload(data))
    signals.import_queued.send(sender=ImportJob, job_id=str(job.id))
    return job


def compress_payload(data: bytes) -> bytes:
    """A queued payload as stored: zlib's fastest level.

    Status-page JSON shrinks about fourteen times in under 2 ms a megabyte. Stored as it
    came, PostgreSQL compresses it itself (pglz, four times slower) and the request pays
    for that; the column is therefore kept uncompressed (``STORAGE EXTERNAL``).
    """
    return zlib.compress(data, 1)


@collector_paused()
def run_import_job(job_id: str) -> ImportReport | None:
    """Run a queued job, recording progress as it goes; a finished job is not run twice."""
    from django.utils import timezone

    from imports.models import ImportJob, JobStatus

    claimed = ImportJob.objects.filter(
        id=job_id, status__in=[JobStatus.QUEUED, JobStatus.RUNNING]
    ).update(status=JobStatus.RUNNING, started_at=timezone.now())
    if not claimed:
        return None
    job = ImportJob.objects.select_related("vendor", "created_by").defer("payload").get(id=job_id)

    def progress(done: int) -> None:  # after each chunk but the last, which the end records
        if done < len(batch.incidents):
            ImportJob.objects.filter(id=job.id).update(processed=done)

    try:
        batch = parse_payload(job.format, zlib.decompress(load_bytes(ImportJob, job.id, "payload")))
        report = import_batch(
            vendor=job.vendor,
            fmt=job.format,
            batch=batch,
            user=job.created_by,  # the drafts' author, as when the import runs in the request
            on_progress=progress,
        )
    except Exception as exc:
        # The job page must say what went wrong, not stay "running" for ever.
        ImportJob.objects.filter(id=job.id).update(
            status=JobStatus.FAILED, error=error_message(exc), finished_at=timezone.now()
        )
        raise
    ImportJob.objects.filter(id=job.id).update(
        status=JobStatus.SUCCEEDED,
        processed=len(batch.incidents) + len(batch.errors),  # every item: read or refused
        report=report.as_dict(),
        payload=None,
        finished_at=timezone.now(),
    )
    return report
