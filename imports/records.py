"""What every status-page parser produces: plain dataclasses, no database.

Parsers (``imports/parsers/<format>.py``) turn a payload's bytes into an
``ImportBatch``; one shared upsert path (``imports/services.py``) writes it.
All datetimes are timezone-aware UTC. External ids are strings (some pages
use integers beyond 2^53, which JSON numbers cannot carry exactly).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

# The update id of a vendor's write-up: Statuspage's own update ids are 12 characters
# (26 on the pages that imitate it), so it cannot collide with one.
POSTMORTEM_ID = "postmortem"


class PayloadError(ValueError):
    """The payload as a whole is unreadable (not JSON/XML, or not this format)."""


@dataclass(frozen=True)
class ImportedComponent:
    external_id: str  # the status page's component id: stable across renames
    name: str


@dataclass
class ImportedUpdate:
    external_id: str
    status: str  # the page's own word: investigating, identified, monitoring, resolved, ...
    body: str
    body_format: str  # "markdown", "html" or "text"
    display_at: datetime  # when the page says it happened (may be back-dated)
    created_at: datetime | None = None


@dataclass(frozen=True)
class WrittenTimeline:
    """The span a backfilled incident's update writes out as a timeline of times and texts
    (``parsers/legacy_timeline.py``).

    History imported into a status page has its start, end and updates stamped at one
    instant: there the page's own times say nothing, and these are the incident's moments.
    """

    start: datetime  # the earliest entry
    end: datetime  # the last entry that says resolved, else the last entry
    detected_at: datetime | None = None  # the earliest entry, when it says investigating


@dataclass
class ImportedIncident:
    external_id: str
    title: str
    status: str  # the page's lifecycle word; closed ones are resolved/postmortem/completed
    impact: str  # none, minor, major, critical, maintenance (page vocabulary, normalised)
    started_at: datetime | None
    resolved_at: datetime | None  # None while open, or when the page gives no usable end
    is_maintenance: bool = False
    url: str = ""  # the incident's own page on the status page (kept as a source)
    components: list[ImportedComponent] = field(default_factory=list)
    updates: list[ImportedUpdate] = field(default_factory=list)  # oldest first
    # The vendor's own write-up when the page publishes one apart from its updates
    # (Statuspage's ``postmortem_body``); its id is POSTMORTEM_ID.
    postmortem: ImportedUpdate | None = None
    raw: dict = field(default_factory=dict)  # this incident's own JSON, kept for re-parsing
    created_at: datetime | None = None  # when the page created it, where the page says
    # Set when the start and end above were read from a backfilled update's text; its
    # updates then mark no moment of their own but the detection.
    written_timeline: WrittenTimeline | None = None
    regions: list[str] = field(default_factory=list)  # location ids, in the page's order


@dataclass
class ItemError:
    """One incident of a batch that could not be read; the rest still import."""

    external_id: str
    message: str


@dataclass
class ImportBatch:
    incidents: list[ImportedIncident] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)
    skipped: int = 0  # items only counted, not parsed (see ``parsers.common.count_items``)
