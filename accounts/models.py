from zoneinfo import available_timezones

from django.conf import settings
from django.db import models

TIME_ZONE_CHOICES = [(tz, tz) for tz in sorted(available_timezones())]


class Profile(models.Model):
    """A person's preferences: the time zone every page shows times in."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    time_zone = models.CharField(max_length=64, choices=TIME_ZONE_CHOICES, default="UTC")

    def __str__(self) -> str:
        return f"{self.user} ({self.time_zone})"
