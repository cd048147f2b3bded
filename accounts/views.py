from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_POST

from accounts.forms import ApiTokenForm, ProfileForm
from accounts.models import ApiToken
from accounts.services import profile_for, remember_time_zone
from accounts.settings_page import SETTINGS_TEMPLATE, settings_context
from accounts.tokens import create_token, revoke_token


@login_required
def settings_view(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, instance=profile_for(request.user))
    if request.method == "POST" and form.is_valid():
        profile = form.save()
        remember_time_zone(request, profile.time_zone)
        messages.success(request, f"Times are now shown in {profile.time_zone}.")
        return redirect("accounts:settings")
    return render(request, SETTINGS_TEMPLATE, settings_context(request, form=form))


@login_required
@require_POST
def token_create(request: HttpRequest) -> HttpResponse:
    """Mint a token and show its key in this response, the only time it is ever shown.

    No redirect: carrying the key to the next page would mean storing it (in the
    session), and it must exist nowhere but in the person's hands.
    """
    token_form = ApiTokenForm(request.POST)
    if not token_form.is_valid():
        context = settings_context(request, token_form=token_form)
        return render(request, SETTINGS_TEMPLATE, context, status=400)
    token, key = create_token(user=request.user, **token_form.cleaned_data)
    messages.success(request, f"Token “{token.name}” created.")
    response = render(request, SETTINGS_TEMPLATE, settings_context(request, new_key=key))
    add_never_cache_headers(response)  # no cache or back button may keep the key
    return response


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = get_object_or_404(ApiToken.objects.active(), pk=pk, user=request.user)
    revoke_token(token=token)
    messages.success(request, f"Token “{token.name}” revoked; it no longer works.")
    return redirect("accounts:settings")
