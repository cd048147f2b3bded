"""Polling vendors' status pages: conditional GET, timeouts, exponential backoff."""

from __future__ import annotations

from datetime import timedelta

import requests
from django.db.models import F
from django.utils import timezone

from imports.models import StatusSource
from imports.records import PayloadError
from imports.services import collector_paused, import_batch, parse_payload

TIMEOUT = (5, 30)  # seconds to connect, seconds between bytes
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
def poll_source(source: StatusSource, *, session: requests.Session | None = None) -> str:
    """Fetch the page (conditionally), import what changed, and record the outcome."""
    now = timezone.now()
    source.last_polled_at = now
    try:
        response = (session or requests).get(
            source.url, headers=conditional_headers(source), timeout=TIMEOUT
        )
        if response.status_code == 304:
            return record_success(source, now, note="not modified")
        response.raise_for_status()
        batch = parse_payload(source.format, response.content)
    except (requests.RequestException, PayloadError) as exc:
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


def describe(exc: Exception) -> str:
    if isinstance(exc, requests.Timeout):
        return f"Timed out after {TIMEOUT[1]} s"
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"HTTP {exc.response.status_code} from the status page"
    return str(exc).splitlines()[0][:500]


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
