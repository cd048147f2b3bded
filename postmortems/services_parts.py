"""The one write path for an incident's parts: factors, action items and sources.

These writes deliberately leave ``Incident.version`` alone. The parts are edited
in place on the incident's edit page while its main form stays open with the
version it loaded; bumping the version here would make that form's next save a
false edit conflict. Factors and action items keep their own history instead.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from postmortems.models import ActionItem, Factor, Incident, Source

DUPLICATE_SOURCE = "This postmortem already lists a source with this URL."
SOURCE_URL_CONSTRAINT = "source_unique_url_per_incident"
# ActionItem.save() stamps completed_at, after validation would run: skip its
# "done needs completed_at" check here (the database still enforces it).
STAMPED_BY_SAVE = ("completed_at",)


def _save(obj: Factor | ActionItem, *, user, exclude: tuple[str, ...] = ()) -> None:
    obj.full_clean(exclude=exclude)
    obj._history_user = user  # who made this edit, for the history
    obj.save()


@transaction.atomic
def add_factor(*, incident: Incident, user=None, **fields) -> Factor:
    """Add a root cause, contributing or mitigating factor to an incident."""
    factor = Factor(incident=incident, **fields)
    _save(factor, user=user)
    return factor


@transaction.atomic
def update_factor(*, factor: Factor, user=None, **changes) -> Factor:
    """Edit a factor; the previous text stays in ``factor.history``."""
    for name, value in changes.items():
        setattr(factor, name, value)
    _save(factor, user=user)
    return factor


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
