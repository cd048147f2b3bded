"""Published counts, taken ahead of time, and what a viewer may see besides them.

The vendor, taxonomy and home pages show counts over the whole knowledge base. Counting a
million rows on every request cost seconds, so ``take_counts`` counts the published
postmortems into the ``*Tally`` tables a minute after they change (the pattern refresh's
trigger) and nightly, in a few statements over one snapshot of the data.

A page's figure is then the tally plus a live count over ``unsnapshotted(user)``: what
the viewer may see that the tally leaves out — their drafts and reviews (all of them for
reviewers and admins) and whatever was published since the counts were taken. Those are
few, and found by index, so visibility stays exact and a new postmortem counts at once.

What may lag, until the next count (about a minute): a change to an already published
postmortem's vendors, labels or times, and its deletion. Before the first count every
figure is counted live.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TypeVar

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, Exists, Max, OuterRef, Q, QuerySet
from django.utils import timezone

from postmortems.choices import ReviewStatus
from postmortems.models import (
    CountsSnapshot,
    Incident,
    counted_once_sql,
)

T = TypeVar("T")
# Not "status <> published": PostgreSQL's b-tree answers a list of values, not an inequality.
UNPUBLISHED = [s for s in ReviewStatus.values if s != ReviewStatus.PUBLISHED]
CACHE_SECONDS = 600
LOCK = 7_214_403  # pg_advisory_xact_lock key: one count at a time


def current_snapshot() -> CountsSnapshot | None:
    return CountsSnapshot.objects.order_by("-taken_at").first()


@dataclass(frozen=True)
class Counting:
    """What one viewer's figures add up: the published counts (when taken) and, counted
    live, the rows beyond them (``rows``) and their outages counted once (``outages``)."""

    snapshot: CountsSnapshot | None
    rows: QuerySet[Incident]
    outages: QuerySet[Incident]

    @property
    def tallied(self) -> bool:
        return self.snapshot is not None

    # Everyone but reviewers sees a few incidents beyond the counts (their own drafts and
    # the newly published): read once as ids, the live counts are then planned as lookups
    # of these ids. A reviewer sees every draft (1% of a knowledge base): counted from the
    # status index instead, as thousands of ids in a statement would be slower to plan.
    few: bool = True
    # What lies beyond the counts is the same for every reviewer: their counts are shared.
    shared: bool = False

    @cached_property
    def row_ids(self) -> list[int]:
        return list(self.rows.order_by().values_list("id", flat=True))

    @cached_property
    def outage_ids(self) -> list[int]:
        return list(self.outages.order_by().values_list("id", flat=True))

    def read(self, key: str, compute: Callable[[], T]) -> T:
        """``compute()``, a live count over what lies beyond the counts. A reviewer's is the
        same for every reviewer and changes only when a draft does: kept in the cache under
        a fingerprint of the drafts, so a knowledge base's thousands of drafts are counted
        once per change, not on every page."""
        if not self.shared:
            return compute()
        return cache.get_or_set(f"counts:beyond:{self.fingerprint}:{key}", compute, CACHE_SECONDS)

    @cached_property
    def fingerprint(self) -> str:
        """Changes whenever a draft or review is added, edited, deleted or published (an
        edit of its parts saves the incident too), and with every new count."""
        # Read from a partial index of the drafts alone, without visiting their rows.
        drafts = Incident.objects.filter(status__in=UNPUBLISHED).aggregate(
            n=Count("id"), edited=Max("updated_at"), last=Max("id")
        )
        taken = self.snapshot.taken_at if self.snapshot else None
        since = Incident.objects.filter(published_at__gt=taken) if taken else Incident.objects
        published = since.aggregate(n=Count("id"), edited=Max("updated_at"), last=Max("id"))
        parts = (taken, *drafts.values(), *published.values())
        return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]

    def live_rows(self) -> QuerySet[Incident]:
        return Incident.objects.filter(pk__in=self.row_ids) if self.few else self.rows

    def live_outages(self) -> QuerySet[Incident]:
        return Incident.objects.filter(pk__in=self.outage_ids) if self.few else self.outages


def counting_for(user) -> Counting:
    """One query: which counts exist; the live parts are querysets, read when used."""
    snapshot = current_snapshot()
    reviewer = user.has_perm("postmortems.review_incident")
    return Counting(
        snapshot,
        unsnapshotted(user, snapshot),
        unsnapshotted_outages(user, snapshot),
        # Before the first count everything is beyond it: never read as ids.
        few=snapshot is not None and not reviewer,
        shared=reviewer,
    )


def unsnapshotted(user, snapshot: CountsSnapshot | None) -> QuerySet[Incident]:
    """The incidents ``user`` may see that the published counts leave out (every row)."""
    visible = Incident.objects.visible_to(user)
    if snapshot is None:
        return visible
    published_since = Q(status=ReviewStatus.PUBLISHED, published_at__gt=snapshot.taken_at)
    if user.has_perm("postmortems.review_incident"):  # visible_to() is everything
        return Incident.objects.filter(Q(status__in=UNPUBLISHED) | published_since)
    # Their own drafts by the author index, never a read of everyone's drafts.
    authored = Incident.authors.through.objects.filter(user=user).values("incident_id")
    return Incident.objects.filter(Q(id__in=authored, status__in=UNPUBLISHED) | published_since)


def unsnapshotted_outages(user, snapshot: CountsSnapshot | None) -> QuerySet[Incident]:
    """``unsnapshotted`` with each outage once, and without the records of an outage that a
    counted published record already stands for (the tally counted it)."""
    extra = unsnapshotted(user, snapshot).counted_once()
    if snapshot is None:
        return extra
    counted = Incident.objects.filter(
        status=ReviewStatus.PUBLISHED, published_at__lte=snapshot.taken_at
    )
    return extra.exclude(
        Exists(counted.filter(pk=OuterRef("same_outage_as_id")))
        | Exists(counted.filter(same_outage_as=OuterRef("pk")))
    )


# --- Taking the counts -------------------------------------------------------------------------

PUBLISHED_ROWS = f"""
CREATE TEMPORARY TABLE tally_incident ON COMMIT DROP AS
SELECT i.id, i.severity, i.started_at, i.resolved_at, {counted_once_sql("i")} AS counted
FROM postmortems_incident i WHERE i.status = %(published)s
"""
# One row per (incident, category) with the roles it is cited in: an incident citing a
# category twice counts once.
CATEGORY_ROWS = """
CREATE TEMPORARY TABLE tally_category ON COMMIT DROP AS
SELECT f.incident_id, f.category_id, t.counted,
       bool_or(f.role = 'root_cause') AS root_cause,
       bool_or(f.role = 'contributing') AS contributing,
       bool_or(f.role = 'mitigating') AS mitigating
FROM postmortems_factor f JOIN tally_incident t ON t.id = f.incident_id
GROUP BY f.incident_id, f.category_id, t.counted
"""
STATEMENTS = (
    "DELETE FROM postmortems_severitytally",
    "DELETE FROM postmortems_vendortally",
    "DELETE FROM postmortems_vendoryeartally",
    "DELETE FROM postmortems_labeltally",
    """INSERT INTO postmortems_severitytally (severity, records, incidents)
       SELECT severity, count(*), count(*) FILTER (WHERE counted)
       FROM tally_incident GROUP BY severity""",
    """INSERT INTO postmortems_vendortally
           (vendor_id, records, incidents, last_started_at, unknown_duration)
       SELECT iv.vendor_id, count(*), count(*) FILTER (WHERE t.counted),
              max(t.started_at) FILTER (WHERE t.counted),
              count(*) FILTER (WHERE t.counted AND (t.started_at IS NULL OR t.resolved_at IS NULL))
       FROM postmortems_incidentvendor iv JOIN tally_incident t ON t.id = iv.incident_id
       GROUP BY iv.vendor_id""",
    # Years in UTC, not a viewer's zone, so everyone sees the same figures.
    """INSERT INTO postmortems_vendoryeartally (vendor_id, year, incidents, downtime)
       SELECT iv.vendor_id, extract(year FROM t.started_at AT TIME ZONE 'UTC'), count(*),
              sum(t.resolved_at - t.started_at)
       FROM postmortems_incidentvendor iv JOIN tally_incident t ON t.id = iv.incident_id
       WHERE t.counted AND t.started_at IS NOT NULL AND t.resolved_at IS NOT NULL
       GROUP BY 1, 2""",
    """INSERT INTO postmortems_labeltally (vendor_id, change_type_id, records, incidents,
                                           root_cause, contributing, mitigating)
       SELECT NULL, ct.changetype_id, count(*), count(*) FILTER (WHERE t.counted), 0, 0, 0
       FROM postmortems_incident_change_types ct JOIN tally_incident t ON t.id = ct.incident_id
       GROUP BY ct.changetype_id""",
    """INSERT INTO postmortems_labeltally (vendor_id, change_type_id, records, incidents,
                                           root_cause, contributing, mitigating)
       SELECT iv.vendor_id, ct.changetype_id, count(*), count(*) FILTER (WHERE t.counted),
              0, 0, 0
       FROM postmortems_incident_change_types ct
       JOIN tally_incident t ON t.id = ct.incident_id
       JOIN postmortems_incidentvendor iv ON iv.incident_id = ct.incident_id
       GROUP BY iv.vendor_id, ct.changetype_id""",
    """INSERT INTO postmortems_labeltally (vendor_id, category_id, records, incidents,
                                           root_cause, contributing, mitigating)
       SELECT NULL, category_id, count(*), count(*) FILTER (WHERE counted),
              count(*) FILTER (WHERE counted AND root_cause),
              count(*) FILTER (WHERE counted AND contributing),
              count(*) FILTER (WHERE counted AND mitigating)
       FROM tally_category GROUP BY category_id""",
    """INSERT INTO postmortems_labeltally (vendor_id, category_id, records, incidents,
                                           root_cause, contributing, mitigating)
       SELECT iv.vendor_id, c.category_id, count(*), count(*) FILTER (WHERE c.counted),
              count(*) FILTER (WHERE c.counted AND c.root_cause),
              count(*) FILTER (WHERE c.counted AND c.contributing),
              count(*) FILTER (WHERE c.counted AND c.mitigating)
       FROM tally_category c JOIN postmortems_incidentvendor iv ON iv.incident_id = c.incident_id
       GROUP BY iv.vendor_id, c.category_id""",
)


def take_counts() -> CountsSnapshot | None:
    """Count every published postmortem into the tally tables, as of one moment.

    Returns None, counting nothing, while another process is counting: its counts are at
    most as old as this call.
    """
    started = time.monotonic()
    outermost = not connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cursor:
        # Every statement reads the same snapshot, the one whose start ``taken_at`` names:
        # what is published after it is counted live until the next count. (Inside a
        # caller's transaction, its isolation holds.)
        if outermost:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        # The application's clock, which stamps ``published_at``, read before the snapshot:
        # a postmortem published as the count starts is counted live rather than missed
        # (one whose transaction is still open then is counted by the next count, which
        # its publication requests).
        taken_at = timezone.now()
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [LOCK])
        locked = cursor.fetchone()[0]
        if not locked:
            return None
        # Dropped at commit; dropped here too for a caller's longer transaction.
        cursor.execute("DROP TABLE IF EXISTS tally_incident, tally_category")
        cursor.execute(PUBLISHED_ROWS, {"published": ReviewStatus.PUBLISHED})
        cursor.execute("ANALYZE tally_incident")
        cursor.execute(CATEGORY_ROWS)
        for statement in STATEMENTS:
            cursor.execute(statement)
        CountsSnapshot.objects.all().delete()
        return CountsSnapshot.objects.create(
            taken_at=taken_at, seconds=round(time.monotonic() - started, 3)
        )


def counts_age() -> float | None:
    """Seconds since the counts were taken (None before the first)."""
    snapshot = current_snapshot()
    return None if snapshot is None else (timezone.now() - snapshot.taken_at).total_seconds()
