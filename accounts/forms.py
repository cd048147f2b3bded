from django import forms

from accounts.models import ApiToken, Profile


class ProfileForm(forms.ModelForm):
    class Meta:
        model = Profile
        fields = ["time_zone"]
        help_texts = {"time_zone": "Times on every page are shown in this zone, with UTC beside."}


class ApiTokenForm(forms.ModelForm):
    """A new API token: what it is for and what it may do."""

    class Meta:
        model = ApiToken
        fields = ["name", "scope"]
        widgets = {"scope": forms.RadioSelect}
        help_texts = {
            "scope": "Read-only tokens can fetch data but never change it. Either kind can do "
            "no more than you can."
        }

    def __init__(self, *args, **kwargs) -> None:
        # The settings page has two forms; distinct ids keep their labels apart.
        kwargs.setdefault("auto_id", "id_token_%s")
        super().__init__(*args, **kwargs)
