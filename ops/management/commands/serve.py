"""Set up and run Hindsight on one machine: database, demo, accounts, worker, beat, web."""

import signal
import subprocess
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from postmortems.demo.accounts import ensure_demo_accounts


class Command(BaseCommand):
    help = "Migrate, load the demo on first start, start a Celery worker with beat, and serve."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--no-worker", action="store_true", help="Serve the web only.")

    def handle(self, *args, addrport: str, no_worker: bool, **options):
        call_command("migrate", interactive=False, verbosity=0)
        call_command("load_demo", if_empty=True)
        accounts = ensure_demo_accounts(settings.DATA_DIR / "credentials.tsv")
        self.print_banner(addrport, accounts)
        # SIGTERM (a service manager, `kill`) ends the process like Ctrl-C does,
        # so the worker is stopped and the embedded database's exit hook runs.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        worker = None if no_worker else self.start_worker()
        try:
            call_command("runserver", addrport, use_reloader=False)
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(timeout=30)

    def start_worker(self) -> subprocess.Popen:
        # One process runs both the worker and the beat scheduler: enough for
        # one machine. Production runs them separately (see the README).
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "--beat",
                "--loglevel=WARNING",
                "--concurrency=2",
            ],
            cwd=settings.BASE_DIR,
        )

    def print_banner(self, addrport: str, accounts) -> None:
        self.stdout.write(self.style.SUCCESS(f"\nHindsight is starting at http://{addrport}/"))
        self.stdout.write(f"Data folder: {settings.DATA_DIR}")
        if settings.EMAIL_BACKEND == "core.mail.FolderEmailBackend":
            self.stdout.write(f"Emails (digests, confirmations) go to {settings.EMAIL_FILE_PATH}")
        self.stdout.write("Sign in with one of these accounts (first passwords, generated here):")
        for a in accounts:
            self.stdout.write(f"  {a.role:<9} user {a.username:<9} password {a.password}")
        self.stdout.write(
            f"They are kept in {settings.DATA_DIR / 'credentials.tsv'}; "
            "change one with: python manage.py changepassword USER\n"
        )
