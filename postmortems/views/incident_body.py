"""The incident page's body (everything below the header and review panel), rendered once
per content and kept in Django's cache.

The body is most of the page's cost: the timeline, factors, action items and Markdown of
every field, the history of every part, and the analysis panels. None of it depends on
who reads it, except the time zone its times are shown in, so a published incident's body
is rendered once per content and time zone. The header and the review panel, which say
what the reader may do, are rendered on every request.

Whether the content changed is asked of the database on every request, in one statement
(``content_stamp``), never assumed: the cache is per process, so one worker cannot tell
another that something changed. The stamp covers everything the body shows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from patterns.models import RelatedList, StatsSnapshot
from patterns.related import cached_related_incidents
from postmortems.choices import ReviewStatus
from postmortems.models import (
    ActionItem,
    ChangeType,
    Factor,
    FailureCategory,
    Incident,
    IncidentVendor,
    Source,
    Vendor,
)
from timeline.models import TimelineEvent

# A day: a stamp that stopped matching leaves its entry to expire (or to be culled).
BODY_SECONDS = 24 * 3600


def _tables() -> dict[str, str]:
    history = {
        "incident_history": Incident.history.model,
        "factor_history": Factor.history.model,
        "item_history": ActionItem.history.model,
        "event_history": TimelineEvent.history.model,
    }
    return {
        **{name: model._meta.db_table for name, model in history.items()},
        "change_types": Incident.change_types.through._meta.db_table,
        "evidence": TimelineEvent.evidence_for.through._meta.db_table,
        "event": TimelineEvent._meta.db_table,
        "link": IncidentVendor._meta.db_table,
        "vendor": Vendor._meta.db_table,
        "source": Source._meta.db_table,
        "related": RelatedList._meta.db_table,
        "snapshot": StatsSnapshot._meta.db_table,
        "category": FailureCategory._meta.db_table,
        "change_type": ChangeType._meta.db_table,
    }


# Every write to the incident, its factors, action items and timeline events leaves a
# history row (imports write theirs too); links without history are listed by id; names
# that live elsewhere (vendors, the taxonomy) and the analysis a refresh stores are
# fingerprinted. Only the user names in the history are left out: renaming an account is
# rare and harmless to show late.
_STAMP_SQL = """
SELECT concat_ws('|', i.version, i.updated_at, i.status, i.published_at,
  (SELECT max(history_id) FROM {incident_history} WHERE id = i.id),
  (SELECT max(history_id) FROM {factor_history} WHERE incident_id = i.id),
  (SELECT max(history_id) FROM {item_history} WHERE incident_id = i.id),
  (SELECT max(history_id) FROM {event_history} WHERE incident_id = i.id),
  (SELECT array_agg(id ORDER BY id) FROM {change_types} WHERE incident_id = i.id),
  (SELECT array_agg(l.id ORDER BY l.id) FROM {evidence} l
     JOIN {event} e ON e.id = l.timelineevent_id WHERE e.incident_id = i.id),
  (SELECT md5(string_agg(concat_ws(',', id, url, title, kind), ';' ORDER BY id))
     FROM {source} WHERE incident_id = i.id),
  (SELECT max(v.updated_at) FROM {link} l JOIN {vendor} v ON v.id = l.vendor_id
     WHERE l.incident_id = i.id),
  (SELECT computed_at FROM {related} WHERE incident_id = i.id),
  (SELECT max(computed_at) FROM {snapshot}),
  (SELECT md5(string_agg(concat_ws(',', id, slug, name, definition, parent_id), ';'
     ORDER BY id)) FROM {category}),
  (SELECT md5(string_agg(concat_ws(',', id, slug, name, definition), ';' ORDER BY id))
     FROM {change_type})),
  EXISTS (SELECT 1 FROM {related} WHERE incident_id = i.id)
FROM {incident} i WHERE i.id = %s
"""


def content_stamp(incident_id: int) -> tuple[str, bool]:
    """A digest of everything the body of this incident's page shows, and whether its
    related incidents are stored yet."""
    sql = _STAMP_SQL.format(incident=Incident._meta.db_table, **_tables())
    with connection.cursor() as cursor:
        cursor.execute(sql, [incident_id])
        stamp, related_stored = cursor.fetchone()
    return hashlib.sha256(stamp.encode()).hexdigest(), related_stored


def published_stamp(incident: Incident) -> str:
    """``content_stamp``, once the related incidents the body shows are stored: the first
    view stores them, and a body keyed before that would never be read again."""
    stamp, related_stored = content_stamp(incident.pk)
    if related_stored:
        return stamp
    cached_related_incidents(incident)
    return content_stamp(incident.pk)[0]


def incident_body(incident: Incident, render: Callable[[], str]) -> SafeString:
    """The body of ``incident``'s page: ``render()``'s output, from the cache when the
    content and the reader's time zone are the same as when it was rendered.

    Drafts and incidents in review are rendered every time: few people read them, and
    their analysis panels are computed on every read anyway.
    """
    if incident.status != ReviewStatus.PUBLISHED:
        return mark_safe(render())
    zone = timezone.get_current_timezone_name()
    key = f"incident-body:{incident.pk}:{published_stamp(incident)}:{zone}"
    body = cache.get(key)
    if body is None:
        body = render()
        cache.set(key, body, BODY_SECONDS)
    return mark_safe(body)
