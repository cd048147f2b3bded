"""Keyset ("cursor") pagination: page 1000 costs what page 1 costs.

OFFSET pagination makes PostgreSQL walk and discard every earlier row, so deep
pages get slower as the knowledge base grows. A keyset page instead asks for
rows strictly after the last row shown, in the same total order, which an
index can answer directly.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import FieldDoesNotExist
from django.db.models import F, Q, QuerySet


class InvalidCursor(ValueError):
    pass


@dataclass(frozen=True)
class SortKey:
    """A sort order over annotated/real columns; the last column must be unique (``id``)."""

    columns: tuple[str, ...]
    descending: bool

    def order_by(self, *, reverse: bool = False) -> list:
        desc = self.descending != reverse
        *nullable, unique = self.columns
        return [
            *(F(c).desc(nulls_last=True) if desc else F(c).asc(nulls_first=True) for c in nullable),
            # Never null, so PostgreSQL's default placement: spelled out, NULLS LAST on a
            # descending id no longer matches an index on (…, id DESC), and PostgreSQL then
            # sorts every row tied on the first column instead of reading the index in order.
            F(unique).desc() if desc else F(unique).asc(),
        ]


@dataclass
class KeysetPage:
    items: list
    next_cursor: str | None
    previous_cursor: str | None


def encode_cursor(values: list, *, backwards: bool = False) -> str:
    payload = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    raw = json.dumps({"v": payload, "b": backwards}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, key: SortKey) -> tuple[list, bool]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        values, backwards = data["v"], bool(data["b"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidCursor("This page link is damaged; start from the first page.") from exc
    if not isinstance(values, list) or len(values) != len(key.columns):
        raise InvalidCursor("This page link belongs to another sort order.")
    return values, backwards


def _after(key: SortKey, values: list, *, backwards: bool) -> Q:
    """Rows strictly after ``values`` in the key's order (before them when ``backwards``)."""
    forward_desc = key.descending != backwards
    condition = Q()
    for i, column in enumerate(key.columns):
        value = values[i]
        equal_before = Q(**{c: values[j] for j, c in enumerate(key.columns[:i])})
        if value is None:
            # Descending puts nulls last: nothing lies beyond a null. Ascending
            # puts them first: every non-null value lies beyond it.
            if forward_desc:
                continue
            condition |= equal_before & Q(**{f"{column}__isnull": False})
            continue
        beyond = Q(**{f"{column}__{'lt' if forward_desc else 'gt'}": value})
        if forward_desc:
            beyond |= Q(**{f"{column}__isnull": True})
        condition |= equal_before & beyond
    return condition


def _ranges(queryset: QuerySet, key: SortKey, values: list, *, backwards: bool) -> list[Q]:
    """The rows after ``values`` as disjoint conditions, in the page's order.

    One ``_after`` condition ORs "beyond on the first column", "tied, beyond on the rest"
    and, for a nullable column, "null": no index can start a scan at such a condition, so
    a deep page would walk every row before it. Split at the first column's value, each
    part is one range of an index on the key (the first column bounded, the rest filtered
    among its ties), and the parts are read in order until the page is full.
    """
    forward_desc = key.descending != backwards
    first, value = key.columns[0], values[0]
    rest = SortKey(key.columns[1:], key.descending)
    tied = _after(rest, values[1:], backwards=backwards) if rest.columns else Q(pk__in=[])
    nulls = Q(**{f"{first}__isnull": True})
    if value is None:
        # Descending puts nulls last, so only tied nulls lie beyond; ascending puts them
        # first, so every non-null row does too.
        extra = [] if forward_desc else [Q(**{f"{first}__isnull": False})]
        return [nulls & tied, *extra]
    bound, beyond = ("lte", "lt") if forward_desc else ("gte", "gt")
    ranged = Q(**{f"{first}__{bound}": value}) & (
        Q(**{f"{first}__{beyond}": value}) | (Q(**{first: value}) & tied)
    )
    return [ranged, nulls] if forward_desc and _nullable(queryset, first) else [ranged]


def _nullable(queryset: QuerySet, column: str) -> bool:
    try:
        return queryset.model._meta.get_field(column).null
    except FieldDoesNotExist:  # an annotation (a search rank): never null
        return False


def rows_in_order(queryset: QuerySet, ids: list) -> list:
    """The rows of ``queryset`` with these ``ids``, in that order (a row deleted meanwhile
    is left out)."""
    if not ids:
        return []
    by_id = {row.pk: row for row in queryset.filter(pk__in=ids).order_by()}
    return [by_id[pk] for pk in ids if pk in by_id]


def keyset_page(
    queryset: QuerySet,
    *,
    key: SortKey,
    cursor: str | None,
    size: int,
    read_rows: Callable[[list], list] | None = None,
) -> KeysetPage:
    """One page of ``queryset`` in ``key`` order, starting after ``cursor``.

    With ``read_rows``, the page is found by its keys alone and then read whole by
    ``read_rows(ids)`` (the rows in that order, e.g. ``rows_in_order``). Finding a page
    can walk an index past thousands of candidates (a vendor's incidents among everyone's,
    newest first): the index answers that by itself when only keys are asked for, but
    visits every candidate's whole row, text and all, when the page is read in the same
    statement. A small table reads in one go.
    """
    values, backwards = decode_cursor(cursor, key) if cursor else (None, False)
    qs = queryset.order_by(*key.order_by(reverse=backwards))
    if read_rows is not None:
        qs = qs.values_list("pk", flat=True)
    if values is None:
        rows = list(qs[: size + 1])
    else:
        rows = []
        for condition in _ranges(queryset, key, values, backwards=backwards):
            rows += qs.filter(condition)[: size + 1 - len(rows)]
            if len(rows) > size:
                break
    has_more = len(rows) > size
    rows = read_rows(rows[:size]) if read_rows is not None else rows[:size]
    if backwards:
        rows.reverse()
    if not rows:
        return KeysetPage([], None, None)
    first = [getattr(rows[0], c) for c in key.columns]
    last = [getattr(rows[-1], c) for c in key.columns]
    more_forward = has_more if not backwards else True
    more_backward = (values is not None) if not backwards else has_more
    return KeysetPage(
        items=rows,
        next_cursor=encode_cursor(last) if more_forward else None,
        previous_cursor=encode_cursor(first, backwards=True) if more_backward else None,
    )
