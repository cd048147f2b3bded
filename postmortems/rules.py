"""The rules every writer of an incident follows, as pure functions: no database, no I/O.

An incident is written by the editor and the API (``postmortems.services``), its timeline
(``timeline.services``), the admin, the demo loader and the status-page importer, which
writes with COPY for speed. Each takes its decisions here, so the rules exist once:

- **moments from events**: a timeline's marker events set the incident's moments;
- **versions**: every edit moves the version on, and an edit made against an older one is
  refused;
- **publication time**: stamped once, at the instant of the write that publishes;
- **slugs**: the title and start month, numbered when taken;
- **history**: an entry per written row, naming who wrote it (nobody, for an import);
- **pattern refresh**: which writes change what the pattern analysis reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from django.db.models import Max
from django.utils.text import slugify

from postmortems.choices import ReviewStatus
from timeline.choices import MOMENT_OF_KIND

# --- Moments from events ---------------------------------------------------------------


def synced_moments(
    moments: Mapping[str, datetime | None],
    events: Iterable[tuple[str, datetime]],
    removed: Iterable[tuple[str, datetime | None]] = (),
) -> dict[str, datetime | None]:
    """The moments once the timeline's marker events set them.

    ``events`` are (kind, time) pairs. Each moment comes from its marker events: the
    earliest start, detection and mitigation and the latest resolution (a status page may
    say "resolved" twice). A moment with no marker event keeps its hand-entered value,
    unless the event that set it was just moved, re-kinded or deleted (``removed`` holds
    such events' old (kind, time)): then it clears with it.
    """
    times: dict[str, list[datetime]] = {}
    for kind, at in events:
        if kind in MOMENT_OF_KIND:
            times.setdefault(kind, []).append(at)
    result = dict(moments)
    removed = set(removed)
    for kind, (moment, aggregate) in MOMENT_OF_KIND.items():
        found = times.get(kind)
        if found:
            result[moment] = max(found) if aggregate is Max else min(found)
        elif (kind, result.get(moment)) in removed:
            result[moment] = None
    return result


# --- Versions ----------------------------------------------------------------------------


def next_version(version: int) -> int:
    """The version an edit leaves behind."""
    return version + 1


def is_stale(current_version: int, expected_version: int) -> bool:
    """Whether an edit made against ``expected_version`` would overwrite someone's save."""
    return current_version != expected_version


# --- Publication time --------------------------------------------------------------------


def publication_time(status: str, published_at: datetime | None, now: datetime) -> datetime | None:
    """The publication time to store for a row written at ``now``.

    Stamped by the write that makes the incident published, with that write's own time,
    which is also its ``updated_at``; so a postmortem counts as edited after publication
    only when a later write changed it (``edited_after_publication``).
    """
    if status == ReviewStatus.PUBLISHED and published_at is None:
        return now
    return published_at


def edited_after_publication(published_at: datetime | None, updated_at: datetime) -> bool:
    return published_at is not None and updated_at > published_at


# --- Slugs -------------------------------------------------------------------------------


def slug_base(title: str, started_at: datetime | None = None) -> str:
    """The readable part of a slug: the title and the start month."""
    base = slugify(title)[:90] or "incident"
    return base if started_at is None else f"{base}-{started_at:%Y-%m}"


def free_slug(base: str, taken: set[str]) -> str:
    """``base``, or ``base-2``, ``base-3``… whichever ``taken`` does not hold."""
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


# --- History -----------------------------------------------------------------------------

CREATED, CHANGED, DELETED = "+", "~", "-"


def history_user_id(user) -> int | None:
    """Who an entry names: the person who made the edit, or nobody for an import."""
    return None if user is None or not getattr(user, "pk", None) else user.pk


# --- Pattern refresh ---------------------------------------------------------------------


def affects_patterns(*statuses: str | None) -> bool:
    """Whether a write touching an incident that was, or now is, in these statuses changes
    what pattern analysis reads: only published postmortems take part in it."""
    return ReviewStatus.PUBLISHED in statuses
