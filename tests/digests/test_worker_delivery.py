"""Digests sent by real Celery workers through a real SMTP server, with crashes on cue.

These run through whichever broker is configured: the embedded filesystem broker, or
Redis/RabbitMQ when CELERY_BROKER_URL is set (``.ci/run`` repeats them against Redis
when the machine has one).
"""

from __future__ import annotations

import os
import re
import signal
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from digests.choices import DeliveryStatus
from digests.models import DigestDelivery, DigestSubscription
from digests.sending import due_periods, new_delivery
from digests.tasks import enqueue_due_digests, send_digest
from tests.factories import DigestSubscriptionFactory
from tests.processes import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.celery_worker]
FINISHED = re.compile(r"Task digests\.tasks\.send_digest\[[^]]+\] succeeded")


@pytest.fixture
def worker_env(smtp_server, settings, test_broker):
    """Environment for workers that mail through the test's SMTP server."""
    settings.DIGEST_LEASE_SECONDS = 2
    return {"EMAIL_URL": smtp_server.url, "DIGEST_LEASE_SECONDS": "2", "LOG_LEVEL": "INFO"}


def due_now(email: str, time_zone: str = "UTC") -> DigestDelivery:
    """The delivery the scan itself files for a new subscriber now: the week of its latest
    due moment, which on a Monday morning before 09:00 is still last week."""
    sub = DigestSubscriptionFactory(email=email, time_zone=time_zone)
    [(pk, period)] = due_periods(datetime.now(UTC), DigestSubscription.objects.filter(pk=sub.pk))
    delivery = new_delivery(pk, period)
    delivery.save()
    return delivery


def status(delivery: DigestDelivery) -> str:
    return DigestDelivery.objects.get(pk=delivery.pk).status


def kill(worker) -> None:
    os.kill(worker.proc.pid, signal.SIGKILL)


def finished_tasks(*workers) -> int:
    return sum(len(FINISHED.findall(w.log())) for w in workers)


def test_beat_finds_a_due_digest_and_a_worker_sends_it_through_smtp(
    start_worker, smtp_server, worker_env
):
    now = datetime.now(UTC)
    DigestSubscriptionFactory(
        email="reader@example.com",
        weekday=now.weekday(),
        hour=now.hour,
        confirmed_at=now - timedelta(days=30),
    )
    start_worker("--beat", DIGEST_SCAN_SECONDS="1", **worker_env)

    [received] = wait_for(lambda: smtp_server.handler.received(), 60, what="the digest")

    message = received.message
    assert received.rcpt_tos == ["reader@example.com"]
    assert message.get_content_type() == "multipart/alternative"
    assert message["List-Unsubscribe"].strip().startswith("<http")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    delivery = wait_for(
        lambda: DigestDelivery.objects.filter(status=DeliveryStatus.SENT).first(), what="sent"
    )
    assert delivery.subscription.email == "reader@example.com"


def test_a_task_delivered_four_times_to_two_workers_sends_once(
    start_worker, smtp_server, worker_env, broker_connection
):
    delivery = due_now("twice@example.com")
    workers = [start_worker(**worker_env), start_worker(**worker_env)]

    for _ in range(4):
        send_digest.apply_async(args=[delivery.pk], connection=broker_connection)

    wait_for(lambda: finished_tasks(*workers) >= 4, 60, what="all four tasks")
    assert len(smtp_server.handler.received()) == 1
    assert status(delivery) == DeliveryStatus.SENT


def test_a_worker_killed_after_the_server_took_the_message_never_sends_it_again(
    start_worker, smtp_server, worker_env, broker_connection
):
    delivery = due_now("crash@example.com")
    first = start_worker(**worker_env)
    # The crash lands between the send and the commit: the server has the whole message
    # and the worker dies before it can record the reply.
    smtp_server.handler.on_data = lambda: kill(first)
    send_digest.apply_async(args=[delivery.pk], connection=broker_connection)
    wait_for(lambda: first.proc.poll() is not None, 60, what="the worker to die")

    second = start_worker(**worker_env)
    enqueue_due_digests()  # the next beat tick
    send_digest.apply_async(args=[delivery.pk], connection=broker_connection)
    wait_for(lambda: finished_tasks(second) >= 1, 60, what="the second worker")

    assert len(smtp_server.handler.received()) == 1
    assert status(delivery) == DeliveryStatus.HANDED_OVER


def test_a_worker_killed_mid_transaction_is_replaced_and_the_digest_sent_once(
    start_worker, smtp_server, worker_env
):
    delivery = due_now("mid@example.com")
    first = start_worker(**worker_env)
    # The crash lands before the end of the message: the server must drop it.
    smtp_server.handler.on_rcpt = lambda address: kill(first)
    enqueue_due_digests()
    wait_for(lambda: first.proc.poll() is not None, 60, what="the worker to die")
    smtp_server.handler.on_rcpt = None
    assert smtp_server.handler.received() == []
    assert status(delivery) == DeliveryStatus.SENDING

    start_worker(**worker_env)
    # Once the dead worker's lease is over, a beat tick hands the delivery to the new one.
    wait_for(
        lambda: enqueue_due_digests() and status(delivery) == DeliveryStatus.SENT,
        60,
        interval=1,
        what="the replacement worker to send it",
    )
    assert len(smtp_server.handler.received()) == 1


def test_many_subscribers_duplicate_ticks_and_a_worker_restart_give_one_digest_each(
    start_worker, smtp_server, worker_env
):
    zones = ["Asia/Tokyo", "America/Los_Angeles", "Europe/Berlin", "UTC"]
    addresses = [f"r{n}@example.com" for n in range(40)]
    for n, address in enumerate(addresses):
        due_now(address, zones[n % len(zones)])
    doomed = start_worker(**worker_env)
    steady = start_worker(**worker_env)
    counter = Counter()

    def crash_on_the_tenth():
        counter["data"] += 1
        if counter["data"] == 10:
            kill(doomed)

    smtp_server.handler.on_data = crash_on_the_tenth
    for _ in range(3):  # a duplicated beat tick, three times over
        enqueue_due_digests()
    wait_for(lambda: doomed.proc.poll() is not None, 120, what="the crash")
    start_worker(**worker_env)  # the restarted worker

    def all_settled() -> bool:
        enqueue_due_digests()  # later ticks pick up what the dead worker held
        # Every subscriber's delivery must exist as well: one the dead worker never got to
        # has no row yet, and "nothing unsettled" would hold before it is sent.
        deliveries = DigestDelivery.objects.all()
        return (
            deliveries.count() == len(addresses)
            and not deliveries.exclude(
                status__in=[DeliveryStatus.SENT, DeliveryStatus.HANDED_OVER]
            ).exists()
        )

    wait_for(all_settled, 180, interval=1, what="every digest to be sent")
    per_address = Counter(r for m in smtp_server.handler.received() for r in m.rcpt_tos)
    assert set(per_address.values()) == {1}  # never twice
    # A message in flight when its worker died (or whose session stalled while the server's
    # thread was busy killing that worker) stays "handed over, reply not recorded": it may
    # have arrived, so it is never sent again. Every other digest arrived exactly once.
    missing = set(addresses) - set(per_address)
    unconfirmed = DigestDelivery.objects.filter(status=DeliveryStatus.HANDED_OVER)
    assert missing <= set(unconfirmed.values_list("to_email", flat=True))
    assert len(missing) <= 2
    assert steady.proc.poll() is None
