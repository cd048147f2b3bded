"""The postmortem domain: vendors, incidents, the taxonomy, factors and action items.

Model and field names are a public contract: importers and API clients rely on them.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from postmortems import limits, rules
from postmortems.choices import (
    SEARCH_CONFIG,
    ActionItemStatus,
    ActionItemType,
    DetectionMethod,
    FactorRole,
    Origin,
    ReviewActionKind,
    ReviewStatus,
    Severity,
    SourceKind,
    TypicalRole,
    VendorKind,
)

# The four moments of an incident, in the order they must occur.
MOMENTS = ("started_at", "detected_at", "mitigated_at", "resolved_at")


def _moment_label(field: str) -> str:
    return field.removesuffix("_at")


def moment_order_constraints() -> list[models.CheckConstraint]:
    """One check constraint per pair of moments: a later moment never precedes an earlier one."""
    return [
        models.CheckConstraint(
            condition=Q(**{f"{a}__isnull": True})
            | Q(**{f"{b}__isnull": True})
            | Q(**{f"{b}__gte": F(a)}),
            name=f"incident_{_moment_label(b)}_not_before_{_moment_label(a)}",
            violation_error_message=(
                f"The {_moment_label(b)} time must not be before the {_moment_label(a)} time."
            ),
        )
        for i, a in enumerate(MOMENTS)
        for b in MOMENTS[i + 1 :]
    ]


def moment_order_errors(moments: dict) -> dict[str, str]:
    """Field-by-field messages for moments out of order (``{field: message}``)."""
    errors: dict[str, str] = {}
    for i, earlier in enumerate(MOMENTS):
        for later in MOMENTS[i + 1 :]:
            a, b = moments.get(earlier), moments.get(later)
            if a is not None and b is not None and b < a and later not in errors:
                errors[later] = (
                    f"{_moment_label(later).capitalize()} at {b:%Y-%m-%d %H:%M} UTC is before "
                    f"{_moment_label(earlier)} at {a:%Y-%m-%d %H:%M} UTC. The moments must run "
                    "started ≤ detected ≤ mitigated ≤ resolved."
                )
    return errors


class Vendor(models.Model):
    """A company or team whose systems fail: a cloud provider, a SaaS, or one of ours."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=VendorKind.choices, default=VendorKind.OTHER)
    website = models.URLField(blank=True)
    status_page_url = models.URLField(blank=True)
    notes = models.TextField(blank=True)
    publish_imports = models.BooleanField(
        default=False,
        help_text="Publish incidents imported from this vendor's status page without review.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if limits.nesting_problem(self.notes or ""):
            raise ValidationError({"notes": limits.NESTING_MESSAGE})


class Service(models.Model):
    """A component of a vendor (Blob Storage, EBS, GitHub Actions).

    ``external_id`` is the status page's component id: it keeps a service's
    identity when the vendor renames the component.
    """

    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="services")
    name = models.CharField(max_length=200)
    external_id = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["vendor__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["vendor", "external_id"],
                condition=~Q(external_id=""),
                name="service_unique_external_id_per_vendor",
            ),
            models.UniqueConstraint(
                fields=["vendor", "name"],
                condition=Q(external_id=""),
                name="service_unique_name_per_vendor_without_external_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.vendor.name} · {self.name}"


class TaxonomyEntry(models.Model):
    """Shared shape of the controlled vocabularies: a stable slug, a name, a definition."""

    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=100)
    definition = models.CharField(max_length=300)

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ChangeType(TaxonomyEntry):
    """The kind of change that triggered an incident (``config-change``, ``os-upgrade``…)."""

    class Meta(TaxonomyEntry.Meta):
        pass


class FailureCategory(TaxonomyEntry):
    """A failure category from the controlled taxonomy, used by root causes and factors."""

    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    typical_role = models.CharField(
        max_length=20, choices=TypicalRole.choices, default=TypicalRole.EITHER
    )

    class Meta(TaxonomyEntry.Meta):
        verbose_name_plural = "failure categories"


class IncidentQuerySet(models.QuerySet):
    def published(self) -> IncidentQuerySet:
        return self.filter(status=ReviewStatus.PUBLISHED)

    def visible_to(self, user) -> IncidentQuerySet:
        """Published postmortems for everyone; drafts and reviews only for their people."""
        if not user.is_authenticated:
            return self.none()
        if user.has_perm("postmortems.review_incident"):
            return self
        # A semi-join rather than a join on authors: no duplicate rows, no DISTINCT.
        authored = Incident.authors.through.objects.filter(user=user).values("incident_id")
        return self.filter(Q(status=ReviewStatus.PUBLISHED) | Q(id__in=authored))

    def with_summary(self) -> IncidentQuerySet:
        """What a list row shows: vendors and change types in two extra queries."""
        return self.prefetch_related("incident_vendors__vendor", "change_types")

    def counted_once(self) -> IncidentQuerySet:
        """These incidents with each outage once: a record of an outage that another of
        these incidents also records is left out (see ``Incident.same_outage_as``).

        The outage is counted by its canonical record when that one is among these, and
        otherwise by its first other record (lowest id): a published import whose
        hand-written postmortem is still a draft still counts in published statistics.
        Call it before narrowing (by week, by vendor), so "among these" means all of them.
        """
        among = self.order_by()
        canonical_among = among.filter(pk=OuterRef("same_outage_as_id"))
        earlier_among = among.filter(
            same_outage_as_id=OuterRef("same_outage_as_id"), pk__lt=OuterRef("pk")
        )
        # Most rows are linked to nothing and stop at the first test.
        return self.filter(
            Q(same_outage_as__isnull=True) | ~(Exists(canonical_among) | Exists(earlier_among))
        )


def counted_once_sql(alias: str) -> str:
    """``IncidentQuerySet.counted_once`` among the published incidents, as a condition on
    the published incident row ``alias`` of a raw statement (the pattern refresh's)."""
    table = Incident._meta.db_table
    published = ReviewStatus.PUBLISHED.value
    return (
        f"({alias}.same_outage_as_id IS NULL OR NOT EXISTS (SELECT 1 FROM {table} o "
        f"WHERE o.status = '{published}' AND (o.id = {alias}.same_outage_as_id "
        f"OR (o.same_outage_as_id = {alias}.same_outage_as_id AND o.id < {alias}.id))))"
    )


class Incident(models.Model):
    """A postmortem: one outage, its moments, its analysis and what was learned.

    The four moments (started, detected, mitigated, resolved) must be ordered;
    the database enforces it with check constraints and ``clean()`` explains it
    field by field. ``version`` grows on every edit so that concurrent editors
    cannot overwrite each other. ``search_vector`` is computed by PostgreSQL
    itself (a generated column), so no write path can leave it stale.

    One outage may be recorded more than once: a vendor's status-page incident and the
    postmortem someone wrote about it, or the same outage from two feeds of one vendor.
    ``same_outage_as`` then points from each other record to the outage's canonical one,
    which points nowhere (``postmortems.same_outage`` keeps it so: one level, never
    itself), and statistics count the outage once (``IncidentQuerySet.counted_once``).
    """

    title = models.CharField(max_length=300)
    slug = models.SlugField(max_length=120, unique=True)
    vendors = models.ManyToManyField(Vendor, through="IncidentVendor", related_name="incidents")
    services = models.ManyToManyField(Service, blank=True, related_name="incidents")
    regions = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    regions_affected = models.PositiveIntegerField(null=True, blank=True)
    regions_total = models.PositiveIntegerField(null=True, blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.MAJOR)
    status = models.CharField(
        max_length=12, choices=ReviewStatus.choices, default=ReviewStatus.DRAFT, db_index=True
    )

    started_at = models.DateTimeField(null=True, blank=True, db_index=True)
    detected_at = models.DateTimeField(null=True, blank=True)
    mitigated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    summary = models.TextField(blank=True, help_text="Markdown.")
    impact = models.TextField(blank=True, help_text="Markdown.")
    analysis = models.TextField(blank=True, help_text="Markdown.")
    lessons = models.TextField(blank=True, help_text="Markdown.")

    change_types = models.ManyToManyField(ChangeType, blank=True, related_name="incidents")
    detection_method = models.CharField(max_length=20, choices=DetectionMethod.choices, blank=True)
    data_loss = models.BooleanField(default=False)
    near_miss = models.BooleanField(default=False)

    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.MANUAL)
    import_source = models.CharField(
        max_length=100, blank=True, help_text="Which feed an imported incident came from."
    )
    external_id = models.CharField(max_length=255, blank=True)
    raw_payload = models.JSONField(null=True, blank=True, editable=False)
    # What the importer last wrote to each field it owns: a field whose value
    # differs from this was edited by a person, and re-imports leave it alone.
    imported_values = models.JSONField(default=dict, blank=True, editable=False)
    needs_review = models.BooleanField(
        default=False, help_text="Imported and not yet looked at by a person."
    )
    is_maintenance = models.BooleanField(
        default=False, help_text="A planned maintenance, not an unplanned incident."
    )
    duration_unknown = models.BooleanField(
        default=False,
        help_text="Closed, but the source gives no usable end time (not a zero-length outage).",
    )
    # Set by the classifier when it accepted suggestions without a person (an auto-accept
    # policy), cleared when a person changes the labels: shown wherever the incident is.
    auto_classified = models.BooleanField(
        default=False, help_text="Its labels were suggested and accepted without a person."
    )

    same_outage_as = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="other_records",
        db_index=False,  # a partial index below: almost every incident is linked to nothing
        verbose_name="same outage as",
        help_text="The canonical record of this outage, when this is another record of it.",
    )
    same_outage_linked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    same_outage_linked_at = models.DateTimeField(null=True, blank=True, editable=False)

    authors = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="authored_incidents"
    )
    reviewers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="reviewed_incidents"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)  # set by save()
    published_at = models.DateTimeField(null=True, blank=True, editable=False)
    version = models.PositiveIntegerField(default=1, editable=False)

    search_vector = models.GeneratedField(
        expression=(
            SearchVector("title", weight="A", config=SEARCH_CONFIG)
            + SearchVector("summary", weight="B", config=SEARCH_CONFIG)
            + SearchVector("impact", "analysis", "lessons", weight="C", config=SEARCH_CONFIG)
        ),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    history = HistoricalRecords(
        m2m_fields=[change_types],
        # Who linked a record and when is the history entry's own user and date.
        excluded_fields=[
            "search_vector", "raw_payload", "imported_values",
            "same_outage_linked_by", "same_outage_linked_at",
        ],
    )  # fmt: skip
    objects = IncidentQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        permissions = [("review_incident", "Can publish postmortems or send them back")]
        indexes = [
            GinIndex(fields=["search_vector"], name="incident_search_vector_gin"),
            # The list's default order (and, read backwards, "oldest first"), so a page is
            # a short walk of this index, filters checked on the way, rather than a sort of
            # every match (a vendor may have hundreds of thousands).
            models.Index(
                F("started_at").desc(nulls_last=True), F("id").desc(), name="incident_newest_first"
            ),
            # Drafts and reviews alone: when they last changed, read without their rows
            # (``tallies.Counting.fingerprint``).
            models.Index(
                fields=["updated_at", "id"],
                condition=Q(status__in=[ReviewStatus.DRAFT, ReviewStatus.IN_REVIEW]),
                name="incident_unpublished_changes",
            ),
            # The weekly digest's "published this week" and its week-by-week counts.
            models.Index(fields=["published_at"], name="incident_published_at"),
            # An outage's other records, and the counts that skip them.
            models.Index(
                fields=["same_outage_as"],
                condition=Q(same_outage_as__isnull=False),
                name="incident_same_outage_as",
            ),
        ]
        constraints = [
            *moment_order_constraints(),
            models.UniqueConstraint(
                fields=["import_source", "external_id"],
                condition=Q(origin=Origin.IMPORTED),
                name="incident_unique_external_id_per_import_source",
                violation_error_message="This source already imported an incident with that id.",
            ),
            models.CheckConstraint(
                condition=(Q(origin=Origin.MANUAL) & Q(import_source="") & Q(external_id=""))
                | (Q(origin=Origin.IMPORTED) & ~Q(import_source="") & ~Q(external_id="")),
                name="incident_import_key_matches_origin",
                violation_error_message=(
                    "Imported incidents need a source and an external id; "
                    "hand-written ones have neither."
                ),
            ),
            models.CheckConstraint(
                condition=Q(regions_affected__isnull=True)
                | Q(regions_total__isnull=True)
                | Q(regions_affected__lte=F("regions_total")),
                name="incident_regions_affected_within_total",
                violation_error_message="Regions affected cannot exceed the regions in total.",
            ),
            # The weekly digest finds "published this week" by this time, so every path
            # that publishes (review, import, demo, API) must leave it set.
            models.CheckConstraint(
                condition=~Q(status=ReviewStatus.PUBLISHED) | Q(published_at__isnull=False),
                name="incident_published_has_published_at",
                violation_error_message="A published postmortem needs its publication time.",
            ),
            models.CheckConstraint(
                condition=~Q(same_outage_as=F("id")),
                name="incident_not_same_outage_as_itself",
                violation_error_message="A postmortem cannot be another record of itself.",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs) -> None:
        # updated_at is set here rather than by auto_now, so that the write that publishes
        # stamps its publication time with the very same instant (rules.publication_time).
        now = timezone.now()
        update_fields = kwargs.get("update_fields")
        if update_fields is None or "updated_at" in update_fields:
            self.updated_at = now
        published_at = rules.publication_time(self.status, self.published_at, now)
        if published_at != self.published_at:
            self.published_at = self.updated_at = now
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "published_at", "updated_at"}
        super().save(*args, **kwargs)

    @property
    def edited_after_publication(self) -> bool:
        return rules.edited_after_publication(self.published_at, self.updated_at)

    def moments(self) -> dict:
        return {m: getattr(self, m) for m in MOMENTS}

    def clean(self) -> None:
        moments = self.moments()
        errors = {
            moment: limits.TIME_MESSAGE
            for moment, at in moments.items()
            if at is not None and not limits.time_in_range(at)
        }
        errors |= moment_order_errors({m: at for m, at in moments.items() if m not in errors})
        errors |= self.text_errors()
        if errors:
            raise ValidationError(errors)

    def text_errors(self) -> dict[str, str]:
        """What the incident page could not show, or the search index could not hold."""
        errors = {
            name: limits.NESTING_MESSAGE
            for name in limits.SECTIONS
            if limits.nesting_problem(getattr(self, name) or "")
        }
        too_big = limits.search_index_problem(
            {name: getattr(self, name) or "" for name in limits.SEARCHED_FIELDS}
        )
        if too_big is not None:
            field, message = too_big
            errors.setdefault(field, message)
        return errors

    def validate_constraints(self, exclude=None) -> None:
        # clean() already reports moments out of order per field, with the
        # times; skip the check constraints that would repeat it as one vaguer
        # non-field error (Django skips constraints on excluded fields).
        if moment_order_errors(self.moments()):
            exclude = set(exclude or ()) | set(MOMENTS)
        if self.status == ReviewStatus.PUBLISHED and self.published_at is None:
            exclude = set(exclude or ()) | {"published_at"}  # save() stamps it
        super().validate_constraints(exclude=exclude)

    # --- Derived durations -------------------------------------------------
    def _since_start(self, moment: str) -> timedelta | None:
        value = getattr(self, moment)
        if self.started_at is None or value is None:
            return None
        return value - self.started_at

    @property
    def time_to_detect(self) -> timedelta | None:
        return self._since_start("detected_at")

    @property
    def time_to_mitigate(self) -> timedelta | None:
        return self._since_start("mitigated_at")

    @property
    def time_to_resolve(self) -> timedelta | None:
        return self._since_start("resolved_at")

    @property
    def duration(self) -> timedelta | None:
        """How long the outage lasted: start to resolution."""
        return self.time_to_resolve

    @property
    def blast_radius(self) -> str:
        if self.regions_affected is None:
            return ""
        if self.regions_total is None:
            return f"{self.regions_affected} regions"
        return f"{self.regions_affected} of {self.regions_total} regions"

    @property
    def primary_vendor(self) -> Vendor | None:
        for link in self.incident_vendors.all():
            if link.is_primary:
                return link.vendor
        return None


class IncidentVendor(models.Model):
    """Links an incident to a vendor; at most one vendor is the primary one."""

    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="incident_vendors"
    )
    vendor = models.ForeignKey(Vendor, on_delete=models.PROTECT, related_name="incident_links")
    is_primary = models.BooleanField(default=False)

    class Meta:
        ordering = ["-is_primary", "vendor__name"]
        # A vendor's latest incidents, by a backward walk (related incidents' candidates).
        indexes = [models.Index(fields=["vendor", "incident"], name="incident_vendor_by_vendor")]
        constraints = [
            models.UniqueConstraint(fields=["incident", "vendor"], name="incident_vendor_unique"),
            models.UniqueConstraint(
                fields=["incident"],
                condition=Q(is_primary=True),
                name="incident_one_primary_vendor",
                violation_error_message="An incident has at most one primary vendor.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.vendor} ({'primary' if self.is_primary else 'involved'})"


class ReviewAction(models.Model):
    """One step of the review workflow: who submitted, published or sent back, and why."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="review_actions")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=12, choices=ReviewActionKind.choices)
    comment = models.TextField(blank=True, help_text="Markdown.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.actor}"

    def save(self, *args, **kwargs) -> None:
        # The review page hands its comment straight to the services, whose transaction this
        # refusal rolls back: what the database would refuse, or the page could not show.
        reason = limits.text_problem(self.comment or "")
        if reason:
            raise ValidationError({"comment": f"The comment {reason}."})
        if limits.nesting_problem(self.comment or ""):
            raise ValidationError({"comment": limits.NESTING_MESSAGE})
        super().save(*args, **kwargs)


class Source(models.Model):
    """A document an incident is drawn from: the vendor's postmortem, its status page, news."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="sources")
    url = models.URLField(max_length=1000)
    title = models.CharField(max_length=300, blank=True)
    kind = models.CharField(max_length=30, choices=SourceKind.choices)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "url"], name="source_unique_url_per_incident"
            )
        ]

    def __str__(self) -> str:
        return self.title or self.url

    def clean(self) -> None:
        # The URL is in a unique index, whose entries hold at most 2,704 bytes.
        message = limits.url_size_problem(self.url or "")
        if message:
            raise ValidationError({"url": message})


class Factor(models.Model):
    """A root cause, contributing or mitigating factor, classified by the taxonomy.

    Timeline events that evidence a factor link to it from the timeline side
    (``factor.evidence``), so this app never depends on the timeline app.
    """

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="factors")
    role = models.CharField(max_length=20, choices=FactorRole.choices)
    category = models.ForeignKey(FailureCategory, on_delete=models.PROTECT, related_name="factors")
    description = models.TextField(blank=True, help_text="Markdown.")
    position = models.PositiveIntegerField(default=0)

    history = HistoricalRecords()

    class Meta:
        ordering = ["incident", "position", "id"]
        indexes = [
            models.Index(fields=["category", "role"]),
            # A category's latest incidents, by a backward walk (related incidents' candidates).
            models.Index(fields=["category", "incident"], name="factor_category_incident"),
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {self.category}"

    def clean(self) -> None:
        if limits.nesting_problem(self.description or ""):
            raise ValidationError({"description": limits.NESTING_MESSAGE})


class ActionItem(models.Model):
    """A follow-up from a postmortem, with an owner and a due date."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="action_items")
    title = models.CharField(max_length=300)
    type = models.CharField(max_length=12, choices=ActionItemType.choices)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="action_items",
    )
    due_date = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=12, choices=ActionItemStatus.choices, default=ActionItemStatus.OPEN
    )
    ticket_url = models.URLField(max_length=1000, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["incident", "due_date", "id"]
        # The weekly digest's "completed this week".
        indexes = [models.Index(fields=["completed_at"], name="action_item_completed_at")]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status=ActionItemStatus.DONE) | Q(completed_at__isnull=False),
                name="action_item_done_has_completed_at",
                violation_error_message="A done action item needs its completion time.",
            )
        ]

    def __str__(self) -> str:
        return self.title

    def save(self, *args, **kwargs) -> None:
        # Completing an item stamps it; reopening clears the stamp.
        if self.status == ActionItemStatus.DONE and self.completed_at is None:
            self.completed_at = timezone.now()
        elif self.status in (ActionItemStatus.OPEN, ActionItemStatus.IN_PROGRESS):
            self.completed_at = None
        super().save(*args, **kwargs)

    def clean(self) -> None:
        if self.completed_at is not None and not limits.time_in_range(self.completed_at):
            raise ValidationError({"completed_at": limits.TIME_MESSAGE})


# --- Published counts ------------------------------------------------------------------------
# What the vendor, taxonomy and home pages count over every published postmortem, taken by
# ``postmortems.tallies.take_counts`` (a minute after published postmortems change, and
# nightly) so that no page counts a million rows on a request. Pages add what the viewer may
# see besides, counted live: their drafts and reviews, and whatever was published since.


class CountsSnapshot(models.Model):
    """When the published counts were last taken (one row), and how long that took."""

    taken_at = models.DateTimeField()
    seconds = models.FloatField()

    def __str__(self) -> str:
        return f"Counts of {self.taken_at:%Y-%m-%d %H:%M:%S}"


class SeverityTally(models.Model):
    """Published postmortems of one severity: ``records`` every row, ``incidents`` each
    outage once (``IncidentQuerySet.counted_once``)."""

    severity = models.CharField(max_length=10, choices=Severity.choices, primary_key=True)
    records = models.PositiveIntegerField()
    incidents = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.severity}: {self.records}"


class VendorTally(models.Model):
    """One vendor's published postmortems (a vendor without any has no row)."""

    vendor = models.OneToOneField(
        Vendor, primary_key=True, on_delete=models.CASCADE, related_name="tally"
    )
    records = models.PositiveIntegerField()
    incidents = models.PositiveIntegerField()
    last_started_at = models.DateTimeField(null=True)
    # Without a start or a resolution time: left out of the downtime.
    unknown_duration = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["-records"], name="vendor_tally_by_records")]

    def __str__(self) -> str:
        return f"{self.vendor_id}: {self.records}"


class VendorYearTally(models.Model):
    """A vendor's known downtime (resolved - started) in one UTC year of start."""

    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="+")
    year = models.PositiveSmallIntegerField()
    incidents = models.PositiveIntegerField()
    downtime = models.DurationField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["vendor", "year"], name="vendor_year_tally_unique")
        ]

    def __str__(self) -> str:
        return f"{self.vendor_id} in {self.year}: {self.downtime}"


class LabelTally(models.Model):
    """Published postmortems with one change type or citing one failure category, among
    every vendor's (``vendor`` null) or one vendor's; for a category also by factor role."""

    vendor = models.ForeignKey(Vendor, null=True, on_delete=models.CASCADE, related_name="+")
    change_type = models.ForeignKey(
        ChangeType, null=True, on_delete=models.CASCADE, related_name="+"
    )
    category = models.ForeignKey(
        FailureCategory, null=True, on_delete=models.CASCADE, related_name="+"
    )
    records = models.PositiveIntegerField()
    incidents = models.PositiveIntegerField()
    root_cause = models.PositiveIntegerField(default=0)
    contributing = models.PositiveIntegerField(default=0)
    mitigating = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["vendor", "change_type"], name="label_tally_change_type"),
            models.Index(fields=["vendor", "category"], name="label_tally_category"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(change_type__isnull=True) & Q(category__isnull=False))
                | (Q(change_type__isnull=False) & Q(category__isnull=True)),
                name="label_tally_one_label",
            )
        ]

    def __str__(self) -> str:
        return f"{self.change_type_id or self.category_id} of {self.vendor_id}: {self.records}"
