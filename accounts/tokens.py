"""API tokens: minting, hashing, looking up, recording use and revoking.

A key reads ``hs_<prefix>_<secret>``. The database keeps only its SHA-256: a
plain, unsalted hash is enough because the key is 256 bits of randomness (no
dictionary to attack), and it lets a request find its token with one indexed
lookup. The prefix is not secret; it only tells tokens apart in lists.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from accounts.models import ApiToken, TokenScope

KEY_MARKER = "hs"
PREFIX_BYTES = 4  # 8 hex characters
SECRET_BYTES = 32
# last_used_at is a hint for people ("is this token still in use?"), not an
# audit log: writing it at most once a minute spares a write on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def looks_like_key(key: str) -> bool:
    """Whether ``key`` has the shape of a Hindsight key (it may still be unknown)."""
    marker, _, rest = key.partition("_")
    prefix, _, secret = rest.partition("_")
    return marker == KEY_MARKER and len(prefix) == PREFIX_BYTES * 2 and bool(secret)


def assign_new_key(token: ApiToken) -> str:
    """Give an unsaved token a fresh key; returns the key, which is never available again."""
    token.prefix = secrets.token_hex(PREFIX_BYTES)
    key = f"{KEY_MARKER}_{token.prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"
    token.key_hash = hash_key(key)
    return key


def create_token(*, user, name: str, scope: str = TokenScope.READ) -> tuple[ApiToken, str]:
    """Mint and save a token for ``user``; returns it with its key (shown once, never stored)."""
    token = ApiToken(user=user, name=name, scope=scope)
    key = assign_new_key(token)
    token.save()
    return token, key


def find_token(key: str) -> ApiToken | None:
    """The token (revoked or not) whose key this is, with its user, or None."""
    if not looks_like_key(key):
        return None
    return ApiToken.objects.select_related("user").filter(key_hash=hash_key(key)).first()


def record_use(token: ApiToken, *, now: datetime | None = None) -> None:
    """Stamp ``last_used_at``, at most once per LAST_USED_RESOLUTION.

    The in-memory check skips the write entirely for a recently used token; the
    conditional UPDATE keeps concurrent requests from writing it twice.
    """
    now = now or timezone.now()
    stale_before = now - LAST_USED_RESOLUTION
    if token.last_used_at is not None and token.last_used_at >= stale_before:
        return
    ApiToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale_before)
    ).update(last_used_at=now)
    token.last_used_at = now


def revoke_token(*, token: ApiToken, now: datetime | None = None) -> ApiToken:
    """Stop a token working from now on; revoking twice keeps the first time."""
    if token.revoked_at is None:
        token.revoked_at = now or timezone.now()
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=token.revoked_at
        )
    return token
