"""Precomputed pattern analysis, rebuilt by ``services.refresh_patterns``.

Pages and the API read these tables; nothing here is edited by hand.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from patterns.attributes import MAX_SIZE, combination_keys
from patterns.evidence import describe
from postmortems.models import Incident, Vendor

__all__ = ["MAX_SIZE", "combination_keys"]  # where the model's callers look them up

# Members a pattern keeps for its page and its API detail, newest first.
LATEST_MEMBERS = 50
# Vendors a pattern names in lists (the dashboard, the API's list); its page names them all.
TOP_VENDORS = 5
# How a pattern's evidence was measured (``patterns.evidence``).
MEASURES = [
    ("association", "Attributes meeting more often than chance"),
    ("recurrence", "A weakness recurring more often than the typical one"),
    ("spread", "At more vendors than its frequency predicts"),
]


# Columns read for one pattern at a time, never for a list of them.
PATTERN_PAGE_ONLY = (
    "vendors",
    "latest_members",
    "latest_prior_actions",
    "quarter_completed_actions",
    "shared_attributes",
)


class PatternQuerySet(models.QuerySet):
    def recurring(self, min_support: int | None = None) -> PatternQuerySet:
        """Patterns at or above the minimum support (``PATTERN_MIN_SUPPORT`` by default)."""
        return self.filter(support__gte=min_support or settings.PATTERN_MIN_SUPPORT)

    def emerging(self) -> PatternQuerySet:
        """Patterns seen more than once but below the minimum support."""
        return self.filter(support__lt=settings.PATTERN_MIN_SUPPORT)

    def hand_labelled(self, min_support: int | None = None) -> PatternQuerySet:
        """Patterns that recur without their auto-classified members too."""
        return self.filter(
            support__gte=models.F("auto_members") + (min_support or settings.PATTERN_MIN_SUPPORT)
        )

    def families(self) -> PatternQuerySet:
        """Each family once: the patterns that are no stronger pattern's variant."""
        return self.filter(variant_of__isnull=True)

    def listed(self) -> PatternQuerySet:
        """Without the columns only a pattern's own page reads: every vendor, the latest members.

        A large pattern's vendor list alone is tens of kilobytes; a list of patterns would
        fetch and parse it for every row.
        """
        return self.defer(*PATTERN_PAGE_ONLY)

    def containing(self, attributes: list[str]) -> PatternQuerySet:
        """Patterns whose attributes all occur in ``attributes``: an incident's patterns.

        Looked up by key, one per combination of the attributes (a handful), through the
        key's unique index.
        """
        return self.filter(key__in=combination_keys(attributes))


class Pattern(models.Model):
    """A closed pattern that recurs: a combination of 2 or 3 attributes (change types, failure
    categories), or a single change type or contributing factor (``patterns.attributes``).

    ``key`` is the sorted attributes joined by ``+`` (``cat:non-staged-rollout+ct:config-change``,
    ``cf:automation-amplified``) and identifies the pattern across refreshes. Every other
    column is derived by the mining engine. Its members are not stored: an incident is a
    member when its attributes (``IncidentProfile.attributes``) contain the pattern's; only
    the latest ones are kept here, for the pattern's page. One pattern per set of members:
    combinations with exactly the same members are folded into one of them
    (``equivalent_keys``).
    """

    key = models.CharField(max_length=500, unique=True)
    # Rows are updated in place by key, so a pattern keeps its id (and its URL) while it
    # grows; detected_at is when a refresh first found it.
    detected_at = models.DateTimeField(default=timezone.now)
    title = models.CharField(max_length=500)
    attributes = ArrayField(models.CharField(max_length=80))
    support = models.PositiveIntegerField()
    lift = models.FloatField()
    vendor_count = models.PositiveIntegerField()
    # Every vendor's slug, alphabetically: up to a couple of thousand on a large knowledge
    # base. Lists leave it in the database (``PatternQuerySet.listed``) and show top_vendors.
    vendors = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    top_vendors = ArrayField(
        models.CharField(max_length=100),
        default=list,
        blank=True,
        help_text=f"Slugs of up to {TOP_VENDORS} of the vendors, those with the most published "
        "incidents first.",
    )
    # The test against chance (``patterns.evidence``).
    measure = models.CharField(max_length=20, choices=MEASURES, default="association")
    expected = models.FloatField(
        default=0.0,
        help_text="What chance predicts: incidents (association, recurrence) or vendors "
        "(spread); ``lift`` is the observed count over it.",
    )
    p_value = models.FloatField(
        default=1.0, help_text="One-sided p-value against chance (0.0 below 1e-307)."
    )
    log10_p = models.FloatField(default=0.0, help_text="log10 of the p-value, exact below 1e-307.")
    evidence = models.FloatField(
        default=0.0,
        help_text="-log10(p x candidates tested): positive when fewer than one such pattern "
        "is expected by chance.",
    )
    score = models.FloatField(db_index=True)
    # Families: a pattern whose members overlap a stronger one's by a Jaccard index of 0.5 or
    # more is its variant, rewritten by each refresh; every pattern keeps its own id and key.
    variant_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="variants",
        help_text="The family head this pattern is a variant of.",
    )
    overlap = models.FloatField(
        default=0.0, help_text="Of a variant: the Jaccard index of its members and its head's."
    )
    variant_count = models.PositiveIntegerField(default=0, help_text="Of a head: its variants.")
    auto_members = models.PositiveIntegerField(
        default=0, help_text="Members whose labels were accepted without a person."
    )
    first_seen = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    quarter_counts = models.JSONField(default=dict, blank=True)
    completed_actions = models.PositiveIntegerField(
        default=0, help_text="Done action items of the members that have a start."
    )
    quarter_completed_actions = models.JSONField(
        default=dict,
        blank=True,
        help_text="Done action items of the members per quarter of start, e.g. 2014-Q4.",
    )
    latest_members = ArrayField(
        models.BigIntegerField(),
        default=list,
        blank=True,
        help_text=f"Ids of the {LATEST_MEMBERS} members that started last, newest first.",
    )
    latest_prior_actions = ArrayField(
        models.PositiveIntegerField(),
        default=list,
        blank=True,
        help_text="For each of the latest members, the done action items of the members "
        "that started before it: the fixes it recurred after.",
    )
    # Members sharing four or more attributes leave several 3-attribute combinations with
    # exactly the same members; one pattern stands for them (a stored one first, so its id
    # stays) and names the others here.
    equivalent_keys = ArrayField(
        models.CharField(max_length=500),
        default=list,
        blank=True,
        help_text="Keys of the other combinations with exactly the same members, folded into "
        "this one.",
    )
    shared_attributes = ArrayField(
        models.CharField(max_length=80),
        default=list,
        blank=True,
        help_text="Its attributes and those of the combinations folded into it, sorted: every "
        "member has all of them.",
    )
    computed_at = models.DateTimeField()

    objects = PatternQuerySet.as_manager()

    class Meta:
        ordering = ["-score", "key"]
        indexes = [
            # The API's keyset orders (``SortKey``: descending, nulls last, then the id), so a
            # page is read from an index, not sorted from every row; the one by support also
            # finds the few emerging patterns.
            models.Index(
                F("score").desc(nulls_last=True),
                F("id").desc(nulls_last=True),
                name="pattern_score_page",
            ),
            models.Index(
                F("support").desc(nulls_last=True),
                F("id").desc(nulls_last=True),
                name="pattern_support_page",
            ),
            models.Index(
                F("last_seen").desc(nulls_last=True),
                F("id").desc(nulls_last=True),
                name="pattern_last_seen_page",
            ),
            # A vendor page's patterns: those naming the vendor, found without reading every
            # pattern's list of vendors.
            GinIndex(fields=["vendors"], name="pattern_vendors"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def evidence_text(self) -> str:
        """ "3 incidents where 0.6 were expected by chance (p = 2.5e-4)", and the like."""
        return describe(self.measure, self.support, self.vendor_count, self.expected, self.log10_p)


class IncidentProfile(models.Model):
    """What the last refresh saw of one published incident: its attributes, start and fixes.

    An incident belongs to every pattern whose attributes its own contain, so memberships
    are not stored. Rows are rewritten by each refresh (only those that changed), so a page
    reading them agrees with the patterns it shows.
    """

    # No database foreign keys here or in VendorIncident: the refresh rewrites these rows
    # wholesale, and checking a million deferred keys at commit costs more than the rows
    # themselves. A deleted incident's row stays until the refresh its deletion schedules;
    # reads join the incident table, so it is never shown.
    incident = models.OneToOneField(
        Incident,
        primary_key=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    attributes = ArrayField(models.CharField(max_length=80), default=list, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_actions = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            # "Recurred after N completed action items" on an incident page sums the done
            # items of the members that started shortly before or after it; the index holds
            # all it needs, so it is read without visiting the table.
            models.Index(
                fields=["started_at"],
                include=["completed_actions", "attributes"],
                name="incident_profile_done_started",
                condition=Q(completed_actions__gt=0),
            )
        ]

    def __str__(self) -> str:
        return f"Profile of {self.incident_id}"


class VendorIncident(models.Model):
    """A published incident with a start, once per vendor it involves, as of the last refresh.

    Vendor recurrences ("hit again by the same change type or category within the window")
    are read from it when a page is shown: the key leads with the vendor and the start, so
    the previous incident of a vendor with an attribute is a short walk back in one index
    (each step checks the incident's profile). The key is the whole row.
    """

    pk = models.CompositePrimaryKey("vendor", "started_at", "incident")
    vendor = models.ForeignKey(
        Vendor, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    started_at = models.DateTimeField()
    incident = models.ForeignKey(
        Incident,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )

    def __str__(self) -> str:
        return f"{self.vendor_id} · {self.incident_id}"


class RelatedList(models.Model):
    """The cached result of ``related.related_incidents`` for one published incident.

    Filled when first read and, for recently changed incidents, by each refresh; every
    refresh clears the cache first, since one new postmortem can change anyone's list.
    ``items`` holds ``{"id", "slug", "title", "score", "reasons"}`` dicts, best first
    (an empty list is a result too).
    """

    incident = models.OneToOneField(
        Incident, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    computed_at = models.DateTimeField()
    items = models.JSONField(default=list)

    def __str__(self) -> str:
        return f"Related to {self.incident_id}"


class StatsSnapshot(models.Model):
    """The metrics, trends and chart series of one refresh, as one JSON document in two parts.

    ``data`` holds what the dashboard shows; ``breakdowns`` the rest of the document, which
    only the full statistics (the API) read: durations by category, vendor and year, and
    downtime per vendor and year, megabytes at a million incidents. Each part is a column of
    its own so a page reads and parses only the part it renders. Only the latest row is
    read; see ``patterns.snapshot`` for the shape.
    """

    computed_at = models.DateTimeField(db_index=True)
    data = models.JSONField()
    breakdowns = models.JSONField(default=dict, blank=True)

    class Meta:
        get_latest_by = "computed_at"

    def __str__(self) -> str:
        return f"Stats of {self.computed_at:%Y-%m-%d %H:%M}"
