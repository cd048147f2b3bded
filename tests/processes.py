"""Start real Hindsight processes (Celery workers, management commands) for tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

from tests import clock

PROJECT_DIR = Path(settings.BASE_DIR)


def test_database_url() -> str:
    """A DATABASE_URL naming the database this test session runs on."""
    s = connection.settings_dict
    host = quote(s["HOST"] or "", safe="")
    return f"postgres://{s['USER']}@{host}:{s['PORT'] or 5432}/{s['NAME']}"


def child_env() -> dict[str, str]:
    """This process's environment without what only the test process should have."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PYTEST") and k != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }


def process_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for a child process on the test database with its own data folder.

    CELERY_BROKER_URL passes through, so the same tests run through Redis or
    RabbitMQ when CI configures one; unset, the embedded filesystem broker is
    used, in ``data_dir``.
    """
    env = child_env()
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=test_database_url(),
        HINDSIGHT_DATA_DIR=str(data_dir),
        **extra,
    )
    if clock.offset() is not None:
        # The child lives in the test's week and hour (see tests.clocked).
        env[clock.OFFSET_VARIABLE] = repr(clock.offset())
    return env


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"Timed out after {timeout}s waiting for {what}.")


class WorkerProcess:
    """A `celery worker` child process; its log is kept to explain failures."""

    def __init__(self, env: dict[str, str], log_path: Path, *args: str):
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.clocked", "celery", "-A", "config", "worker",
             "--pool=solo", "--loglevel=INFO", "--without-gossip", "--without-mingle", *args],
            cwd=PROJECT_DIR, env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60.0) -> None:
        wait_for(
            lambda: "ready." in self.log() or self.proc.poll() is not None, timeout, what="worker"
        )
        if self.proc.poll() is not None:
            raise AssertionError(f"Worker exited early:\n{self.log()}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()
