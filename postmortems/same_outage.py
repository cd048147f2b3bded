"""The same outage, recorded more than once: suggesting the other records, linking them,
unlinking them.

An outage is often recorded twice: the vendor's status-page incident is imported, and
someone writes the postmortem about it; or two feeds of one vendor (its Statuspage JSON
and its RSS feed) each import it. Linked, the records form one outage: every other record
points at the outage's **canonical** record (``Incident.same_outage_as``), which points
nowhere, and statistics count the outage once (``IncidentQuerySet.counted_once``).

Which record is canonical, when two outages' records are linked (``canonical_rank``):

1. a hand-written postmortem (origin *manual*) over an import;
2. then a published one over a draft or one in review;
3. then the one with the longer analysis and summary;
4. then the one created first (and, in a tie, the lower id).

The two outages' canonical records are compared and the better stands for both; the
other, and every record that pointed at it, then point at the better (so chains never
form: linking A to B where B is another record of C makes A another record of C). A
canonical record is never itself another record, and no record is another of itself
(a check constraint). The rule is applied when linking; publishing or editing a record
later does not move the outage to another canonical.

Every record whose link changes gets a new version and a history entry naming who linked
it, through the same path as any edit of an incident (``services.bump_version``).
Linking or unlinking needs edit rights on each record named and each record it changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import (
    Case,
    Exists,
    F,
    FloatField,
    Func,
    OuterRef,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Substr
from django.utils import timezone

from postmortems import permissions, rules
from postmortems.choices import Origin, ReviewStatus
from postmortems.models import Incident, IncidentVendor
from postmortems.services import EditConflict, bump_version, changed_fields_since
from postmortems.services_parts import CHANGE_REASON_LENGTH

# An outage's end, when a record does not know it: the start plus this (and the
# start, when only the end is known, the end minus this).
MARGIN = timedelta(hours=6)
# How long before a record's start another record of the same outage may start: the
# longest outages last days, and a feed may date an outage from its first notice.
LOOKBACK = timedelta(days=7)
# Rows read for scoring at most (the nearest in time first); pages show three.
CANDIDATE_ROWS = 50
SUMMARY_CHARS = 1000
# Weights of the two halves of a candidate's score.
TIME_WEIGHT = 0.5
TEXT_WEIGHT = 0.5
TITLE_SHARE = 0.7  # of the text half: the titles; the rest compares titles and summaries
SHARED_WORDS_SHOWN = 4

SELF_LINK_MESSAGE = "A postmortem cannot be another record of itself."
NOT_LINKED_MESSAGE = "This postmortem is not linked to another record of its outage."
# One lock for every link and unlink: they are rare and made by people, and two made at
# once could otherwise each flatten half of the same chain.
LINK_LOCK = 0x5A3E_0C7A

WORD = re.compile(r"[^\W_]+")
# Words every status page uses: sharing them says nothing about being the same outage.
_STOPWORDS = """
    the and for with from that this are was were has have had been being some all any our
    your their its into onto over under after before due not but can may now than then
    who what when where which while via per out off across still also more less about
    incident incidents issue issues outage outages problem problems investigating
    identified monitoring resolved update updates users customers customer user impact
    impacting impacted affecting affected elevated degraded partial major minor experiencing
"""
STOPWORDS = frozenset(_STOPWORDS.split())


@dataclass(frozen=True)
class Candidate:
    """A postmortem that may record the same outage, with why it is suggested."""

    incident: Incident
    score: float  # 0 to 1
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class OutageRecords:
    """The other records of an incident's outage that a reader may see."""

    canonical: Incident | None  # the record this one is another record of, if any
    others: list[Incident]  # the outage's other records: neither this one nor ``canonical``

    @property
    def linked(self) -> bool:
        return self.canonical is not None or bool(self.others)


# --- Reading -----------------------------------------------------------------------------


def outage_records(incident: Incident, user) -> OutageRecords:
    """The records of ``incident``'s outage ``user`` may see, besides ``incident``; one query."""
    root = incident.same_outage_as_id or incident.pk
    rows = list(
        Incident.objects.visible_to(user)
        .filter(Q(pk=root) | Q(same_outage_as_id=root))
        .exclude(pk=incident.pk)
        .only(
            "id", "slug", "title", "status", "origin", "import_source", "started_at",
            "same_outage_as_id",
        )
        .order_by(F("started_at").asc(nulls_last=True), "id")
    )  # fmt: skip
    canonical = next((row for row in rows if row.pk == incident.same_outage_as_id), None)
    return OutageRecords(canonical, [row for row in rows if row is not canonical])


def candidates(incident: Incident, *, user, limit: int = 3) -> list[Candidate]:
    """Up to ``limit`` postmortems ``user`` may see that may record ``incident``'s outage,
    best first: they share a vendor and their times overlap; similar titles and summaries
    rank them. One query, and one for each of the incident's vendors and summary that
    were not loaded with it (the incident page prefetches the vendors, defers the summary)."""
    span = outage_span(incident)
    vendor_ids = [link.vendor_id for link in incident.incident_vendors.all()]
    if span is None or not vendor_ids:
        return []
    rows = list(_nearby(incident, user, vendor_ids, span))
    if not rows:
        return []
    own = Wording(incident.title, _summary_start(incident))
    found = [c for other in rows if (c := _scored(own, span, other)) is not None]
    found.sort(key=lambda c: (-c.score, c.incident.pk))
    return found[:limit]


def outage_span(incident: Incident) -> tuple[datetime, datetime] | None:
    """When the outage ran, as this record knows it: start to resolution, an unknown end
    ``MARGIN`` after the start (an unknown start ``MARGIN`` before the end)."""
    start = incident.started_at
    end = None if incident.duration_unknown else incident.resolved_at
    if start is None and end is None:
        return None
    if start is None:
        start = end - MARGIN
    if end is None:
        end = start + MARGIN
    return start, end


class SecondsApart(Func):
    template = "abs(date_part('epoch', %(expressions)s))"
    arg_joiner = " - "
    output_field = FloatField()


def _nearby(incident: Incident, user, vendor_ids: list[int], span: tuple[datetime, datetime]):
    """The visible incidents of the vendors whose times overlap ``span``, nearest first.

    Found by the start index (a range of ``LOOKBACK`` plus the span, whatever the size of
    the knowledge base or of the vendor), each vendor checked by the (incident, vendor)
    unique index.
    """
    start, end = span
    root = incident.same_outage_as_id or incident.pk
    shared = IncidentVendor.objects.filter(incident=OuterRef("pk"), vendor_id__in=vendor_ids)
    known_end = Q(resolved_at__isnull=False, duration_unknown=False)
    return (
        Incident.objects.visible_to(user)
        .filter(started_at__gte=start - LOOKBACK, started_at__lte=end)
        .alias(
            ends_at=Case(
                When(known_end, then=F("resolved_at")), default=F("started_at") + Value(MARGIN)
            )
        )
        .filter(ends_at__gte=start)
        .filter(Exists(shared))
        .exclude(pk__in=(incident.pk, root))
        .exclude(same_outage_as_id=root)
        .annotate(
            shared_vendor=Subquery(shared.order_by("vendor__name").values("vendor__name")[:1]),
            summary_start=Substr("summary", 1, SUMMARY_CHARS),
        )
        .only(
            "id",
            "slug",
            "title",
            "status",
            "origin",
            "import_source",
            "started_at",
            "resolved_at",
            "duration_unknown",
            "same_outage_as_id",
        )
        .order_by(SecondsApart(F("started_at"), Value(start)), "id")[:CANDIDATE_ROWS]
    )


class Wording:
    """A record's telling words: of its title, and of its title and summary together."""

    def __init__(self, title: str, summary: str) -> None:
        self.title_text = title
        self.title = words(title)
        self.text = self.title | words(summary)


def _scored(own: Wording, span: tuple[datetime, datetime], other: Incident) -> Candidate | None:
    """``other`` as a candidate, or None when its times do not overlap after all."""
    other_span = outage_span(other)
    overlap = min(span[1], other_span[1]) - max(span[0], other_span[0])
    if overlap < timedelta(0):
        return None
    shorter = min(span[1] - span[0], other_span[1] - other_span[0])
    time_score = 1.0 if shorter <= timedelta(0) else min(1.0, overlap / shorter)
    theirs = Wording(other.title, other.summary_start)
    text_score = TITLE_SHARE * jaccard(own.title, theirs.title) + (1 - TITLE_SHARE) * jaccard(
        own.text, theirs.text
    )
    reasons = [f"same vendor: {other.shared_vendor}", overlap_reason(overlap)]
    if shared := shared_words(own.title_text, theirs.title):
        reasons.append("titles share " + ", ".join(f"'{word}'" for word in shared))
    score = round(TIME_WEIGHT * time_score + TEXT_WEIGHT * text_score, 3)
    return Candidate(other, score, reasons)


def _summary_start(incident: Incident) -> str:
    # The incident page loads its header without the summary; reading it here costs one
    # query, and only when there is a candidate to compare it with.
    return (incident.summary or "")[:SUMMARY_CHARS]


def word_key(word: str) -> str:
    """A word as compared: lower case, a plural's ``s`` dropped (webhooks, webhook)."""
    word = word.lower()
    return word[:-1] if len(word) > 4 and word.endswith("s") and not word.endswith("ss") else word


def words(text: str) -> set[str]:
    """The telling words of a text, as compared (no stopwords, none under three letters)."""
    return {
        word_key(word)
        for word in WORD.findall(text or "")
        if len(word) >= 3 and word.lower() not in STOPWORDS
    }


def shared_words(title: str, other: set[str]) -> list[str]:
    """The words of ``title`` (as written there, in its order) that ``other`` also has."""
    shown: list[str] = []
    for word in WORD.findall(title or ""):
        lower = word.lower()
        telling = len(word) >= 3 and lower not in STOPWORDS
        if telling and word_key(word) in other and lower not in shown:
            shown.append(lower)
    return shown[:SHARED_WORDS_SHOWN]


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def overlap_reason(overlap: timedelta) -> str:
    minutes = int(overlap.total_seconds() // 60)
    if minutes < 1:
        return "times meet"
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (0 if days else minutes, "min")]  # two units at most
    return "times overlap by " + " ".join(f"{n} {unit}" for n, unit in parts if n)


# --- Linking -----------------------------------------------------------------------------


def canonical_rank(incident: Incident) -> tuple:
    """Sorts the record that should stand for an outage first (see the module)."""
    return (
        incident.origin != Origin.MANUAL,
        incident.status != ReviewStatus.PUBLISHED,
        -(len(incident.analysis or "") + len(incident.summary or "")),
        incident.created_at,
        incident.pk,
    )


@transaction.atomic
def link_same_outage(
    *, incident: Incident, other: Incident, user, expected_version: int | None = None
) -> Incident:
    """Record that ``incident`` and ``other`` are the same outage; returns its canonical
    record. ``expected_version``, when given, is the version of ``incident`` the request
    was based on (a stale one raises ``EditConflict``, nothing written)."""
    if incident.pk == other.pk:
        raise ValidationError(SELF_LINK_MESSAGE)
    rows = _lock_outages(incident.pk, other.pk)
    incident, other = rows[incident.pk], rows[other.pk]
    _check_version(incident, expected_version)
    _require_edit(user, incident, other)
    first, second = _canonical_in(incident, rows), _canonical_in(other, rows)
    if first.pk == second.pk:
        return first  # already one outage: nothing to write
    canonical, folded = sorted((first, second), key=canonical_rank)
    moving = [folded, *_others_in(folded, rows)]
    _require_edit(user, *moving)
    for record in moving:
        _point(record, canonical, user)
    return canonical


@transaction.atomic
def unlink_same_outage(*, incident: Incident, user, expected_version: int | None = None) -> None:
    """Make ``incident`` a record of its own outage again.

    Another record simply stops pointing at its canonical one. A canonical record leaves
    its outage to the others, the best of whom (``canonical_rank``) then stands for it.
    """
    rows = _lock_outages(incident.pk)
    incident = rows[incident.pk]
    _check_version(incident, expected_version)
    if incident.same_outage_as_id is not None:
        _require_edit(user, incident)
        _point(incident, None, user)
        return
    others = _others_in(incident, rows)
    if not others:
        raise ValidationError(NOT_LINKED_MESSAGE)
    _require_edit(user, incident, *others)
    successor, *rest = sorted(others, key=canonical_rank)
    _point(successor, None, user)
    for record in rest:
        _point(record, successor, user)


def _lock_outages(*ids: int) -> dict[int, Incident]:
    """Every record of the outages of ``ids``, locked for update, by id."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LINK_LOCK])
    # Under that lock no link moves, so the outages read here are still theirs below.
    pointers = Incident.objects.filter(pk__in=ids).values_list("pk", "same_outage_as_id")
    roots = {root or pk for pk, root in pointers}
    rows = (
        Incident.objects.select_for_update()
        .filter(Q(pk__in=[*ids, *roots]) | Q(same_outage_as_id__in=roots))
        .order_by("pk")
    )
    found = {row.pk: row for row in rows}
    missing = [pk for pk in ids if pk not in found]
    if missing:
        raise Incident.DoesNotExist(f"No incident with id {missing[0]}.")
    return found


def _check_version(incident: Incident, expected_version: int | None) -> None:
    if expected_version is not None and rules.is_stale(incident.version, expected_version):
        raise EditConflict(incident, changed_fields_since(incident, expected_version))


def _require_edit(user, *records: Incident) -> None:
    for record in records:
        if not permissions.can_edit(user, record):
            raise PermissionDenied(
                f"You may not edit “{record.title}”, so you cannot change what it is linked to."
            )


def _canonical_in(record: Incident, rows: dict[int, Incident]) -> Incident:
    return rows[record.same_outage_as_id] if record.same_outage_as_id else record


def _others_in(canonical: Incident, rows: dict[int, Incident]) -> list[Incident]:
    return [row for row in rows.values() if row.same_outage_as_id == canonical.pk]


def _point(record: Incident, canonical: Incident | None, user) -> None:
    """Make ``record`` another record of ``canonical`` (None: of no other), as an edit."""
    record.same_outage_as = canonical
    linked = canonical is not None
    record.same_outage_linked_by = user if linked and getattr(user, "pk", None) else None
    record.same_outage_linked_at = timezone.now() if linked else None
    reason = f"Same outage as {canonical.slug}" if linked else "No longer linked to another record"
    record._history_user = user
    record._change_reason = reason[:CHANGE_REASON_LENGTH]
    bump_version(record)
    del record._change_reason  # or a later save of the same object would repeat it
