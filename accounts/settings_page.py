"""What the settings page shows: the person's time zone, API tokens and digest.

Its own views (``accounts.views``) and the digest's (``digests.views``) render it with
this context; neither imports the other's views.
"""

from __future__ import annotations

from django.http import HttpRequest

from accounts.forms import ApiTokenForm, ProfileForm
from accounts.models import ApiToken
from accounts.services import profile_for
from digests.forms import DigestSubscriptionForm, digest_settings

SETTINGS_TEMPLATE = "accounts/settings.html"


def settings_context(
    request: HttpRequest,
    *,
    form: ProfileForm | None = None,
    token_form: ApiTokenForm | None = None,
    digest_form: DigestSubscriptionForm | None = None,
    new_key: str = "",
) -> dict:
    return {
        "form": form or ProfileForm(instance=profile_for(request.user)),
        "token_form": token_form or ApiTokenForm(),
        "tokens": ApiToken.objects.filter(user=request.user).active(),
        "digest": digest_settings(request.user, form=digest_form),
        "new_key": new_key,
    }
