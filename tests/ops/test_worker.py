import socket

import pytest
from django.utils import timezone

from ops.models import WorkerHeartbeat
from ops.tasks import record_heartbeat
from tests.processes import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.celery_worker]


def test_a_real_worker_runs_a_task_sent_through_the_default_broker(start_worker, broker_connection):
    start_worker("--hostname=sender-test@%h")

    record_heartbeat.apply_async(connection=broker_connection)

    beat = wait_for(
        lambda: WorkerHeartbeat.objects.filter(hostname__startswith="sender-test@").first(),
        what="the worker to record its heartbeat",
    )
    assert beat.hostname == f"sender-test@{socket.gethostname()}"


def test_beat_schedules_the_heartbeat_without_anyone_sending_it(start_worker):
    start_worker("--beat", "--hostname=beat-test@%h", WORKER_HEARTBEAT_SECONDS="1")

    wait_for(
        lambda: WorkerHeartbeat.objects.filter(hostname__startswith="beat-test@").exists(),
        what="beat to schedule the heartbeat",
    )


@pytest.mark.django_db
def test_health_reports_a_stale_worker_until_a_heartbeat_arrives(client):
    assert client.get("/health/").json()["worker"] == "stale"

    WorkerHeartbeat.objects.create(hostname="w@host", seen_at=timezone.now())

    body = client.get("/health/").json()
    assert body == {"database": "ok", "worker": "ok", "worker_seen_at": body["worker_seen_at"]}
