from django.core.management import call_command
from django.core.management.base import BaseCommand

from postmortems.demo.loader import load_demo
from postmortems.models import Incident


class Command(BaseCommand):
    help = "Load the demo knowledge base (five real outages). Safe to run again."

    def add_arguments(self, parser):
        parser.add_argument(
            "--if-empty",
            action="store_true",
            help="Only load when the knowledge base has no incidents at all (first start).",
        )

    def handle(self, *args, if_empty: bool = False, **options):
        if if_empty and Incident.objects.exists():
            self.stdout.write("Knowledge base is not empty; demo not loaded.")
            return
        result = load_demo()
        for slug in result.created:
            self.stdout.write(self.style.SUCCESS(f"created  {slug}"))
        for slug in result.unchanged:
            self.stdout.write(f"unchanged {slug}")
        self.stdout.write(
            f"Demo: {len(result.created)} created, {len(result.unchanged)} already present."
        )
        if result.created:
            # So that the Patterns page has something to show before the worker's first run.
            call_command("refresh_patterns")
