"""Managing a vendor's polled status pages from its vendor page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db import IntegrityError
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from imports import polling
from imports.forms import StatusSourceForm
from imports.models import StatusSource
from postmortems.models import Vendor

MANAGE = "postmortems.change_vendor"


def back_to(vendor: Vendor):
    return redirect(reverse("postmortems:vendor-detail", args=[vendor.slug]) + "#sources-title")


@login_required
@permission_required(MANAGE, raise_exception=True)
@require_POST
def source_create(request, slug: str):
    vendor = get_object_or_404(Vendor, slug=slug)
    form = StatusSourceForm(request.POST, instance=StatusSource(vendor=vendor))
    if not form.is_valid():
        errors = "; ".join(f"{form[f].label}: {' '.join(e)}" for f, e in form.errors.items())
        messages.error(request, f"The status page was not added. {errors}")
        return back_to(vendor)
    try:
        form.save()
    except IntegrityError:
        messages.error(request, "That URL is already polled for this vendor.")
    else:
        messages.success(request, "Added: it will be polled within a minute.")
    return back_to(vendor)


@login_required
@permission_required(MANAGE, raise_exception=True)
@require_POST
def source_action(request, pk: int, action: str):
    source = get_object_or_404(StatusSource.objects.select_related("vendor"), pk=pk)
    if action == "poll":
        messages.info(request, f"Polled {source.url}: {polling.poll_source(source)}.")
    elif action == "toggle":
        source.enabled = not source.enabled
        source.save(update_fields=["enabled"])
        messages.success(request, "Polling resumed." if source.enabled else "Polling paused.")
    elif action == "delete":
        source.delete()
        messages.success(request, "Removed; incidents already imported stay.")
    return back_to(source.vendor)
