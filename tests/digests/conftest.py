"""A real SMTP server (aiosmtpd) for the digest tests, with hooks to misbehave on cue."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections import deque
from dataclasses import dataclass, field
from email.message import Message

import pytest
from aiosmtpd.controller import Controller

from tests import clock
from tests.clock import DIGEST_BOUNDARIES


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> Message:
        return email.message_from_bytes(self.data, policy=email.policy.default)


@dataclass
class RecordingHandler:
    """Keeps every accepted message; ``data_replies`` scripts refusals of the next messages.

    ``on_rcpt`` and ``on_data`` run in the server's thread when a recipient is given and
    after a whole message arrived (before the server replies): tests kill the sending
    worker there to crash it mid-send.
    """

    messages: list[Received] = field(default_factory=list)
    data_replies: deque[str] = field(default_factory=deque)
    on_rcpt: object = None
    on_data: object = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.on_rcpt:
            self.on_rcpt(address)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_replies:
            reply = self.data_replies.popleft()
            if not reply.startswith("250"):
                return reply
        with self.lock:
            self.messages.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
            )
        if self.on_data:
            self.on_data()
        return "250 Message accepted for delivery"

    def received(self) -> list[Received]:
        with self.lock:
            return list(self.messages)

    def to(self, address: str) -> list[Received]:
        return [m for m in self.received() if address in m.rcpt_tos]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class SmtpServer:
    handler: RecordingHandler
    port: int

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def use_in(self, settings) -> None:
        """Point this process's Django mail settings at the server."""
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = self.port
        settings.EMAIL_HOST_USER = ""
        settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False


@pytest.fixture
def smtp_server():
    handler = RecordingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield SmtpServer(handler, controller.port)
    controller.stop()


# --- The clock -------------------------------------------------------------------------
# Every digest test runs at each moment a weekly digest is sensitive to (tests.clock), so
# none passes or fails by the day or hour it runs. The tests that start workers, which
# take seconds each, run at four of them, on both sides of the boundaries a subscriber
# in Tokyo or Los Angeles moves; their clock ticks, since leases must expire.
WORKER_CLOCKS = ("sun-1500Z", "mon-0800Z", "mon-1659Z", "wed-1200Z")


def pytest_generate_tests(metafunc):
    if "digest_clock" not in metafunc.fixturenames:
        return
    workers = metafunc.definition.get_closest_marker("celery_worker") is not None
    ids = list(WORKER_CLOCKS if workers else DIGEST_BOUNDARIES)
    metafunc.parametrize(
        "digest_clock", [DIGEST_BOUNDARIES[i] for i in ids], ids=ids, indirect=True
    )


@pytest.fixture(autouse=True)
def digest_clock(request):
    """The moment this test runs at (the clock is pinned for the whole test)."""
    ticking = request.node.get_closest_marker("celery_worker") is not None
    with clock.pin(request.param, tick=ticking):
        yield request.param
