"""Rows in bulk: ids reserved in one query, rows sent with COPY, history entries beside them.

An import writes thousands of incidents and timeline events at a time. ``bulk_create``
turns each value into SQL text in Python, which costs more than the database's own work;
COPY sends the rows as one stream instead. A created row's history entry is COPYed from the
same values; a changed row's is copied from the row by the database (``INSERT … SELECT``).
Either is the row django-simple-history would write, with no user (the importer is not a
person).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from operator import itemgetter

import psycopg
from django.db import connection, models
from django.utils import timezone


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """``count`` new primary keys from the table's own sequence."""
    if not count:
        return []
    # The sequence is looked up once: pg_get_serial_sequence() is only stable, so called
    # beside nextval() it would read the catalogue again for every id: 15 times the cost.
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH s AS MATERIALIZED (SELECT pg_get_serial_sequence(%s, %s)::regclass AS seq) "
            "SELECT nextval(seq) FROM s, generate_series(1, %s)",
            [model._meta.db_table, model._meta.pk.column, count],
        )
        return [row[0] for row in cursor.fetchall()]


def copy_rows(
    model: type[models.Model],
    names: Sequence[str],
    rows: Iterable[tuple],
    *,
    now: datetime,
    history: bool = False,
) -> None:
    """COPY ``rows`` (values of the fields ``names``, by attname) into the model's table.

    Every other column takes its field's default (``now`` for auto_now fields); the
    primary key, when not named, its identity default. JSON values are passed as text.
    With ``history``, each row also gets its created ("+") history entry, copied from the
    same values (the primary key must then be named).
    """
    fields = [f for f in model._meta.concrete_fields if not f.generated]
    rest = [f for f in fields if f.attname not in names and not f.primary_key]
    by_name = {f.attname: f for f in fields}
    columns = [by_name[name].column for name in names] + [f.column for f in rest]
    # COPY carries values as text, and psycopg spells out a datetime for every row it is
    # in: ``now`` (twice in most rows, again in history entries) is spelled out once here.
    stamp = now.isoformat()
    tail = tuple(default(f, stamp) for f in rest)
    if history:
        # Each row goes out twice, as itself and as its history entry: its own moments are
        # spelled out once too.
        moments = [i for i, name in enumerate(names) if is_moment(by_name[name])]
        rows = [spelled(row, moments) + tail for row in rows]
    else:
        rows = (row + tail for row in rows)
    copy(model._meta.db_table, columns, rows)
    if history:
        copy_history(model, columns, rows, when=stamp)


def is_moment(field: models.Field) -> bool:
    return isinstance(field, models.DateTimeField)


def spelled(row: tuple, positions: list[int]) -> tuple:
    """``row`` with the datetimes at ``positions`` as ISO 8601 text."""
    if not positions:
        return row
    values = list(row)
    for i in positions:
        if values[i] is not None:
            values[i] = values[i].isoformat()
    return tuple(values)


def copy_history(
    model: type[models.Model], columns: list[str], rows: list[tuple], *, when: str
) -> None:
    """The created ("+") history entries of rows just copied, with no user."""
    history = model.history.model
    tracked = [f.column for f in history.tracked_fields]
    pick = itemgetter(*(columns.index(column) for column in tracked))
    entry = (when, "+", None, None)
    copy(
        history._meta.db_table,
        [*tracked, "history_date", "history_type", "history_change_reason", "history_user_id"],
        (pick(row) + entry for row in rows),
    )


def copy(table: str, columns: Sequence[str], rows: Iterable[tuple]) -> None:
    quote = connection.ops.quote_name
    sql = f"COPY {quote(table)} ({', '.join(map(quote, columns))}) FROM STDIN"
    with connection.cursor() as cursor, connection.wrap_database_errors, cursor.copy(sql) as stream:
        for row in rows:
            stream.write_row(row)


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


def default(field: models.Field, now: str) -> object:
    # A field stamped with the time of its write (auto_now, or a timezone.now default) takes
    # the statement's ``now``, as every row of one write shares one instant.
    stamped = field.default is timezone.now
    if stamped or getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
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


# Django's cursors put parameters into the statement's text: a payload of a megabyte becomes
# two megabytes of hex escaped in Python, five times the cost of storing it. These two send
# and read one binary value as binary instead.


def store_bytes(model: type[models.Model], pk: object, name: str, value: bytes) -> None:
    """Set the binary field ``name`` of one row."""
    quote = connection.ops.quote_name
    column, pk_column = model._meta.get_field(name).column, model._meta.pk.column
    sql = f"UPDATE {quote(model._meta.db_table)} SET {quote(column)} = %b "
    sql += f"WHERE {quote(pk_column)} = %s"
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, [value, pk])


def load_bytes(model: type[models.Model], pk: object, name: str) -> bytes | None:
    """The binary field ``name`` of one row (None when null or when the row is gone)."""
    quote = connection.ops.quote_name
    column, pk_column = model._meta.get_field(name).column, model._meta.pk.column
    sql = f"SELECT {quote(column)} FROM {quote(model._meta.db_table)} "
    sql += f"WHERE {quote(pk_column)} = %s"
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        row = cursor.execute(sql, [pk], binary=True).fetchone()
    return None if row is None else row[0]
