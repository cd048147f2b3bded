from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from accounts.services import profile_for, remember_time_zone


@receiver(user_logged_in)
def load_time_zone(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        remember_time_zone(request, profile_for(user).time_zone)
