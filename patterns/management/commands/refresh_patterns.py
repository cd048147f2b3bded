"""Recompute patterns, incident profiles and metrics now (the worker also does it on its own)."""

import time

from django.core.management.base import BaseCommand

from patterns import services


class Command(BaseCommand):
    help = "Recompute recurring patterns, incident profiles and metrics, then cache related lists."

    def add_arguments(self, parser):
        parser.add_argument(
            "--min-support",
            type=int,
            help="Store combinations from this many incidents up (default: 2, or "
            "PATTERN_MIN_SUPPORT if lower).",
        )
        parser.add_argument(
            "--no-warm", action="store_true", help="Do not cache related incidents afterwards."
        )

    def handle(self, *args, min_support: int | None, no_warm: bool, **options):
        started = time.perf_counter()
        summary = services.refresh_patterns(min_support=min_support)
        self.stdout.write(f"{summary} in {time.perf_counter() - started:.1f} s")
        if not no_warm:
            self.stdout.write(f"{services.warm_related_lists()} related lists cached")
