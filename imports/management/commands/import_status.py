"""One-off import of a status-page payload from a file or a URL."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from imports.fetching import FetchError, fetch
from imports.models import ImportFormat
from imports.polling import USER_AGENT
from imports.records import PayloadError
from imports.services import ensure_vendor, import_batch, parse_payload


class Command(BaseCommand):
    help = "Import a status-page payload (file or URL) for a vendor; safe to run again."

    def add_arguments(self, parser):
        parser.add_argument(
            "source", help="A file path, '-' for standard input, or an http(s) URL."
        )
        parser.add_argument("--vendor", required=True, help="Vendor slug (created when new).")
        parser.add_argument("--vendor-name", default="", help="Name for a new vendor.")
        parser.add_argument(
            "--format",
            choices=ImportFormat.values,
            help="Payload format; guessed from the content when omitted.",
        )

    def handle(
        self, *args, source: str, vendor: str, vendor_name: str, format: str | None, **options
    ):
        data = self.read(source)
        fmt = format or self.guess(data)
        try:
            batch = parse_payload(fmt, data)
        except PayloadError as exc:
            raise CommandError(f"{source} is not a readable {fmt} payload: {exc}") from exc
        total = len(batch.incidents)
        self.stdout.write(f"{total} incidents in {source} ({fmt}).")
        report = import_batch(
            vendor=ensure_vendor(slug=vendor, name=vendor_name),
            fmt=fmt,
            batch=batch,
            on_progress=lambda done: self.progress(done, total),
        )
        self.stderr.write("")
        self.stdout.write(
            self.style.SUCCESS(
                f"{report.created} created, {report.updated} updated, "
                f"{report.unchanged} unchanged, {report.failed} failed."
            )
        )
        for error in report.errors:
            self.stdout.write(self.style.WARNING(f"  {error['external_id']}: {error['message']}"))

    def read(self, source: str) -> bytes:
        if source == "-":
            return sys.stdin.buffer.read()
        if source.startswith(("http://", "https://")):
            # The same guarded fetch as polling: a URL here may come from a script fed by
            # others, and the limits protect this process. An operator who means an internal
            # page allows it for one run: STATUS_FETCH_ALLOWED_NETWORKS=10.0.0.0/8 manage.py …
            try:
                response = fetch(source, headers={"User-Agent": USER_AGENT})
            except FetchError as exc:
                raise CommandError(f"Could not fetch {source}: {exc}") from exc
            if response.status >= 400:
                raise CommandError(f"Could not fetch {source}: HTTP {response.status}")
            return response.content
        path = Path(source)
        if not path.is_file():
            raise CommandError(f"No such file: {source}")
        return path.read_bytes()

    def guess(self, data: bytes) -> str:
        from imports.parsers import detect_format

        fmt = detect_format(data)
        if fmt is None:
            raise CommandError("Could not tell the payload's format; pass --format.")
        return fmt

    def progress(self, done: int, total: int) -> None:
        # A progress bar on stderr, redrawn in place; silent when not a terminal.
        if total < 50 or not self.stderr.isatty():
            return
        width = 40
        filled = width * done // total
        self.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", ending="")
