from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.urls import reverse
from django.utils.functional import cached_property
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from patterns.attributes import attribute_label, kind_of, slug_of
from patterns.models import LATEST_MEMBERS, TOP_VENDORS, Pattern

# A pk no pattern has, reversed once and replaced by each row's own.
URL_SENTINEL = 987654321987

# DRF's own formatting, so the direct representation cannot drift from the generic one.
_DATETIME = serializers.DateTimeField()


def moment(value: datetime | None) -> str | None:
    return None if value is None else _DATETIME.to_representation(value)


class AttributeSerializer(serializers.Serializer):
    key = serializers.CharField(
        help_text="`ct:<slug>` (change type), `cat:<slug>` (category, any role) or "
        "`cf:<slug>` (category as a contributing factor)."
    )
    kind = serializers.ChoiceField(choices=["change_type", "category", "contributing_factor"])
    slug = serializers.CharField()
    name = serializers.CharField(
        help_text="The term's name; a contributing factor's ends in \"(contributing factor)\"."
    )


class VariantSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField(help_text="The variant's own `GET /api/patterns/{id}/`.")
    key = serializers.CharField()
    title = serializers.CharField()
    support = serializers.IntegerField()
    overlap = serializers.FloatField(
        help_text="Jaccard index of the variant's members and the head's (0.5 or more)."
    )


class PatternSerializer(serializers.ModelSerializer):
    """A recurring combination. ``context["names"]`` maps attribute keys to term names."""

    attributes = serializers.SerializerMethodField()
    emerging = serializers.SerializerMethodField(
        help_text="True when shared by fewer incidents than the configured minimum support."
    )
    url = serializers.SerializerMethodField(
        help_text="The pattern in the API (`GET /api/patterns/{id}/`), whatever its support."
    )
    html_url = serializers.SerializerMethodField()
    equivalent_keys = serializers.ListField(
        child=serializers.CharField(),
        help_text="Keys of the other combinations with exactly the same incidents, folded into "
        "this one: the incidents share all of their attributes too.",
    )
    vendors = serializers.ListField(
        child=serializers.CharField(),
        source="top_vendors",
        help_text=f"Slugs of up to {TOP_VENDORS} of the vendors its incidents involve, those "
        "with the most published incidents first; `vendor_count` counts them all, and the "
        "pattern itself (`html_url`, or `GET /api/patterns/{id}/`) lists every one.",
    )
    quarter_counts = serializers.DictField(
        child=serializers.IntegerField(), help_text="Members per quarter of start, e.g. 2014-Q4."
    )
    measure = serializers.ChoiceField(
        choices=["association", "recurrence", "spread"],
        help_text="How the evidence was measured: `association` (attributes meeting more often "
        "than independence predicts; Fisher's exact test), `recurrence` (a contributing "
        "factor in more incidents than the typical one; binomial test) or `spread` (at more "
        "vendors than its frequency predicts).",
    )
    expected = serializers.FloatField(
        help_text="What chance predicts: incidents (association, recurrence) or vendors "
        "(spread). `lift` is the observed count over it."
    )
    p_value = serializers.FloatField(
        help_text="One-sided p-value against chance (0.0 below 1e-307; `log10_p` is exact)."
    )
    evidence = serializers.FloatField(
        help_text="-log10(p x candidates tested): above 0, fewer than one pattern this "
        "strong is expected by chance among all those tested."
    )
    evidence_text = serializers.CharField(
        help_text='The evidence in words, e.g. "3 incidents where 0.6 were expected by '
        'chance (p = 2.5e-4)".'
    )
    variant_of = serializers.SerializerMethodField(
        help_text="Of a variant: the API URL of the stronger pattern whose family it belongs "
        "to; null for a family's head."
    )

    class Meta:
        model = Pattern
        fields = [
            "id", "url", "key", "title", "attributes", "equivalent_keys", "support", "lift",
            "measure", "expected", "p_value", "log10_p", "evidence", "evidence_text", "score",
            "vendor_count", "vendors", "first_seen", "last_seen", "quarter_counts",
            "variant_of", "overlap", "variant_count", "auto_members", "detected_at",
            "computed_at", "emerging", "html_url",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(AttributeSerializer(many=True))
    def get_attributes(self, pattern: Pattern) -> list[dict]:
        names = self.context.get("names", {})
        return [
            {
                "key": key,
                "kind": kind_of(key),
                "slug": slug_of(key),
                "name": attribute_label(key, names),
            }
            for key in pattern.attributes
        ]

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_variant_of(self, pattern: Pattern) -> str | None:
        if pattern.variant_of_id is None:
            return None
        return self.url_of(pattern.variant_of_id, "url")

    def get_emerging(self, pattern: Pattern) -> bool:
        return pattern.support < settings.PATTERN_MIN_SUPPORT

    def get_url(self, pattern: Pattern) -> str:
        return self.absolute(reverse("patterns-api:pattern-detail", args=[pattern.pk]))

    def get_html_url(self, pattern: Pattern) -> str:
        return self.absolute(reverse("patterns:pattern-detail", args=[pattern.pk]))

    def absolute(self, path: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    def to_representation(self, pattern: Pattern) -> dict:
        # The same JSON as the fields above, built directly: on a list of 50 patterns the
        # generic path, field by field with a URL reversed per row, cost more than the
        # query. tests/api/test_patterns.py holds the two equal.
        return {
            "id": pattern.pk,
            "url": self.url_of(pattern.pk, "url"),
            "key": pattern.key,
            "title": pattern.title,
            "attributes": self.get_attributes(pattern),
            "equivalent_keys": list(pattern.equivalent_keys),
            "support": pattern.support,
            "lift": pattern.lift,
            "measure": pattern.measure,
            "expected": pattern.expected,
            "p_value": pattern.p_value,
            "log10_p": pattern.log10_p,
            "evidence": pattern.evidence,
            "evidence_text": pattern.evidence_text,
            "score": pattern.score,
            "vendor_count": pattern.vendor_count,
            "vendors": list(pattern.top_vendors),
            "first_seen": moment(pattern.first_seen),
            "last_seen": moment(pattern.last_seen),
            "quarter_counts": dict(pattern.quarter_counts),
            "variant_of": self.get_variant_of(pattern),
            "overlap": pattern.overlap,
            "variant_count": pattern.variant_count,
            "auto_members": pattern.auto_members,
            "detected_at": moment(pattern.detected_at),
            "computed_at": moment(pattern.computed_at),
            "emerging": self.get_emerging(pattern),
            "html_url": self.url_of(pattern.pk, "html_url"),
        }

    def url_of(self, pk: int, name: str) -> str:
        """``get_url`` or ``get_html_url``, with each URL reversed once per response."""
        head, tail = self.url_parts[name]
        return f"{head}{pk}{tail}"

    @cached_property
    def url_parts(self) -> dict[str, tuple[str, str]]:
        sentinel = Pattern(pk=URL_SENTINEL)
        parts = {}
        for name, build in (("url", self.get_url), ("html_url", self.get_html_url)):
            head, _, tail = build(sentinel).rpartition(str(URL_SENTINEL))
            parts[name] = (head, tail)
        return parts


class PatternMemberSerializer(serializers.Serializer):
    slug = serializers.CharField(source="incident.slug")
    title = serializers.CharField(source="incident.title")
    started_at = serializers.DateTimeField(source="incident.started_at", allow_null=True)
    prior_completed_actions = serializers.IntegerField(
        help_text="Done action items of the members that started earlier: the fixes this "
        "incident recurred after."
    )


class PatternDetailSerializer(PatternSerializer):
    vendors = serializers.ListField(
        child=serializers.CharField(),
        help_text="Slugs of every vendor its incidents involve, alphabetically.",
    )
    members = PatternMemberSerializer(
        many=True,
        source="member_rows",
        help_text=f"The {LATEST_MEMBERS} members that started last (all of them when `support` "
        "is no more), oldest first. Every member is a published incident whose change types "
        "and categories include all of the pattern's attributes.",
    )

    variants = serializers.SerializerMethodField(
        help_text="Of a family's head: its variants, the most overlapping first."
    )

    class Meta(PatternSerializer.Meta):
        fields = [*PatternSerializer.Meta.fields, "members", "variants"]
        read_only_fields = fields

    @extend_schema_field(VariantSerializer(many=True))
    def get_variants(self, pattern: Pattern) -> list[dict]:
        return [
            {
                "id": variant.pk,
                "url": self.url_of(variant.pk, "url"),
                "key": variant.key,
                "title": variant.title,
                "support": variant.support,
                "overlap": variant.overlap,
            }
            for variant in getattr(pattern, "variant_rows", [])
        ]

    def to_representation(self, pattern: Pattern) -> dict:
        # One pattern: the generic path, for its full vendor list and members.
        return serializers.ModelSerializer.to_representation(self, pattern)


class RelatedIncidentSerializer(serializers.Serializer):
    slug = serializers.CharField()
    title = serializers.CharField()
    score = serializers.FloatField()
    reasons = serializers.ListField(
        child=serializers.CharField(),
        help_text="Why it is related: shared categories and change types, vendor, service, "
        "similar text.",
    )


class RelatedIncidentsSerializer(serializers.Serializer):
    incident = serializers.CharField(help_text="The slug asked about.")
    results = RelatedIncidentSerializer(many=True)


class RefreshSummarySerializer(serializers.Serializer):
    patterns = serializers.IntegerField(help_text="Stored combinations (from 2 incidents up).")
    new = serializers.IntegerField()
    retired = serializers.IntegerField()
    members = serializers.IntegerField(help_text="Memberships: the patterns' supports added up.")
    incidents = serializers.IntegerField(help_text="Published incidents analysed.")
