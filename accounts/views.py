from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from accounts.forms import ProfileForm
from accounts.services import profile_for, remember_time_zone


@login_required
def settings_view(request):
    form = ProfileForm(request.POST or None, instance=profile_for(request.user))
    if request.method == "POST" and form.is_valid():
        profile = form.save()
        remember_time_zone(request, profile.time_zone)
        messages.success(request, f"Times are now shown in {profile.time_zone}.")
        return redirect("accounts:settings")
    return render(request, "accounts/settings.html", {"form": form})
