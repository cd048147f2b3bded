"""Polling vendors' status pages: conditional GET, exponential backoff.

Fetches go through imports/fetching.py: public addresses only, a deadline for the whole
fetch, a size cap and checked redirects, because whoever may change vendors picks the URL.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import F
from django.utils import timezone

from imports import fetching
from imports.models import StatusSource
from imports.records import PayloadError
from imports.services import collector_paused, import_batch, parse_payload

MAX_BACKOFF = timedelta(hours=6)
USER_AGENT = "Hindsight status-page importer"


def claim_due_sources(now=None) -> list[int]:
    """Ids of enabled sources due now, each pushed forward so no second tick re-polls it.

    The conditional UPDATE (``next_poll_at`` still what we read) is the claim:
    of two concurrent beats, only one moves a given source.
    """
    now = now or timezone.now()
    claimed = []
    for source in StatusSource.objects.filter(enabled=True, next_poll_at__lte=now):
        moved = StatusSource.objects.filter(id=source.id, next_poll_at=source.next_poll_at).update(
            next_poll_at=now + source.poll_interval
        )
        if moved:
            claimed.append(source.id)
    return claimed


def poll_source_by_id(source_id: int) -> str:
    source = StatusSource.objects.select_related("vendor").get(id=source_id)
    return poll_source(source)


@collector_paused()
def poll_source(source: StatusSource) -> str:
    """Fetch the page (conditionally), import what changed, and record the outcome."""
    now = timezone.now()
    source.last_polled_at = now
    try:
        response = fetching.fetch(source.url, headers=conditional_headers(source))
        if response.status == 304:
            return record_success(source, now, note="not modified")
        if response.status >= 400:
            return record_failure(source, now, f"HTTP {response.status} from the status page")
        batch = parse_payload(source.format, response.content)
    except fetching.FetchError as exc:
        # Written for the vendor page; a refused address was never contacted, so it says
        # nothing of what answers there.
        return record_failure(source, now, str(exc))
    except PayloadError as exc:
        return record_failure(source, now, describe(exc))
    report = import_batch(vendor=source.vendor, fmt=source.format, batch=batch)
    source.etag = response.headers.get("ETag", "")
    source.last_modified = response.headers.get("Last-Modified", "")
    source.last_report = {k: v for k, v in report.as_dict().items() if k != "incidents"}
    return record_success(
        source,
        now,
        note=f"{report.created} created, {report.updated} updated, {report.failed} failed",
    )


def conditional_headers(source: StatusSource) -> dict[str, str]:
    headers = {
        "User-Agent": USER_AGENT,
        "Accept": "application/json, application/xml;q=0.9, */*;q=0.5",
    }
    if source.etag:
        headers["If-None-Match"] = source.etag
    if source.last_modified:
        headers["If-Modified-Since"] = source.last_modified
    return headers


def describe(exc: PayloadError) -> str:
    lines = str(exc).splitlines()
    return (lines[0] if lines else "The page is not a readable payload")[:500]


def record_success(source: StatusSource, now, *, note: str) -> str:
    source.last_success_at = now
    source.consecutive_failures = 0
    source.last_error = ""
    source.next_poll_at = now + source.poll_interval
    source.save()
    return note


def backoff(source: StatusSource) -> timedelta:
    """Interval * 2^(failures - 1), at most MAX_BACKOFF: 15 min, 30, 60, ... 6 h."""
    return min(source.poll_interval * 2 ** max(source.consecutive_failures - 1, 0), MAX_BACKOFF)


def record_failure(source: StatusSource, now, message: str) -> str:
    source.consecutive_failures = F("consecutive_failures") + 1
    source.last_error = message
    source.last_error_at = now
    source.save()
    source.refresh_from_db()
    source.next_poll_at = now + backoff(source)
    source.save(update_fields=["next_poll_at"])
    return f"failed: {message}"
