"""Fetch an incident for a request, enforcing who may see or change it."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404

from postmortems import permissions
from postmortems.models import Incident


def get_incident_for(user, slug: str, *, edit: bool = False, queryset=None) -> Incident:
    """The incident ``slug`` if ``user`` may see it (404 otherwise, so drafts stay secret).

    With ``edit=True``, also require edit rights (403: they can see it exists).
    """
    queryset = queryset if queryset is not None else Incident.objects.all()
    incident = queryset.prefetch_related("authors").filter(slug=slug).first()
    if incident is None or not permissions.can_view(user, incident):
        raise Http404("No postmortem here, or not one you may see.")
    if edit and not permissions.can_edit(user, incident):
        raise PermissionDenied("You may read this postmortem but not edit it.")
    return incident
