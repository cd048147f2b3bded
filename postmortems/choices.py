"""Enumerations of the postmortem domain. Their values are part of the API contract."""

from django.db import models


class VendorKind(models.TextChoices):
    CLOUD = "cloud", "Cloud provider"
    SAAS = "saas", "SaaS"
    NETWORK = "network", "CDN / network"
    INTERNAL = "internal", "Internal team"
    OTHER = "other", "Other"


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    MAJOR = "major", "Major"
    MINOR = "minor", "Minor"
    NONE = "none", "None"


class ReviewStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    IN_REVIEW = "in_review", "In review"
    PUBLISHED = "published", "Published"


class DetectionMethod(models.TextChoices):
    ALERT = "alert", "Alert"
    CUSTOMER_REPORT = "customer_report", "Customer report"
    STATUS_PAGE = "status_page", "Status page"
    INTERNAL_REPORT = "internal_report", "Internal report"
    OTHER = "other", "Other"


class SourceKind(models.TextChoices):
    OFFICIAL_POSTMORTEM = "official_postmortem", "Official postmortem"
    STATUS_PAGE = "status_page", "Status page"
    NEWS = "news", "News"
    INTERNAL_DOCUMENT = "internal_document", "Internal document"


class Origin(models.TextChoices):
    MANUAL = "manual", "Written by hand"
    IMPORTED = "imported", "Imported"


class FactorRole(models.TextChoices):
    ROOT_CAUSE = "root_cause", "Root cause"
    CONTRIBUTING = "contributing", "Contributing factor"
    MITIGATING = "mitigating", "Mitigating factor"


class TypicalRole(models.TextChoices):
    """How a failure category usually appears in a postmortem (a hint for pickers)."""

    ROOT_CAUSE = "root_cause", "Usually a root cause"
    CONTRIBUTING = "contributing", "Usually contributing"
    EITHER = "either", "Either"


class ActionItemType(models.TextChoices):
    DETECTIVE = "detective", "Detective"
    PREVENTIVE = "preventive", "Preventive"
    CORRECTIVE = "corrective", "Corrective"
    MITIGATIVE = "mitigative", "Mitigative"


class ActionItemStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    WONT_DO = "wont_do", "Won't do"


class Role(models.TextChoices):
    """The Django groups that grant Hindsight's roles."""

    VIEWER = "viewer", "Viewer"
    AUTHOR = "author", "Author"
    REVIEWER = "reviewer", "Reviewer"
    ADMIN = "admin", "Admin"


class ReviewActionKind(models.TextChoices):
    SUBMITTED = "submitted", "Submitted for review"
    PUBLISHED = "published", "Published"
    RETURNED = "returned", "Sent back to the author"


# The text-search configuration of the incident search index, its queries and its limits.
SEARCH_CONFIG = "english"
