"""The floor: the least work that answers each benchmarked question, as a plain WSGI app.

``bench/run`` serves this module with the same gunicorn settings as Hindsight and compares
the two. Each route runs the minimal SQL for one of Hindsight's requests over one psycopg
connection per worker, opened after the fork and kept, and returns the same data as JSON:
no framework, no authentication, no templates. The SQL mirrors what Hindsight reads (the
same columns, relations, filters, order and, for the HTML list, the facet counts), so the
ratio between the two is the cost of everything Hindsight adds on top of the database.

The visibility rule is the bench user's: an admin sees every incident, so no status filter.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, timedelta
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
# What a row of the HTML list shows: its own columns, vendors and change types by name.
LIST_ROW = """
    i.id, i.slug, i.title, i.status, i.severity, i.started_at, i.resolved_at, i.summary,
    coalesce((SELECT json_agg(json_build_object('slug', v.slug, 'name', v.name,
        'primary', l.is_primary) ORDER BY l.is_primary DESC, v.name)
        FROM postmortems_incidentvendor l JOIN postmortems_vendor v ON v.id = l.vendor_id
        WHERE l.incident_id = i.id), '[]') AS vendors,
    coalesce((SELECT json_agg(json_build_object('slug', c.slug, 'name', c.name))
        FROM postmortems_incident_change_types l
        JOIN postmortems_changetype c ON c.id = l.changetype_id
        WHERE l.incident_id = i.id), '[]') AS change_types
"""
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


def vendor_page(params: dict, columns: str) -> list[dict]:
    """One keyset page of a vendor's incidents, newest first."""
    keyset = AFTER if params.get("after") else ""
    ids = f"""SELECT i.id FROM postmortems_incidentvendor f
              JOIN postmortems_incident i ON i.id = f.incident_id
              WHERE f.vendor_id = %(vendor)s {keyset} {NEWEST_FIRST} LIMIT %(size)s"""
    return page_of(ids, columns, params)


# --- Facets: how the HTML list's results split, as Hindsight counts them ----------------------
# One statement each, with the result set inline: a shared CTE would be simpler, but a CTE
# scan keeps PostgreSQL from running the counts in parallel, and Hindsight's queries do.

FACETS = {
    "total": "SELECT count(*) AS n FROM ({ids}) r",
    "severity": """SELECT i.severity AS value, count(*) AS n FROM postmortems_incident i
                   WHERE i.id IN ({ids}) GROUP BY 1""",
    "status": """SELECT i.status AS value, count(*) AS n FROM postmortems_incident i
                 WHERE i.id IN ({ids}) GROUP BY 1""",
    "vendor": """SELECT v.slug, v.name, count(DISTINCT l.incident_id) AS n
                 FROM postmortems_incidentvendor l JOIN postmortems_vendor v ON v.id = l.vendor_id
                 WHERE l.incident_id IN ({ids}) GROUP BY 1, 2 ORDER BY 3 DESC, 2 LIMIT 12""",
    "change_type": """SELECT c.slug, c.name, count(DISTINCT l.incident_id) AS n
                      FROM postmortems_incident_change_types l
                      JOIN postmortems_changetype c ON c.id = l.changetype_id
                      WHERE l.incident_id IN ({ids}) GROUP BY 1, 2 ORDER BY 3 DESC, 2 LIMIT 12""",
    "category": """SELECT c.slug, c.name, count(DISTINCT f.incident_id) AS n
                   FROM postmortems_factor f JOIN postmortems_failurecategory c
                   ON c.id = f.category_id
                   WHERE f.incident_id IN ({ids}) GROUP BY 1, 2 ORDER BY 3 DESC, 2 LIMIT 12""",
}


def facets(ids_sql: str, params: dict) -> dict:
    conn = connection()
    return {
        name: conn.execute(sql.format(ids=ids_sql), params).fetchall()
        for name, sql in FACETS.items()
    }


# --- Routes ---------------------------------------------------------------------------------


def api_list(params: dict) -> dict:
    return {"results": vendor_page(params, FULL_INCIDENT)}


def html_list(params: dict) -> dict:
    rows = vendor_page(params, LIST_ROW)
    ids = "SELECT incident_id AS id FROM postmortems_incidentvendor WHERE vendor_id = %(vendor)s"
    return {"rows": rows, "facets": facets(ids, params)}


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
    ids = f"""SELECT i.id FROM postmortems_incident i
              WHERE i.search_vector @@ {SEARCH} {NEWEST_FIRST} LIMIT %(size)s"""
    return {"results": page_of(ids, FULL_INCIDENT, params)}


def html_search(params: dict) -> dict:
    """Best match first, as the HTML list sorts a search, with the snippets it highlights."""
    sql = f"""SELECT {LIST_ROW}, ts_headline('english',
                  i.summary || ' ' || i.impact || ' ' || i.analysis || ' ' || i.lessons,
                  {SEARCH}, 'MaxFragments=2, MaxWords=30, MinWords=12,
                  FragmentDelimiter=" … "') AS snippet
              FROM (SELECT id, ts_rank(search_vector, {SEARCH}) AS rank
                    FROM postmortems_incident WHERE search_vector @@ {SEARCH}
                    ORDER BY rank DESC, id DESC LIMIT %(size)s) ranked
              JOIN postmortems_incident i ON i.id = ranked.id
              ORDER BY ranked.rank DESC, ranked.id DESC"""
    rows = connection().execute(sql, params).fetchall()
    ids = f"SELECT id FROM postmortems_incident WHERE search_vector @@ {SEARCH}"
    return {"rows": rows, "facets": facets(ids, params)}


def patterns(params: dict) -> dict:
    sql = """SELECT id, key, title, attributes, support, lift, score, vendor_count, top_vendors,
                    first_seen, last_seen, quarter_counts, detected_at, computed_at
             FROM patterns_pattern WHERE support >= 3 AND variant_of_id IS NULL
             ORDER BY score DESC, id DESC LIMIT 50"""
    return {"results": connection().execute(sql).fetchall()}


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
    "/pattern": pattern,
    "/create": create,
    "/ping": lambda params: {"ok": True},
}


def _default(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
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
        body = json.dumps(ROUTES[path](request_params(environ)), default=_default).encode()
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
