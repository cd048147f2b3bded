from accounts.models import Profile

SESSION_TIME_ZONE = "time_zone"


def profile_for(user) -> Profile:
    profile, _ = Profile.objects.get_or_create(user=user)
    return profile


def remember_time_zone(request, time_zone: str) -> None:
    # Kept in the session so that showing a page costs no query for it.
    request.session[SESSION_TIME_ZONE] = time_zone
