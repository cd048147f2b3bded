"""The floor: the least work that answers each benchmarked question, as a plain WSGI app.

``bench/run`` serves this module with the same gunicorn settings as Hindsight and compares
the two. Each route runs the minimal SQL for one of Hindsight's requests over one psycopg
connection per worker, opened after the fork and kept, and returns the same data as JSON:
no framework, no authentication, no templates. The SQL mirrors what Hindsight reads (the
same columns, relations, filters, order and counts), so the ratio between the two is the
cost of everything Hindsight adds on top of the database.

Whose view: routes take ``role`` (``viewer``, ``author`` or ``admin``, the default) and
``user``, and read what that person may see, as ``IncidentQuerySet.visible_to`` decides.

Counts are read the way the product reads them, never by scanning what it no longer scans:
published counts from the tally tables ``postmortems.tallies.take_counts`` fills, plus a
live count of what the person may see beyond them; a filtered list counts its newest
``CAP`` matches only (the total as "10,000+" past that, or whatever cap the measured code
uses); "best match" ranks the newest ``RANKED`` matches.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import combinations
from urllib.parse import parse_qs

import orjson
import psycopg
from psycopg.rows import dict_row

_connection: psycopg.Connection | None = None


def connection() -> psycopg.Connection:
    """This worker's connection; reopened only if the server dropped it."""
    global _connection
    if _connection is None or _connection.closed or _connection.broken:
        _connection = psycopg.connect(
            os.environ["FLOOR_DATABASE_URL"], autocommit=True, row_factory=dict_row
        )
    return _connection


# --- What an incident is in the API ---------------------------------------------------------
# One statement per page: every relation the API's incident shows, as a JSON subquery per
# row (the API's list items are whole incidents, with their timeline and parts).

INCIDENT_COLUMNS = """
    i.id, i.slug, i.title, i.status, i.severity, i.regions, i.regions_affected,
    i.regions_total, i.started_at, i.detected_at, i.mitigated_at, i.resolved_at,
    i.summary, i.impact, i.analysis, i.lessons, i.detection_method, i.data_loss,
    i.near_miss, i.origin, i.import_source, i.external_id, i.needs_review,
    i.is_maintenance, i.duration_unknown, i.version, i.created_at, i.updated_at,
    i.published_at
"""
RELATIONS = {
    "vendors": """SELECT json_agg(json_build_object('slug', v.slug, 'name', v.name,
                  'primary', l.is_primary) ORDER BY l.is_primary DESC, v.name)
                  FROM postmortems_incidentvendor l JOIN postmortems_vendor v ON v.id = l.vendor_id
                  WHERE l.incident_id = i.id""",
    "services": """SELECT json_agg(json_build_object('id', s.id, 'vendor', v.slug, 'name', s.name,
                   'external_id', s.external_id))
                   FROM postmortems_incident_services l
                   JOIN postmortems_service s ON s.id = l.service_id
                   JOIN postmortems_vendor v ON v.id = s.vendor_id WHERE l.incident_id = i.id""",
    "change_types": """SELECT json_agg(c.slug) FROM postmortems_incident_change_types l
                       JOIN postmortems_changetype c ON c.id = l.changetype_id
                       WHERE l.incident_id = i.id""",
    "authors": """SELECT json_agg(u.username) FROM postmortems_incident_authors l
                  JOIN auth_user u ON u.id = l.user_id WHERE l.incident_id = i.id""",
    "reviewers": """SELECT json_agg(u.username) FROM postmortems_incident_reviewers l
                    JOIN auth_user u ON u.id = l.user_id WHERE l.incident_id = i.id""",
    "timeline": """SELECT json_agg(json_build_object('id', e.id, 'occurred_at', e.occurred_at,
                   'kind', e.kind, 'description', e.description, 'body_format', e.body_format,
                   'source', e.source, 'external_id', e.external_id)
                   ORDER BY e.occurred_at, e.position, e.id)
                   FROM timeline_timelineevent e WHERE e.incident_id = i.id""",
    "factors": """SELECT json_agg(json_build_object('id', f.id, 'role', f.role,
                  'category', c.slug, 'description', f.description, 'position', f.position)
                  ORDER BY f.position, f.id)
                  FROM postmortems_factor f JOIN postmortems_failurecategory c
                  ON c.id = f.category_id WHERE f.incident_id = i.id""",
    "action_items": """SELECT json_agg(json_build_object('id', a.id, 'title', a.title,
                       'type', a.type, 'owner', u.username, 'due_date', a.due_date,
                       'status', a.status, 'ticket_url', a.ticket_url,
                       'completed_at', a.completed_at) ORDER BY a.due_date, a.id)
                       FROM postmortems_actionitem a LEFT JOIN auth_user u ON u.id = a.owner_id
                       WHERE a.incident_id = i.id""",
    "sources": """SELECT json_agg(json_build_object('id', s.id, 'url', s.url, 'title', s.title,
                  'kind', s.kind) ORDER BY s.id)
                  FROM postmortems_source s WHERE s.incident_id = i.id""",
}
FULL_INCIDENT = INCIDENT_COLUMNS + "".join(
    f", coalesce(({sql}), '[]') AS {name}" for name, sql in RELATIONS.items()
)
NEWEST_FIRST = "ORDER BY i.started_at DESC NULLS LAST, i.id DESC"
# Rows after (started_at, id) in that order; undated rows come last, as in Hindsight.
AFTER = "AND (i.started_at < %(after)s OR (i.started_at = %(after)s AND i.id < %(after_id)s)"
AFTER += " OR i.started_at IS NULL)"
SEARCH = "websearch_to_tsquery('english', %(q)s)"


def page_of(ids_sql: str, columns: str, params: dict) -> list[dict]:
    """The page's ids first, then their columns and relations.

    A correlated subquery keeps PostgreSQL from scanning in parallel, so the relations are
    read for the page's rows only, after the (parallel) search for them.
    """
    sql = f"""SELECT {columns} FROM ({ids_sql}) page JOIN postmortems_incident i ON i.id = page.id
              {NEWEST_FIRST}"""
    return connection().execute(sql, params).fetchall()


def newest_page(where: str, params: dict, columns: str = "") -> list[dict]:
    """One keyset page of the incidents matching ``where``, newest first."""
    keyset = AFTER if params.get("after") else ""
    ids = f"""SELECT i.id FROM postmortems_incident i WHERE {where} {keyset}
              {NEWEST_FIRST} LIMIT %(size)s"""
    return page_of(ids, columns or ROW, {"size": PAGE, **params})


# --- Who sees what -----------------------------------------------------------------------------
# Conditions on an incident row (alias ``i`` unless told), with ``%(user)s`` for the person.

UNPUBLISHED = "('draft', 'in_review')"
AUTHORED = "(SELECT incident_id FROM postmortems_incident_authors WHERE user_id = %(user)s)"
# When the published counts were taken (before the first count, everything is counted live).
TAKEN = "%(taken)s"


def counted_at(params: dict) -> None:
    """Put the moment of the published counts into ``params``, read once per request as
    Hindsight reads it: a value, not a subquery, so the planner knows how few rows are newer."""
    if "taken" not in params:
        row = (
            connection()
            .execute("SELECT max(taken_at) AS taken FROM postmortems_countssnapshot")
            .fetchone()
        )
        params["taken"] = row["taken"] or datetime(1, 1, 1, tzinfo=UTC)


def role_of(params: dict) -> str:
    return params.get("role", "admin")


def visible(params: dict, alias: str = "i") -> str:
    """``visible_to``: published for everyone, and their own drafts and reviews for authors;
    admins (and reviewers) see every incident."""
    role = role_of(params)
    if role == "admin":
        return "TRUE"
    if role == "author":
        return f"({alias}.status = 'published' OR {alias}.id IN {AUTHORED})"
    return f"{alias}.status = 'published'"


def beyond_counts(params: dict, alias: str = "i") -> str:
    """``tallies.unsnapshotted``: what the person may see that the published counts leave
    out (their drafts and reviews, all of them for admins, and what was published since the
    counts were taken). Few rows, found by the indexes on status and publication time."""
    counted_at(params)
    fresh = f"({alias}.status = 'published' AND {alias}.published_at > {TAKEN})"
    role = role_of(params)
    if role == "admin":
        return f"({alias}.status IN {UNPUBLISHED} OR {alias}.published_at > {TAKEN})"
    if role == "author":
        return f"({fresh} OR ({alias}.status IN {UNPUBLISHED} AND {alias}.id IN {AUTHORED}))"
    return fresh


def once(params: dict) -> str:
    """``tallies.unsnapshotted_outages`` on a row beyond the counts: it counts unless its
    outage is counted already, by a record the counts hold or by another such row (the
    canonical record, else the lowest id). Most rows are linked to nothing: one index probe."""
    counted = f"(o.status = 'published' AND o.published_at <= {TAKEN})"
    extra = beyond_counts(params, "o")
    return f"""(i.same_outage_as_id IS NULL OR NOT EXISTS (SELECT 1 FROM postmortems_incident o
        WHERE (o.id = i.same_outage_as_id AND ({counted} OR {extra}))
           OR (o.same_outage_as_id = i.same_outage_as_id AND o.id < i.id AND {extra})))
        AND NOT EXISTS (SELECT 1 FROM postmortems_incident o
                        WHERE o.same_outage_as_id = i.id AND {counted})"""


# Published statistics count each outage once among the published (``counted_once_sql``).
PUBLISHED_ONCE = """(i.same_outage_as_id IS NULL OR NOT EXISTS (SELECT 1 FROM postmortems_incident o
    WHERE o.status = 'published' AND (o.id = i.same_outage_as_id
    OR (o.same_outage_as_id = i.same_outage_as_id AND o.id < i.id))))"""


# --- Lists: the rows and the counts a list page shows ------------------------------------------

PAGE = 25
# A filtered list counts this many matches, the newest, and "best match" ranks this many:
# the measured code's ``facets.CAP`` and ``search.RANKED``, which ``bench/run`` passes on.
CAP = int(os.environ.get("FLOOR_CAP", "10000"))
RANKED = int(os.environ.get("FLOOR_RANKED", "2000"))
TOP = 12  # values per facet
# What a list row shows.
ROW = """
    i.id, i.slug, i.title, i.started_at, i.severity, i.status,
    coalesce((SELECT json_agg(v.name ORDER BY l.is_primary DESC, v.name)
        FROM postmortems_incidentvendor l JOIN postmortems_vendor v ON v.id = l.vendor_id
        WHERE l.incident_id = i.id), '[]') AS vendors,
    coalesce((SELECT json_agg(c.name ORDER BY c.name) FROM postmortems_incident_change_types l
        JOIN postmortems_changetype c ON c.id = l.changetype_id
        WHERE l.incident_id = i.id), '[]') AS change_types
"""
# The home page's filters, each as the list applies it (a semi-join for a relation).
FILTERS = {
    "vendor": "i.id IN (SELECT incident_id FROM postmortems_incidentvendor "
    "WHERE vendor_id = %(vendor)s)",
    "change_type": "i.id IN (SELECT incident_id FROM postmortems_incident_change_types "
    "WHERE changetype_id = %(change_type)s)",
    "category": "i.id IN (SELECT incident_id FROM postmortems_factor "
    "WHERE category_id = %(category)s)",
    "severity": "i.severity = %(severity)s",
    "status": "i.status = %(status)s",
    # A day in UTC, as a bound the index on started_at can use.
    "started_after": "i.started_at >= (%(started_after)s::date)::timestamp AT TIME ZONE 'UTC'",
    "q": f"i.search_vector @@ {SEARCH}",
}


def matching(params: dict) -> str:
    chosen = [sql for name, sql in FILTERS.items() if params.get(name)]
    return " AND ".join([visible(params), *chosen])


# Unfiltered: every published count from the tallies, plus what the person sees beyond
# them counted live; a facet's top values over both (a few thousand tally rows at most).
EVERYTHING = """
WITH extra AS MATERIALIZED (
    SELECT i.id, i.severity, i.status FROM postmortems_incident i WHERE {beyond}),
labels(facet, id, n) AS (
    SELECT 'vendor', vendor_id, records FROM postmortems_vendortally
    UNION ALL
    SELECT 'vendor', l.vendor_id, count(*) FROM postmortems_incidentvendor l
    JOIN extra e ON e.id = l.incident_id GROUP BY 2
    UNION ALL
    SELECT 'change_type', change_type_id, records FROM postmortems_labeltally
    WHERE vendor_id IS NULL AND change_type_id IS NOT NULL
    UNION ALL
    SELECT 'change_type', l.changetype_id, count(*) FROM postmortems_incident_change_types l
    JOIN extra e ON e.id = l.incident_id GROUP BY 2
    UNION ALL
    SELECT 'category', category_id, records FROM postmortems_labeltally
    WHERE vendor_id IS NULL AND category_id IS NOT NULL
    UNION ALL
    SELECT 'category', f.category_id, count(DISTINCT f.incident_id) FROM postmortems_factor f
    JOIN extra e ON e.id = f.incident_id GROUP BY 2),
top AS (
    SELECT facet, id, n FROM (
        SELECT facet, id, sum(n)::bigint AS n,
               row_number() OVER (PARTITION BY facet ORDER BY sum(n) DESC, id) AS r
        FROM labels GROUP BY facet, id) ranked
    WHERE r <= {top})
SELECT 'severity' AS facet, severity::text AS value, NULL::text AS label, records::bigint AS n
FROM postmortems_severitytally
UNION ALL
SELECT 'status', 'published', NULL, coalesce(sum(records), 0)::bigint
FROM postmortems_severitytally
UNION ALL
SELECT CASE WHEN grouping(severity) = 0 THEN 'severity' ELSE 'status' END,
       coalesce(severity, status), NULL, count(*)
FROM extra GROUP BY GROUPING SETS ((severity), (status))
UNION ALL
SELECT t.facet, coalesce(v.slug, c.slug, fc.slug), coalesce(v.name, c.name, fc.name), t.n
FROM top t
LEFT JOIN postmortems_vendor v ON t.facet = 'vendor' AND v.id = t.id
LEFT JOIN postmortems_changetype c ON t.facet = 'change_type' AND c.id = t.id
LEFT JOIN postmortems_failurecategory fc ON t.facet = 'category' AND fc.id = t.id
"""

# Filtered: the matches counted up to CAP + 1, the facets over the newest CAP of them.
CAPPED = """
WITH sample AS MATERIALIZED (
    SELECT id, row_number() OVER () AS n FROM (
        SELECT i.id FROM postmortems_incident i WHERE {where}
        ORDER BY i.started_at DESC NULLS LAST, i.id DESC LIMIT {cap} + 1) newest),
m AS (SELECT id FROM sample WHERE n <= {cap})
SELECT 'total' AS facet, NULL::text AS value, NULL::text AS label, count(*) AS n FROM sample
UNION ALL
SELECT CASE WHEN grouping(i.severity) = 0 THEN 'severity' ELSE 'status' END,
       coalesce(i.severity, i.status), NULL, count(*)
FROM m JOIN postmortems_incident i ON i.id = m.id
GROUP BY GROUPING SETS ((i.severity), (i.status))
UNION ALL (
  SELECT 'vendor', v.slug, v.name, count(*) FROM postmortems_incidentvendor l
  JOIN m ON m.id = l.incident_id JOIN postmortems_vendor v ON v.id = l.vendor_id
  GROUP BY v.slug, v.name ORDER BY count(*) DESC, v.name LIMIT {top})
UNION ALL (
  SELECT 'change_type', c.slug, c.name, count(*) FROM postmortems_incident_change_types l
  JOIN m ON m.id = l.incident_id JOIN postmortems_changetype c ON c.id = l.changetype_id
  GROUP BY c.slug, c.name ORDER BY count(*) DESC, c.name LIMIT {top})
UNION ALL (
  SELECT 'category', c.slug, c.name, count(DISTINCT f.incident_id) FROM postmortems_factor f
  JOIN m ON m.id = f.incident_id JOIN postmortems_failurecategory c ON c.id = f.category_id
  GROUP BY c.slug, c.name ORDER BY count(DISTINCT f.incident_id) DESC, c.name LIMIT {top})
"""

# "Best match": the newest RANKED matches ranked, the best PAGE with their snippets.
BEST_MATCHES = """
SELECT {row}, ts_headline('english',
    i.summary || ' ' || i.impact || ' ' || i.analysis || ' ' || i.lessons, {search},
    'MaxFragments=2, MaxWords=30, MinWords=12, FragmentDelimiter=" … "') AS snippet
FROM (SELECT c.id, ts_rank(c.search_vector, {search}) AS rank
      FROM (SELECT i.id, i.search_vector FROM postmortems_incident i WHERE {where}
            ORDER BY i.started_at DESC NULLS LAST, i.id DESC LIMIT {ranked}) c
      ORDER BY rank DESC, c.id DESC LIMIT %(size)s) ranked
JOIN postmortems_incident i ON i.id = ranked.id
ORDER BY ranked.rank DESC, ranked.id DESC
"""


def merged(rows: list[dict]) -> dict:
    """Facet rows (a value may come twice: counted and live) as each facet's values with
    their summed counts, largest first."""
    facets: dict[str, dict] = {}
    for row in rows:
        values = facets.setdefault(row["facet"], {})
        label, n = values.get(row["value"], (row["label"], 0))
        values[row["value"]] = (label, n + row["n"])
    return {
        facet: sorted(
            ({"value": v, "label": label, "n": n} for v, (label, n) in values.items()),
            key=lambda item: -item["n"],
        )
        for facet, values in facets.items()
    }


def everything_facets(params: dict) -> dict:
    sql = EVERYTHING.format(beyond=beyond_counts(params), top=TOP)
    facets = merged(connection().execute(sql, params).fetchall())
    total = sum(item["n"] for item in facets.get("severity", []))
    return {"total": total, "capped": False, "facets": facets}


def capped_facets(where: str, params: dict) -> dict:
    sql = CAPPED.format(where=where, cap=CAP, top=TOP)
    facets = merged(connection().execute(sql, params).fetchall())
    total = facets.pop("total")[0]["n"]
    return {"total": min(total, CAP), "capped": total > CAP, "facets": facets}


def best_matches(where: str, params: dict) -> list[dict]:
    sql = BEST_MATCHES.format(row=ROW, search=SEARCH, where=where, ranked=RANKED)
    return connection().execute(sql, {"size": PAGE, **params}).fetchall()


def home(params: dict) -> dict:
    """The home page: a page of rows and the counts beside them."""
    if not any(params.get(name) for name in FILTERS):
        return {"rows": newest_page(visible(params), params), **everything_facets(params)}
    where = matching(params)
    searching = params.get("q") and not params.get("after")
    rows = best_matches(where, params) if searching else newest_page(where, params)
    return {"rows": rows, **capped_facets(where, params)}


# --- Routes ---------------------------------------------------------------------------------


def api_list(params: dict) -> dict:
    """``/api/incidents/``, unfiltered or by vendor: whole incidents, newest first."""
    where = " AND ".join([visible(params), *([FILTERS["vendor"]] if params.get("vendor") else [])])
    return {"results": newest_page(where, params, FULL_INCIDENT)}


def html_list(params: dict) -> dict:
    """The home page filtered by one vendor (``vendor``), as the list group reads it."""
    return home(params)


def detail(params: dict) -> dict:
    sql = f"SELECT {FULL_INCIDENT} FROM postmortems_incident i WHERE i.slug = %(slug)s"
    return connection().execute(sql, params).fetchone()


# What the incident page shows besides the API's incident: the review trail, which events
# are evidence for which factors, every field's history, and the analysis panels (the
# incident's patterns with the fixes of earlier members, its related incidents as the
# last refresh stored them, and the vendor recurrences it continues).
PAGE_RELATIONS = {
    "review_actions": """SELECT json_agg(json_build_object('kind', r.kind, 'comment', r.comment,
                         'actor', u.username, 'created_at', r.created_at)
                         ORDER BY r.created_at, r.id)
                         FROM postmortems_reviewaction r LEFT JOIN auth_user u ON u.id = r.actor_id
                         WHERE r.incident_id = i.id""",
    "evidence": """SELECT json_agg(json_build_array(l.timelineevent_id, l.factor_id))
                   FROM timeline_timelineevent_evidence_for l
                   JOIN postmortems_factor f ON f.id = l.factor_id WHERE f.incident_id = i.id""",
    "category_parents": """SELECT json_agg(json_build_array(c.slug, pc.name))
                           FROM postmortems_factor f
                           JOIN postmortems_failurecategory c ON c.id = f.category_id
                           JOIN postmortems_failurecategory pc ON pc.id = c.parent_id
                           WHERE f.incident_id = i.id""",
}
PAGE_INCIDENT = FULL_INCIDENT + "".join(
    f", coalesce(({sql}), '[]') AS {name}" for name, sql in PAGE_RELATIONS.items()
)
PAGE_HISTORY = """
    SELECT 'incident' AS part, h.history_date, h.history_type, u.username, to_jsonb(h) AS row
    FROM postmortems_historicalincident h LEFT JOIN auth_user u ON u.id = h.history_user_id
    WHERE h.id = %(id)s
    UNION ALL
    SELECT 'factor', h.history_date, h.history_type, u.username, to_jsonb(h)
    FROM postmortems_historicalfactor h LEFT JOIN auth_user u ON u.id = h.history_user_id
    WHERE h.incident_id = %(id)s
    UNION ALL
    SELECT 'action_item', h.history_date, h.history_type, u.username, to_jsonb(h)
    FROM postmortems_historicalactionitem h LEFT JOIN auth_user u ON u.id = h.history_user_id
    WHERE h.incident_id = %(id)s
    UNION ALL
    SELECT 'event', h.history_date, h.history_type, u.username, to_jsonb(h)
    FROM timeline_historicaltimelineevent h LEFT JOIN auth_user u ON u.id = h.history_user_id
    WHERE h.incident_id = %(id)s
    ORDER BY 2
"""
PATTERNS = """SELECT id, key, title, support, score FROM patterns_pattern
              WHERE key = ANY(%(keys)s) ORDER BY score DESC, key"""
# The done action items of each pattern's members that started before the incident: whole
# quarters come stored with the pattern; of the incident's own quarter, the part between
# the incident and the nearer end is read (and added, or taken away).
PRIOR_ACTIONS = """SELECT p.id, (SELECT coalesce(sum(n::int), 0)
                          FROM jsonb_each_text(p.quarter_completed_actions) q(label, n)
                          WHERE q.label < %(quarter)s OR (q.label = %(quarter)s AND %(from_end)s))
                      + %(sign)s * coalesce((SELECT sum(m.completed_actions)
                          FROM patterns_incidentprofile m
                          WHERE m.attributes @> p.attributes AND m.completed_actions > 0
                          AND m.started_at >= %(low)s AND m.started_at < %(high)s), 0) AS prior
                   FROM patterns_pattern p WHERE p.id = ANY(%(ids)s)"""
RELATED = "SELECT items FROM patterns_relatedlist WHERE incident_id = %(id)s"
# For each of the incident's vendors and attributes, the vendor's latest earlier incident
# with the same attribute within the window.
RECURRENCES = """
    SELECT l.vendor_id, a.attr, prev.incident_id, pi.slug, pi.title, prev.started_at
    FROM patterns_incidentprofile me
    JOIN postmortems_incidentvendor l ON l.incident_id = me.incident_id
    CROSS JOIN LATERAL unnest(me.attributes) AS a(attr)
    CROSS JOIN LATERAL (
        SELECT v.incident_id, v.started_at FROM patterns_vendorincident v
        JOIN patterns_incidentprofile vp ON vp.incident_id = v.incident_id
        WHERE v.vendor_id = l.vendor_id
          AND (v.started_at, v.incident_id) < (me.started_at, me.incident_id)
          AND v.started_at >= me.started_at - %(window)s
          AND vp.attributes @> ARRAY[a.attr]::varchar[]
        ORDER BY v.started_at DESC, v.incident_id DESC LIMIT 1
    ) prev
    JOIN postmortems_incident pi ON pi.id = prev.incident_id
    WHERE me.incident_id = %(id)s AND me.started_at IS NOT NULL
"""


def html_detail(params: dict) -> dict:
    """Everything the incident page shows, each part in its least statement."""
    conn = connection()
    incident = conn.execute(
        f"SELECT {PAGE_INCIDENT} FROM postmortems_incident i WHERE i.slug = %(slug)s", params
    ).fetchone()
    at = {"id": incident["id"]}
    page = {"incident": incident, "history": conn.execute(PAGE_HISTORY, at).fetchall()}
    page["related"] = conn.execute(RELATED, at).fetchone()
    profile = conn.execute(
        "SELECT attributes, started_at FROM patterns_incidentprofile WHERE incident_id = %(id)s",
        at,
    ).fetchone()
    if profile is None or profile["started_at"] is None:
        return page
    attributes = sorted(profile["attributes"])
    keys = ["+".join(c) for n in (2, 3) for c in combinations(attributes, n)]
    page["patterns"] = conn.execute(PATTERNS, {"keys": keys}).fetchall()
    started = profile["started_at"].astimezone(UTC)
    index = started.year * 4 + (started.month - 1) // 3
    start = datetime(index // 4, index % 4 * 3 + 1, 1, tzinfo=UTC)
    end = datetime((index + 1) // 4, (index + 1) % 4 * 3 + 1, 1, tzinfo=UTC)
    from_start = started - start <= end - started
    page["prior_actions"] = conn.execute(
        PRIOR_ACTIONS,
        {
            "ids": [p["id"] for p in page["patterns"]],
            "quarter": f"{started.year}-Q{index % 4 + 1}",
            "from_end": not from_start,
            "sign": 1 if from_start else -1,
            "low": start if from_start else started,
            "high": started if from_start else end,
        },
    ).fetchall()
    window = timedelta(days=int(os.environ.get("PATTERN_RECURRENCE_DAYS", "365")))
    page["recurrences"] = conn.execute(RECURRENCES, {**at, "window": window}).fetchall()
    return page


def api_search(params: dict) -> dict:
    # The API pages search results in its usual order (newest first); it does not rank.
    return {"results": newest_page(matching(params), params, FULL_INCIDENT)}


def html_search(params: dict) -> dict:
    """Best match first, as the home page sorts a search, with its snippets and counts."""
    return home(params)


TOP_PATTERNS = """SELECT id, key, title, attributes, support, lift, score, vendor_count,
                         top_vendors, first_seen, last_seen, quarter_counts, detected_at,
                         computed_at
                  FROM patterns_pattern WHERE support >= 3 AND variant_of_id IS NULL
                  ORDER BY score DESC, id DESC LIMIT 50"""
LATEST_SNAPSHOT = "FROM patterns_statssnapshot ORDER BY computed_at DESC LIMIT 1"


def patterns(params: dict) -> dict:
    return {"results": connection().execute(TOP_PATTERNS).fetchall()}


def dashboard(params: dict) -> dict:
    """The dashboard: the top patterns and the snapshot's dashboard part, passed on as text
    (the page reads it once per refresh; parsing it here would only add to the floor)."""
    row = connection().execute(f"SELECT data::text AS data {LATEST_SNAPSHOT}").fetchone()
    return {"results": patterns(params)["results"], "snapshot": row and row["data"]}


def stats(params: dict) -> bytes:
    """``/api/stats/``: the whole latest snapshot, both parts as one document, as stored."""
    row = connection().execute(f"SELECT (data || breakdowns)::text AS doc {LATEST_SNAPSHOT}")
    found = row.fetchone()
    return (found["doc"] if found else "{}").encode()


def pattern(params: dict) -> dict:
    """A pattern page's answer: the pattern with every vendor, its variants, and its latest
    members with their lessons and action items."""
    conn = connection()
    found = conn.execute(
        "SELECT * FROM patterns_pattern WHERE id = %(id)s", {"id": int(params["id"])}
    ).fetchone()
    variants = conn.execute(
        "SELECT id, title, support, overlap FROM patterns_pattern WHERE variant_of_id = %(id)s",
        {"id": found["id"]},
    ).fetchall()
    members = conn.execute(
        """SELECT i.id, i.slug, i.title, i.started_at, i.lessons,
                  (SELECT json_agg(a.title) FROM postmortems_actionitem a
                   WHERE a.incident_id = i.id) AS items
           FROM postmortems_incident i WHERE i.id = ANY(%(ids)s)""",
        {"ids": found["latest_members"]},
    ).fetchall()
    return {"pattern": found, "variants": variants, "members": members}


# --- Vendor and taxonomy pages: the tallies, plus what the person sees beyond them --------------

VENDORS = """
WITH extra AS MATERIALIZED (
    SELECT i.id, i.started_at FROM postmortems_incident i WHERE {beyond} AND {once}),
live AS (
    SELECT l.vendor_id, count(*) AS n, max(e.started_at) AS last
    FROM postmortems_incidentvendor l JOIN extra e ON e.id = l.incident_id GROUP BY 1)
SELECT v.id, v.slug, v.name, v.kind,
       coalesce(t.incidents, 0) + coalesce(x.n, 0) AS incidents,
       greatest(t.last_started_at, x.last) AS last_started_at
FROM postmortems_vendor v
LEFT JOIN postmortems_vendortally t ON t.vendor_id = v.id
LEFT JOIN live x ON x.vendor_id = v.id
ORDER BY {order}
"""
VENDOR_ORDER = {
    "name": "lower(v.name), v.id",
    "count": "5 DESC, lower(v.name), v.id",
    "recent": "6 DESC NULLS LAST, lower(v.name), v.id",
}


def vendors(params: dict) -> dict:
    """``/vendors/``: every vendor with its incidents (each outage once) and latest start."""
    order = VENDOR_ORDER.get(params.get("sort", "name"), VENDOR_ORDER["name"])
    sql = VENDORS.format(beyond=beyond_counts(params), once=once(params), order=order)
    return {"rows": connection().execute(sql, params).fetchall()}


VENDOR_ROW = """
SELECT v.id, v.slug, v.name, v.kind, v.website, v.status_page_url, v.notes,
       coalesce((SELECT json_agg(json_build_object('id', s.id, 'name', s.name)
                 ORDER BY s.name, s.id)
                 FROM postmortems_service s WHERE s.vendor_id = v.id), '[]') AS services,
       coalesce((SELECT json_agg(to_jsonb(s) ORDER BY s.id) FROM imports_statussource s
                 WHERE s.vendor_id = v.id), '[]') AS status_sources
FROM postmortems_vendor v WHERE v.id = %(vendor)s
"""
# The vendor's tally row, year rows and label rows, each with the rows beyond the counts
# that name the vendor (an outage once, except in the total of records the list pages).
VENDOR_COUNTS = """
WITH extra AS MATERIALIZED (
    SELECT i.id, i.started_at, i.resolved_at, {once} AS once FROM postmortems_incident i
    WHERE {beyond} AND {of_vendor}),
tally AS (SELECT * FROM postmortems_vendortally WHERE vendor_id = %(vendor)s),
labels(kind, id, n) AS (
    SELECT CASE WHEN change_type_id IS NULL THEN 'category' ELSE 'change_type' END,
           coalesce(change_type_id, category_id), incidents
    FROM postmortems_labeltally WHERE vendor_id = %(vendor)s
    UNION ALL
    SELECT 'change_type', l.changetype_id, count(*) FROM postmortems_incident_change_types l
    JOIN extra e ON e.id = l.incident_id WHERE e.once GROUP BY 2
    UNION ALL
    SELECT 'category', f.category_id, count(DISTINCT f.incident_id) FROM postmortems_factor f
    JOIN extra e ON e.id = f.incident_id WHERE e.once GROUP BY 2),
top AS (
    SELECT kind, id, n FROM (
        SELECT kind, id, sum(n)::bigint AS n,
               row_number() OVER (PARTITION BY kind ORDER BY sum(n) DESC, id) AS r
        FROM labels GROUP BY kind, id) ranked
    WHERE r <= 5),
years(year, n, downtime) AS (
    SELECT year, incidents, downtime FROM postmortems_vendoryeartally
    WHERE vendor_id = %(vendor)s
    UNION ALL
    SELECT extract(year FROM started_at AT TIME ZONE 'UTC')::int, count(*),
           sum(resolved_at - started_at)
    FROM extra WHERE once AND started_at IS NOT NULL AND resolved_at IS NOT NULL GROUP BY 1)
SELECT
    coalesce((SELECT records FROM tally), 0) + (SELECT count(*) FROM extra) AS records,
    coalesce((SELECT incidents FROM tally), 0)
        + (SELECT count(*) FROM extra WHERE once) AS incidents,
    coalesce((SELECT unknown_duration FROM tally), 0)
        + (SELECT count(*) FROM extra
           WHERE once AND (started_at IS NULL OR resolved_at IS NULL)) AS unknown_duration,
    (SELECT json_agg(json_build_object('year', year, 'incidents', n,
                                       'seconds', extract(epoch FROM d)) ORDER BY year)
     FROM (SELECT year, sum(n) AS n, sum(downtime) AS d FROM years GROUP BY year) y) AS downtime,
    (SELECT json_agg(json_build_object('kind', t.kind, 'slug', coalesce(c.slug, fc.slug),
                                       'name', coalesce(c.name, fc.name), 'n', t.n)
                     ORDER BY t.kind, t.n DESC)
     FROM top t
     LEFT JOIN postmortems_changetype c ON t.kind = 'change_type' AND c.id = t.id
     LEFT JOIN postmortems_failurecategory fc ON t.kind = 'category' AND fc.id = t.id) AS top
"""


# "Hit again": the vendor's latest recurrences (``patterns.recurrence.vendor_recurrences``),
# for its latest incidents as the last refresh saw them. Each attribute's previous incident is
# the one before it in a single pass over the vendor's incidents of the span (a window
# function), where walking back from each (incident, attribute) pair tests every earlier
# incident's attributes.
VENDOR_RECURRENCES = """
WITH latest AS MATERIALIZED (
    SELECT v.incident_id, v.started_at FROM patterns_vendorincident v
    WHERE v.vendor_id = %(vendor)s ORDER BY v.started_at DESC, v.incident_id DESC LIMIT 40),
span AS (
    SELECT v.incident_id, v.started_at, p.attributes FROM patterns_vendorincident v
    JOIN patterns_incidentprofile p ON p.incident_id = v.incident_id
    WHERE v.vendor_id = %(vendor)s
      AND v.started_at >= (SELECT min(started_at) FROM latest) - %(window)s),
pairs AS (
    SELECT s.incident_id, s.started_at, a.attr,
           lag(s.incident_id) OVER w AS previous_id, lag(s.started_at) OVER w AS previous_start
    FROM span s CROSS JOIN LATERAL unnest(s.attributes) AS a(attr)
    -- A contributing factor's category is among the attributes twice (cat: and cf:): once.
    WHERE a.attr NOT LIKE 'cf:%%'
    WINDOW w AS (PARTITION BY a.attr ORDER BY s.started_at, s.incident_id))
SELECT p.incident_id, i.slug, i.title, p.started_at, p.attr,
       coalesce(t.name, c.name, p.attr) AS attribute_name,
       p.previous_id, pi.slug AS previous_slug, pi.title AS previous_title, p.previous_start
FROM pairs p JOIN latest l ON l.incident_id = p.incident_id
JOIN postmortems_incident i ON i.id = p.incident_id
JOIN postmortems_incident pi ON pi.id = p.previous_id
LEFT JOIN postmortems_changetype t ON 'ct:' || t.slug = p.attr
LEFT JOIN postmortems_failurecategory c ON 'cat:' || c.slug = p.attr
WHERE p.previous_start >= p.started_at - %(window)s
ORDER BY p.started_at DESC, 6 LIMIT 20
"""


def vendor(params: dict) -> dict:
    """``/vendors/<slug>/``: the vendor, its counts, downtime by year, top change types and
    categories, its latest recurrences, and its first page of incidents (a keyset page:
    nothing counts its rows)."""
    conn = connection()
    sql = VENDOR_COUNTS.format(
        once=once(params), beyond=beyond_counts(params), of_vendor=FILTERS["vendor"]
    )
    window = timedelta(days=int(os.environ.get("PATTERN_RECURRENCE_DAYS", "365")))
    return {
        "vendor": conn.execute(VENDOR_ROW, params).fetchone(),
        "counts": conn.execute(sql, params).fetchone(),
        "hit_again": conn.execute(VENDOR_RECURRENCES, {**params, "window": window}).fetchall(),
        "rows": newest_page(f"{visible(params)} AND {FILTERS['vendor']}", params),
    }


TAXONOMY = """
WITH extra AS MATERIALIZED (SELECT i.id FROM postmortems_incident i WHERE {beyond} AND {once}),
ct AS (SELECT l.changetype_id AS id, count(*) AS n FROM postmortems_incident_change_types l
       JOIN extra e ON e.id = l.incident_id GROUP BY 1),
cat AS (SELECT f.category_id AS id, count(DISTINCT f.incident_id) AS n FROM postmortems_factor f
        JOIN extra e ON e.id = f.incident_id GROUP BY 1)
SELECT 'change_type' AS kind, c.id, c.slug, c.name, NULL::bigint AS parent_id,
       coalesce(t.incidents, 0) + coalesce(x.n, 0) AS incidents
FROM postmortems_changetype c
LEFT JOIN postmortems_labeltally t ON t.vendor_id IS NULL AND t.change_type_id = c.id
LEFT JOIN ct x ON x.id = c.id
UNION ALL
SELECT 'category', c.id, c.slug, c.name, c.parent_id,
       coalesce(t.incidents, 0) + coalesce(x.n, 0)
FROM postmortems_failurecategory c
LEFT JOIN postmortems_labeltally t ON t.vendor_id IS NULL AND t.category_id = c.id
LEFT JOIN cat x ON x.id = c.id
ORDER BY 1, 4
"""


def taxonomy(params: dict) -> dict:
    """``/taxonomy/``: every change type and category with its incidents (each outage once);
    the tree is the page's to draw from ``parent_id``."""
    sql = TAXONOMY.format(beyond=beyond_counts(params), once=once(params))
    return {"rows": connection().execute(sql, params).fetchall()}


LABEL_RECORDS = """
SELECT coalesce((SELECT records FROM postmortems_labeltally
                 WHERE vendor_id IS NULL AND {column} = %({name})s), 0)
       + (SELECT count(*) FROM postmortems_incident i WHERE {beyond} AND {label}) AS records
"""


def change_type(params: dict) -> dict:
    """``/change-types/<slug>/``: the change type, its total and its newest incidents."""
    conn = connection()
    total = LABEL_RECORDS.format(
        column="change_type_id", name="change_type", beyond=beyond_counts(params),
        label=FILTERS["change_type"],
    )  # fmt: skip
    return {
        "change_type": conn.execute(
            "SELECT id, slug, name, definition FROM postmortems_changetype "
            "WHERE id = %(change_type)s",
            params,
        ).fetchone(),
        "total": conn.execute(total, params).fetchone()["records"],
        "rows": newest_page(f"{visible(params)} AND {FILTERS['change_type']}", params),
    }


CATEGORY_ROW = """
SELECT c.id, c.slug, c.name, c.definition, c.typical_role, p.slug AS parent_slug,
       p.name AS parent_name,
       coalesce((SELECT json_agg(json_build_array(k.slug, k.name) ORDER BY k.name)
                 FROM postmortems_failurecategory k WHERE k.parent_id = c.id), '[]') AS children
FROM postmortems_failurecategory c LEFT JOIN postmortems_failurecategory p ON p.id = c.parent_id
WHERE c.id = %(category)s
"""
CATEGORY_COUNTS = """
WITH extra AS MATERIALIZED (
    SELECT i.id, {once} AS once FROM postmortems_incident i WHERE {beyond} AND {label})
SELECT coalesce(t.records, 0) + (SELECT count(*) FROM extra) AS records,
       coalesce(t.root_cause, 0) + x.root_cause AS root_cause,
       coalesce(t.contributing, 0) + x.contributing AS contributing,
       coalesce(t.mitigating, 0) + x.mitigating AS mitigating
FROM (SELECT count(DISTINCT f.incident_id) FILTER (WHERE f.role = 'root_cause') AS root_cause,
             count(DISTINCT f.incident_id) FILTER (WHERE f.role = 'contributing') AS contributing,
             count(DISTINCT f.incident_id) FILTER (WHERE f.role = 'mitigating') AS mitigating
      FROM postmortems_factor f JOIN extra e ON e.id = f.incident_id AND e.once
      WHERE f.category_id = %(category)s) x
LEFT JOIN postmortems_labeltally t ON t.vendor_id IS NULL AND t.category_id = %(category)s
"""


def category(params: dict) -> dict:
    """``/categories/<slug>/``: the category, its total, its incidents by factor role and
    its newest incidents."""
    conn = connection()
    counts = CATEGORY_COUNTS.format(
        once=once(params), beyond=beyond_counts(params), label=FILTERS["category"]
    )
    return {
        "category": conn.execute(CATEGORY_ROW, params).fetchone(),
        "counts": conn.execute(counts, params).fetchone(),
        "rows": newest_page(f"{visible(params)} AND {FILTERS['category']}", params),
    }


# --- The digest preview and the settings page ----------------------------------------------------

WEEK = timedelta(days=7)
WEEKS = 13  # the period and the twelve before it, whose average the digest compares with
DIGEST_ITEMS = 10  # postmortems and completed items listed (``MAX_POSTMORTEMS``…)
# Published, started (with known downtime) and completed action items per week, week 0 the
# period, each outage once.
DIGEST_WEEKS = f"""
SELECT 'published' AS kind, floor(extract(epoch FROM %(end)s - i.published_at) / 604800)::int
       AS week, count(*) AS n, NULL::float AS seconds
FROM postmortems_incident i
WHERE i.status = 'published' AND i.published_at >= %(start)s AND i.published_at < %(end)s
  AND {PUBLISHED_ONCE} GROUP BY 2
UNION ALL
SELECT 'started', floor(extract(epoch FROM %(end)s - i.started_at) / 604800)::int, count(*),
       sum(extract(epoch FROM i.resolved_at - i.started_at))
FROM postmortems_incident i
WHERE i.status = 'published' AND i.started_at >= %(start)s AND i.started_at < %(end)s
  AND {PUBLISHED_ONCE} GROUP BY 2
UNION ALL
SELECT 'completed', floor(extract(epoch FROM %(end)s - a.completed_at) / 604800)::int,
       count(*), NULL
FROM postmortems_actionitem a JOIN postmortems_incident i ON i.id = a.incident_id
WHERE a.status = 'done' AND a.completed_at >= %(start)s AND a.completed_at < %(end)s
  AND i.status = 'published' GROUP BY 2
"""
DIGEST_POSTMORTEMS = f"""
SELECT i.id, i.slug, i.title, i.severity, i.started_at, i.resolved_at, i.published_at,
       coalesce((SELECT json_agg(v.name ORDER BY l.is_primary DESC, v.name)
                 FROM postmortems_incidentvendor l JOIN postmortems_vendor v
                 ON v.id = l.vendor_id WHERE l.incident_id = i.id), '[]') AS vendors,
       (SELECT json_build_array(c.name, f.description) FROM postmortems_factor f
        JOIN postmortems_failurecategory c ON c.id = f.category_id
        WHERE f.incident_id = i.id AND f.role = 'root_cause'
        ORDER BY f.position, f.id LIMIT 1) AS root_cause
FROM postmortems_incident i
WHERE i.status = 'published' AND i.published_at >= %(week)s AND i.published_at < %(end)s
  AND {PUBLISHED_ONCE}
ORDER BY array_position(ARRAY['critical', 'major', 'minor', 'none'], i.severity::text),
         i.published_at DESC, i.id DESC
LIMIT {DIGEST_ITEMS}
"""
DIGEST_COMPLETED = f"""
SELECT a.id, a.title, a.completed_at, i.slug, i.title AS incident_title, u.username AS owner
FROM postmortems_actionitem a JOIN postmortems_incident i ON i.id = a.incident_id
LEFT JOIN auth_user u ON u.id = a.owner_id
WHERE a.status = 'done' AND a.completed_at >= %(week)s AND a.completed_at < %(end)s
  AND i.status = 'published'
ORDER BY a.completed_at DESC, a.id DESC LIMIT {DIGEST_ITEMS}
"""
DIGEST_OVERDUE = """
SELECT a.id, a.title, a.due_date, i.slug, i.title AS incident_title
FROM postmortems_actionitem a JOIN postmortems_incident i ON i.id = a.incident_id
WHERE a.owner_id = %(user)s AND a.status IN ('open', 'in_progress') AND a.due_date < %(day)s
  AND {visible}
ORDER BY a.due_date, a.id
"""


def digest_end(now: datetime) -> datetime:
    """When the next digest of a new subscription goes out: Mondays at 09:00 UTC."""
    monday = (now - timedelta(days=now.weekday())).replace(
        hour=9, minute=0, second=0, microsecond=0
    )
    return monday if monday > now else monday + WEEK


def digest_preview(params: dict) -> dict:
    """``/digests/preview/`` for someone without a subscription: the week's postmortems,
    the week in numbers against the twelve before, completed and overdue action items, and
    the rising categories of the stored snapshot. Not the patterns that gained members:
    finding them needs every combination of the week's incidents' attributes spelt out (the
    digest keeps them per run), which no statement here answers in less."""
    conn = connection()
    end = digest_end(datetime.now(UTC))
    at = {**params, "end": end, "week": end - WEEK, "start": end - WEEKS * WEEK}
    at["day"] = end.date()
    rising = conn.execute(
        f"SELECT (data || breakdowns) -> 'rising' AS rising {LATEST_SNAPSHOT}"
    ).fetchone()
    return {
        "weeks": conn.execute(DIGEST_WEEKS, at).fetchall(),
        "postmortems": conn.execute(DIGEST_POSTMORTEMS, at).fetchall(),
        "completed": conn.execute(DIGEST_COMPLETED, at).fetchall(),
        "overdue": conn.execute(DIGEST_OVERDUE.format(visible=visible(params)), at).fetchall(),
        "rising": rising and rising["rising"],
    }


SETTINGS = """
SELECT (SELECT time_zone FROM accounts_profile WHERE user_id = %(user)s) AS time_zone,
       (SELECT json_agg(json_build_object('name', t.name, 'prefix', t.prefix, 'scope', t.scope,
                                          'created_at', t.created_at,
                                          'last_used_at', t.last_used_at) ORDER BY t.id)
        FROM accounts_apitoken t WHERE t.user_id = %(user)s AND t.revoked_at IS NULL) AS tokens,
       (SELECT to_jsonb(s) FROM digests_digestsubscription s WHERE s.user_id = %(user)s)
        AS subscription,
       (SELECT json_agg(json_build_array(v.slug, v.name) ORDER BY v.name)
        FROM postmortems_vendor v) AS vendors,
       (SELECT json_agg(json_build_array(c.slug, c.name) ORDER BY c.name)
        FROM postmortems_failurecategory c) AS categories
"""


def settings(params: dict) -> dict:
    """``/accounts/settings/``: the time zone, the tokens, and the digest's form, whose vendor
    and category choices list every vendor and category."""
    return connection().execute(SETTINGS, params).fetchone()


API_VENDORS = """
SELECT v.slug, v.name, v.kind, v.website, v.status_page_url, v.notes, v.created_at, v.updated_at,
       coalesce((SELECT json_agg(json_build_object('id', s.id, 'name', s.name,
                                                   'external_id', s.external_id)
                                 ORDER BY s.name, s.id)
                 FROM postmortems_service s WHERE s.vendor_id = v.id), '[]') AS services
FROM postmortems_vendor v ORDER BY v.name, v.id LIMIT 51
"""


def api_vendors(params: dict) -> dict:
    """``/api/vendors/``: the first page, 50 vendors by name with their services."""
    return {"results": connection().execute(API_VENDORS).fetchall()}


CREATE = [
    """INSERT INTO postmortems_incident (title, slug, regions, severity, status, started_at,
         summary, impact, analysis, lessons, detection_method, data_loss, near_miss, origin,
         import_source, external_id, imported_values, needs_review, is_maintenance,
         duration_unknown, auto_classified, created_at, updated_at, version)
       VALUES (%(title)s, %(slug)s, '{}', %(severity)s, 'draft', %(started_at)s, %(summary)s,
         '', '', '', '', false, false, 'manual', '', '', '{}', false, false, false, false,
         now(), now(), 1) RETURNING id""",
    """INSERT INTO postmortems_incidentvendor (incident_id, vendor_id, is_primary)
       VALUES (%(id)s, %(vendor)s, true)""",
    """INSERT INTO postmortems_incident_change_types (incident_id, changetype_id)
       VALUES (%(id)s, %(change_type)s)""",
    """INSERT INTO postmortems_incident_authors (incident_id, user_id) VALUES (%(id)s, %(user)s)""",
    """INSERT INTO postmortems_factor (incident_id, role, category_id, description, position)
       SELECT %(id)s, r, c, '', n - 1
       FROM unnest(%(categories)s::bigint[], %(roles)s::text[]) WITH ORDINALITY AS t(c, r, n)""",
    """INSERT INTO timeline_timelineevent (incident_id, occurred_at, kind, description,
         body_format, source, external_id, position, created_at, updated_at)
       VALUES (%(id)s, %(started_at)s, 'impact_start', '', 'markdown', 'manual', '', 0,
         now(), now())""",
]


def create(params: dict) -> dict:
    """The same rows the API writes for the bench's payload, in one transaction."""
    conn = connection()
    with conn.transaction():
        params["id"] = conn.execute(CREATE[0], params).fetchone()["id"]
        for sql in CREATE[1:]:
            conn.execute(sql, params)
    return {"id": params["id"], "slug": params["slug"]}


ROUTES = {
    "/api-list": api_list,
    "/html-list": html_list,
    "/detail": detail,
    "/html-detail": html_detail,
    "/api-search": api_search,
    "/html-search": html_search,
    "/patterns": patterns,
    "/dashboard": dashboard,
    "/pattern": pattern,
    "/stats": stats,
    "/home": home,
    "/vendors": vendors,
    "/vendor": vendor,
    "/taxonomy": taxonomy,
    "/change-type": change_type,
    "/category": category,
    "/digest-preview": digest_preview,
    "/settings": settings,
    "/api-vendors": api_vendors,
    "/create": create,
    "/ping": lambda params: {"ok": True},
}


def _default(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(type(value).__name__)


def request_params(environ: dict) -> dict:
    """Query-string parameters, or the JSON body of a POST."""
    if environ["REQUEST_METHOD"] == "POST":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        return json.loads(environ["wsgi.input"].read(length))
    return {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}


def application(environ: dict, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/import":  # reads its body itself: megabytes of JSON
        body = json.dumps(import_route(environ)).encode()
    elif path in ROUTES:
        answer = ROUTES[path](request_params(environ))
        # A route may answer with a document already spelt out (the stored statistics).
        body = (
            answer if isinstance(answer, bytes) else json.dumps(answer, default=_default).encode()
        )
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"no such route"]
    status = "201 Created" if environ["REQUEST_METHOD"] == "POST" else "200 OK"
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    start_response(status, headers)
    return [body]


# --- The status-page import ------------------------------------------------------------------
# ``POST /import`` receives the body Hindsight's import API receives, as Hindsight does: over
# HTTP, in a gunicorn worker. ``import_floor`` does the same in the calling process, from bytes
# in memory (the bench reports both). Either writes what an import of new incidents persists,
# into the real tables (their indexes, checks, generated search column, WAL and deferred
# foreign keys, checked at the commit it waits for): each incident with its raw payload and
# history entry, its vendor link and service links, each update as a timeline event with its
# history entry. Ids come from the tables' sequences; values are taken from the payload as
# they are, with no decisions. It reads and writes JSON with the libraries Hindsight uses
# (orjson), and COPYs the same way.

IMPORT_SEVERITY = {"critical": "critical", "major": "major", "minor": "minor"}
UPDATE_KIND = {
    "investigating": "detection",
    "identified": "diagnosis",
    "monitoring": "mitigation",
    "resolved": "resolution",
}
HISTORY = ("history_date", "history_type", "history_change_reason", "history_user_id")
IMPORT_INCIDENT = (
    "id", "title", "slug", "regions", "severity", "status", "started_at", "detected_at",
    "mitigated_at", "resolved_at", "summary", "impact", "analysis", "lessons",
    "detection_method", "data_loss", "near_miss", "origin", "import_source", "external_id",
    "created_at", "updated_at", "version", "published_at", "duration_unknown",
    "is_maintenance", "needs_review", "auto_classified",
)  # fmt: skip
IMPORT_EVENT = (
    "id", "incident_id", "occurred_at", "kind", "description", "body_format", "source",
    "external_id", "position", "created_at", "updated_at",
)  # fmt: skip


def import_floor(
    conn: psycopg.Connection, data: bytes, *, vendor_id: int, source: str
) -> tuple[float, list[int]]:
    """Seconds to read ``data`` (a Statuspage ``incidents.json``) and write its incidents,
    committed, in this process; and the new incidents' ids, for ``forget_import_floor``."""
    import time

    started = time.perf_counter()
    ids = write_import(conn, orjson.loads(data)["incidents"], vendor_id=vendor_id, source=source)
    return time.perf_counter() - started, ids


def import_route(environ: dict) -> dict:
    """``POST /import?vendor_id=N&source=S`` with the body Hindsight's import API takes
    (``{"vendor", "format", "payload"}``): the payload's incidents written, committed."""
    params = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    items = orjson.loads(body)["payload"]["incidents"]
    conn = import_connection()
    return {
        "ids": write_import(
            conn, items, vendor_id=int(params["vendor_id"]), source=params["source"]
        )
    }


_import_connection: psycopg.Connection | None = None


def import_connection() -> psycopg.Connection:
    """This worker's connection for imports: one transaction per import, rows as tuples."""
    global _import_connection
    if _import_connection is None or _import_connection.closed or _import_connection.broken:
        _import_connection = psycopg.connect(os.environ["FLOOR_DATABASE_URL"])
    return _import_connection


def write_import(
    conn: psycopg.Connection, items: list[dict], *, vendor_id: int, source: str
) -> list[int]:
    """Write the incidents ``items`` with everything an import persists, committed."""
    updates = sum(len(item["incident_updates"]) for item in items)
    ids = reserved_ids(conn, "postmortems_incident", len(items))
    event_ids = iter(reserved_ids(conn, "timeline_timelineevent", updates))
    services = service_ids(conn, vendor_id, items)
    now = datetime.now().astimezone().isoformat()  # spelled out once, as Hindsight does
    incidents, events, links = [], [], []
    for pk, item in zip(ids, items, strict=True):
        incidents.append(import_incident_row(pk, item, source, now))
        for position, update in enumerate(reversed(item["incident_updates"])):
            events.append((
                next(event_ids), pk, update["display_at"], UPDATE_KIND.get(update["status"],
                "status_update"), update["body"], "text", source, update["id"], position, now, now,
            ))  # fmt: skip
        links += [(pk, services[c["id"]]) for c in item["components"]]
    history = (now, "+", None, None)
    with conn.cursor() as cur:
        copy(cur, "postmortems_incident", (*IMPORT_INCIDENT, "raw_payload", "imported_values"),
             incidents)  # fmt: skip
        copy(cur, "postmortems_historicalincident", (*IMPORT_INCIDENT, *HISTORY),
             (row[:-2] + history for row in incidents))  # fmt: skip
        copy(cur, "timeline_timelineevent", IMPORT_EVENT, events)
        copy(cur, "timeline_historicaltimelineevent", (*IMPORT_EVENT, *HISTORY),
             (row + history for row in events))  # fmt: skip
        copy(cur, "postmortems_incidentvendor", ("incident_id", "vendor_id", "is_primary"),
             ((pk, vendor_id, True) for pk in ids))  # fmt: skip
        copy(cur, "postmortems_incident_services", ("incident_id", "service_id"), links)
    conn.commit()
    return ids


def import_incident_row(pk: int, item: dict, source: str, now: str) -> tuple:
    impact = item["impact"] or "none"
    owned = {
        "title": item["name"], "severity": IMPORT_SEVERITY.get(impact, "none"),
        "started_at": item["started_at"], "resolved_at": item["resolved_at"],
        "duration_unknown": False, "is_maintenance": False,
    }  # fmt: skip
    return (
        pk, item["name"], f"floor-{item['id']}", [], owned["severity"], "draft",
        item["started_at"], None, None, item["resolved_at"], "", "", "", "", "", False, False,
        "imported", source, item["id"], now, now, 1, None, False, False, True, False,
        orjson.dumps(item).decode(), orjson.dumps(owned).decode(),  # Hindsight's JSON writer
    )  # fmt: skip


def reserved_ids(conn: psycopg.Connection, table: str, count: int) -> list[int]:
    sql = (
        "WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence(%s, 'id')::regclass AS seq) "
        "SELECT nextval(seq) FROM s, generate_series(1, %s)"
    )
    return [row[0] for row in conn.execute(sql, [table, count], prepare=False).fetchall()]


def service_ids(conn: psycopg.Connection, vendor_id: int, items: list[dict]) -> dict[str, int]:
    """The vendor's service for each component id the payload names, added when missing."""
    names = {c["id"]: c["name"] for item in items for c in item["components"]}
    found = dict(
        conn.execute(
            "SELECT external_id, id FROM postmortems_service "
            "WHERE vendor_id = %s AND external_id = ANY(%s)",
            [vendor_id, list(names)],
        ).fetchall()
    )
    for cid in names.keys() - found.keys():
        found[cid] = conn.execute(
            "INSERT INTO postmortems_service (vendor_id, external_id, name) "
            "VALUES (%s, %s, %s) RETURNING id",
            [vendor_id, cid, names[cid]],
        ).fetchone()[0]
    return found


def copy(cursor: psycopg.Cursor, table: str, columns: tuple[str, ...], rows) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copying:
        for row in rows:
            copying.write_row(row)


def forget_import_floor(conn: psycopg.Connection, ids: list[int]) -> None:
    """Delete what ``import_floor`` wrote, or an import into Hindsight (the incidents ``ids``
    and what hangs off them), so the database keeps its size (not timed)."""
    for table, column in (
        ("postmortems_incident_authors", "incident_id"),
        ("postmortems_incident_services", "incident_id"),
        ("postmortems_incidentvendor", "incident_id"),
        ("timeline_historicaltimelineevent", "incident_id"),
        ("timeline_timelineevent", "incident_id"),
        ("postmortems_historicalincident", "id"),
        ("postmortems_incident", "id"),
    ):
        conn.execute(f"DELETE FROM {table} WHERE {column} = ANY(%s)", [ids])
    conn.commit()
