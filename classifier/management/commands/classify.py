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
        if options["all"]:
            ids = list(services.Incident.objects.order_by("id").values_list("id", flat=True))
        else:
            ids = services.backlog_ids()
        self.stdout.write(f"Classifying {len(ids)} incidents …")
        started = time.monotonic()

        def progress(outcome):
            self.stdout.write(f"  {outcome.classified}/{len(ids)}")

        if options["processes"] > 1:
            outcome = services.classify_in_processes(
                ids,
                processes=options["processes"],
                auto_accept=not no_auto_accept,
                on_progress=progress,
            )
        else:
            outcome = services.ClassifyOutcome()
            for start in range(0, len(ids), services.PARALLEL_CHUNK):
                part = services.classify(
                    ids[start : start + services.PARALLEL_CHUNK], auto_accept=not no_auto_accept
                )
                outcome.classified += part.classified
                outcome.auto_classified += part.auto_classified
                progress(outcome)
        seconds = time.monotonic() - started
        rate = outcome.classified / seconds if seconds else 0
        self.stdout.write(f"{outcome} in {seconds:.1f} s ({rate:,.0f} incidents/s).")
