from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from ops.models import WorkerHeartbeat


def stale_after() -> timedelta:
    # Three missed beats mean the worker or beat is down, not merely slow.
    return timedelta(seconds=3 * settings.WORKER_HEARTBEAT_SECONDS)


def record_heartbeat(*, hostname: str) -> WorkerHeartbeat:
    """Record that the worker ``hostname`` ran a task just now."""
    beat, _ = WorkerHeartbeat.objects.update_or_create(
        hostname=hostname, defaults={"seen_at": timezone.now()}
    )
    return beat


def health_report() -> dict:
    """Database reachability and the freshest worker heartbeat, for the health page."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    latest = WorkerHeartbeat.objects.first()
    worker_ok = latest is not None and timezone.now() - latest.seen_at < stale_after()
    return {
        "database": "ok",
        "worker": "ok" if worker_ok else "stale",
        "worker_seen_at": latest.seen_at.isoformat() if latest else None,
    }
