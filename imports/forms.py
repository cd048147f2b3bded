from datetime import timedelta

from django import forms

from imports.fetching import validate_fetch_url
from imports.models import StatusSource


class StatusSourceForm(forms.ModelForm):
    interval_minutes = forms.IntegerField(
        label="Poll every (minutes)", min_value=1, max_value=1440, initial=15
    )

    class Meta:
        model = StatusSource
        fields = ["url", "format"]
        labels = {"url": "Status page URL"}
        help_texts = {"url": "e.g. https://www.githubstatus.com/api/v2/incidents.json"}

    def clean_url(self) -> str:
        # Scheme and literal addresses only: a host name is checked when it is polled.
        validate_fetch_url(self.cleaned_data["url"])
        return self.cleaned_data["url"]

    def save(self, commit: bool = True) -> StatusSource:
        self.instance.poll_interval = timedelta(minutes=self.cleaned_data["interval_minutes"])
        return super().save(commit=commit)
