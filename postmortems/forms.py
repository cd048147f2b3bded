"""Forms of the incident editor."""

from __future__ import annotations

from django import forms

from postmortems.models import MOMENTS, ChangeType, Incident, Service, Vendor

DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
MARKDOWN_FIELDS = ("summary", "impact", "analysis", "lessons")


class ServiceChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Service) -> str:
        return f"{obj.vendor.name} · {obj.name}"


class IncidentForm(forms.ModelForm):
    """Everything about a postmortem except its timeline, factors, action items and sources,
    which are edited in place beside it."""

    vendors = forms.ModelMultipleChoiceField(
        queryset=Vendor.objects.all(),
        required=False,
        help_text="Hold Ctrl (⌘ on a Mac) to choose several.",
    )
    primary_vendor = forms.ModelChoiceField(
        queryset=Vendor.objects.all(),
        required=False,
        help_text="The vendor whose outage this is; added to the vendors if missing.",
    )
    services = ServiceChoiceField(queryset=Service.objects.select_related("vendor"), required=False)
    change_types = forms.ModelMultipleChoiceField(
        queryset=ChangeType.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    regions = forms.CharField(
        required=False, help_text="Comma-separated, e.g. West Europe, East US 2."
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    class Meta:
        model = Incident
        fields = [
            "title", "severity", "vendors", "primary_vendor", "services", "regions",
            "regions_affected", "regions_total", "change_types", "detection_method",
            "data_loss", "near_miss", *MARKDOWN_FIELDS,
        ]  # fmt: skip
        labels = {"regions_affected": "Regions affected", "regions_total": "Regions in total"}
        help_texts = {
            "summary": "Two or three sentences: what broke, for whom, for how long. Markdown.",
            "impact": "Who and what was affected, how badly, data loss. Markdown.",
            "analysis": "The mechanism, and why safeguards missed it. Markdown.",
            "lessons": "What to keep doing, stop doing, start doing. Markdown.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            links = list(self.instance.incident_vendors.all())
            self.initial.setdefault("vendors", [link.vendor_id for link in links])
            primary = next((link.vendor_id for link in links if link.is_primary), None)
            self.initial.setdefault("primary_vendor", primary)
            self.initial.setdefault("version", self.instance.version)
        self.initial["regions"] = ", ".join(self.instance.regions or [])
        for name in MARKDOWN_FIELDS:
            self.fields[name].widget.attrs.update({"rows": 8, "data-markdown": name})

    def clean_regions(self) -> list[str]:
        return [r.strip() for r in self.cleaned_data["regions"].split(",") if r.strip()]

    def changed_model_fields(self) -> dict:
        """Values for the incident's own columns (not its many-to-many sets)."""
        skip = {"vendors", "primary_vendor", "services", "change_types", "version"}
        return {k: v for k, v in self.cleaned_data.items() if k not in skip}


class NewIncidentForm(IncidentForm):
    """Creating a postmortem also asks for its moments; each becomes a timeline event."""

    started_at = forms.DateTimeField(required=False, widget=DATETIME_WIDGET)
    detected_at = forms.DateTimeField(required=False, widget=DATETIME_WIDGET)
    mitigated_at = forms.DateTimeField(required=False, widget=DATETIME_WIDGET)
    resolved_at = forms.DateTimeField(required=False, widget=DATETIME_WIDGET)

    class Meta(IncidentForm.Meta):
        fields = [*IncidentForm.Meta.fields, *MOMENTS]
