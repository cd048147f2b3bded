"""The classifier's state: trained models, each incident's suggestions, what people decided,
and the auto-accept policies.

The trained model lives in the database so that every web process and worker reads the
same one; each process keeps the newest version it has loaded and checks the version
number (one indexed read) before using it.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from classifier.choices import ClassificationState
from postmortems.models import Incident, Vendor

CONFIDENCE = [MinValueValidator(0.0), MaxValueValidator(1.0)]


class ClassifierModel(models.Model):
    """One trained version: its features and weights (``artifact``), and what it learned from."""

    version = models.PositiveIntegerField(unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    trained_on = models.PositiveIntegerField(help_text="Labelled postmortems it learned from.")
    reference_examples = models.PositiveIntegerField(default=0)
    labels = models.JSONField(default=list, help_text="The labels with a learned model.")
    artifact = models.BinaryField()
    seconds = models.FloatField(default=0.0, help_text="How long training took.")

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"model v{self.version}"


class Suggestion(models.Model):
    """An incident's stored suggestions, as the triage queue lists them.

    ``payload`` is the API's shape (change types and factors, each with confidence and
    evidence); ``top_confidence`` orders the queue.
    """

    incident = models.OneToOneField(
        Incident, on_delete=models.CASCADE, primary_key=True, related_name="suggestion"
    )
    model_version = models.PositiveIntegerField()
    top_confidence = models.FloatField(validators=CONFIDENCE)
    payload = models.JSONField(default=dict)
    computed_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(
                models.F("top_confidence").desc(), "incident", name="suggestion_most_confident"
            )
        ]

    def __str__(self) -> str:
        return f"suggestions for {self.incident_id} (v{self.model_version})"


class Classification(models.Model):
    """What happened to an incident's suggestions: accepted, auto-accepted, corrected, rejected.

    An incident marked *auto-classified* (state ``auto``) carries labels no person has
    looked at; a person's later edit of its change types or factors makes it ``corrected``.
    """

    incident = models.OneToOneField(
        Incident, on_delete=models.CASCADE, primary_key=True, related_name="classification"
    )
    state = models.CharField(max_length=12, choices=ClassificationState.choices)
    model_version = models.PositiveIntegerField(null=True, blank=True)
    accepted = models.JSONField(default=dict, help_text="The labels written, with confidences.")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["state"], name="classification_by_state")]

    def __str__(self) -> str:
        return f"{self.incident_id}: {self.get_state_display()}"

    @property
    def is_auto(self) -> bool:
        return self.state == ClassificationState.AUTO


class AutoAcceptPolicy(models.Model):
    """Accept suggestions without a person, above ``threshold``: for one vendor, or for every
    vendor without a policy of its own (``vendor`` empty)."""

    vendor = models.OneToOneField(
        Vendor, null=True, blank=True, on_delete=models.CASCADE, related_name="auto_accept"
    )
    enabled = models.BooleanField(default=True)
    threshold = models.FloatField(default=0.8, validators=CONFIDENCE)
    publish = models.BooleanField(
        default=False,
        help_text="Also publish the imported drafts it classifies, so they join the patterns.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "auto-accept policies"
        constraints = [
            models.UniqueConstraint(
                fields=["enabled"],
                condition=Q(vendor__isnull=True),
                name="auto_accept_one_global_policy",
                violation_error_message="There is already a policy for every vendor.",
            ),
            models.CheckConstraint(
                condition=Q(threshold__gte=0) & Q(threshold__lte=1),
                name="auto_accept_threshold_is_a_confidence",
            ),
        ]

    def __str__(self) -> str:
        who = self.vendor.name if self.vendor_id else "every vendor"
        return f"Auto-accept for {who} above {self.threshold:.2f}"


class ClassificationBatch(models.Model):
    """A run of the classifier over some incidents (after an import, or over the backlog):
    how many it classified and how many it auto-accepted, for the import's report."""

    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    import_job = models.ForeignKey(
        "imports.ImportJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    incident_ids = models.JSONField(default=list)
    classified = models.PositiveIntegerField(default=0)
    auto_classified = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "classification batches"

    def __str__(self) -> str:
        return f"batch {self.pk}: {self.classified} classified, {self.auto_classified} auto"
