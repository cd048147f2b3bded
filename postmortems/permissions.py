"""Who may do what to a postmortem. Views and API permissions both ask these functions.

- Everyone signed in reads published postmortems; drafts and reviews are seen
  only by their authors, reviewers and admins (``IncidentQuerySet.visible_to``).
- Authors create postmortems and edit the ones they author, whatever the status.
- Reviewers edit postmortems in review or published, and publish or send back
  those in review that they did not write themselves (a second pair of eyes).
- Admins do everything.
"""

from __future__ import annotations

from postmortems.choices import Origin, ReviewStatus, Role
from postmortems.models import Incident


def is_admin(user) -> bool:
    return user.is_superuser or any(g.name == Role.ADMIN for g in user.groups.all())


def is_author_of(user, incident: Incident) -> bool:
    return any(a.id == user.id for a in incident.authors.all())


def can_view(user, incident: Incident) -> bool:
    if not user.is_authenticated:
        return False
    return (
        incident.status == ReviewStatus.PUBLISHED
        or user.has_perm("postmortems.review_incident")
        or is_author_of(user, incident)
    )


def can_create(user) -> bool:
    return user.is_authenticated and user.has_perm("postmortems.add_incident")


def can_edit(user, incident: Incident) -> bool:
    if not user.is_authenticated or not user.has_perm("postmortems.change_incident"):
        return False
    if is_admin(user) or is_author_of(user, incident):
        return True
    return user.has_perm("postmortems.review_incident") and incident.status != ReviewStatus.DRAFT


def can_submit(user, incident: Incident) -> bool:
    return incident.status == ReviewStatus.DRAFT and (
        is_author_of(user, incident) or is_admin(user)
    )


def can_review(user, incident: Incident) -> bool:
    if incident.status != ReviewStatus.IN_REVIEW:
        return False
    if is_admin(user):
        return True
    return user.has_perm("postmortems.review_incident") and not is_author_of(user, incident)


def can_delete(user, incident: Incident) -> bool:
    return is_admin(user)


def can_classify(user, incident: Incident) -> bool:
    """Who may accept or reject suggested labels: whoever may edit it, and reviewers for any
    imported incident (a vendor's own status-page record, which no one here authored)."""
    if can_edit(user, incident):
        return True
    return (
        user.is_authenticated
        and user.has_perm("postmortems.review_incident")
        and incident.origin == Origin.IMPORTED
    )


def can_publish_import(user, incident: Incident) -> bool:
    """Publishing an imported draft while classifying it: reviewers and admins."""
    return (
        incident.origin == Origin.IMPORTED
        and incident.status == ReviewStatus.DRAFT
        and (is_admin(user) or user.has_perm("postmortems.review_incident"))
    )
