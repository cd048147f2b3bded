"""Send one digest delivery exactly once.

A delivery moves forward only through conditional updates, so whichever process runs
it — a task delivered twice, two workers, the command — at most one gets each step:

``pending`` → (claim) ``sending`` → (handover) ``handed_over`` → ``sent``

* **claim** takes a pending delivery whose time has come, or one whose worker's lease
  ran out (the worker died while building or connecting: nothing was sent, so taking it
  over is safe), and bumps ``attempts``; the new value is this worker's fencing token.
* **handover** is recorded only by the holder of the current token, just before the
  last byte of the message goes to the mail server (see ``digests.transport``). A
  worker that lost its lease finds the update refused and cancels its transaction.
* a delivery left ``handed_over`` by a crash is never sent again by itself: the mail
  server may well have it, and a duplicate digest is the failure this design rules out.

A refused or failed send goes back to ``pending`` with a doubling delay, up to
``DIGEST_MAX_ATTEMPTS``, so it is not lost either.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from digests import transport
from digests.choices import DeliveryStatus, QuietWeek
from digests.content import DigestCache, build_digest
from digests.emails import digest_message
from digests.models import DigestDelivery, DigestSubscription
from digests.schedule import DigestPeriod
from digests.tokens import unsubscribe_url

log = logging.getLogger(__name__)
MAX_RETRY_DELAY = timedelta(hours=6)


@dataclass(frozen=True)
class Outcome:
    """What one run did with a delivery; ``retry_in`` (seconds) when it should run again."""

    delivery_id: int
    result: str
    detail: str = ""
    retry_in: float | None = None

    def __str__(self) -> str:
        return f"digest delivery {self.delivery_id}: {self.result}" + (
            f" ({self.detail})" if self.detail else ""
        )


def deliver_digest(
    delivery_id: int, *, cache: DigestCache | None = None, now: datetime | None = None
) -> Outcome:
    """Claim the delivery, build its digest and send it, unless someone already has."""
    now = now or timezone.now()
    attempt = claim(delivery_id, now=now)
    if attempt is None:
        return Outcome(delivery_id, "not claimed", _current_status(delivery_id))
    delivery = DigestDelivery.objects.select_related("subscription__user").get(pk=delivery_id)
    if attempt > settings.DIGEST_MAX_ATTEMPTS:  # workers kept dying on this one
        error = transport.DeliveryError(f"Gave up after {attempt - 1} attempts.", permanent=True)
        return _failed(delivery, attempt, error)
    subscription = delivery.subscription
    if not subscription.is_active:
        return _settle(delivery, attempt, DeliveryStatus.SKIPPED, "unsubscribed")
    try:
        message = digest_email(subscription, period_of(delivery), delivery=delivery, cache=cache)
    except Exception as exc:  # a bug must not lose the digest: retry it like a failed send
        log.exception("Building digest delivery %s failed", delivery_id)
        return _failed(delivery, attempt, transport.DeliveryError(f"Building failed: {exc!r}"))
    if message is None:
        return _settle(delivery, attempt, DeliveryStatus.SKIPPED, "quiet week")
    return _send(delivery, attempt, message)


def digest_email(
    subscription: DigestSubscription,
    period: DigestPeriod,
    *,
    delivery: DigestDelivery | None = None,
    cache: DigestCache | None = None,
) -> EmailMultiAlternatives | None:
    """The message a subscriber gets for a period, or None when a quiet week sends nothing."""
    digest = build_digest(subscription, period, cache=cache)
    if digest.quiet and subscription.quiet_week == QuietWeek.SKIP:
        return None
    return digest_message(
        digest,
        to=subscription.email,
        unsubscribe_url=unsubscribe_url(subscription),
        message_id=message_id(delivery.pk if delivery else f"{subscription.pk}.{period.week}"),
    )


def period_of(delivery: DigestDelivery) -> DigestPeriod:
    return DigestPeriod(
        delivery.week,
        delivery.period_start,
        delivery.period_end,
        delivery.subscription.time_zone,
    )


def message_id(key: object) -> str:
    # Fixed per delivery: if a copy were ever sent twice, clients that collapse
    # messages by Message-ID would show it once.
    host = urlsplit(settings.SITE_URL).hostname or "localhost"
    return f"<digest.{key}@{host}>"


def claim(delivery_id: int, *, now: datetime) -> int | None:
    """Take the delivery for this run; its new attempt number, or None if not ours to send."""
    lease = timedelta(seconds=settings.DIGEST_LEASE_SECONDS)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {DigestDelivery._meta.db_table}
               SET status = %s, attempts = attempts + 1, lease_until = %s
             WHERE id = %s
               AND ((status = %s AND next_attempt_at <= %s)
                    OR (status = %s AND lease_until < %s))
            RETURNING attempts
            """,
            [
                DeliveryStatus.SENDING,
                now + lease,
                delivery_id,
                DeliveryStatus.PENDING,
                now,
                DeliveryStatus.SENDING,
                now,
            ],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _send(delivery: DigestDelivery, attempt: int, message: EmailMultiAlternatives) -> Outcome:
    try:
        handover = transport.prepare(message)
    except transport.DeliveryError as exc:
        return _failed(delivery, attempt, exc)
    if not _mark_handed_over(delivery, attempt, message):
        handover.abort()
        return Outcome(delivery.pk, "not claimed", "another run took it over")
    try:
        handover.finish()
    except transport.Unconfirmed as exc:
        _holding(delivery, attempt, DeliveryStatus.HANDED_OVER).update(last_error=str(exc))
        return Outcome(delivery.pk, "unconfirmed", str(exc))
    except transport.DeliveryError as exc:  # refused after the whole message: not delivered
        return _failed(delivery, attempt, exc, holding=DeliveryStatus.HANDED_OVER)
    _holding(delivery, attempt, DeliveryStatus.HANDED_OVER).update(
        status=DeliveryStatus.SENT, sent_at=timezone.now(), lease_until=None, last_error=""
    )
    return Outcome(delivery.pk, "sent", message.to[0])


def _holding(delivery: DigestDelivery, attempt: int, status: str):
    """The delivery, only while this run still holds it in ``status``."""
    return DigestDelivery.objects.filter(pk=delivery.pk, attempts=attempt, status=status)


def _mark_handed_over(
    delivery: DigestDelivery, attempt: int, message: EmailMultiAlternatives
) -> bool:
    return bool(
        _holding(delivery, attempt, DeliveryStatus.SENDING).update(
            status=DeliveryStatus.HANDED_OVER,
            handed_over_at=timezone.now(),
            to_email=message.to[0],
            subject=message.subject[:300],
            message_id=message.extra_headers.get("Message-ID", ""),
        )
    )


def _settle(delivery: DigestDelivery, attempt: int, status: str, detail: str) -> Outcome:
    _holding(delivery, attempt, DeliveryStatus.SENDING).update(
        status=status, lease_until=None, last_error=detail
    )
    return Outcome(delivery.pk, str(status), detail)


def _failed(
    delivery: DigestDelivery,
    attempt: int,
    error: transport.DeliveryError,
    *,
    holding: str = DeliveryStatus.SENDING,
) -> Outcome:
    """Not delivered: try again later, or give up when it is permanent or attempts ran out."""
    if error.permanent or attempt >= settings.DIGEST_MAX_ATTEMPTS:
        _holding(delivery, attempt, holding).update(
            status=DeliveryStatus.FAILED, lease_until=None, last_error=str(error)
        )
        return Outcome(delivery.pk, "failed", str(error))
    delay = retry_delay(attempt)
    _holding(delivery, attempt, holding).update(
        status=DeliveryStatus.PENDING,
        lease_until=None,
        next_attempt_at=timezone.now() + delay,
        last_error=str(error),
    )
    return Outcome(delivery.pk, "will retry", str(error), retry_in=delay.total_seconds())


def retry_delay(attempt: int) -> timedelta:
    """Doubling from ``DIGEST_RETRY_SECONDS`` after the first attempt, at most six hours."""
    delay = timedelta(seconds=settings.DIGEST_RETRY_SECONDS * 2 ** (attempt - 1))
    return min(delay, MAX_RETRY_DELAY)


def _current_status(delivery_id: int) -> str:
    status = DigestDelivery.objects.filter(pk=delivery_id).values_list("status", flat=True)
    return f"it is {status[0]}" if status else "it no longer exists"


def waiting(now: datetime):
    """Deliveries a run could claim now: due pending ones and ones whose worker vanished."""
    return DigestDelivery.objects.filter(
        Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        | Q(status=DeliveryStatus.SENDING, lease_until__lt=now)
    )
