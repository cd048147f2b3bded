"""Refresh the precomputed patterns soon after published postmortems change.

A burst of changes (an editing session, an import of a hundred incidents)
asks for one refresh: the first change schedules it a minute out, after the
transaction commits, and changes within that minute ride along. The marker
lives in Django's cache, so the debounce is per process unless a shared cache
is configured; the nightly beat run catches anything missed.
"""

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from postmortems import rules
from postmortems.models import Factor, Incident

DEBOUNCE_SECONDS = 60
MARKER = "patterns:refresh-scheduled"


def request_refresh() -> None:
    if cache.add(MARKER, True, DEBOUNCE_SECONDS):
        transaction.on_commit(schedule_refresh)


def schedule_refresh() -> None:
    from patterns.tasks import refresh_patterns

    refresh_patterns.apply_async(countdown=DEBOUNCE_SECONDS)


def is_published(incident: Incident | None) -> bool:
    return incident is not None and rules.affects_patterns(incident.status)


@receiver(post_save, sender=Incident)
@receiver(post_delete, sender=Incident)
def incident_changed(sender, instance: Incident, **kwargs) -> None:
    if is_published(instance):
        request_refresh()


@receiver(post_save, sender=Factor)
@receiver(post_delete, sender=Factor)
def factor_changed(sender, instance: Factor, **kwargs) -> None:
    if is_published(Incident.objects.filter(id=instance.incident_id).first()):
        request_refresh()


@receiver(m2m_changed, sender=Incident.change_types.through)
def change_types_changed(sender, instance, action: str, **kwargs) -> None:
    if action.startswith("post_") and isinstance(instance, Incident) and is_published(instance):
        request_refresh()
