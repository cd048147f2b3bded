"""Forms of the vendor pages: creating a vendor, and filtering the vendor list."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import slugify

from postmortems.analytics import VendorSort
from postmortems.choices import VendorKind
from postmortems.models import Vendor

SLUG_MAX_LENGTH = Vendor._meta.get_field("slug").max_length


class VendorForm(forms.ModelForm):
    """A new vendor; a blank slug is derived from the name."""

    website = forms.URLField(required=False, max_length=200, assume_scheme="https")
    status_page_url = forms.URLField(
        required=False, max_length=200, assume_scheme="https", label="Status page URL"
    )

    class Meta:
        model = Vendor
        fields = ["name", "slug", "kind", "website", "status_page_url", "notes"]
        help_texts = {
            "slug": "Used in links. Leave blank to derive it from the name.",
            "notes": "Markdown.",
        }

    def __init__(self, *args, **kwargs) -> None:
        # The form also opens inside the incident editor: its own ids must not
        # clash with the editor's (both forms have a "slug" field).
        kwargs.setdefault("auto_id", "id_vendor_%s")
        super().__init__(*args, **kwargs)
        self.fields["slug"].required = False
        for bound in self:
            if bound.help_text:
                bound.field.widget.attrs["aria-describedby"] = f"{bound.id_for_label}-help"

    def clean_slug(self) -> str:
        slug = self.cleaned_data.get("slug") or derive_slug(self.cleaned_data.get("name", ""))
        if not slug:
            if "name" in self.cleaned_data:  # otherwise the name's own error says enough
                raise ValidationError(
                    "Enter a slug: the name has no letters or digits to make one from."
                )
            return slug
        taken_by = Vendor.objects.filter(slug=slug).exclude(pk=self.instance.pk).first()
        if taken_by is not None:
            raise ValidationError(slug_taken_message(slug, taken_by.name), code="unique")
        return slug


def derive_slug(name: str) -> str:
    return slugify(name)[:SLUG_MAX_LENGTH].strip("-")


def slug_taken_message(slug: str, taken_by: str) -> str:
    return f"The slug “{slug}” is already used by {taken_by}. Enter a different slug."


class VendorFilterForm(forms.Form):
    """The vendor list's ``?kind=`` and ``?sort=``."""

    kind = forms.ChoiceField(
        choices=[("", "All kinds"), *VendorKind.choices], required=False, label="Kind"
    )
    sort = forms.TypedChoiceField(
        choices=VendorSort.choices,
        coerce=VendorSort,
        empty_value=VendorSort.NAME,
        required=False,
        label="Sort by",
    )

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("auto_id", "id_filter_%s")
        super().__init__(*args, **kwargs)

    def selection(self) -> tuple[str, VendorSort]:
        """The kind and order to show; an unknown value falls back to all, by name."""
        self.is_valid()
        return self.cleaned_data.get("kind") or "", self.cleaned_data.get("sort") or VendorSort.NAME
