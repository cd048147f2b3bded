"""Import jobs, polled status pages and webhook endpoints."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from postmortems.models import Vendor


class ImportFormat(models.TextChoices):
    STATUSPAGE = "statuspage", "Atlassian Statuspage v2 (incidents, summary, maintenances)"
    STATUSPAGE_WEBHOOK = "statuspage-webhook", "Statuspage webhook notification"
    GOOGLE_CLOUD = "google-cloud", "Google Cloud incidents.json"
    RSS = "rss", "RSS status feed"
    ATOM = "atom", "Atom status feed"
    STATUSIO = "statusio", "status.io public status"
    CACHET = "cachet", "Cachet v1 incidents"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class ImportJob(models.Model):
    """One pushed payload imported in the background, with its progress and final report.

    The payload is kept until the job ends, so a worker restart can run it again.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="import_jobs")
    format = models.CharField(max_length=30, choices=ImportFormat.choices)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    payload = models.BinaryField(null=True, editable=False)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_format_display()} for {self.vendor} ({self.status})"


class StatusSource(models.Model):
    """A vendor's status page that Hindsight polls on a schedule.

    Conditional GET (ETag / Last-Modified) keeps polls cheap; failures back
    off exponentially and stay visible on the vendor page until one succeeds.
    """

    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="status_sources")
    url = models.URLField(max_length=1000)
    format = models.CharField(max_length=30, choices=ImportFormat.choices)
    enabled = models.BooleanField(default=True)
    poll_interval = models.DurationField(default=timedelta(minutes=15))
    next_poll_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    etag = models.CharField(max_length=500, blank=True)
    last_modified = models.CharField(max_length=100, blank=True)
    last_report = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["vendor__name", "url"]
        constraints = [
            models.UniqueConstraint(fields=["vendor", "url"], name="status_source_unique_url")
        ]

    def __str__(self) -> str:
        return f"{self.vendor}: {self.url}"

    @property
    def failing(self) -> bool:
        return self.consecutive_failures > 0


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class WebhookEndpoint(models.Model):
    """A per-vendor URL that a Statuspage subscription posts to.

    The URL carries a random secret (Statuspage signs nothing); only its hash
    is stored, so the full URL is shown once, when the endpoint is created.
    """

    vendor = models.ForeignKey(Vendor, on_delete=models.CASCADE, related_name="webhooks")
    secret_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_received_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Webhook for {self.vendor}"

    @classmethod
    def create_for(cls, *, vendor: Vendor, user=None) -> tuple[WebhookEndpoint, str]:
        """Create an endpoint; returns it and the secret (shown once, never stored)."""
        secret = secrets.token_urlsafe(32)
        endpoint = cls.objects.create(
            vendor=vendor, secret_hash=hash_secret(secret), created_by=user
        )
        return endpoint, secret
