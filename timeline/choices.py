from django.db import models
from django.db.models import Max, Min


class EventKind(models.TextChoices):
    CHANGE = "change", "Change"
    IMPACT_START = "impact_start", "Impact starts"
    DETECTION = "detection", "Detection"
    ESCALATION = "escalation", "Escalation"
    DIAGNOSIS = "diagnosis", "Diagnosis"
    MITIGATION = "mitigation", "Mitigation"
    RECOVERY = "recovery", "Recovery"
    RESOLUTION = "resolution", "Resolution"
    STATUS_UPDATE = "status_update", "Status update"
    NOTE = "note", "Note"


class BodyFormat(models.TextChoices):
    MARKDOWN = "markdown", "Markdown"
    HTML = "html", "HTML"
    TEXT = "text", "Plain text"


# Events of these kinds set the incident's moment of the same meaning. The
# earliest start, detection and mitigation count; the latest resolution does,
# because a status page may post "resolved" more than once.
MOMENT_OF_KIND = {
    EventKind.IMPACT_START: ("started_at", Min),
    EventKind.DETECTION: ("detected_at", Min),
    EventKind.MITIGATION: ("mitigated_at", Min),
    EventKind.RESOLUTION: ("resolved_at", Max),
}

MANUAL_SOURCE = "manual"
