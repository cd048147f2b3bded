from datetime import timedelta

from rest_framework import serializers

from core.json_codec import json_bytes
from imports.fetching import validate_fetch_url
from imports.models import ImportFormat, ImportJob, StatusSource, WebhookEndpoint
from imports.parsers.common import DecodedJSON
from postmortems.limits import url_size_problem
from postmortems.models import Vendor


def payload_bytes(payload) -> bytes:
    # Feeds arrive as an XML string; JSON formats as the parsed document, re-encoded
    # exactly (integers beyond 2^53 stay intact: imports/encoding.py) and kept with it, so
    # the parsers read the document the request already decoded.
    if isinstance(payload, str):
        return payload.encode("utf-8")
    return DecodedJSON(json_bytes(payload), payload)


class PayloadField(serializers.JSONField):
    """A pushed payload, as the bytes the parsers read.

    JSONField checks a document by encoding it and throws the text away; this keeps that
    text instead of encoding a payload of megabytes twice.
    """

    def to_internal_value(self, data) -> bytes:
        if getattr(data, "is_json_string", False):  # a form field's text: decode it first
            data = super().to_internal_value(data)
        try:
            return payload_bytes(data)
        except (TypeError, ValueError):
            self.fail("invalid")


class ImportSerializer(serializers.Serializer):
    vendor = serializers.SlugField(
        max_length=Vendor._meta.get_field("slug").max_length,
        help_text="The vendor's slug; created when new.",
    )
    vendor_name = serializers.CharField(
        required=False, allow_blank=True, max_length=200, help_text="Name for a new vendor."
    )
    format = serializers.ChoiceField(choices=ImportFormat.choices)
    payload = PayloadField(
        help_text="The status page's JSON as is, or for RSS/Atom feeds the XML as a string."
    )


class ImportReportSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    failed = serializers.IntegerField()
    errors = serializers.ListField(
        child=serializers.DictField(child=serializers.CharField()),
        help_text="One entry per incident that could not be imported: external_id, message.",
    )
    incidents = serializers.ListField(
        child=serializers.DictField(child=serializers.CharField()),
        help_text="external_id, slug and outcome (created, updated, unchanged) of each incident.",
    )


class ImportResultSerializer(serializers.Serializer):
    status = serializers.CharField()
    report = ImportReportSerializer()


class ImportJobSerializer(serializers.ModelSerializer):
    vendor = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    url = serializers.HyperlinkedIdentityField(view_name="imports-api:import-job-detail")

    class Meta:
        model = ImportJob
        fields = [
            "id", "url", "vendor", "format", "status", "total", "processed", "report", "error",
            "created_at", "started_at", "finished_at",
        ]  # fmt: skip
        read_only_fields = fields


class StatusSourceSerializer(serializers.ModelSerializer):
    vendor = serializers.SlugRelatedField(slug_field="slug", queryset=Vendor.objects.all())
    poll_interval_seconds = serializers.IntegerField(
        min_value=60, max_value=86_400, default=900, source="poll_interval_total"
    )

    class Meta:
        model = StatusSource
        fields = [
            "id", "vendor", "url", "format", "enabled", "poll_interval_seconds", "next_poll_at",
            "last_polled_at", "last_success_at", "last_error", "last_error_at",
            "consecutive_failures", "last_report",
        ]  # fmt: skip
        read_only_fields = [
            "next_poll_at", "last_polled_at", "last_success_at", "last_error", "last_error_at",
            "consecutive_failures", "last_report",
        ]  # fmt: skip

    def validate_url(self, value: str) -> str:
        too_long = url_size_problem(value)  # (vendor, url) is a unique index
        if too_long:
            raise serializers.ValidationError(too_long)
        # Scheme and literal addresses only: a host name is checked when it is polled.
        validate_fetch_url(value)
        return value

    def to_internal_value(self, data):
        values = super().to_internal_value(data)
        seconds = values.pop("poll_interval_total", None)
        if seconds is not None:
            values["poll_interval"] = timedelta(seconds=seconds)
        return values

    def to_representation(self, instance):
        instance.poll_interval_total = int(instance.poll_interval.total_seconds())
        return super().to_representation(instance)


class WebhookEndpointSerializer(serializers.ModelSerializer):
    vendor = serializers.SlugRelatedField(slug_field="slug", queryset=Vendor.objects.all())
    url = serializers.SerializerMethodField(
        help_text="The URL to give Statuspage. Shown once, when the endpoint is created."
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "vendor", "url", "created_at", "last_received_at"]
        read_only_fields = ["created_at", "last_received_at"]

    def get_url(self, endpoint) -> str | None:
        return self.context.get("webhook_urls", {}).get(endpoint.id)
