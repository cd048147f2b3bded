"""Retrain the classifier and/or classify what still needs it, with progress."""

import time

from django.core.management.base import BaseCommand

from classifier import services


class Command(BaseCommand):
    help = (
        "Retrain the classifier from the published, labelled postmortems (--retrain) and "
        "store suggestions for every incident still without taxonomy, auto-accepting where "
        "a policy says so."
    )

    def add_arguments(self, parser):
        parser.add_argument("--retrain", action="store_true", help="train a new version first")
        parser.add_argument("--no-auto-accept", action="store_true", help="store suggestions only")

    def handle(self, *args, retrain: bool, no_auto_accept: bool, **options):
        if retrain:
            started = time.monotonic()
            model = services.retrain()
            if model is None:
                self.stdout.write("Nothing labelled to learn from yet: the lexicon suggests alone.")
            else:
                self.stdout.write(
                    f"Model v{model.version}: {model.trained_on} postmortems and "
                    f"{model.reference_examples} reference outages, "
                    f"{len(model.labels)} labels learned in {time.monotonic() - started:.1f} s."
                )
        ids = list(
            services.without_taxonomy(services.Incident.objects.all()).values_list("id", flat=True)
        )
        self.stdout.write(f"Classifying {len(ids)} incidents without taxonomy …")
        started = time.monotonic()
        outcome = services.ClassifyOutcome()
        for start in range(0, len(ids), 10 * services.CHUNK):
            part = services.classify(
                ids[start : start + 10 * services.CHUNK], auto_accept=not no_auto_accept
            )
            outcome.classified += part.classified
            outcome.auto_classified += part.auto_classified
            self.stdout.write(f"  {outcome.classified}/{len(ids)}")
        self.stdout.write(f"{outcome} in {time.monotonic() - started:.1f} s.")
