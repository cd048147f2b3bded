"""What a refresh knows of the published incidents, gathered once and shared by its steps.

A refresh first copies every published incident into a temporary table, ``refresh_incident``:
its moments, its done action items and its attributes. These are gathered as a bit mask (one
bit per change type and failure category, in words of 63 bits): OR-ing an incident's factors
together is then a hash aggregate, where arrays of names would need sorts. Each distinct set
of attributes gets a number (``set_id``) and its codes; ``refresh_set`` spells each set out as
the sorted attribute keys. Mining, the statistics and the stored profiles all read these two
tables, so the incident tables are scanned once per refresh.

The tables live in the refresh's transaction (``ON COMMIT DROP``): call these functions
inside ``transaction.atomic``.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

from patterns.attributes import CATEGORY_PREFIX, CHANGE_TYPE_PREFIX, CONTRIBUTING_PREFIX
from patterns.metrics import Source, duration_seconds
from patterns.models import IncidentProfile, VendorIncident
from postmortems.choices import ActionItemStatus, FactorRole, ReviewStatus
from postmortems.models import (
    ActionItem,
    ChangeType,
    Factor,
    FailureCategory,
    Incident,
    IncidentVendor,
    counted_once_sql,
)

# Bits per mask word: a bigint without its sign bit.
WORD_BITS = 63


@dataclass(frozen=True)
class Vocabulary:
    """Every attribute a refresh may see, numbered by its key's sorted position."""

    keys: tuple[str, ...]  # by code; sorted as Python sorts, i.e. as COLLATE "C" does
    names: dict[str, str]
    terms: tuple[tuple[str, int], ...]  # (kind, term id) by code: "ct", "cat" or "cf"

    @property
    def words(self) -> int:
        return max(1, -(-len(self.keys) // WORD_BITS))


def load_vocabulary() -> Vocabulary:
    """Change types and categories with their keys and names (two queries).

    Each category is two attributes: ``cat:`` in any role and ``cf:`` as a contributing
    factor (see ``patterns.attributes``).
    """
    rows = []
    for prefixes, model in (
        (((CHANGE_TYPE_PREFIX, "ct"),), ChangeType),
        (((CATEGORY_PREFIX, "cat"), (CONTRIBUTING_PREFIX, "cf")), FailureCategory),
    ):
        terms = list(model.objects.values_list("id", "slug", "name"))
        rows += [
            (f"{prefix}{slug}", name, kind, pk)
            for prefix, kind in prefixes
            for pk, slug, name in terms
        ]
    rows.sort()
    return Vocabulary(
        keys=tuple(key for key, *_ in rows),
        names={key: name for key, name, *_ in rows},
        terms=tuple((kind, pk) for _, _, kind, pk in rows),
    )


def build_working_tables(vocabulary: Vocabulary) -> None:
    """Create ``refresh_attribute``, ``refresh_incident`` and ``refresh_set`` (see above)."""
    with connection.cursor() as cursor:
        for table in ("refresh_attribute", "refresh_incident", "refresh_set"):
            # ON COMMIT DROP cleans up; the DROP covers a refresh nested in an outer transaction.
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(
            "CREATE TEMPORARY TABLE refresh_attribute (code int PRIMARY KEY, word int, "
            "bit bigint, kind text, term_id bigint, key text, slug text, name text) "
            "ON COMMIT DROP"
        )
        columns = "code, word, bit, kind, term_id, key, slug, name"
        with cursor.copy(f"COPY refresh_attribute ({columns}) FROM STDIN") as copy:
            for code, (key, (kind, term_id)) in enumerate(
                zip(vocabulary.keys, vocabulary.terms, strict=True)
            ):
                word, bit = divmod(code, WORD_BITS)
                slug = key.split(":", 1)[1]
                copy.write_row((code, word, 1 << bit, kind, term_id, key, slug,
                                vocabulary.names[key]))  # fmt: skip
        cursor.execute("ANALYZE refresh_attribute")
        cursor.execute(
            _incident_sql(vocabulary.words),
            [ActionItemStatus.DONE.value, ReviewStatus.PUBLISHED.value],
        )
        cursor.execute("ANALYZE refresh_incident")
        cursor.execute(_SET_SQL)
        cursor.execute("ANALYZE refresh_set")


def _incident_sql(words: int) -> str:
    """One row per published outage (an outage recorded twice, once: ``counted_once_sql``);
    table names come from model metadata, never input."""
    mask = ", ".join(
        f"coalesce(bit_or(a.bit) FILTER (WHERE a.word = {word}), 0)" for word in range(words)
    )
    return f"""
        CREATE TEMPORARY TABLE refresh_incident ON COMMIT DROP AS
        WITH masks AS MATERIALIZED (
            SELECT x.incident_id, ARRAY[{mask}]::bigint[] AS mask
            FROM (
                SELECT l.incident_id, l.changetype_id AS term_id, 'ct' AS kind
                FROM {Incident.change_types.through._meta.db_table} l
                UNION ALL
                SELECT f.incident_id, f.category_id, 'cat' FROM {Factor._meta.db_table} f
                UNION ALL
                SELECT f.incident_id, f.category_id, 'cf' FROM {Factor._meta.db_table} f
                WHERE f.role = '{FactorRole.CONTRIBUTING.value}'
            ) x
            JOIN refresh_attribute a ON a.kind = x.kind AND a.term_id = x.term_id
            GROUP BY x.incident_id
        ),
        -- Numbered and spelt out once per distinct set of attributes, not once per incident.
        sets AS (
            SELECT s.mask, row_number() OVER ()::int AS set_id, ARRAY(
                SELECT a.code FROM refresh_attribute a
                WHERE s.mask[a.word + 1] & a.bit <> 0 ORDER BY a.code
            ) AS codes
            FROM (SELECT DISTINCT mask FROM masks) s
        )
        SELECT i.id AS incident_id, i.started_at, i.resolved_at, {duration_seconds("i")},
               coalesce(s.set_id, 0) AS set_id,
               coalesce(s.codes, '{{}}') AS codes,
               coalesce(d.done, 0) AS done
        FROM {Incident._meta.db_table} i
        LEFT JOIN masks m ON m.incident_id = i.id
        LEFT JOIN sets s ON s.mask = m.mask
        LEFT JOIN (
            SELECT incident_id, count(*)::int AS done FROM {ActionItem._meta.db_table}
            WHERE status = %s GROUP BY incident_id
        ) d ON d.incident_id = i.id
        WHERE i.status = %s AND {counted_once_sql("i")}
    """


# The attribute keys of each distinct set, sorted (codes follow the keys' order). Set 0 is
# the incidents without attributes.
_SET_SQL = """
    CREATE TEMPORARY TABLE refresh_set ON COMMIT DROP AS
    SELECT s.set_id, s.codes, ARRAY(
        SELECT a.key FROM refresh_attribute a WHERE a.code = ANY(s.codes) ORDER BY a.code
    )::varchar[] AS attributes
    FROM (SELECT set_id, min(codes) AS codes FROM refresh_incident GROUP BY set_id) s
"""

# The working tables as the statistics read them (see ``metrics.Source``).
WORKING_SOURCE = Source(
    incidents="(SELECT incident_id AS id, started_at, resolved_at, detect_s, mitigate_s, "
    "resolve_s FROM refresh_incident)",
    attributed="(SELECT r.incident_id AS id, r.started_at, r.resolved_at, r.detect_s, "
    "r.mitigate_s, r.resolve_s, a.kind, a.slug, a.name FROM refresh_incident r "
    "CROSS JOIN LATERAL unnest(r.codes) AS c(code) JOIN refresh_attribute a ON a.code = c.code "
    # The statistics count each category once per incident, whatever its roles.
    "WHERE a.kind <> 'cf')",
)


def published_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM refresh_incident")
        return cursor.fetchone()[0]


def sync_profiles() -> int:
    """Make ``IncidentProfile`` and ``VendorIncident`` match the working tables.

    Only rows that differ are written: on a nightly refresh almost none do, and a large
    knowledge base has millions of them. Each table is compared with what it should hold
    in one pass; the differences are applied from a small temporary table. Returns the
    number of profiles.
    """
    with connection.cursor() as cursor:
        _apply(cursor, IncidentProfile._meta.db_table, _PROFILE_DIFF, ["incident_id"],
               ["attributes", "started_at", "completed_actions"])  # fmt: skip
        _apply(cursor, VendorIncident._meta.db_table, _VENDOR_DIFF,
               ["vendor_id", "started_at", "incident_id"], [])  # fmt: skip
        return published_count()


# What should be stored and is not (``wanted``), and what is stored and should not be: the
# differences only, named as the table's columns.
_PROFILE_DIFF = f"""
    SELECT w.incident_id IS NOT NULL AS wanted,
           coalesce(w.incident_id, p.incident_id) AS incident_id,
           w.attributes, w.started_at, w.completed_actions
    FROM (
        SELECT r.incident_id, s.attributes, r.started_at, r.done AS completed_actions
        FROM refresh_incident r JOIN refresh_set s ON s.set_id = r.set_id
    ) w
    FULL JOIN {IncidentProfile._meta.db_table} p ON p.incident_id = w.incident_id
    WHERE (w.attributes, w.started_at, w.completed_actions)
          IS DISTINCT FROM (p.attributes, p.started_at, p.completed_actions)
"""

_VENDOR_DIFF = f"""
    SELECT w.incident_id IS NOT NULL AS wanted,
           coalesce(w.vendor_id, v.vendor_id) AS vendor_id,
           coalesce(w.started_at, v.started_at) AS started_at,
           coalesce(w.incident_id, v.incident_id) AS incident_id
    FROM (
        SELECT l.vendor_id, r.started_at, r.incident_id FROM refresh_incident r
        JOIN {IncidentVendor._meta.db_table} l ON l.incident_id = r.incident_id
        WHERE r.started_at IS NOT NULL
    ) w
    FULL JOIN {VendorIncident._meta.db_table} v
        ON v.vendor_id = w.vendor_id AND v.started_at = w.started_at
       AND v.incident_id = w.incident_id
    WHERE w.incident_id IS NULL OR v.incident_id IS NULL
"""


def _apply(cursor, table: str, diff: str, key: list[str], values: list[str]) -> None:
    """Delete the stored rows that differ or went, then insert the wanted ones that differ."""
    columns = ", ".join([*key, *values])
    cursor.execute("DROP TABLE IF EXISTS refresh_change")
    cursor.execute(f"CREATE TEMPORARY TABLE refresh_change ON COMMIT DROP AS {diff}")
    matches = " AND ".join(f"t.{name} = c.{name}" for name in key)
    cursor.execute(f"DELETE FROM {table} t USING refresh_change c WHERE {matches}")
    cursor.execute(
        f"INSERT INTO {table} ({columns}) SELECT {columns} FROM refresh_change WHERE wanted"
    )
