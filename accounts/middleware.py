import zoneinfo

from django.utils import timezone

from accounts.services import SESSION_TIME_ZONE


class TimezoneMiddleware:
    """Show times in the signed-in person's zone (stored in the session at sign-in)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        name = request.session.get(SESSION_TIME_ZONE) if hasattr(request, "session") else None
        try:
            timezone.activate(zoneinfo.ZoneInfo(name)) if name else timezone.deactivate()
        except zoneinfo.ZoneInfoNotFoundError:
            timezone.deactivate()
        return self.get_response(request)
