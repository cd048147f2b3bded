"""Hand a message to the mail system in two steps, so the point of no return is one byte.

``prepare`` does everything that may fail harmlessly — connect, authenticate, MAIL,
RCPT, DATA and the whole body for SMTP; the whole file under a temporary name for the
folder backend — and ``finish`` does the one step after which the message exists: the
final ``.`` (SMTP) or the rename (folder). The caller records "handed over" between the
two, so a crash before it leaves nothing sent (the digest is sent again) and a crash
after it is never sent twice. Only the instant between that record and the last byte
can lose a message, and RFC 1047 explains why SMTP itself allows no better.
"""

from __future__ import annotations

import re
import smtplib
from dataclasses import dataclass
from pathlib import Path

from django.core.mail import get_connection
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.core.mail.message import EmailMessage, sanitize_address

from core.mail import FolderEmailBackend


class DeliveryError(Exception):
    """The mail system did not take the message; ``permanent`` says whether to try again."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Unconfirmed(Exception):
    """The message was handed over but the mail system's answer never arrived."""


class Handover:
    def finish(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        """Give up before ``finish``: nothing is delivered."""


def prepare(message: EmailMessage) -> Handover:
    """Get ``message`` one step from delivered with the configured email backend."""
    backend = get_connection()
    if isinstance(backend, SmtpBackend):
        return SmtpHandover.open(backend, message)
    if isinstance(backend, FolderEmailBackend):
        return FolderHandover(backend, backend.stage(message.message().as_bytes(linesep="\n")))
    return BackendHandover(backend, message)


@dataclass
class BackendHandover(Handover):
    """Any other Django backend (console, in-memory): it can only send in one step."""

    backend: object
    message: EmailMessage

    def finish(self) -> None:
        try:
            self.backend.send_messages([self.message])
        except Exception as exc:  # a backend we do not know: assume nothing was sent
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc


@dataclass
class FolderHandover(Handover):
    backend: FolderEmailBackend
    staged: Path

    def finish(self) -> None:
        self.backend.publish(self.staged)

    def abort(self) -> None:
        self.staged.unlink(missing_ok=True)


_BARE_EOL = re.compile(rb"\r\n|\r|\n")
_LEADING_DOT = re.compile(rb"(?m)^\.")


class SmtpHandover(Handover):
    """One SMTP transaction stopped just before the end-of-data marker."""

    def __init__(self, backend: SmtpBackend) -> None:
        self.backend = backend

    @classmethod
    def open(cls, backend: SmtpBackend, message: EmailMessage) -> SmtpHandover:
        handover = cls(backend)
        try:
            handover._begin(message)
        except DeliveryError:
            handover.abort()
            raise
        except (smtplib.SMTPException, OSError) as exc:
            handover.abort()
            raise DeliveryError(f"Could not reach the mail server: {exc}") from exc
        return handover

    def _begin(self, message: EmailMessage) -> None:
        self.backend.open()  # connect, TLS and login as Django's SMTP backend is configured
        conn = self.backend.connection
        conn.ehlo_or_helo_if_needed()
        encoding = message.encoding or "utf-8"
        _expect(conn.mail(sanitize_address(message.from_email, encoding)), 250, "MAIL FROM")
        for address in message.recipients():
            _expect(conn.rcpt(sanitize_address(address, encoding)), (250, 251), "RCPT TO")
        _expect(conn.docmd("data"), 354, "DATA")
        body = _BARE_EOL.sub(b"\r\n", message.message().as_bytes(linesep="\r\n"))
        body = _LEADING_DOT.sub(b"..", body)  # dot-stuffing (RFC 5321 4.5.2)
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        conn.send(body)

    def finish(self) -> None:
        conn = self.backend.connection
        try:
            conn.send(b".\r\n")
            reply = conn.getreply()
        except (smtplib.SMTPException, OSError) as exc:
            raise Unconfirmed(f"No reply after the message was sent: {exc}") from exc
        try:
            _expect(reply, 250, "end of data")
        finally:
            self._quit()

    def abort(self) -> None:
        # Mid-DATA, closing the connection is the only way to cancel: a server drops a
        # message whose end-of-data marker never came.
        try:
            if self.backend.connection is not None:
                self.backend.connection.close()
        except OSError:
            pass
        self.backend.connection = None

    def _quit(self) -> None:
        try:
            self.backend.close()
        except (smtplib.SMTPException, OSError):
            self.backend.connection = None


def _expect(reply: tuple[int, bytes], expected, stage: str) -> None:
    code, text = reply
    if code in (expected if isinstance(expected, tuple) else (expected,)):
        return
    detail = text.decode(errors="replace") if isinstance(text, bytes) else str(text)
    raise DeliveryError(f"{stage}: {code} {detail}", permanent=500 <= code < 600)
