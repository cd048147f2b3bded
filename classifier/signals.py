"""After changes: retrain soon, and mark auto-classified incidents a person corrected.

Retraining is debounced like the pattern refresh: the first labelled change schedules one
a few minutes out, after the transaction commits, and changes within that time ride
along. The nightly run catches anything missed. Imports ask for their incidents to be
classified through ``imports.signals.incidents_imported``.
"""

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from classifier import services
from imports.signals import incidents_imported
from postmortems.models import Factor, Incident

DEBOUNCE_SECONDS = 300
MARKER = "classifier:retrain-scheduled"


def request_retrain() -> None:
    if cache.add(MARKER, True, DEBOUNCE_SECONDS):
        transaction.on_commit(schedule_retrain)


def schedule_retrain() -> None:
    from classifier.tasks import retrain_classifier

    retrain_classifier.apply_async(countdown=DEBOUNCE_SECONDS)


def labels_changed(incident_id: int) -> None:
    request_retrain()
    if not services.is_writing_labels():
        services.mark_corrected(incident_id)


@receiver(post_save, sender=Factor)
@receiver(post_delete, sender=Factor)
def factor_changed(sender, instance: Factor, **kwargs) -> None:
    labels_changed(instance.incident_id)


@receiver(m2m_changed, sender=Incident.change_types.through)
def change_types_changed(sender, instance, action: str, **kwargs) -> None:
    if action.startswith("post_") and isinstance(instance, Incident):
        labels_changed(instance.id)


@receiver(post_save, sender=Incident)
def incident_saved(sender, instance: Incident, **kwargs) -> None:
    # Publishing or editing a labelled postmortem changes what the model would learn.
    if instance.status == "published":
        request_retrain()


@receiver(incidents_imported)
def classify_imported(sender, slugs, report, **kwargs) -> None:
    batch = services.queue_import_classification(slugs=slugs)
    if batch is not None:
        report.classification = {"batch": batch.id, "incidents": len(slugs), "status": "queued"}
