import itertools
import math

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patterns import related
from patterns.models import RelatedList
from patterns.related import (
    SERVICE_WEIGHT,
    VENDOR_WEIGHT,
    cached_related_incidents,
    related_incidents,
)
from patterns.services import refresh_patterns
from postmortems.choices import ReviewStatus
from postmortems.models import ChangeType, FailureCategory, IncidentVendor, Service
from tests.factories import FactorFactory, IncidentFactory, VendorFactory

pytestmark = pytest.mark.django_db


def category(slug: str) -> FailureCategory:
    return FailureCategory.objects.get(slug=slug)


_titles = itertools.count()


def plain(**kwargs):
    """An incident whose title shares no word with any other (no text similarity)."""
    kwargs.setdefault("title", f"case{next(_titles)}")
    return IncidentFactory(**kwargs)


def with_categories(*slugs: str, **kwargs):
    incident = plain(**kwargs)
    for slug in slugs:
        FactorFactory(incident=incident, category=category(slug))
    return incident


def test_shared_rare_category_outranks_shared_common_one():
    subject = with_categories("software-bug", "certificate-expiry")
    common = with_categories("software-bug")
    rare = with_categories("certificate-expiry")
    for _ in range(3):
        with_categories("software-bug")

    result = related_incidents(subject)

    # N = 6 published; software-bug on 5 of them, certificate-expiry on 2.
    # The common-category sharers tie, so they follow the rare one in id order.
    assert [r.id for r in result][:2] == [rare.id, common.id]
    assert result[0].score == pytest.approx(math.log(6 / 2), abs=1e-6)
    assert result[1].score == pytest.approx(math.log(6 / 5), abs=1e-6)


def test_reasons_name_shared_attributes_vendor_and_service():
    vendor = VendorFactory(name="Microsoft Azure", slug="azure")
    blob = Service.objects.create(vendor=vendor, name="Blob Storage")
    subject = with_categories("non-staged-rollout", title="Storage outage")
    other = with_categories("non-staged-rollout", title="Storage outage in West Europe")
    plain()  # keeps the category's IDF above zero
    config_change = ChangeType.objects.get(slug="config-change")
    for incident in (subject, other):
        IncidentVendor.objects.create(incident=incident, vendor=vendor, is_primary=True)
        incident.services.add(blob)
        incident.change_types.add(config_change)

    [result] = related_incidents(subject)

    assert result.id == other.id
    assert set(result.reasons) == {
        "Both: Rollout not staged",
        "Both: Configuration change",
        "Same vendor: Microsoft Azure",
        "Same service: Blob Storage",
        "Similar text",
    }
    assert result.score > 2 * math.log(3 / 2) + VENDOR_WEIGHT + SERVICE_WEIGHT


def test_similar_title_alone_relates_incidents():
    subject = IncidentFactory(title="Certificate expired on the login service")
    similar = IncidentFactory(title="Expired certificate broke logins")
    IncidentFactory(title="Disk full on database primary")

    result = related_incidents(subject)

    assert [(r.id, r.reasons) for r in result] == [(similar.id, ["Similar text"])]
    assert result[0].score > 0


def test_ties_are_broken_by_id_and_order_is_stable():
    subject = with_categories("certificate-expiry")
    twins = [with_categories("certificate-expiry") for _ in range(4)]
    plain()

    first = related_incidents(subject)
    second = related_incidents(subject)

    assert [r.id for r in first] == sorted(t.id for t in twins)
    assert first == second
    assert len({r.score for r in first}) == 1


def test_limit_caps_the_result():
    subject = with_categories("certificate-expiry")
    for _ in range(4):
        with_categories("certificate-expiry")
    plain()

    assert len(related_incidents(subject, limit=2)) == 2


def test_drafts_and_the_incident_itself_are_excluded():
    subject = with_categories("certificate-expiry", title="Certificate expired")
    with_categories("certificate-expiry", title="Certificate expired", status=ReviewStatus.DRAFT)
    with_categories(
        "certificate-expiry", title="Certificate expired", status=ReviewStatus.IN_REVIEW
    )
    plain()

    assert related_incidents(subject) == []


def test_a_draft_incident_finds_published_relatives():
    draft = with_categories("certificate-expiry", status=ReviewStatus.DRAFT)
    published = with_categories("certificate-expiry")
    plain()

    assert [r.id for r in related_incidents(draft)] == [published.id]


def count_queries(subject) -> int:
    related._statistics()  # read once per process every few minutes
    with CaptureQueriesContext(connection) as ctx:
        related_incidents(subject, limit=50)
    return len(ctx.captured_queries)


def test_query_count_does_not_grow_with_incidents():
    vendor = VendorFactory()
    subject = with_categories("software-bug", title="Database failover failed")
    IncidentVendor.objects.create(incident=subject, vendor=vendor)

    def add(n: int) -> None:
        for _ in range(n):
            incident = with_categories("software-bug", title="Database failover failed")
            IncidentVendor.objects.create(incident=incident, vendor=vendor)

    add(5)
    few = count_queries(subject)
    add(25)
    many = count_queries(subject)

    # The incident's traits, their weights, the scored candidates.
    assert few == many == 3


# --- The cache pages read -------------------------------------------------------------------


def test_a_published_incidents_list_is_computed_once_then_read_from_the_cache(
    django_assert_num_queries,
):
    subject = with_categories("certificate-expiry")
    relative = with_categories("certificate-expiry")
    plain()
    first = cached_related_incidents(subject)

    with django_assert_num_queries(1):  # the cached row
        second = cached_related_incidents(subject)

    assert [r.id for r in first] == [r.id for r in second] == [relative.id]
    assert second[0].reasons == ["Both: Certificate expiry"]


def test_a_refresh_clears_the_cache_so_a_new_postmortem_can_appear():
    subject = with_categories("certificate-expiry")
    plain()
    assert cached_related_incidents(subject) == []
    newcomer = with_categories("certificate-expiry")
    assert cached_related_incidents(subject) == []  # still the cached answer

    refresh_patterns()

    assert [r.id for r in cached_related_incidents(subject)] == [newcomer.id]


def test_a_drafts_list_is_never_cached():
    draft = with_categories("certificate-expiry", status=ReviewStatus.DRAFT)
    plain()
    cached_related_incidents(draft)
    published = with_categories("certificate-expiry")

    assert [r.id for r in cached_related_incidents(draft)] == [published.id]
    assert not RelatedList.objects.filter(incident=draft).exists()
