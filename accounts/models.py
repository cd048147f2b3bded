from zoneinfo import available_timezones

from django.conf import settings
from django.db import models
from django.db.models import Q

TIME_ZONE_CHOICES = [(tz, tz) for tz in sorted(available_timezones())]


class Profile(models.Model):
    """A person's preferences: the time zone every page shows times in."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    time_zone = models.CharField(max_length=64, choices=TIME_ZONE_CHOICES, default="UTC")

    def __str__(self) -> str:
        return f"{self.user} ({self.time_zone})"


class TokenScope(models.TextChoices):
    """What an API token may do; its user's own permissions still apply on top."""

    READ = "read", "Read only"
    READ_WRITE = "read_write", "Read and write"


class ApiTokenQuerySet(models.QuerySet):
    def active(self) -> "ApiTokenQuerySet":
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    """A key a script uses to call the API as its user, limited to a scope.

    Only the SHA-256 of the key is stored (``key_hash``); the key itself is
    shown once, when it is created. ``prefix`` is a random, non-secret part of
    the key that lets a person tell their tokens apart in lists. Revoking keeps
    the row (with ``revoked_at``) so the admin can see what existed and when.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. “CI import”.")
    prefix = models.CharField(max_length=8, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scope = models.CharField(max_length=12, choices=TokenScope.choices, default=TokenScope.READ)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = "API token"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(scope__in=TokenScope.values), name="api_token_scope_valid"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} (hs_{self.prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def can_write(self) -> bool:
        return self.scope == TokenScope.READ_WRITE
