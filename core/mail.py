"""The embedded mail default: every message becomes one ``.eml`` file in a folder.

Django's own file backend appends a session's messages to one log file; one file per
message opens in any mail client and can be written atomically (a temporary name, then
a rename), which the digest's exactly-once delivery relies on.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage


class FolderEmailBackend(BaseEmailBackend):
    def __init__(self, file_path: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.folder = Path(file_path or settings.EMAIL_FILE_PATH)

    def send_messages(self, email_messages: list[EmailMessage]) -> int:
        sent = 0
        for message in email_messages:
            if not message.recipients():
                continue
            staged = self.stage(message.message().as_bytes(linesep="\n"))
            self.publish(staged)
            sent += 1
        return sent

    def stage(self, data: bytes) -> Path:
        """Write a message under a hidden temporary name; ``publish`` makes it visible."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f".{uuid.uuid4().hex}.tmp"
        with path.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        return path

    def publish(self, staged: Path) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        final = self.folder / f"{stamp}-{staged.stem.lstrip('.')[:12]}.eml"
        os.replace(staged, final)  # atomic: a reader sees the whole message or none
        return final
