"""The one write path for incidents: creation, edits under optimistic concurrency, vendors,
whole sets of factors and action items, and the taxonomy's terms."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, models, transaction

from postmortems import rules, services_parts
from postmortems.choices import ActionItemStatus, ReviewActionKind, ReviewStatus
from postmortems.models import (
    ActionItem,
    Factor,
    FailureCategory,
    Incident,
    IncidentVendor,
    ReviewAction,
    TaxonomyEntry,
    Vendor,
)


class EditConflict(Exception):
    """Someone saved the incident after the editor loaded it.

    Carries the incident as it is now and the fields whose values differ from
    what the editor started from, so the caller can show what changed.
    """

    def __init__(self, current: Incident, changed_fields: list[str] | None = None):
        self.current = current
        self.changed_fields = changed_fields or []
        super().__init__(
            f"{current.title!r} was changed by someone else (now at version {current.version})."
        )


@dataclass
class IncidentChanges:
    """Field values to write, and many-to-many sets to replace (None = leave alone)."""

    fields: dict = field(default_factory=dict)
    change_types: Iterable | None = None
    services: Iterable | None = None
    vendors: Iterable[Vendor] | None = None
    primary_vendor: Vendor | None = None
    factors: Sequence[Mapping] | None = None
    action_items: Sequence[Mapping] | None = None


def unique_slug(title: str, started_at=None, *, exclude_id: int | None = None) -> str:
    """A readable slug (title and start month) that no other incident uses."""
    base = rules.slug_base(title, started_at)
    taken = set(
        Incident.objects.filter(slug__startswith=base)
        .exclude(id=exclude_id)
        .values_list("slug", flat=True)
    )
    return rules.free_slug(base, taken)


@transaction.atomic
def create_incident(
    *,
    title: str,
    author=None,
    vendors: Iterable[Vendor] = (),
    primary_vendor: Vendor | None = None,
    change_types: Iterable = (),
    services: Iterable = (),
    factors: Sequence[Mapping] = (),
    action_items: Sequence[Mapping] = (),
    **fields,
) -> Incident:
    """Create a postmortem after validating it as a whole; the author joins its authors."""
    incident = Incident(title=title, **fields)
    if not incident.slug:
        incident.slug = unique_slug(title, incident.started_at)
    incident.full_clean()
    incident.save()
    incident.change_types.set(change_types)
    incident.services.set(services)
    set_incident_vendors(incident=incident, vendors=vendors, primary=primary_vendor)
    if author is not None:
        incident.authors.add(author)
    if factors:
        replace_factors(incident=incident, factors=factors, user=author)
    if action_items:
        replace_action_items(incident=incident, items=action_items, user=author)
    return incident


@transaction.atomic
def update_incident(
    *,
    incident_id: int,
    expected_version: int,
    changes: IncidentChanges,
    user=None,
    reason: str = "",
) -> Incident:
    """Apply an edit made against ``expected_version``; refuse it if someone saved since.

    The row lock makes the version check and the write one step: two editors
    who loaded the same version cannot both pass the check. ``reason`` is kept in the
    history beside the edit (where it came from, when not typed by a person).
    """
    incident = Incident.objects.select_for_update().get(id=incident_id)
    if rules.is_stale(incident.version, expected_version):
        raise EditConflict(incident, changed_fields_since(incident, expected_version))
    for name, value in changes.fields.items():
        setattr(incident, name, value)
    if user is not None:
        incident.needs_review = False  # a person has now worked on it
    incident.full_clean()
    incident.version = rules.next_version(incident.version)
    incident._history_user = user  # who made this edit, for the history
    if reason:
        incident._change_reason = reason
    incident.save()
    if changes.change_types is not None:
        incident.change_types.set(changes.change_types)
    if changes.services is not None:
        incident.services.set(changes.services)
    if changes.vendors is not None:
        set_incident_vendors(
            incident=incident, vendors=changes.vendors, primary=changes.primary_vendor
        )
    # Under the same row lock and version bump: a part replaced here is part of this edit.
    if changes.factors is not None:
        replace_factors(incident=incident, factors=changes.factors, user=user)
    if changes.action_items is not None:
        replace_action_items(incident=incident, items=changes.action_items, user=user)
    return incident


def bump_version(incident: Incident) -> None:
    """Record an edit made through a part of the incident (its timeline, its moments)."""
    incident.full_clean()
    incident.version = rules.next_version(incident.version)
    incident.save()


def changed_fields_since(incident: Incident, version: int) -> list[str]:
    """Names of the fields whose value differs from what they were at ``version``
    (``factors``, ``action_items`` when any of them was added, edited or removed since)."""
    then = incident.history.filter(version=version).order_by("-history_date").first()
    if then is None:
        return []
    now = incident.history.order_by("-history_date").first()
    changed = [change.field for change in now.diff_against(then).changes]
    # Parts are written after the incident row in the same edit, so the parts an edit
    # since ``version`` changed are the ones recorded from that edit's own record on.
    next_edit = incident.history.filter(version__gt=version).order_by("history_date").first()
    if next_edit is None:
        return changed
    for name, model in (("factors", Factor), ("action_items", ActionItem)):
        since = model.history.filter(
            incident_id=incident.id, history_date__gte=next_edit.history_date
        )
        if since.exists():
            changed.append(name)
    return changed


def set_incident_vendors(
    *, incident: Incident, vendors: Iterable[Vendor], primary: Vendor | None = None
) -> None:
    """Replace the incident's vendors; ``primary`` (if given) must be among them."""
    vendors = list(vendors)
    if primary is not None and primary not in vendors:
        vendors.insert(0, primary)
    incident.incident_vendors.exclude(vendor__in=vendors).delete()
    # Clear the old primary first: the one-primary constraint is not deferrable.
    incident.incident_vendors.filter(is_primary=True).exclude(vendor=primary).update(
        is_primary=False
    )
    for vendor in vendors:
        IncidentVendor.objects.update_or_create(
            incident=incident, vendor=vendor, defaults={"is_primary": vendor == primary}
        )


# --- Whole sets of factors and action items ------------------------------------
# Written as one list, as an import or an API client sends them. An item with an
# ``id`` edits that row, so its history and the timeline events that evidence a
# factor stay attached to it; an item without one is added; a row not listed is
# removed. Callers that bump the version (create, update_incident) call these.

FACTOR_DEFAULTS = {"description": ""}
ACTION_ITEM_DEFAULTS = {
    "owner": None,
    "due_date": None,
    "status": ActionItemStatus.OPEN,
    "ticket_url": "",
}


@transaction.atomic
def replace_factors(*, incident: Incident, factors: Sequence[Mapping], user=None) -> list[Factor]:
    """Make ``factors`` the incident's factors; ``position`` defaults to the list order, and
    an item's ``evidence`` (ids of this incident's events) replaces the factor's."""
    current = {f.id: f for f in Factor.objects.filter(incident=incident)}
    _check_ids(factors, current, path="factors", noun="factor")
    listed = {item.get("id") for item in factors}
    for factor in current.values():
        if factor.id not in listed:
            services_parts.delete_factor(factor=factor, user=user)
    saved = []
    for index, item in enumerate(factors):
        fields = {**FACTOR_DEFAULTS, "position": index, **item}
        factor = current.get(fields.pop("id", None))
        # Event ids of this incident; an item without the key keeps the factor's evidence.
        evidence = fields.pop("evidence", None)
        with _errors_at("factors", index):
            if factor is None:
                factor = services_parts.add_factor(
                    incident=incident, user=user, evidence=evidence, **fields
                )
            elif _differs(factor, fields) or services_parts.evidence_differs(factor, evidence):
                services_parts.update_factor(factor=factor, user=user, evidence=evidence, **fields)
        saved.append(factor)
    return saved


@transaction.atomic
def replace_action_items(
    *, incident: Incident, items: Sequence[Mapping], user=None
) -> list[ActionItem]:
    """Make ``items`` the incident's action items. A done item sent without
    ``completed_at`` keeps its earlier completion time, or is stamped now (as in the editor)."""
    current = {i.id: i for i in ActionItem.objects.filter(incident=incident)}
    _check_ids(items, current, path="action_items", noun="action item")
    listed = {item.get("id") for item in items}
    for action_item in current.values():
        if action_item.id not in listed:
            services_parts.delete_action_item(item=action_item, user=user)
    saved = []
    for index, item in enumerate(items):
        fields = {**ACTION_ITEM_DEFAULTS, **item}
        action_item = current.get(fields.pop("id", None))
        # ActionItem.save() stamps a done item that has no completion time yet.
        fields.setdefault("completed_at", action_item.completed_at if action_item else None)
        with _errors_at("action_items", index):
            if action_item is None:
                action_item = services_parts.add_action_item(incident=incident, user=user, **fields)
            elif _differs(action_item, fields):
                services_parts.update_action_item(item=action_item, user=user, **fields)
        saved.append(action_item)
    return saved


def _check_ids(
    items: Sequence[Mapping], current: Mapping[int, models.Model], *, path: str, noun: str
) -> None:
    """Each ``id`` must name one of this incident's rows, and only once."""
    errors, seen = {}, set()
    for index, item in enumerate(items):
        item_id = item.get("id")
        if item_id is None:
            continue
        if item_id not in current:
            errors[f"{path}.{index}.id"] = [f"This postmortem has no {noun} with id {item_id}."]
        elif item_id in seen:
            errors[f"{path}.{index}.id"] = [f"The {noun} with id {item_id} is listed twice."]
        seen.add(item_id)
    if errors:
        raise ValidationError(errors)


def _differs(obj: models.Model, fields: Mapping) -> bool:
    """Whether writing ``fields`` changes ``obj``: an unchanged row gets no history entry."""
    for name, value in fields.items():
        current = getattr(obj, obj._meta.get_field(name).attname)
        if current != (value.pk if isinstance(value, models.Model) else value):
            return True
    return False


@contextmanager
def _errors_at(path: str, index: int) -> Iterator[None]:
    """Name an item's validation errors by its place in the list (``factors.1.category``)."""
    prefix = f"{path}.{index}"
    try:
        yield
    except ValidationError as error:
        if not hasattr(error, "error_dict"):
            raise ValidationError({prefix: error.messages}) from error
        raise ValidationError(
            {
                prefix if name == NON_FIELD_ERRORS else f"{prefix}.{name}": messages
                for name, messages in error.message_dict.items()
            }
        ) from error


# --- The taxonomy -------------------------------------------------------------


@transaction.atomic
def save_taxonomy_entry(*, entry: TaxonomyEntry) -> TaxonomyEntry:
    """Add or edit a change type or failure category; a slug already in use is a field error."""
    entry.full_clean()
    if isinstance(entry, FailureCategory):
        _check_not_under_itself(entry)
    try:
        # A savepoint, so that losing a race for the slug is the same field error
        # rather than a broken transaction.
        with transaction.atomic():
            entry.save()
    except IntegrityError as error:
        taken = type(entry).objects.filter(slug=entry.slug).exclude(pk=entry.pk)
        if not taken.exists():
            raise
        raise ValidationError({"slug": f"The slug “{entry.slug}” is already in use."}) from error
    return entry


def _check_not_under_itself(category: FailureCategory) -> None:
    """A category's parent must not be the category or one of its descendants."""
    if category.pk is None or category.parent is None:
        return  # a new category has no descendants yet
    if category.parent.pk == category.pk:
        raise ValidationError({"parent": "A category cannot be its own parent."})
    seen: set[int] = set()
    ancestor = category.parent
    while ancestor is not None and ancestor.pk not in seen:
        if ancestor.pk == category.pk:
            raise ValidationError(
                {"parent": f"“{category.parent.name}” is itself under “{category.name}”."}
            )
        seen.add(ancestor.pk)
        ancestor = ancestor.parent


# --- Review workflow ---------------------------------------------------------
# Permission (who may) is the views' and API's business via postmortems.permissions;
# these functions guard the state machine (what may follow what).


def _transition(incident: Incident, *, allowed_from: str, to: str, user) -> Incident:
    locked = Incident.objects.select_for_update().get(id=incident.id)
    if locked.status != allowed_from:
        raise ValidationError(
            f"This postmortem is {locked.get_status_display().lower()}, "
            f"not {ReviewStatus(allowed_from).label.lower()}; refresh the page."
        )
    locked.status = to
    locked.version = rules.next_version(locked.version)
    locked._history_user = user
    return locked


@transaction.atomic
def submit_for_review(*, incident: Incident, user) -> Incident:
    """An author hands a draft to the reviewers."""
    locked = _transition(
        incident, allowed_from=ReviewStatus.DRAFT, to=ReviewStatus.IN_REVIEW, user=user
    )
    locked.save()
    ReviewAction.objects.create(incident=locked, actor=user, kind=ReviewActionKind.SUBMITTED)
    return locked


@transaction.atomic
def publish_incident(*, incident: Incident, user, comment: str = "") -> Incident:
    """A reviewer approves a postmortem in review: everyone can read it from now on."""
    locked = _transition(
        incident, allowed_from=ReviewStatus.IN_REVIEW, to=ReviewStatus.PUBLISHED, user=user
    )
    locked.needs_review = False  # save() stamps the publication time (rules)
    locked.save()
    locked.reviewers.add(user)
    ReviewAction.objects.create(
        incident=locked, actor=user, kind=ReviewActionKind.PUBLISHED, comment=comment
    )
    return locked


@transaction.atomic
def publish_directly(*, incident: Incident) -> Incident:
    """Publish without a review round, for what is published already elsewhere (the demo's
    public outages). The publication time is this write's (``rules.publication_time``)."""
    incident.status = ReviewStatus.PUBLISHED
    incident.needs_review = False
    incident.save()
    return incident


@transaction.atomic
def return_incident(*, incident: Incident, user, comment: str) -> Incident:
    """A reviewer sends a postmortem back to its authors, saying what to change."""
    if not comment.strip():
        raise ValidationError({"comment": "Say what the authors should change."})
    locked = _transition(
        incident, allowed_from=ReviewStatus.IN_REVIEW, to=ReviewStatus.DRAFT, user=user
    )
    locked.save()
    locked.reviewers.add(user)
    ReviewAction.objects.create(
        incident=locked, actor=user, kind=ReviewActionKind.RETURNED, comment=comment
    )
    return locked
