from django.db import models


class ClassificationState(models.TextChoices):
    """What happened to an incident's suggestions."""

    AUTO = "auto", "Auto-classified"
    ACCEPTED = "accepted", "Accepted by a person"
    CORRECTED = "corrected", "Auto-classified, then corrected by a person"
    REJECTED = "rejected", "Suggestions rejected"
