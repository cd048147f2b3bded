"""Forms of the in-place editors for an incident's factors, action items and sources.

They validate only; the writes go through ``postmortems.services_parts``. Choice
lists that would cost a query per form (categories, people) are fetched once by
the editor's context and handed to every form on the page (``use_categories``,
``use_owners``), so a page with several open forms still runs a fixed number of
queries.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Model, Q, QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import strip_tags
from django.utils.text import Truncator

from postmortems.models import ActionItem, Factor, FailureCategory, Incident, Source

OTHER_CATEGORIES = "Other categories"
EVENT_LABEL_WORDS = 8


def prompt_first(choice_field: forms.ChoiceField, prompt: str) -> None:
    """Replace a select's "---------" with a prompt that says what to choose."""
    choice_field.choices = [("", prompt), *[c for c in choice_field.choices if c[0] != ""]]


@dataclass
class CategoryGroup:
    """A parent category with its children (an optgroup), or the categories without family."""

    label: str
    categories: list[FailureCategory] = field(default_factory=list)
    parent: FailureCategory | None = None

    def option_label(self, category: FailureCategory) -> str:
        return f"{category.name} (general)" if category == self.parent else category.name


def category_groups(categories: list[FailureCategory]) -> list[CategoryGroup]:
    """Group categories by their top-level parent; childless top-level ones go last."""
    children: dict[int | None, list[FailureCategory]] = defaultdict(list)
    for category in sorted(categories, key=lambda c: c.name.casefold()):
        children[category.parent_id].append(category)
    groups, others = [], CategoryGroup(OTHER_CATEGORIES)
    for root in children[None]:
        if children[root.pk]:
            groups.append(
                CategoryGroup(root.name, [root, *_descendants(root, children)], parent=root)
            )
        else:
            others.categories.append(root)
    return [*groups, others] if others.categories else groups


def _descendants(root: FailureCategory, children: dict) -> list[FailureCategory]:
    # Depth-first, so that a grandchild follows its own parent in the list.
    found = []
    for child in children[root.pk]:
        found += [child, *_descendants(child, children)]
    return found


class CategorySelect(forms.Select):
    """A select whose options carry each category's definition, for the picker's hint."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.categories: dict[str, FailureCategory] = {}

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        category = self.categories.get(str(value))
        if category is not None:
            option["attrs"]["data-definition"] = category.definition
            option["attrs"]["data-typical-role"] = category.get_typical_role_display()
        return option


def event_label(event: Model) -> str:
    """A timeline event as the evidence picker lists it: its time in the viewer's zone, its
    kind and the first words of its text (imported text may be HTML: shown as words)."""
    at = date_format(timezone.localtime(event.occurred_at), "j M Y H:i")
    words = Truncator(" ".join(strip_tags(event.description).split())).words(EVENT_LABEL_WORDS)
    label = f"{at} · {event.get_kind_display()}"
    return f"{label} — {words}" if words else label


class EvidenceField(forms.ModelMultipleChoiceField):
    """The incident's timeline events that evidence a factor; only they may be chosen."""

    def label_from_instance(self, obj: Model) -> str:
        return event_label(obj)


class FactorForm(forms.ModelForm):
    category = forms.ModelChoiceField(
        queryset=FailureCategory.objects.all(),
        widget=CategorySelect,
        error_messages={
            "required": "Choose a category from the taxonomy.",
            "invalid_choice": "That category is not in the taxonomy; choose one from the list.",
        },
    )
    # The queryset is this incident's timeline (set in __init__): an event of another
    # incident, in a crafted post, is then not a valid choice.
    evidence = EvidenceField(
        label="Evidence",
        queryset=Factor.evidence.rel.related_model.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The timeline events that show this factor at work.",
        error_messages={
            "invalid_choice": "Event %(value)s is not on this postmortem's timeline; "
            "choose from its events.",
            "invalid_pk_value": "“%(pk)s” is not a timeline event; choose from the list.",
        },
    )

    class Meta:
        model = Factor
        fields = ["role", "category", "description", "position"]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 4}),
            "position": forms.NumberInput(attrs={"min": 0}),
        }
        help_texts = {
            "description": "Markdown. What happened, and how it led to the outage.",
            "position": "Factors are listed in this order, lowest first.",
        }
        error_messages = {
            "role": {"required": "Say whether this is a root cause, contributing or mitigating."}
        }

    def __init__(self, *args, incident: Incident | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        prompt_first(self.fields["role"], "Choose a role…")
        incident = incident or (self.instance.incident if self.instance.pk else None)
        if incident is not None:
            self.fields["evidence"].queryset = incident.events.all()
        if self.instance.pk and "evidence" not in self.initial:
            # Shown again when editing: the events that evidence it now.
            self.initial["evidence"] = [event.pk for event in self.instance.evidence.all()]
        # parts.js finds the hint through data-definition-target; screen readers
        # read the same hint as the select's description.
        self.fields["category"].widget.attrs.update(
            {
                "data-category-picker": True,
                "data-definition-target": self.hint_id(),
                "aria-describedby": self.hint_id(),
            }
        )

    def use_categories(self, groups: list[CategoryGroup]) -> None:
        """Offer these categories, in optgroups, each option carrying its definition."""
        category_field = self.fields["category"]
        category_field.choices = [("", "Choose a category…")] + [
            (group.label, [(c.pk, group.option_label(c)) for c in group.categories])
            for group in groups
        ]
        category_field.widget.categories = {
            str(c.pk): c for group in groups for c in group.categories
        }

    def use_events(self, events: list) -> None:
        """Offer these events (the incident's timeline, read once) without a query per form;
        what is posted is still checked against the incident's timeline."""
        self.fields["evidence"].choices = [(event.pk, event_label(event)) for event in events]

    def selected_category(self) -> FailureCategory | None:
        """The category the form currently shows, for the definition beside the picker."""
        return self.fields["category"].widget.categories.get(str(self["category"].value()))

    def hint_id(self) -> str:
        """The id of the element beside the picker that shows the chosen definition."""
        return f"{self['category'].auto_id}-definition"


class OwnerChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: AbstractBaseUser) -> str:
        return obj.get_username()


def owner_candidates(incident: Incident | None = None) -> QuerySet:
    """People who can own an action item: active accounts, plus anyone already owning one here."""
    user_model = get_user_model()
    candidates = Q(is_active=True)
    if incident is not None:
        # So that editing an item owned by someone who has left keeps its owner.
        candidates |= Q(action_items__incident=incident)
    return user_model.objects.filter(candidates).distinct().order_by(user_model.USERNAME_FIELD)


class ActionItemForm(forms.ModelForm):
    owner = OwnerChoiceField(queryset=get_user_model().objects.none(), required=False)
    due_date = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    ticket_url = forms.URLField(
        label="Ticket URL", required=False, max_length=1000, assume_scheme="https"
    )

    class Meta:
        model = ActionItem
        fields = ["title", "type", "owner", "due_date", "status", "ticket_url"]
        error_messages = {"title": {"required": "Say what should be done."}}

    def __init__(self, *args, incident=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        prompt_first(self.fields["type"], "Choose a type…")
        self.fields["owner"].queryset = owner_candidates(incident)

    def use_owners(self, owners: list[AbstractBaseUser]) -> None:
        """Offer these people as owners, by user name, without a query per form."""
        self.fields["owner"].choices = [("", "Nobody yet")] + [
            (user.pk, user.get_username()) for user in owners
        ]


class SourceForm(forms.ModelForm):
    url = forms.URLField(label="URL", max_length=1000, assume_scheme="https")

    class Meta:
        model = Source
        fields = ["url", "title", "kind"]
        help_texts = {"title": "Optional; the URL is shown when there is no title."}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        prompt_first(self.fields["kind"], "Choose a kind…")
