"""Subscribing to the weekly digest, confirming an address and unsubscribing.

Nothing is sent to an address until it is confirmed, except a person's own account
address. Confirmation emails are queued after the transaction commits, so a worker
never looks for a subscription that a rolled-back request did not create.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from digests import emails, signals, tokens
from digests.models import DigestSubscription
from postmortems.models import FailureCategory, Vendor

EMAIL_CONSTRAINT = "digest_subscription_unique_email"


class AddressTaken(Exception):
    """Another subscription already uses this address (compared case-insensitively)."""

    def __init__(self, email: str) -> None:
        super().__init__("This address already receives the digest.")
        self.email = email


@transaction.atomic
def subscribe_user(
    *,
    user,
    email: str,
    vendors: Iterable[Vendor] = (),
    categories: Iterable[FailureCategory] = (),
    **fields,
) -> DigestSubscription:
    """Start, change or restart a person's digest; another address than theirs needs confirming."""
    # Locking the person's row serialises their own requests (a double-clicked Save),
    # so two cannot both find no subscription and both insert one.
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()
    subscription = DigestSubscription.objects.filter(user=user).first()
    if subscription is None:
        subscription = DigestSubscription(user=user, created_by=user)
    _set_address(subscription, email, own=_is_account_address(user, email))
    for name, value in fields.items():
        setattr(subscription, name, value)
    subscription.unsubscribed_at = None
    _save(subscription, vendors, categories)
    if subscription.confirmed_at is None:
        # Each save of a pending subscription sends a fresh link: saving again is how a
        # person asks for one when the first was lost or has expired.
        request_confirmation(subscription=subscription)
    return subscription


@transaction.atomic
def add_email_subscriber(
    *,
    email: str,
    created_by,
    vendors: Iterable[Vendor] = (),
    categories: Iterable[FailureCategory] = (),
    **fields,
) -> DigestSubscription:
    """Subscribe an address with no account; it receives nothing until it is confirmed."""
    subscription = DigestSubscription(email=email, created_by=created_by, **fields)
    _save(subscription, vendors, categories)
    request_confirmation(subscription=subscription)
    return subscription


def request_confirmation(*, subscription: DigestSubscription) -> None:
    """Queue the confirmation email for when the current transaction commits."""
    signals.confirmation_requested.send(sender=DigestSubscription, subscription_id=subscription.pk)


@transaction.atomic
def confirm_subscription(*, subscription: DigestSubscription) -> DigestSubscription:
    """Record that the address is confirmed; confirming twice keeps the first time."""
    DigestSubscription.objects.filter(pk=subscription.pk, confirmed_at__isnull=True).update(
        confirmed_at=timezone.now()
    )
    subscription.refresh_from_db(fields=["confirmed_at"])
    return subscription


@transaction.atomic
def unsubscribe(*, subscription: DigestSubscription) -> DigestSubscription:
    """Stop the digest; the row stays (deliveries keep their subscriber) and it is idempotent."""
    # Conditional, so a repeated click or a mail provider's retry keeps the first time.
    DigestSubscription.objects.filter(pk=subscription.pk, unsubscribed_at__isnull=True).update(
        unsubscribed_at=timezone.now()
    )
    subscription.refresh_from_db(fields=["unsubscribed_at"])
    return subscription


def send_confirmation(subscription_id: int) -> str:
    """Email the confirmation link, unless there is nothing left to confirm."""
    # Not atomic: it only reads, and a mail server must not wait on a transaction.
    subscription = DigestSubscription.objects.filter(pk=subscription_id).first()
    if subscription is None:
        return f"subscription {subscription_id} no longer exists; nothing sent"
    if subscription.confirmed_at is not None:
        return f"{subscription.email} is already confirmed; nothing sent"
    if subscription.unsubscribed_at is not None:
        return f"{subscription.email} has unsubscribed; nothing sent"
    message = emails.confirmation_message(
        subscription, confirm_url=tokens.confirm_url(subscription)
    )
    message.send()
    return f"confirmation sent to {subscription.email}"


def _is_account_address(user, email: str) -> bool:
    # The account's address was set by an admin, so it needs no proof of ownership.
    return bool(user.email) and user.email.strip().lower() == email.strip().lower()


def _set_address(subscription: DigestSubscription, email: str, *, own: bool) -> None:
    """Set the address, and keep its confirmation only while the address stays the same."""
    new = subscription.pk is None or subscription.email.lower() != email.lower()
    subscription.email = email
    if own:
        subscription.confirmed_at = subscription.confirmed_at or timezone.now()
    elif new:
        # Confirming one address says nothing about the next.
        subscription.confirmed_at = None


def _save(
    subscription: DigestSubscription,
    vendors: Iterable[Vendor],
    categories: Iterable[FailureCategory],
) -> None:
    try:
        # A savepoint, so the race below leaves the caller's transaction usable.
        with transaction.atomic():
            subscription.save()
    except IntegrityError as exc:
        # The form checks the address first; this is the race where two requests
        # claim one address at the same moment and the unique index decides.
        if _constraint_name(exc) == EMAIL_CONSTRAINT:
            raise AddressTaken(subscription.email) from exc
        raise
    subscription.vendors.set(vendors)
    subscription.categories.set(categories)


def _constraint_name(exc: IntegrityError) -> str | None:
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None)
