"""Signed links in digest emails: confirm an address, unsubscribe in one click.

The links carry the subscription id and address, signed with ``SECRET_KEY`` and a
purpose-specific salt, so a link for one purpose or one subscriber cannot be turned into
another. Unsubscribe links never expire (an old digest must still work); confirmation
links last ``CONFIRM_MAX_AGE``.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse

from digests.models import DigestSubscription

UNSUBSCRIBE_SALT = "digests.unsubscribe"
CONFIRM_SALT = "digests.confirm"
CONFIRM_MAX_AGE = timedelta(days=7)


class InvalidLink(Exception):
    """The link was altered, has expired, or names a subscription that no longer exists."""


def _token(subscription: DigestSubscription, salt: str) -> str:
    return signing.dumps({"s": subscription.pk, "e": subscription.email.lower()}, salt=salt)


def _subscription(token: str, salt: str, max_age: timedelta | None = None) -> DigestSubscription:
    try:
        data = signing.loads(token, salt=salt, max_age=max_age)
        subscription = DigestSubscription.objects.get(pk=data["s"])
    except signing.SignatureExpired as exc:
        raise InvalidLink("This link has expired.") from exc
    except (signing.BadSignature, DigestSubscription.DoesNotExist, KeyError, TypeError) as exc:
        raise InvalidLink("This link is not valid.") from exc
    if subscription.email.lower() != data["e"]:
        raise InvalidLink("This link was made for a different address.")
    return subscription


def unsubscribe_token(subscription: DigestSubscription) -> str:
    return _token(subscription, UNSUBSCRIBE_SALT)


def subscription_for_unsubscribe(token: str) -> DigestSubscription:
    return _subscription(token, UNSUBSCRIBE_SALT)


def confirm_token(subscription: DigestSubscription) -> str:
    return _token(subscription, CONFIRM_SALT)


def subscription_for_confirm(token: str) -> DigestSubscription:
    return _subscription(token, CONFIRM_SALT, CONFIRM_MAX_AGE)


def unsubscribe_url(subscription: DigestSubscription) -> str:
    path = reverse("digests:unsubscribe", args=[unsubscribe_token(subscription)])
    return f"{settings.SITE_URL}{path}"


def confirm_url(subscription: DigestSubscription) -> str:
    path = reverse("digests:confirm", args=[confirm_token(subscription)])
    return f"{settings.SITE_URL}{path}"
