from datetime import UTC, datetime, timedelta

import pytest

from core.pagination import InvalidCursor, SortKey, keyset_page, rows_in_order
from postmortems.models import Incident
from tests.factories import IncidentFactory

pytestmark = pytest.mark.django_db
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def by_keys(ids: list[int]) -> list[Incident]:
    return rows_in_order(Incident.objects.all(), ids)


def walk(key: SortKey, size: int, keys_first: bool = False) -> list[int]:
    ids, cursor = [], None
    while True:
        page = keyset_page(
            Incident.objects.all(),
            key=key,
            cursor=cursor,
            size=size,
            read_rows=by_keys if keys_first else None,
        )
        ids += [i.id for i in page.items]
        if not page.next_cursor:
            return ids
        cursor = page.next_cursor


@pytest.fixture
def incidents():
    # Ties on the time and missing times are where keyset pagination goes wrong.
    times = [T0, T0, T0 + timedelta(days=1), None, T0 - timedelta(days=3), None, T0]
    return [IncidentFactory(started_at=t) for t in times]


@pytest.mark.parametrize("keys_first", [False, True])
@pytest.mark.parametrize("descending", [True, False])
@pytest.mark.parametrize("size", [1, 2, 3, 10])
def test_walking_every_page_visits_each_incident_once_in_order(
    incidents, descending, size, keys_first
):
    key = SortKey(("started_at", "id"), descending=descending)
    expected = [i.id for i in Incident.objects.order_by(*key.order_by())]

    assert walk(key, size, keys_first) == expected


def test_a_page_found_by_its_keys_is_read_whole_with_its_prefetches(
    incidents, django_assert_num_queries
):
    key = SortKey(("started_at", "id"), descending=True)
    queryset = Incident.objects.prefetch_related("authors")

    with django_assert_num_queries(3):  # the keys, the rows, their authors
        page = keyset_page(
            queryset,
            key=key,
            cursor=None,
            size=3,
            read_rows=lambda ids: rows_in_order(queryset, ids),
        )
        titles = [(i.title, list(i.authors.all())) for i in page.items]

    expected = list(Incident.objects.order_by(*key.order_by())[:3])
    assert [t for t, _ in titles] == [i.title for i in expected]


def test_previous_page_returns_exactly_the_page_before(incidents):
    key = SortKey(("started_at", "id"), descending=True)
    first = keyset_page(Incident.objects.all(), key=key, cursor=None, size=3)
    second = keyset_page(Incident.objects.all(), key=key, cursor=first.next_cursor, size=3)

    back = keyset_page(Incident.objects.all(), key=key, cursor=second.previous_cursor, size=3)

    assert [i.id for i in back.items] == [i.id for i in first.items]
    assert back.previous_cursor is None
    assert first.previous_cursor is None


def test_a_tampered_cursor_is_refused():
    key = SortKey(("started_at", "id"), descending=True)

    with pytest.raises(InvalidCursor):
        keyset_page(Incident.objects.all(), key=key, cursor="not-a-cursor!", size=3)
