"""The one write path for an incident's parts: factors, action items and sources.

These writes deliberately leave ``Incident.version`` alone. The parts are edited
in place on the incident's edit page while its main form stays open with the
version it loaded; bumping the version here would make that form's next save a
false edit conflict. Factors and action items keep their own history instead.

A factor's evidence is the timeline events that support it. The link is stored on the
timeline's side (``TimelineEvent.evidence_for``), where django-simple-history does not
follow it (no ``m2m_fields``), so it never reaches the factor's history by itself: a
write that changes the set records a history entry of the factor, by whoever made it,
with the events it now cites as its change reason.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction

from postmortems.models import ActionItem, Factor, Incident, Source

DUPLICATE_SOURCE = "This postmortem already lists a source with this URL."
SOURCE_URL_CONSTRAINT = "source_unique_url_per_incident"
# ActionItem.save() stamps completed_at, after validation would run: skip its
# "done needs completed_at" check here (the database still enforces it).
STAMPED_BY_SAVE = ("completed_at",)
# The historical tables' history_change_reason column.
CHANGE_REASON_LENGTH = 100


def _save(
    obj: Factor | ActionItem, *, user, exclude: tuple[str, ...] = (), reason: str | None = None
) -> None:
    obj.full_clean(exclude=exclude)
    obj._history_user = user  # who made this edit, for the history
    obj._change_reason = reason  # read by the history entry this save records
    obj.save()
    del obj._change_reason  # or a later save of the same object would repeat it


@transaction.atomic
def add_factor(
    *, incident: Incident, user=None, evidence: Iterable | None = None, **fields
) -> Factor:
    """Add a root cause, contributing or mitigating factor to an incident, with the
    timeline events that evidence it (``evidence``: events or their ids, of this incident)."""
    factor = Factor(incident=incident, **fields)
    events = _evidence_events(incident.events.all(), evidence or ())
    _save(factor, user=user, reason=_evidence_reason(events) if events else None)
    factor.evidence.set(events)
    return factor


@transaction.atomic
def update_factor(
    *, factor: Factor, user=None, evidence: Iterable | None = None, **changes
) -> Factor:
    """Edit a factor; the previous text stays in ``factor.history``. ``evidence`` (events or
    their ids) replaces the events that evidence it; None leaves them as they are."""
    for name, value in changes.items():
        setattr(factor, name, value)
    events = None
    if evidence is not None:
        events = _evidence_events(_events_of_incident(factor), evidence)
        if not _evidence_differs(factor, events):
            events = None
    _save(factor, user=user, reason=None if events is None else _evidence_reason(events))
    if events is not None:
        factor.evidence.set(events)
    return factor


def evidence_differs(factor: Factor, evidence: Iterable | None) -> bool:
    """Whether writing ``evidence`` (events or ids; None for "leave it") changes the set."""
    return evidence is not None and _evidence_differs(factor, evidence)


def _evidence_differs(factor: Factor, evidence: Iterable) -> bool:
    current = set(factor.evidence.values_list("pk", flat=True))
    return current != {getattr(event, "pk", event) for event in evidence}


def _events_of_incident(factor: Factor) -> models.QuerySet:
    # The timeline's model, reached through the relation: this app does not import it.
    return factor.evidence.model.objects.filter(incident_id=factor.incident_id)


def _evidence_events(candidates: models.QuerySet, evidence: Iterable) -> list:
    """The events ``evidence`` names (events or ids), read from ``candidates`` (this
    incident's timeline); any other is an error on ``evidence``."""
    ids = list(dict.fromkeys(getattr(event, "pk", event) for event in evidence))
    if not ids:
        return []
    found = {event.pk: event for event in candidates.filter(pk__in=ids)}
    missing = [str(pk) for pk in ids if pk not in found]
    if missing:
        noun = "event with id" if len(missing) == 1 else "events with ids"
        raise ValidationError(
            {"evidence": f"This postmortem's timeline has no {noun} {', '.join(missing)}."}
        )
    return [found[pk] for pk in ids]


def _evidence_reason(events: list) -> str:
    """What a changed evidence set records in the factor's history."""
    if not events:
        return "Evidence: none."
    reason = "Evidence: timeline events " + ", ".join(str(e.pk) for e in events) + "."
    if len(reason) > CHANGE_REASON_LENGTH:
        reason = f"Evidence: {len(events)} timeline events."
    return reason


@transaction.atomic
def delete_factor(*, factor: Factor, user=None) -> None:
    """Remove a factor; its history keeps a record of the deletion and of who made it."""
    factor._history_user = user
    factor.delete()


@transaction.atomic
def add_action_item(*, incident: Incident, user=None, **fields) -> ActionItem:
    """Add a follow-up; one created as done is stamped completed by ``ActionItem.save``."""
    item = ActionItem(incident=incident, **fields)
    _save(item, user=user, exclude=STAMPED_BY_SAVE)
    return item


@transaction.atomic
def update_action_item(*, item: ActionItem, user=None, **changes) -> ActionItem:
    """Edit a follow-up; marking it done stamps ``completed_at``, reopening clears it."""
    for name, value in changes.items():
        setattr(item, name, value)
    _save(item, user=user, exclude=STAMPED_BY_SAVE)
    return item


@transaction.atomic
def delete_action_item(*, item: ActionItem, user=None) -> None:
    """Remove a follow-up; its history records the deletion."""
    item._history_user = user
    item.delete()


@transaction.atomic
def add_source(*, incident: Incident, url: str, kind: str, title: str = "") -> Source:
    """List a document the postmortem draws on; a URL already listed is a field error."""
    source = Source(incident=incident, url=url, kind=kind, title=title)
    # The unique constraint is checked here to give a clear message rather than
    # Django's generic "Source with this Incident and Url already exists".
    source.full_clean(validate_constraints=False)
    if _already_listed(incident, url):
        raise ValidationError({"url": DUPLICATE_SOURCE})
    try:
        # A savepoint, so that losing a race with a concurrent identical add
        # becomes the same field error instead of a broken transaction.
        with transaction.atomic():
            source.save()
    except IntegrityError as error:
        if _violated_constraint(error) != SOURCE_URL_CONSTRAINT:
            raise
        raise ValidationError({"url": DUPLICATE_SOURCE}) from error
    return source


@transaction.atomic
def delete_source(*, source: Source) -> None:
    """Remove a source from its incident."""
    source.delete()


def _already_listed(incident: Incident, url: str) -> bool:
    return incident.sources.filter(url=url).exists()


def _violated_constraint(error: IntegrityError) -> str | None:
    diag = getattr(error.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None)
