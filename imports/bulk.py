"""Rows in bulk: ids reserved in one query, rows sent with COPY, history entries made in SQL.

An import writes thousands of incidents and timeline events at a time. ``bulk_create``
turns each value into SQL text in Python, which costs more than the database's own work;
COPY sends the rows as one stream instead. The history entries of the rows just written
are copied from them by the database (``INSERT … SELECT``), the same row as
django-simple-history would write, with no user (the importer is not a person).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db import connection, models


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """``count`` new primary keys from the table's own sequence."""
    if not count:
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def copy_rows(
    model: type[models.Model], names: Sequence[str], rows: Iterable[tuple], *, now: datetime
) -> None:
    """COPY ``rows`` (values of the fields ``names``, by attname) into the model's table.

    Every other column takes its field's default (``now`` for auto_now fields); the
    primary key, when not named, its identity default. JSON values are passed as text.
    """
    fields = [f for f in model._meta.concrete_fields if not f.generated]
    rest = [f for f in fields if f.attname not in names and not f.primary_key]
    by_name = {f.attname: f for f in fields}
    columns = [by_name[name].column for name in names] + [f.column for f in rest]
    tail = tuple(default(f, now) for f in rest)
    quote = connection.ops.quote_name
    sql = f"COPY {quote(model._meta.db_table)} ({', '.join(map(quote, columns))}) FROM STDIN"
    with connection.cursor() as cursor, connection.wrap_database_errors, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row + tail)


def update_rows(model: type[models.Model], names: Sequence[str], rows: list[tuple]) -> None:
    """Set the fields ``names`` of each row (its primary key first) in one UPDATE.

    The rows travel as one JSON document, read back by ``jsonb_to_recordset``: one
    statement and one parameter however many rows (JSON fields stay nested documents).
    """
    if not rows:
        return
    fields = [model._meta.get_field(name) for name in names]
    quote = connection.ops.quote_name
    columns = [quote(f.column) for f in fields]
    types = ", ".join(f"{c} {f.db_type(connection)}" for c, f in zip(columns, fields, strict=True))
    names = [f.column for f in fields]
    document = json.dumps([dict(zip(names, row, strict=True)) for row in rows], default=iso)
    assignments = ", ".join(f"{c} = v.{c}" for c in columns[1:])
    pk = columns[0]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {quote(model._meta.db_table)} AS t SET {assignments} "
            f"FROM jsonb_to_recordset(%s::jsonb) AS v({types}) WHERE t.{pk} = v.{pk}",
            [document],
        )


def iso(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def default(field: models.Field, now: datetime) -> object:
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return now
    value = field.get_default()
    return json.dumps(value) if isinstance(field, models.JSONField) else value


def write_history(
    model: type[models.Model], ids: list[int], *, history_type: str, when: datetime
) -> None:
    """One history entry per row of ``ids`` as it is now: created ("+") or changed ("~")."""
    if not ids:
        return
    history = model.history.model
    quote = connection.ops.quote_name
    tracked = ", ".join(quote(f.column) for f in history.tracked_fields)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(history._meta.db_table)} ({tracked}, history_date, "
            f"history_type, history_change_reason, history_user_id) "
            f"SELECT {tracked}, %s, %s, NULL, NULL FROM {quote(model._meta.db_table)} "
            f"WHERE {quote(model._meta.pk.column)} = ANY(%s)",
            [when, history_type, ids],
        )
