"""Sending one delivery through a real SMTP server: once, and never lost."""

from __future__ import annotations

import email
import email.policy
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection

from digests.choices import DeliveryStatus, QuietWeek
from digests.delivery import _send as send_with_attempt
from digests.delivery import claim, deliver_digest, digest_email, retry_delay
from digests.models import DigestDelivery
from digests.schedule import period_ending
from digests.sending import new_delivery
from digests.tokens import subscription_for_unsubscribe, unsubscribe_url
from tests.digests.conftest import free_port
from tests.factories import DigestSubscriptionFactory

WEEK_END = datetime(2026, 11, 16, 9, tzinfo=UTC)


@pytest.fixture
def smtp(smtp_server, settings):
    smtp_server.use_in(settings)
    settings.DIGEST_RETRY_SECONDS = 60
    settings.DIGEST_MAX_ATTEMPTS = 3
    return smtp_server


def due_delivery(**subscription) -> DigestDelivery:
    sub = DigestSubscriptionFactory(**subscription)
    delivery = new_delivery(sub.pk, period_ending(WEEK_END, sub.time_zone))
    delivery.save()
    return delivery


def reload(delivery: DigestDelivery) -> DigestDelivery:
    return DigestDelivery.objects.get(pk=delivery.pk)


@pytest.mark.django_db
def test_a_due_digest_arrives_as_multipart_with_one_click_unsubscribe_headers(smtp):
    delivery = due_delivery(email="reader@example.com")

    outcome = deliver_digest(delivery.pk)

    assert outcome.result == "sent"
    [received] = smtp.handler.received()
    assert received.rcpt_tos == ["reader@example.com"]
    message = received.message
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.get_payload()] == ["text/plain", "text/html"]
    # The link is signed with the time it was made: compare what it names, not its text.
    link = message["List-Unsubscribe"].strip().removeprefix("<").removesuffix(">")
    prefix = unsubscribe_url(delivery.subscription).rstrip("/").rsplit("/", 1)[0]
    assert link.startswith(f"{prefix}/")
    token = link.removeprefix(f"{prefix}/").rstrip("/")
    assert subscription_for_unsubscribe(token) == delivery.subscription
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    delivery = reload(delivery)
    assert delivery.status == DeliveryStatus.SENT and delivery.sent_at is not None
    assert message["Message-ID"] == delivery.message_id
    assert message["Subject"] == delivery.subject == "Nothing new — week of 9 Nov"


@pytest.mark.django_db
def test_the_same_task_delivered_twice_sends_once(smtp):
    delivery = due_delivery()

    first = deliver_digest(delivery.pk)
    second = deliver_digest(delivery.pk)

    assert (first.result, second.result) == ("sent", "not claimed")
    assert second.detail == "it is sent"
    assert len(smtp.handler.received()) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_on_one_delivery_send_it_once(smtp, reference_data):
    delivery = due_delivery()
    start, results = threading.Barrier(4), []

    def worker():
        start.wait()
        try:
            results.append(deliver_digest(delivery.pk).result)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == ["not claimed"] * 3 + ["sent"]
    assert len(smtp.handler.received()) == 1


@pytest.mark.django_db
def test_a_temporary_refusal_is_retried_after_the_delay_and_sent_once(smtp):
    smtp.handler.data_replies.append("451 4.3.0 Mailbox busy, try again later")
    delivery = due_delivery()
    now = datetime(2026, 11, 16, 9, 5, tzinfo=UTC)

    with time_machine.travel(now, tick=False):
        first = deliver_digest(delivery.pk, now=now)
        too_soon = deliver_digest(delivery.pk, now=now + timedelta(seconds=30))
    assert first.result == "will retry" and first.retry_in == 60
    assert too_soon.result == "not claimed"
    waiting = reload(delivery)
    assert waiting.status == DeliveryStatus.PENDING
    assert waiting.next_attempt_at == now + timedelta(seconds=60)
    assert "451 4.3.0 Mailbox busy" in waiting.last_error
    assert smtp.handler.received() == []

    later = now + timedelta(seconds=61)
    with time_machine.travel(later, tick=False):
        assert deliver_digest(delivery.pk, now=later).result == "sent"
    assert len(smtp.handler.received()) == 1
    assert reload(delivery).attempts == 2


@pytest.mark.django_db
def test_a_permanent_refusal_fails_at_once(smtp):
    smtp.handler.data_replies.append("550 5.1.1 No such mailbox")
    delivery = due_delivery()

    outcome = deliver_digest(delivery.pk)

    assert outcome.result == "failed" and outcome.retry_in is None
    failed = reload(delivery)
    assert failed.status == DeliveryStatus.FAILED and "550 5.1.1" in failed.last_error


@pytest.mark.django_db
def test_an_unreachable_server_is_retried_with_doubling_delays_then_given_up(smtp, settings):
    settings.EMAIL_PORT = free_port()  # nothing listens there
    delivery = due_delivery()
    now = datetime(2026, 11, 16, 9, 5, tzinfo=UTC)
    outcomes = []
    for _ in range(3):
        with time_machine.travel(now, tick=False):
            outcomes.append(deliver_digest(delivery.pk, now=now))
        now = reload(delivery).next_attempt_at

    assert [o.retry_in for o in outcomes] == [60, 120, None]
    assert outcomes[-1].result == "failed"
    assert "Could not reach the mail server" in reload(delivery).last_error


def test_retry_delays_double_up_to_six_hours(settings):
    settings.DIGEST_RETRY_SECONDS = 60
    delays = [retry_delay(n).total_seconds() for n in (1, 2, 3, 10)]
    assert delays == [60, 120, 240, 6 * 3600]


@pytest.mark.django_db
def test_a_worker_whose_lease_ran_out_cancels_its_message_mid_transaction(smtp, settings):
    settings.DIGEST_LEASE_SECONDS = 60
    delivery = due_delivery()
    now = datetime(2026, 11, 16, 9, 5, tzinfo=UTC)
    message = digest_email(delivery.subscription, period_ending(WEEK_END, "UTC"), delivery=delivery)
    slow = claim(delivery.pk, now=now)
    # The slow worker stalls past its lease; another takes the delivery over.
    fast = claim(delivery.pk, now=now + timedelta(seconds=61))
    assert (slow, fast) == (1, 2)

    late = send_with_attempt(delivery, slow, message)
    assert late.result == "not claimed"
    assert smtp.handler.received() == []  # the server dropped the unfinished message

    assert send_with_attempt(delivery, fast, message).result == "sent"
    assert len(smtp.handler.received()) == 1


@pytest.mark.django_db
def test_a_handover_whose_reply_never_came_is_not_sent_again(smtp, settings):
    settings.EMAIL_TIMEOUT = 1
    smtp.handler.on_data = lambda: time.sleep(2)  # the server takes it, answers too late
    delivery = due_delivery()

    outcome = deliver_digest(delivery.pk)
    again = deliver_digest(delivery.pk, now=datetime.now(UTC) + timedelta(days=1))

    assert outcome.result == "unconfirmed"
    assert again.result == "not claimed"
    stuck = reload(delivery)
    assert stuck.status == DeliveryStatus.HANDED_OVER and stuck.handed_over_at is not None
    assert "No reply" in stuck.last_error
    assert len(smtp.handler.received()) == 1


@pytest.mark.django_db
def test_a_quiet_week_sends_nothing_to_those_who_asked_for_nothing(smtp):
    delivery = due_delivery(quiet_week=QuietWeek.SKIP)

    assert deliver_digest(delivery.pk).result == "skipped"
    assert smtp.handler.received() == []
    assert reload(delivery).last_error == "quiet week"


@pytest.mark.django_db
def test_an_address_unsubscribed_before_its_turn_gets_nothing(smtp):
    delivery = due_delivery(unsubscribed_at=datetime(2026, 11, 20, tzinfo=UTC))

    assert deliver_digest(delivery.pk).result == "skipped"
    assert smtp.handler.received() == []


@pytest.mark.django_db
def test_the_embedded_default_writes_each_digest_as_an_eml_file(settings, tmp_path):
    settings.EMAIL_BACKEND = "core.mail.FolderEmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path)
    delivery = due_delivery(email="reader@example.com")

    assert deliver_digest(delivery.pk).result == "sent"

    [path] = list(tmp_path.iterdir())  # no temporary file is left behind
    assert path.suffix == ".eml"
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert message["To"] == "reader@example.com"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
