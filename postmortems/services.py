"""The one write path for incidents: creation, edits under optimistic concurrency, vendors."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from postmortems.choices import ReviewActionKind, ReviewStatus
from postmortems.models import Incident, IncidentVendor, ReviewAction, Vendor


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


def unique_slug(title: str, started_at=None, *, exclude_id: int | None = None) -> str:
    """A readable slug (title and start month) that no other incident uses."""
    base = slugify(title)[:90] or "incident"
    if started_at is not None:
        base = f"{base}-{started_at:%Y-%m}"
    taken = set(
        Incident.objects.filter(slug__startswith=base)
        .exclude(id=exclude_id)
        .values_list("slug", flat=True)
    )
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


@transaction.atomic
def create_incident(
    *,
    title: str,
    author=None,
    vendors: Iterable[Vendor] = (),
    primary_vendor: Vendor | None = None,
    change_types: Iterable = (),
    services: Iterable = (),
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
    return incident


@transaction.atomic
def update_incident(
    *, incident_id: int, expected_version: int, changes: IncidentChanges, user=None
) -> Incident:
    """Apply an edit made against ``expected_version``; refuse it if someone saved since.

    The row lock makes the version check and the write one step: two editors
    who loaded the same version cannot both pass the check.
    """
    incident = Incident.objects.select_for_update().get(id=incident_id)
    if incident.version != expected_version:
        raise EditConflict(incident, changed_fields_since(incident, expected_version))
    for name, value in changes.fields.items():
        setattr(incident, name, value)
    if user is not None:
        incident.needs_review = False  # a person has now worked on it
    incident.full_clean()
    incident.version += 1
    incident._history_user = user  # who made this edit, for the history
    incident.save()
    if changes.change_types is not None:
        incident.change_types.set(changes.change_types)
    if changes.services is not None:
        incident.services.set(changes.services)
    if changes.vendors is not None:
        set_incident_vendors(
            incident=incident, vendors=changes.vendors, primary=changes.primary_vendor
        )
    return incident


def bump_version(incident: Incident) -> None:
    """Record an edit made through a part of the incident (its timeline, its moments)."""
    incident.full_clean()
    incident.version += 1
    incident.save()


def changed_fields_since(incident: Incident, version: int) -> list[str]:
    """Names of the fields whose value differs from what they were at ``version``."""
    then = incident.history.filter(version=version).order_by("-history_date").first()
    if then is None:
        return []
    now = incident.history.order_by("-history_date").first()
    return [change.field for change in now.diff_against(then).changes]


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
    locked.version += 1
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
    locked.published_at = timezone.now()
    locked.needs_review = False
    locked.save()
    locked.reviewers.add(user)
    ReviewAction.objects.create(
        incident=locked, actor=user, kind=ReviewActionKind.PUBLISHED, comment=comment
    )
    return locked


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
