"""The review workflow: submit, publish, send back."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseBadRequest
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from postmortems import permissions, services
from postmortems.shortcuts import get_incident_for

ACTIONS = {
    "submit": (permissions.can_submit, "Submitted for review. Reviewers can now publish it."),
    "publish": (permissions.can_review, "Published: everyone can read it now."),
    "return": (permissions.can_review, "Sent back to the authors with your comment."),
}


@login_required
@require_POST
def review_action(request, slug: str):
    incident = get_incident_for(request.user, slug)
    action = request.POST.get("action", "")
    if action not in ACTIONS:
        return HttpResponseBadRequest("Unknown review action.")
    allowed, done_message = ACTIONS[action]
    if not allowed(request.user, incident):
        raise PermissionDenied("You cannot do that to this postmortem now.")
    comment = request.POST.get("comment", "")
    try:
        if action == "submit":
            services.submit_for_review(incident=incident, user=request.user)
        elif action == "publish":
            services.publish_incident(incident=incident, user=request.user, comment=comment)
        else:
            services.return_incident(incident=incident, user=request.user, comment=comment)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, done_message)
    return redirect("postmortems:incident-detail", slug=incident.slug)
