from datetime import UTC, datetime
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command

from digests.choices import DeliveryStatus
from digests.models import DigestDelivery
from tests.factories import DigestSubscriptionFactory

pytestmark = pytest.mark.django_db
MONDAY_EVENING = datetime(2026, 11, 23, 18, 0, tzinfo=UTC)


@pytest.fixture
def smtp(smtp_server, settings):
    smtp_server.use_in(settings)
    return smtp_server


@pytest.fixture
def subscribers():
    return [
        DigestSubscriptionFactory(email="tokyo@example.com", time_zone="Asia/Tokyo"),
        DigestSubscriptionFactory(email="la@example.com", time_zone="America/Los_Angeles"),
    ]


def send_digests(*args: str) -> str:
    out = StringIO()
    with time_machine.travel(MONDAY_EVENING, tick=False):
        call_command("send_digests", *args, stdout=out, stderr=out)
    return out.getvalue()


def recipients(smtp) -> list[str]:
    return sorted(r for m in smtp.handler.received() for r in m.rcpt_tos)


def test_sends_what_is_due_with_progress_and_never_twice(smtp, subscribers):
    output = send_digests()

    assert "2 new deliveries; 2 digests to send." in output
    assert "2/2" in output and "Done: 2 sent." in output
    assert recipients(smtp) == ["la@example.com", "tokyo@example.com"]

    again = send_digests()
    assert "0 new deliveries; 0 digests to send." in again
    assert len(smtp.handler.received()) == 2


def test_dry_run_shows_each_digest_and_sends_and_records_nothing(smtp, subscribers):
    output = send_digests("--dry-run")

    assert "tokyo@example.com: Nothing new — week of 16 Nov" in output
    assert "Dry run: 2 would send." in output
    assert smtp.handler.received() == []
    assert not DigestDelivery.objects.exists()


def test_a_given_week_sends_that_weeks_digest(smtp, subscribers):
    output = send_digests("--week", "2026-W47")

    assert "Done: 2 sent." in output
    weeks = set(DigestDelivery.objects.values_list("week", "status"))
    assert weeks == {("2026-W47", DeliveryStatus.SENT)}
    subjects = {m.message["Subject"] for m in smtp.handler.received()}
    assert subjects == {"Nothing new — week of 9 Nov"}


def test_a_week_whose_send_time_has_not_come_sends_nothing(smtp, subscribers):
    output = send_digests("--week", "2026-W49")

    assert "2 subscribers' send time in 2026-W49 has not come yet." in output
    assert smtp.handler.received() == []


def test_to_limits_the_run_to_one_address(smtp, subscribers):
    send_digests("--to", "LA@example.com")

    assert recipients(smtp) == ["la@example.com"]


def test_bad_arguments_are_explained():
    with pytest.raises(CommandError, match=r"No active digest subscription for x@example\.com"):
        send_digests("--to", "x@example.com")
    with pytest.raises(CommandError, match="not an ISO week; write it like 2026-W48"):
        send_digests("--week", "48")


def test_a_rerun_of_a_given_week_counts_no_new_delivery(smtp, subscribers):
    send_digests("--week", "2026-W47", "--to", "la@example.com")

    again = send_digests("--week", "2026-W47", "--to", "la@example.com")

    assert "0 new deliveries; 0 digests to send." in again
    assert len(smtp.handler.received()) == 1


def test_one_new_delivery_is_said_in_the_singular(smtp, subscribers):
    output = send_digests("--to", "la@example.com")

    assert "1 new delivery; 1 digest to send." in output
