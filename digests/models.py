"""Who receives the weekly digest, how it is filtered, and every delivery made."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from accounts.models import TIME_ZONE_CHOICES
from digests.choices import DeliveryStatus, QuietWeek, Weekday
from postmortems.choices import Severity
from postmortems.models import FailureCategory, Vendor


class DigestSubscriptionQuerySet(models.QuerySet):
    def active(self) -> DigestSubscriptionQuerySet:
        """Confirmed and not unsubscribed: the subscriptions that receive digests."""
        return self.filter(confirmed_at__isnull=False, unsubscribed_at__isnull=True)

    def with_filters(self) -> DigestSubscriptionQuerySet:
        return self.select_related("user").prefetch_related("vendors", "categories")


class DigestSubscription(models.Model):
    """One address that receives the weekly digest, with its filters and delivery time.

    A person subscribes from their settings page (``user`` set); an admin may add an
    address with no account (``user`` empty). Either way the address must be confirmed
    (``confirmed_at``) before anything is sent to it, except a person's own account
    address, which an admin already vouched for. Unsubscribing keeps the row, with
    ``unsubscribed_at``, so deliveries stay explained.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="digest_subscription",
    )
    email = models.EmailField()
    time_zone = models.CharField(max_length=64, choices=TIME_ZONE_CHOICES, default="UTC")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices, default=Weekday.MONDAY)
    hour = models.PositiveSmallIntegerField(
        default=9,
        validators=[MaxValueValidator(23)],
        help_text="Hour of the day (0 to 23) in the time zone.",
    )
    vendors = models.ManyToManyField(
        Vendor, blank=True, related_name="+", help_text="Only these vendors (empty: all)."
    )
    categories = models.ManyToManyField(
        FailureCategory,
        blank=True,
        related_name="+",
        help_text="Only postmortems with a factor in one of these categories (empty: all).",
    )
    min_severity = models.CharField(
        max_length=10,
        choices=Severity.choices,
        blank=True,
        help_text="Only postmortems at least this severe (empty: all).",
    )
    quiet_week = models.CharField(
        max_length=4,
        choices=QuietWeek.choices,
        default=QuietWeek.NOTE,
        help_text="What to send in a week with nothing new.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)

    objects = DigestSubscriptionQuerySet.as_manager()

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="digest_subscription_unique_email",
                violation_error_message="This address already receives the digest.",
            ),
            models.CheckConstraint(
                condition=Q(hour__lte=23), name="digest_subscription_hour_in_day"
            ),
            models.CheckConstraint(
                condition=Q(weekday__lte=6), name="digest_subscription_weekday_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.email

    @property
    def is_active(self) -> bool:
        return self.confirmed_at is not None and self.unsubscribed_at is None


class DigestDelivery(models.Model):
    """The digest of one subscription for one ISO week, and how sending it went.

    The row is the claim: it is unique per (subscription, week), so a duplicated beat
    tick cannot create a second one, and its status moves forward only by conditional
    updates (see ``digests.delivery``), so two workers cannot both send it. The period
    is fixed when the row is created: a retry or a late catch-up sends the same content.
    """

    subscription = models.ForeignKey(
        DigestSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    week = models.CharField(
        max_length=8,
        validators=[RegexValidator(r"^\d{4}-W\d{2}$", "Use an ISO week: 2026-W48.")],
        help_text="ISO week (in the subscriber's time zone) in which it is due.",
    )
    period_start = models.DateTimeField()
    period_end = models.DateTimeField(help_text="When it is due: the subscriber's send time.")
    status = models.CharField(
        max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    # When a send task was last queued for it: the beat scan queues another only when
    # that one should long have run (its message was lost with a restarted worker).
    enqueued_at = models.DateTimeField(null=True, blank=True)
    to_email = models.EmailField(blank=True)
    subject = models.CharField(max_length=300, blank=True)
    message_id = models.CharField(max_length=300, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    handed_over_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "digest deliveries"
        ordering = ["-period_end", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "week"], name="digest_delivery_one_per_week"
            ),
            models.CheckConstraint(
                condition=Q(status__in=DeliveryStatus.values), name="digest_delivery_status_valid"
            ),
        ]
        indexes = [
            # The beat scan: what is waiting or stuck.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING]),
                name="digest_delivery_waiting",
            )
        ]

    def __str__(self) -> str:
        return f"{self.subscription} {self.week} ({self.status})"
