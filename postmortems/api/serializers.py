"""The postmortem API's representations. Writes go through ``postmortems.services``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import build_array_type, build_basic_type
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from postmortems.api.representation import incident_representation
from postmortems.api.same_outage import SAME_OUTAGE_AS_HELP, PublishedRecordField
from postmortems.choices import ActionItemStatus, ReviewStatus
from postmortems.forms_parts import owner_candidates
from postmortems.forms_vendors import derive_slug, slug_taken_message
from postmortems.limits import validate_nesting
from postmortems.models import (
    MOMENTS,
    ActionItem,
    ChangeType,
    Factor,
    FailureCategory,
    Incident,
    IncidentVendor,
    Service,
    Source,
    Vendor,
)
from postmortems.services import (
    IncidentChanges,
    create_incident,
    save_taxonomy_entry,
    update_incident,
)
from timeline.api.serializers import TimelineEventSerializer
from timeline.choices import MOMENT_OF_KIND
from timeline.services import record_moment_events

READ_ONLY_PART = (
    "Read-only here: writes to the incident never change it (it has its own write paths)."
)
REPLACES_THE_SET = (
    "A write replaces the whole list: an item with an `id` edits that one in place, an item "
    "without adds one, and those left out are removed. Leave the key out to keep them as they are."
)
STATUS_MESSAGE = (
    "The status changes only through the review actions: POST /api/incidents/{slug}/submit/, "
    "…/publish/ or …/return/."
)
MOMENT_MESSAGE = "After creation the moments follow the timeline: move its `{kind}` event instead."
# The timeline event kind that sets each moment (started_at: impact_start, …).
MOMENT_EVENT_KIND = {moment: kind for kind, (moment, _) in MOMENT_OF_KIND.items()}
VENDOR_SLUG_MESSAGE = (
    'Send the vendor\'s slug, e.g. "acme" (responses show objects, requests take slugs).'
)
UNSET = object()


@extend_schema_field({"type": "string", "anyOf": [{"format": "uri"}, {"maxLength": 0}]})
class OptionalUrlField(serializers.CharField):
    """A URL, or blank. Documented as such: a plain URLField's schema says every value
    is a URI, which the blank ones stored for "no URL" are not."""

    default_error_messages = {"invalid_url": "Enter a valid URL."}

    def to_internal_value(self, data: Any) -> str:
        # Checked here, not with a field validator: the schema generator reads those
        # and would document every value as a URI again.
        value = super().to_internal_value(data)
        if value:
            try:
                URLValidator()(value)
            except DjangoValidationError:
                self.fail("invalid_url")
        return value


class SlugLookupField(serializers.SlugRelatedField):
    """A row named by its slug (or user name). PostgreSQL refuses to even compare a text
    with a NUL character, so such a value is refused here as invalid, not as a server error."""

    def to_internal_value(self, data: Any):
        if isinstance(data, str) and "\x00" in data:
            self.fail("invalid")
        return super().to_internal_value(data)


# --- Reference data ---------------------------------------------------------------


class TaxonomyEntrySerializer(serializers.ModelSerializer):
    """A term of the taxonomy. Its slug is a contract (imports, filters and factors name
    terms by it), so it is chosen on creation and never changes."""

    class Meta:
        fields = ["slug", "name", "definition"]
        extra_kwargs = {
            # Checked in validate_slug, to name the term that has it.
            "slug": {"validators": [], "help_text": "Chosen on creation; fixed after."},
        }

    def validate_slug(self, slug: str) -> str:
        model = self.Meta.model
        if self.instance is not None:
            if slug != self.instance.slug:
                raise serializers.ValidationError(
                    "A slug cannot change: imports, filters and factors refer to it."
                )
            return slug
        taken_by = model.objects.filter(slug=slug).first()
        if taken_by is not None:
            raise serializers.ValidationError(
                f"The slug “{slug}” is already used by “{taken_by.name}”. Choose another."
            )
        return slug

    def create(self, validated_data: dict) -> ChangeType | FailureCategory:
        return save_taxonomy_entry(entry=self.Meta.model(**validated_data))

    def update(self, instance, validated_data: dict) -> ChangeType | FailureCategory:
        for name, value in validated_data.items():
            setattr(instance, name, value)
        return save_taxonomy_entry(entry=instance)


class ChangeTypeSerializer(TaxonomyEntrySerializer):
    class Meta(TaxonomyEntrySerializer.Meta):
        model = ChangeType


class FailureCategorySerializer(TaxonomyEntrySerializer):
    parent = SlugLookupField(
        slug_field="slug",
        queryset=FailureCategory.objects.all(),
        required=False,
        allow_null=True,
        error_messages={"does_not_exist": "Unknown category “{value}”."},
        help_text="Slug of the broader category this one refines; null for a top-level one.",
    )

    class Meta(TaxonomyEntrySerializer.Meta):
        model = FailureCategory
        fields = [*TaxonomyEntrySerializer.Meta.fields, "parent", "typical_role"]


class ServiceSerializer(serializers.ModelSerializer):
    vendor = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Service
        fields = ["id", "vendor", "name", "external_id"]
        read_only_fields = fields


class VendorSerializer(serializers.ModelSerializer):
    """A vendor; a blank slug on creation is derived from the name, as in the HTML form."""

    slug = serializers.SlugField(
        max_length=Vendor._meta.get_field("slug").max_length,
        required=False,
        allow_blank=True,
        help_text="Used in links and filters. Derived from the name when blank; fixed after.",
    )
    website = OptionalUrlField(required=False, allow_blank=True, max_length=200)
    status_page_url = OptionalUrlField(required=False, allow_blank=True, max_length=200)
    services = ServiceSerializer(many=True, read_only=True, help_text=READ_ONLY_PART)

    class Meta:
        model = Vendor
        fields = [
            "slug", "name", "kind", "website", "status_page_url", "notes", "services",
            "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["created_at", "updated_at"]
        extra_kwargs = {"notes": {"validators": [validate_nesting]}}  # Markdown, shown

    def validate(self, attrs: dict) -> dict:
        if self.instance is not None:
            if attrs.get("slug", self.instance.slug) not in ("", self.instance.slug):
                raise serializers.ValidationError(
                    {"slug": ["A vendor's slug cannot change: links and imports refer to it."]}
                )
            attrs.pop("slug", None)
            return attrs
        slug = attrs.get("slug") or derive_slug(attrs.get("name", ""))
        if not slug:
            raise serializers.ValidationError(
                {"slug": ["Enter a slug: the name has no letters or digits to make one from."]}
            )
        taken_by = Vendor.objects.filter(slug=slug).first()
        if taken_by is not None:
            raise serializers.ValidationError({"slug": [slug_taken_message(slug, taken_by.name)]})
        return {**attrs, "slug": slug}

    def create(self, validated_data: dict) -> Vendor:
        try:
            with transaction.atomic():
                return super().create(validated_data)
        except IntegrityError as exc:
            # Someone took the slug between validation and the insert.
            message = slug_taken_message(validated_data["slug"], "another vendor")
            raise serializers.ValidationError({"slug": [message]}) from exc


# --- Parts of an incident ------------------------------------------------------------
# Factors and action items read as objects and are written as a whole list (see
# IncidentPartsField); the other parts are read-only here.


class IncidentVendorSerializer(serializers.ModelSerializer):
    slug = serializers.CharField(source="vendor.slug", read_only=True)
    name = serializers.CharField(source="vendor.name", read_only=True)
    primary = serializers.BooleanField(source="is_primary", read_only=True)

    class Meta:
        model = IncidentVendor
        fields = ["slug", "name", "primary"]


EVIDENCE_HELP = (
    "Ids of this postmortem's timeline events that evidence the factor, in timeline order "
    "(see /api/incidents/{slug}/timeline/)."
)
MAX_EVIDENCE = 1000


class FactorSerializer(serializers.ModelSerializer):
    category = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    evidence = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True, help_text=EVIDENCE_HELP
    )

    class Meta:
        model = Factor
        fields = ["id", "role", "category", "description", "position", "evidence"]
        read_only_fields = fields


class ActionItemSerializer(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    ticket_url = OptionalUrlField(read_only=True)

    class Meta:
        model = ActionItem
        fields = [
            "id", "title", "type", "owner", "due_date", "status", "ticket_url", "completed_at",
        ]  # fmt: skip
        read_only_fields = fields


def part_id_field(noun: str) -> serializers.IntegerField:
    return serializers.IntegerField(
        min_value=1,
        required=False,
        help_text=f"The id of one of this postmortem's {noun}s, to edit it in place (its "
        f"history is kept); leave it out to add a new {noun}.",
    )


@extend_schema_serializer(component_name="Factor")  # documented as FactorRequest
class FactorWriteSerializer(serializers.ModelSerializer):
    """A factor as a request gives it."""

    id = part_id_field("factor")
    category = SlugLookupField(
        slug_field="slug",
        queryset=FailureCategory.objects.all(),
        error_messages={"does_not_exist": "Unknown category “{value}”."},
        help_text="A failure-category slug (see /api/categories/).",
    )
    # Checked against the incident's timeline by the service (postmortems.services_parts),
    # under the same lock as the write, so the error names the item: factors.N.evidence.
    evidence = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        max_length=MAX_EVIDENCE,
        help_text=EVIDENCE_HELP + " Replaces the set; leave it out to keep it as it is.",
    )

    class Meta:
        model = Factor
        fields = ["id", "role", "category", "description", "position", "evidence"]
        extra_kwargs = {
            "position": {"help_text": "Order among the factors; defaults to the place in the list."}
        }


class OwnerField(SlugLookupField):
    """An action item's owner by user name: an active account, or anyone who already owns
    one of this incident's items (so that echoing a list back keeps a departed owner)."""

    def get_queryset(self):
        return owner_candidates(self.context.get("incident"))


@extend_schema_serializer(component_name="ActionItem")  # documented as ActionItemRequest
class ActionItemWriteSerializer(serializers.ModelSerializer):
    """An action item as a request gives it."""

    id = part_id_field("action item")
    owner = OwnerField(
        slug_field="username",
        queryset=get_user_model().objects.all(),  # for the schema; see get_queryset
        required=False,
        allow_null=True,
        error_messages={"does_not_exist": "No active user is called “{value}”."},
        help_text="The owner's user name; null or left out for nobody yet.",
    )
    ticket_url = OptionalUrlField(required=False, allow_blank=True, max_length=1000)

    class Meta:
        model = ActionItem
        fields = [
            "id", "title", "type", "status", "owner", "due_date", "completed_at", "ticket_url",
        ]  # fmt: skip
        extra_kwargs = {
            "completed_at": {
                "help_text": "For done and won't-do items. A done item without it keeps its "
                "earlier completion time, or gets the time of this write."
            },
        }

    def validate(self, attrs: dict) -> dict:
        # ActionItem.save() clears the time of an unfinished item: refuse it rather
        # than drop it silently.
        unfinished = (ActionItemStatus.OPEN, ActionItemStatus.IN_PROGRESS)
        if attrs.get("completed_at") and attrs.get("status", ActionItemStatus.OPEN) in unfinished:
            raise serializers.ValidationError(
                {"completed_at": ["Only a done or won't-do item has a completion time."]}
            )
        return attrs


class SourceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Source
        fields = ["id", "url", "title", "kind"]
        read_only_fields = fields


# --- Incident -------------------------------------------------------------------------


class IncidentVendorsField(serializers.Field):
    """Reads as ``[{slug, name, primary}]``; writes as a list of vendor slugs."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("source", "incident_vendors")
        super().__init__(**kwargs)
        self.slugs = serializers.ListField(
            child=SlugLookupField(slug_field="slug", queryset=Vendor.objects.all())
        )

    def to_representation(self, links) -> list:
        return IncidentVendorSerializer(links.all(), many=True).data

    def to_internal_value(self, data: Any) -> list[Vendor]:
        if isinstance(data, list):
            # A client echoing the read shape back gets told what to send instead.
            errors = {
                i: [VENDOR_SLUG_MESSAGE] for i, item in enumerate(data) if not isinstance(item, str)
            }
            if errors:
                raise serializers.ValidationError(errors)
        return self.slugs.run_validation(data)


class IncidentVendorsFieldExtension(OpenApiSerializerFieldExtension):
    """Documents the two shapes of ``vendors``: slugs in requests, objects in responses."""

    target_class = IncidentVendorsField

    def map_serializer_field(self, auto_schema, direction: str) -> dict:
        if direction == "request":
            slug = {**build_basic_type(OpenApiTypes.STR), "description": "A vendor slug."}
            return build_array_type(slug)
        return build_array_type(
            auto_schema.resolve_serializer(IncidentVendorSerializer, direction).ref
        )


class IncidentPartsField(serializers.Field):
    """An incident's factors or action items: objects in responses, and in requests a
    whole list that replaces the set (each item validated, so errors name its place)."""

    def __init__(
        self,
        *,
        read: type[serializers.Serializer],
        write: type[serializers.Serializer],
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.read, self.write = read, write

    def to_representation(self, parts) -> list:
        return self.read(parts.all(), many=True, context=self.context).data

    def to_internal_value(self, data: Any) -> list[dict]:
        # Validated by a list serializer of its own rather than a nested one: a nested
        # serializer takes on the incident's PATCH partiality and would then let items
        # through without their required fields.
        context = {**self.context, "incident": self.parent.instance}
        return self.write(many=True, context=context).run_validation(data)


class IncidentPartsFieldExtension(OpenApiSerializerFieldExtension):
    """Documents the write shape of factors and action items in requests, the read one in
    responses."""

    target_class = IncidentPartsField

    def map_serializer_field(self, auto_schema, direction: str) -> dict:
        serializer = self.target.write if direction == "request" else self.target.read
        return build_array_type(auto_schema.resolve_serializer(serializer, direction).ref)


@extend_schema_field({"type": "integer", "nullable": True, "readOnly": True})
class SecondsField(serializers.Field):
    """A duration in whole seconds (null when a moment is unknown)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value: timedelta) -> int:
        return int(value.total_seconds())


class IncidentSerializer(serializers.ModelSerializer):
    """A postmortem with its parts. Writes take its own fields, vendors, change types,
    factors and action items."""

    vendors = IncidentVendorsField(
        required=False,
        help_text="Responses: the vendors involved, primary first. Requests: vendor slugs "
        "(replaces the set; the current primary stays if it is still among them).",
    )
    primary_vendor = SlugLookupField(
        slug_field="slug",
        queryset=Vendor.objects.all(),
        required=False,
        allow_null=True,
        help_text="Slug of the vendor whose outage this is; added to `vendors` if missing.",
    )
    services = ServiceSerializer(many=True, read_only=True, help_text=READ_ONLY_PART)
    change_types = SlugLookupField(
        slug_field="slug",
        queryset=ChangeType.objects.all(),
        many=True,
        required=False,
        help_text="Change-type slugs (see /api/change-types/); a write replaces the set.",
    )
    authors = serializers.SlugRelatedField(slug_field="username", many=True, read_only=True)
    reviewers = serializers.SlugRelatedField(slug_field="username", many=True, read_only=True)
    blast_radius = serializers.CharField(read_only=True, help_text="E.g. “12 of 17 regions”.")
    timeline = TimelineEventSerializer(
        source="events", many=True, read_only=True, help_text=READ_ONLY_PART
    )
    factors = IncidentPartsField(
        read=FactorSerializer,
        write=FactorWriteSerializer,
        help_text="Root causes, contributing and mitigating factors. " + REPLACES_THE_SET,
    )
    action_items = IncidentPartsField(
        read=ActionItemSerializer,
        write=ActionItemWriteSerializer,
        help_text="Follow-ups. " + REPLACES_THE_SET,
    )
    sources = SourceSerializer(many=True, read_only=True, help_text=READ_ONLY_PART)
    same_outage_as = PublishedRecordField(help_text=SAME_OUTAGE_AS_HELP)
    time_to_detect = SecondsField(help_text="Seconds from start to detection; null if unknown.")
    time_to_mitigate = SecondsField(help_text="Seconds from start to mitigation; null if unknown.")
    time_to_resolve = SecondsField(help_text="Seconds from start to resolution; null if unknown.")
    version = serializers.IntegerField(
        min_value=1,
        required=False,
        help_text="Grows with every edit; also the ETag. On a write, the version the change is "
        "based on (or send it as If-Match).",
    )

    class Meta:
        model = Incident
        fields = [
            "slug", "title", "status", "severity", "vendors", "primary_vendor", "services",
            "regions", "regions_affected", "regions_total", "blast_radius",
            *MOMENTS, "time_to_detect", "time_to_mitigate", "time_to_resolve",
            "summary", "impact", "analysis", "lessons",
            "change_types", "detection_method", "data_loss", "near_miss",
            "origin", "import_source", "external_id", "needs_review", "is_maintenance",
            "duration_unknown", "auto_classified", "same_outage_as", "authors", "reviewers",
            "timeline", "factors", "action_items", "sources",
            "version", "created_at", "updated_at", "published_at",
        ]  # fmt: skip
        read_only_fields = [
            "slug", "status", "blast_radius", "origin", "import_source", "external_id",
            "needs_review", "is_maintenance", "duration_unknown", "auto_classified",
            "created_at", "updated_at", "published_at",
        ]  # fmt: skip
        extra_kwargs = {
            "status": {"help_text": "Changed only by the submit, publish and return actions."},
            "origin": {"help_text": "`imported` for incidents the import endpoints created."},
            "duration_unknown": {
                "help_text": "Closed, but the source gave no usable end: not a zero-length outage."
            },
            "auto_classified": {
                "help_text": "Its change types and factors were accepted without a person, by "
                "an auto-accept policy; a person's correction clears it."
            },
            **{
                m: {"help_text": "Settable on creation; then it follows the timeline."}
                for m in MOMENTS
            },
        }
        # Import keys are set by the import endpoints, never here, so the unique
        # (import_source, external_id) check has nothing to validate.
        validators: list = []

    def to_representation(self, instance: Incident) -> dict:
        # The same JSON as the fields above would give, built directly (see the module).
        return incident_representation(instance)

    def validate(self, attrs: dict) -> dict:
        errors = {**self.status_errors(), **self.moment_errors(attrs)}
        if errors:
            raise serializers.ValidationError(errors)
        if self.instance is not None:
            for moment in MOMENTS:
                attrs.pop(moment, None)  # unchanged (moment_errors checked): nothing to write
        return attrs

    def status_errors(self) -> dict:
        # Status is read-only, so DRF would silently drop it: say why it was refused.
        data = self.initial_data
        if not isinstance(data, Mapping) or "status" not in data:
            return {}
        current = self.instance.status if self.instance is not None else ReviewStatus.DRAFT
        return {} if data["status"] == current else {"status": [STATUS_MESSAGE]}

    def moment_errors(self, attrs: dict) -> dict:
        if self.instance is None:
            return {}
        return {
            moment: [MOMENT_MESSAGE.format(kind=MOMENT_EVENT_KIND[moment].value)]
            for moment in MOMENTS
            if moment in attrs and attrs[moment] != getattr(self.instance, moment)
        }

    @transaction.atomic
    def create(self, validated_data: dict) -> Incident:
        data = dict(validated_data)
        author = data.pop("author")
        data.pop("version", None)
        incident = create_incident(
            author=author,
            vendors=data.pop("incident_vendors", ()),
            primary_vendor=data.pop("primary_vendor", None),
            change_types=data.pop("change_types", ()),
            factors=data.pop("factors", ()),
            action_items=data.pop("action_items", ()),
            **data,
        )
        # As in the editor: each moment given becomes a timeline event, so the
        # timeline tells the whole story and moving the event moves the moment.
        record_moment_events(incident=incident, author=author)
        return incident

    def update(self, instance: Incident, validated_data: dict) -> Incident:
        data = dict(validated_data)
        user = data.pop("user")
        expected_version = data.pop("expected_version")
        data.pop("version", None)
        return update_incident(
            incident_id=instance.id,
            expected_version=expected_version,
            changes=incident_changes(instance, data),
            user=user,
        )


def incident_changes(incident: Incident, data: dict) -> IncidentChanges:
    """The service's change set, with partial-update rules for vendors and the primary."""
    vendors = data.pop("incident_vendors", None)
    primary = data.pop("primary_vendor", UNSET)
    links = list(incident.incident_vendors.all())
    if primary is not UNSET and vendors is None:
        vendors = [link.vendor for link in links]  # a new primary among the current vendors
    if vendors is not None and primary is UNSET:
        current = next((link.vendor for link in links if link.is_primary), None)
        primary = current if current in vendors else None
    change_types = data.pop("change_types", None)
    factors = data.pop("factors", None)
    action_items = data.pop("action_items", None)
    return IncidentChanges(
        fields=data,
        change_types=change_types,
        vendors=vendors,
        primary_vendor=None if primary is UNSET else primary,
        factors=factors,
        action_items=action_items,
    )


class ReviewActionSerializer(serializers.Serializer):
    comment = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        validators=[validate_nesting],
        help_text="Markdown. Required to send a postmortem back; optional to publish.",
    )
