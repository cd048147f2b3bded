"""Find the digests that are due and queue one send task per delivery.

Beat runs ``enqueue_due_digests`` every ``DIGEST_SCAN_SECONDS``. Each run creates the
delivery rows that became due since the last one — for every active subscription, the
most recent send time at or before now — and queues the deliveries that are waiting.
Because it looks at "the most recent send time" rather than "the last hour", a beat
that was down for hours or days catches up on its next run; a subscriber gets the digest
of the latest week only, not one per missed week.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from digests.delivery import waiting
from digests.models import DigestDelivery, DigestSubscription
from digests.schedule import DigestPeriod, latest_due_moment, period_ending


def due_periods(now: datetime, subscriptions=None) -> list[tuple[int, DigestPeriod]]:
    """(subscription id, period) for every active subscription's latest due digest."""
    if subscriptions is None:
        subscriptions = DigestSubscription.objects.all()
    rows = subscriptions.active()
    groups: dict[tuple[str, int, int], list[tuple[int, datetime]]] = defaultdict(list)
    for pk, tz, weekday, hour, confirmed in rows.values_list(
        "pk", "time_zone", "weekday", "hour", "confirmed_at"
    ):
        groups[(tz, weekday, hour)].append((pk, confirmed))
    due = []
    for (tz, weekday, hour), members in groups.items():
        # One computation per distinct schedule: thousands of subscribers share a few.
        moment = latest_due_moment(now, weekday=weekday, hour=hour, time_zone=tz)
        period = period_ending(moment, tz)
        # No digest for a send time that passed before the address was confirmed.
        due += [(pk, period) for pk, confirmed in members if confirmed <= moment]
    return due


def create_due_deliveries(now: datetime, subscriptions=None) -> int:
    """Insert the delivery rows that became due; existing ones are left alone."""
    return insert_deliveries(due_periods(now, subscriptions))


def insert_deliveries(due: list[tuple[int, DigestPeriod]]) -> int:
    """Insert a delivery for each (subscription, period) that has none yet; how many were new."""
    weeks = {period.week for _, period in due}
    existing = set(
        DigestDelivery.objects.filter(week__in=weeks).values_list("subscription_id", "week")
    )
    rows = [new_delivery(pk, period) for pk, period in due if (pk, period.week) not in existing]
    # ignore_conflicts: a concurrent scan (a duplicated beat tick) may insert the same
    # rows; the unique (subscription, week) constraint keeps one of each (and the count
    # then includes the rows the other scan won).
    DigestDelivery.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
    return len(rows)


def new_delivery(subscription_id: int, period: DigestPeriod) -> DigestDelivery:
    return DigestDelivery(
        subscription_id=subscription_id,
        week=period.week,
        period_start=period.start,
        period_end=period.end,
        next_attempt_at=period.end,
    )


def deliveries_to_queue(now: datetime) -> list[int]:
    """Waiting deliveries with no send task queued recently (none, or one presumed lost)."""
    stale = now - timedelta(seconds=settings.DIGEST_LEASE_SECONDS)
    return list(
        waiting(now)
        .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=stale))
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)
    )


def claim_due_digests(now: datetime | None = None) -> tuple[int, list[int]]:
    """Create due deliveries and mark the waiting ones queued now: (how many became due,
    the ids to queue a send task for). The caller, a beat task, queues them."""
    now = now or timezone.now()
    created = create_due_deliveries(now)
    ids = deliveries_to_queue(now)
    DigestDelivery.objects.filter(pk__in=ids).update(enqueued_at=now)
    return created, ids
