from django import forms

from accounts.models import Profile


class ProfileForm(forms.ModelForm):
    class Meta:
        model = Profile
        fields = ["time_zone"]
        help_texts = {"time_zone": "Times on every page are shown in this zone, with UTC beside."}
