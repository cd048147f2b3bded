"""Digest pages: the settings form's actions, the links in emails, and the browser preview."""

from __future__ import annotations

from csp.constants import NONE, SELF, UNSAFE_INLINE
from csp.decorators import csp_replace
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from accounts.services import profile_for
from accounts.settings_page import SETTINGS_TEMPLATE, settings_context
from digests import content, emails, schedule, services, tokens
from digests.forms import DigestSubscriptionForm
from digests.models import DigestSubscription

SETTINGS_ANCHOR = "#weekly-digest"

# The preview iframe shows the email as a mail client would: its inline style
# attributes are all the styling an email can carry. Only those are allowed; no
# script, no form, no plugin, and only this site may frame it.
EMAIL_PREVIEW_POLICY = {
    "default-src": [NONE],
    "style-src": [UNSAFE_INLINE],
    "img-src": [SELF, "data:"],
    "script-src": [NONE],
    "font-src": [NONE],
    "connect-src": [NONE],
    "form-action": [NONE],
    "frame-ancestors": [SELF],
}


# --- The settings page's digest form ------------------------------------------


@login_required
@require_POST
def subscribe(request: HttpRequest) -> HttpResponse:
    subscription = DigestSubscription.objects.filter(user=request.user).first()
    form = DigestSubscriptionForm(request.POST, instance=subscription)
    if form.is_valid():
        try:
            subscription = services.subscribe_user(user=request.user, **form.cleaned_data)
        except services.AddressTaken as exc:
            form.add_error("email", str(exc))
        else:
            messages.success(request, subscribed_message(subscription))
            return redirect(reverse("accounts:settings") + SETTINGS_ANCHOR)
    context = settings_context(request, digest_form=form)
    return render(request, SETTINGS_TEMPLATE, context, status=400)


def subscribed_message(subscription: DigestSubscription) -> str:
    if subscription.confirmed_at is None:
        return (
            f"Almost done: we sent a link to {subscription.email}. The digest starts once "
            "it is opened and the address confirmed."
        )
    return f"Saved. The weekly digest goes to {subscription.email}."


@login_required
@require_POST
def stop(request: HttpRequest) -> HttpResponse:
    subscription = DigestSubscription.objects.filter(user=request.user).first()
    if subscription is not None:
        services.unsubscribe(subscription=subscription)
        messages.success(request, "The weekly digest is stopped. You can start it again here.")
    return redirect(reverse("accounts:settings") + SETTINGS_ANCHOR)


# --- Links in emails: public, the signed token is the authority -----------------


@require_http_methods(["GET", "HEAD", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    # GET only asks: mail scanners and link previewers open every link in a message,
    # and must not confirm an address on its owner's behalf.
    try:
        subscription = tokens.subscription_for_confirm(token)
    except tokens.InvalidLink as exc:
        return invalid_link(request, exc)
    if request.method == "POST":
        subscription = services.confirm_subscription(subscription=subscription)
        return render(request, "digests/confirmed.html", {"subscription": subscription})
    return render(request, "digests/confirm.html", {"subscription": subscription})


# RFC 8058 one-click unsubscribe: a mail provider POSTs "List-Unsubscribe=One-Click" to
# the URL in the List-Unsubscribe header, with no cookie and no CSRF token. The signed,
# per-subscription token in the URL is what proves the request's right, so Django's
# CSRF check (which defends session-authenticated actions) has nothing to add here,
# and the worst a forged request could do is what the link's holder may do anyway.
@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        subscription = tokens.subscription_for_unsubscribe(token)
    except tokens.InvalidLink as exc:
        return invalid_link(request, exc)
    if request.method == "POST":
        subscription = services.unsubscribe(subscription=subscription)
        return render(request, "digests/unsubscribed.html", {"subscription": subscription})
    # GET only asks, for the same reason as confirm: scanners follow links.
    return render(request, "digests/unsubscribe.html", {"subscription": subscription})


def invalid_link(request: HttpRequest, exc: tokens.InvalidLink) -> HttpResponse:
    return render(request, "digests/invalid_link.html", {"reason": str(exc)}, status=400)


# --- Preview ----------------------------------------------------------------------


@login_required
def preview(request: HttpRequest) -> HttpResponse:
    subscription = preview_subscription(request.user)
    try:
        period = preview_period(subscription, request.GET.get("week", ""))
    except ValueError as exc:
        context = {"error": str(exc), "subscription": subscription}
        return render(request, "digests/preview.html", context, status=400)
    rendered = render_preview(subscription, period)
    context = {
        "subscription": subscription,
        "period": period,
        "rendered": rendered,
        "week": request.GET.get("week", "").strip(),
    }
    return render(request, "digests/preview.html", context)


@login_required
@xframe_options_sameorigin
@csp_replace(EMAIL_PREVIEW_POLICY)
def preview_email(request: HttpRequest) -> HttpResponse:
    """The preview's HTML part alone, for the sandboxed frame on the preview page."""
    subscription = preview_subscription(request.user)
    try:
        period = preview_period(subscription, request.GET.get("week", ""))
    except ValueError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    return HttpResponse(render_preview(subscription, period).html)


def preview_subscription(user) -> DigestSubscription:
    """The person's subscription, or an unsaved one with the settings a new one would get."""
    subscription = DigestSubscription.objects.with_filters().filter(user=user).first()
    if subscription is None:
        subscription = DigestSubscription(
            user=user, email=user.email, time_zone=profile_for(user).time_zone
        )
    return subscription


def preview_period(subscription: DigestSubscription, week: str) -> schedule.DigestPeriod:
    """The given ISO week's period, or the one the next digest will cover (so far)."""
    when = {
        "weekday": subscription.weekday,
        "hour": subscription.hour,
        "time_zone": subscription.time_zone,
    }
    if week.strip():
        year, number = schedule.parse_week(week)
        end = schedule.due_moment_in_week(year, number, **when)
    else:
        end = schedule.next_due_moment(timezone.now(), **when)
    return schedule.period_ending(end, subscription.time_zone)


def render_preview(subscription: DigestSubscription, period: schedule.DigestPeriod):
    settings_url = settings.SITE_URL + reverse("accounts:settings")
    # A saved subscription gets its real link; without one there is nothing to
    # unsubscribe from, and the settings page is where the digest is stopped anyway.
    unsubscribe_url = tokens.unsubscribe_url(subscription) if subscription.pk else settings_url
    digest = content.build_digest(subscription, period)
    return emails.render_digest(
        digest, unsubscribe_url=unsubscribe_url, preferences_url=settings_url
    )
