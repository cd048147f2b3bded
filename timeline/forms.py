"""Forms of the timeline editor: one event by hand, and pasted notes turned into events.

Plain forms, not model forms: a model form writes the posted values onto the
event while validating, and the services need the event's old kind and time
to move the incident's moments correctly.
"""

from __future__ import annotations

from datetime import date

from django import forms
from django.db import models
from django.utils import timezone

from postmortems import limits
from timeline.choices import BodyFormat, EventKind
from timeline.models import TimelineEvent
from timeline.paste import StampError, read_stamp

# Seconds are kept: imported status-page updates carry them, and dropping them
# on an unrelated edit would move a moment.
DATETIME_LOCAL_FORMAT = "%Y-%m-%dT%H:%M:%S"
MAX_PASTE_CHARACTERS = 50_000
MAX_PASTED_EVENTS = 500


def in_years(day: date) -> bool:
    return limits.EARLIEST.year <= day.year < limits.LATEST.year


class PasteAction(models.TextChoices):
    PREVIEW = "preview", "Preview"
    SAVE = "save", "Add the events"


def _zone_help(prefix: str) -> str:
    return f"{prefix} in your time zone, {timezone.get_current_timezone_name()}."


class TimelineEventForm(forms.Form):
    """Add or edit one event; the time is typed in the viewer's own zone."""

    occurred_at = forms.DateTimeField(
        label="Time",
        widget=forms.DateTimeInput(
            attrs={"type": "datetime-local", "step": "1"}, format=DATETIME_LOCAL_FORMAT
        ),
        validators=[limits.validate_time],
    )
    kind = forms.ChoiceField(choices=EventKind.choices, initial=EventKind.NOTE)
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        validators=[limits.validate_nesting],
    )

    def __init__(self, *args, body_format: str = BodyFormat.MARKDOWN, **kwargs):
        super().__init__(*args, **kwargs)
        # Built per request: the zone is the signed-in person's, active only now.
        self.fields["occurred_at"].help_text = _zone_help("Date and time")
        self.fields["description"].help_text = (
            "Markdown."
            if body_format == BodyFormat.MARKDOWN
            else f"Imported as {BodyFormat(body_format).label}; shown sanitised."
        )

    @classmethod
    def for_event(cls, event: TimelineEvent, data=None, **kwargs) -> TimelineEventForm:
        initial = {name: getattr(event, name) for name in ("occurred_at", "kind", "description")}
        return cls(data, initial=initial, body_format=event.body_format, **kwargs)


class PasteNotesForm(forms.Form):
    """The pasted notes, one event per line that starts with a time."""

    notes = forms.CharField(
        label="Notes",
        max_length=MAX_PASTE_CHARACTERS,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["notes"].help_text = (
            "One event per line, starting with its time: “2012-02-29 01:15 UTC — Hosts start "
            "migrating”, “00:51 UTC: storage stops responding”, “Feb 29, 2012 5:45 PM PST — "
            "Ops alerted”. Lines without a date take the incident's start date; lines without "
            f"a zone are read in your time zone, {timezone.get_current_timezone_name()}. "
            "Lines without a time continue the event above."
        )

    def clean_notes(self) -> str:
        # Checked before the notes are read: a date near the ends of the calendar (9999-12-31
        # and a time past midnight, year 1 east of UTC) cannot be turned into a time at all.
        notes = self.cleaned_data["notes"]
        for number, line in enumerate(notes.splitlines(), start=1):
            try:
                stamp = read_stamp(line.strip())
            except StampError:
                continue  # the preview shows the line's own error
            if stamp is not None and stamp.day is not None and not in_years(stamp.day):
                raise forms.ValidationError(
                    f"Line {number}: {stamp.day.isoformat()} is not {limits.TIME_RANGE}.",
                    code="time_out_of_range",
                )
        return notes


class PastedEventForm(forms.Form):
    """One previewed event, carried to the save as hidden fields; only its kind is edited."""

    occurred_at = forms.DateTimeField(  # ISO 8601 in UTC
        widget=forms.HiddenInput, validators=[limits.validate_time]
    )
    kind = forms.ChoiceField(choices=EventKind.choices)
    description = forms.CharField(
        widget=forms.HiddenInput, required=False, validators=[limits.validate_nesting]
    )


PastedEventFormSet = forms.formset_factory(
    PastedEventForm,
    extra=0,
    min_num=1,
    validate_min=True,
    max_num=MAX_PASTED_EVENTS,
    validate_max=True,
    absolute_max=MAX_PASTED_EVENTS,
)
PASTED_EVENTS_PREFIX = "pasted"
