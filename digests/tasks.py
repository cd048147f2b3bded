"""Celery entry points for the digest: each a few lines over ``digests.sending``/``delivery``."""

import time
from datetime import datetime

from celery import shared_task
from django.dispatch import receiver

from digests import delivery, sending, services, signals
from digests.content import DigestCache

# Sections shared by subscribers with the same filters are built once per worker for a
# few minutes: a Monday-morning run sends thousands of digests that differ only a little.
CACHE_SECONDS = 300
_cache: tuple[float, DigestCache] | None = None


def worker_cache() -> DigestCache:
    global _cache
    if _cache is None or time.monotonic() - _cache[0] > CACHE_SECONDS:
        _cache = (time.monotonic(), DigestCache())
    return _cache[1]


@shared_task
def enqueue_due_digests(now: datetime | None = None) -> str:
    """Beat's scan: create the deliveries that became due and queue one send task each."""
    created, ids = sending.claim_due_digests(now)
    for pk in ids:
        send_digest.delay(pk)
    return f"{created} digests became due, {len(ids)} queued"


@shared_task(bind=True, max_retries=None)
def send_digest(self, delivery_id: int) -> str:
    outcome = delivery.deliver_digest(delivery_id, cache=worker_cache())
    if outcome.retry_in is not None:
        raise self.retry(countdown=outcome.retry_in)
    return str(outcome)


@shared_task
def send_confirmation(subscription_id: int) -> str:
    return services.send_confirmation(subscription_id)


@receiver(signals.confirmation_requested)
def queue_confirmation(sender, subscription_id: int, **kwargs) -> None:
    send_confirmation.delay_on_commit(subscription_id)
