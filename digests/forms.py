"""The weekly digest form (settings page and admin) and the settings page's digest section."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django import forms
from django.utils import timezone

from accounts.services import profile_for
from digests.choices import Weekday
from digests.models import DigestSubscription
from digests.schedule import next_due_moment
from postmortems.choices import Severity
from postmortems.models import FailureCategory, Vendor

HOUR_CHOICES = [(hour, f"{hour:02d}:00") for hour in range(24)]
SEVERITY_CHOICES = [
    ("", "Any severity"),
    (Severity.CRITICAL, "Critical only"),
    (Severity.MAJOR, "Major or worse"),
    (Severity.MINOR, "Minor or worse"),
]
# The service takes these as keyword arguments; the form's cleaned_data is passed as is.
FIELDS = [
    "email",
    "weekday",
    "hour",
    "time_zone",
    "vendors",
    "categories",
    "min_severity",
    "quiet_week",
]


class UniqueAddressMixin:
    """Report an address that another subscription already uses on the address field.

    The database's unique index on lower(email) is the authority (see the services);
    this only turns the common case into a message beside the field.
    """

    def clean_email(self) -> str:
        email = self.cleaned_data["email"]
        others = DigestSubscription.objects.filter(email__iexact=email)
        if self.instance.pk:
            others = others.exclude(pk=self.instance.pk)
        if others.exists():
            raise forms.ValidationError(
                "This address already receives the digest.", code="address_taken"
            )
        return email


class DigestSubscriptionForm(UniqueAddressMixin, forms.ModelForm):
    hour = forms.TypedChoiceField(
        choices=HOUR_CHOICES,
        coerce=int,
        initial=9,
        label="At",
        help_text="In the time zone below.",
    )
    min_severity = forms.ChoiceField(
        choices=SEVERITY_CHOICES, required=False, label="Minimum severity"
    )
    vendors = forms.ModelMultipleChoiceField(
        Vendor.objects.order_by("name"),
        required=False,
        help_text="Only postmortems involving these vendors; none selected means all. Hold "
        "Ctrl (⌘ on a Mac) to choose several.",
    )
    categories = forms.ModelMultipleChoiceField(
        FailureCategory.objects.order_by("name"),
        required=False,
        label="Failure categories",
        help_text="Only postmortems with a factor in one of these; none selected means all.",
    )

    class Meta:
        model = DigestSubscription
        fields = FIELDS
        labels = {
            "email": "Send to",
            "weekday": "Every",
            "quiet_week": "In a week with nothing new",
        }
        widgets = {"quiet_week": forms.RadioSelect}

    def __init__(self, *args, **kwargs) -> None:
        # The settings page has other forms (one has a time zone too): own ids.
        kwargs.setdefault("auto_id", "id_digest_%s")
        super().__init__(*args, **kwargs)
        self.fields["vendors"].widget.attrs["size"] = 6
        self.fields["categories"].widget.attrs["size"] = 8


@dataclass
class DigestSettings:
    """What the settings page shows about a person's digest."""

    form: DigestSubscriptionForm
    subscription: DigestSubscription | None
    next_due: datetime | None


def digest_settings(user, form: DigestSubscriptionForm | None = None) -> DigestSettings:
    """The person's saved subscription, its next send time, and the form to change it."""
    subscription = (
        DigestSubscription.objects.prefetch_related("vendors", "categories")
        .filter(user=user)
        .first()
    )
    if form is None:
        form = DigestSubscriptionForm(
            instance=subscription,
            initial=None if subscription else new_subscription_initial(user),
        )
    next_due = None
    if subscription is not None and subscription.is_active:
        next_due = next_due_moment(
            timezone.now(),
            weekday=subscription.weekday,
            hour=subscription.hour,
            time_zone=subscription.time_zone,
        )
    return DigestSettings(form=form, subscription=subscription, next_due=next_due)


def new_subscription_initial(user) -> dict:
    return {
        "email": user.email,
        "weekday": Weekday.MONDAY,
        "hour": 9,
        "time_zone": profile_for(user).time_zone,
    }
