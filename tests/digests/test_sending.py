"""Which digests become due when, and what the beat scan queues."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from digests.choices import DeliveryStatus
from digests.models import DigestDelivery
from digests.sending import create_due_deliveries, deliveries_to_queue
from digests.tasks import enqueue_due_digests
from tests.factories import DigestSubscriptionFactory

pytestmark = pytest.mark.django_db


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def tokyo_and_la():
    return (
        DigestSubscriptionFactory(email="tokyo@example.com", time_zone="Asia/Tokyo"),
        DigestSubscriptionFactory(email="la@example.com", time_zone="America/Los_Angeles"),
    )


def due_addresses(now: datetime) -> set[str]:
    create_due_deliveries(now)
    week_rows = DigestDelivery.objects.filter(period_end__gt=now - timedelta(days=1))
    return set(week_rows.values_list("subscription__email", flat=True))


def test_each_subscriber_is_due_at_monday_nine_in_their_own_zone(tokyo_and_la):
    # Sunday 22 Nov 23:59 UTC: Monday morning has come nowhere yet.
    assert due_addresses(utc(2026, 11, 22, 23, 59)) == set()
    # 00:00 UTC is 09:00 in Tokyo.
    assert due_addresses(utc(2026, 11, 23, 0, 0)) == {"tokyo@example.com"}
    # 17:00 UTC is 09:00 in Los Angeles.
    assert due_addresses(utc(2026, 11, 23, 16, 59)) == {"tokyo@example.com"}
    assert due_addresses(utc(2026, 11, 23, 17, 0)) == {"tokyo@example.com", "la@example.com"}


def test_a_due_delivery_covers_the_week_before_the_local_send_time(tokyo_and_la):
    create_due_deliveries(utc(2026, 11, 23, 17, 0))
    tokyo = DigestDelivery.objects.get(subscription__email="tokyo@example.com", week="2026-W48")
    assert (tokyo.period_start, tokyo.period_end) == (utc(2026, 11, 16, 0), utc(2026, 11, 23, 0))
    la = DigestDelivery.objects.get(subscription__email="la@example.com", week="2026-W48")
    assert (la.period_start, la.period_end) == (utc(2026, 11, 16, 17), utc(2026, 11, 23, 17))
    assert la.status == DeliveryStatus.PENDING and la.next_attempt_at == la.period_end


def test_repeated_and_duplicated_scans_create_one_delivery_per_week(tokyo_and_la):
    now = utc(2026, 11, 23, 18, 0)
    assert create_due_deliveries(now) == 2
    assert create_due_deliveries(now) == 0
    assert create_due_deliveries(now + timedelta(hours=30)) == 0
    assert DigestDelivery.objects.count() == 2


def test_a_scan_after_days_of_downtime_sends_only_the_latest_week(tokyo_and_la):
    create_due_deliveries(utc(2026, 11, 9, 18, 0))  # the last scan before beat stopped
    create_due_deliveries(utc(2026, 11, 25, 12, 0))  # two Mondays later
    weeks = sorted(DigestDelivery.objects.values_list("week", flat=True))
    assert weeks == ["2026-W46", "2026-W46", "2026-W48", "2026-W48"]


def test_no_digest_for_a_send_time_before_the_address_was_confirmed():
    DigestSubscriptionFactory(email="new@example.com", confirmed_at=utc(2026, 11, 23, 10))
    assert create_due_deliveries(utc(2026, 11, 24, 12)) == 0  # Monday 09:00 had passed
    assert create_due_deliveries(utc(2026, 11, 30, 9)) == 1


def test_unconfirmed_and_unsubscribed_addresses_get_nothing():
    DigestSubscriptionFactory(confirmed_at=None)
    DigestSubscriptionFactory(unsubscribed_at=utc(2026, 11, 1))
    assert create_due_deliveries(utc(2026, 11, 23, 12)) == 0


def test_the_scan_queues_each_waiting_delivery_once_until_its_task_is_presumed_lost(
    tokyo_and_la, settings, test_broker
):
    settings.DIGEST_LEASE_SECONDS = 600
    now = utc(2026, 11, 23, 18, 0)
    with time_machine.travel(now, tick=False):
        summary = enqueue_due_digests(now)
    assert summary == "2 digests became due, 2 queued"
    assert deliveries_to_queue(now + timedelta(minutes=5)) == []
    # Ten minutes on with both still pending, their tasks were lost (a worker restart):
    # the next scan queues them again.
    assert len(deliveries_to_queue(now + timedelta(minutes=11))) == 2


def test_a_retry_waits_for_its_time_and_a_stuck_claim_for_its_lease(tokyo_and_la):
    now = utc(2026, 11, 23, 18, 0)
    create_due_deliveries(now)
    retry, stuck = DigestDelivery.objects.order_by("id")
    DigestDelivery.objects.filter(pk=retry.pk).update(next_attempt_at=now + timedelta(minutes=2))
    DigestDelivery.objects.filter(pk=stuck.pk).update(
        status=DeliveryStatus.SENDING, lease_until=now + timedelta(minutes=5)
    )
    assert deliveries_to_queue(now) == []
    assert deliveries_to_queue(now + timedelta(minutes=3)) == [retry.pk]
    assert set(deliveries_to_queue(now + timedelta(minutes=6))) == {retry.pk, stuck.pk}


def test_handed_over_and_sent_deliveries_are_never_queued_again(tokyo_and_la):
    now = utc(2026, 11, 23, 18, 0)
    create_due_deliveries(now)
    first, second = DigestDelivery.objects.order_by("id")
    DigestDelivery.objects.filter(pk=first.pk).update(status=DeliveryStatus.HANDED_OVER)
    DigestDelivery.objects.filter(pk=second.pk).update(status=DeliveryStatus.SENT)
    assert deliveries_to_queue(now + timedelta(days=3)) == []
