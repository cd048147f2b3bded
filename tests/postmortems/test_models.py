from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from postmortems.choices import Origin, ReviewStatus
from postmortems.models import ChangeType, FailureCategory, Incident, IncidentVendor
from tests.factories import IncidentFactory, UserFactory, VendorFactory

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


def test_detection_before_start_is_rejected_with_a_message_naming_both_times():
    incident = IncidentFactory.build(started_at=T0, detected_at=T0 - timedelta(minutes=5))

    with pytest.raises(ValidationError) as caught:
        incident.full_clean()

    message = caught.value.message_dict["detected_at"][0]
    assert "2024-03-01 11:55" in message
    assert "2024-03-01 12:00" in message
    assert "started ≤ detected ≤ mitigated ≤ resolved" in message
    # One clear error per field, not repeated by the database constraint check.
    assert list(caught.value.message_dict) == ["detected_at"]


def test_resolution_before_start_is_rejected_even_without_the_moments_between():
    incident = IncidentFactory.build(started_at=T0, resolved_at=T0 - timedelta(hours=1))

    with pytest.raises(ValidationError) as caught:
        incident.full_clean()

    assert "resolved_at" in caught.value.message_dict


def test_database_refuses_moments_out_of_order_when_validation_is_bypassed():
    incident = IncidentFactory(started_at=T0, mitigated_at=T0 + timedelta(hours=1))

    with (
        pytest.raises(IntegrityError, match="incident_mitigated_not_before_started"),
        transaction.atomic(),
    ):
        Incident.objects.filter(id=incident.id).update(mitigated_at=T0 - timedelta(hours=1))

    incident.refresh_from_db()
    assert incident.mitigated_at == T0 + timedelta(hours=1)


def test_ordered_moments_are_accepted():
    incident = IncidentFactory.build(
        started_at=T0,
        detected_at=T0 + timedelta(minutes=10),
        mitigated_at=T0 + timedelta(hours=1),
        resolved_at=T0 + timedelta(hours=2),
    )
    incident.full_clean()


def imported(**kwargs):
    return IncidentFactory(
        origin=Origin.IMPORTED,
        import_source="statuspage:github",
        external_id="lc8s9rtyjmgq",
        **kwargs,
    )


def test_duplicate_import_key_is_rejected_by_the_database():
    imported()

    with (
        pytest.raises(IntegrityError, match="incident_unique_external_id_per_import_source"),
        transaction.atomic(),
    ):
        imported()

    assert Incident.objects.filter(external_id="lc8s9rtyjmgq").count() == 1


def test_duplicate_import_key_is_reported_by_validation():
    imported()
    duplicate = IncidentFactory.build(
        origin=Origin.IMPORTED, import_source="statuspage:github", external_id="lc8s9rtyjmgq"
    )

    with pytest.raises(ValidationError, match="already imported an incident with that id"):
        duplicate.full_clean()


def test_same_external_id_from_another_source_is_a_different_incident():
    imported()
    IncidentFactory(
        origin=Origin.IMPORTED, import_source="statuspage:atlassian", external_id="lc8s9rtyjmgq"
    )

    assert Incident.objects.filter(external_id="lc8s9rtyjmgq").count() == 2


def test_an_imported_incident_needs_its_source_and_id():
    incident = IncidentFactory.build(origin=Origin.IMPORTED, import_source="", external_id="")

    with pytest.raises(ValidationError, match="need a source and an external id"):
        incident.full_clean()


def test_only_one_vendor_can_be_primary():
    incident = IncidentFactory()
    IncidentVendor.objects.create(incident=incident, vendor=VendorFactory(), is_primary=True)

    with pytest.raises(IntegrityError), transaction.atomic():
        IncidentVendor.objects.create(incident=incident, vendor=VendorFactory(), is_primary=True)


def test_blast_radius_reads_like_a_postmortem():
    assert IncidentFactory.build(regions_affected=12, regions_total=17).blast_radius == (
        "12 of 17 regions"
    )


def test_more_regions_affected_than_exist_is_rejected():
    with pytest.raises(ValidationError, match="cannot exceed"):
        IncidentFactory.build(regions_affected=18, regions_total=17).full_clean()


def test_durations_are_unknown_without_a_start():
    incident = IncidentFactory.build(started_at=None, resolved_at=T0)

    assert incident.time_to_resolve is None


def test_search_vector_ranks_title_above_summary():
    IncidentFactory(title="Quarterly report", summary="A certificate expired.", slug="a")
    IncidentFactory(title="Certificate expired", summary="Nothing else.", slug="b")
    from django.contrib.postgres.search import SearchQuery, SearchRank
    from django.db.models import F

    ranked = (
        Incident.objects.filter(search_vector=SearchQuery("certificate", config="english"))
        .annotate(rank=SearchRank(F("search_vector"), SearchQuery("certificate", config="english")))
        .order_by("-rank")
    )

    assert [i.slug for i in ranked] == ["b", "a"]


def test_search_vector_follows_edits_without_any_extra_step():
    incident = IncidentFactory(title="Storage outage", summary="")
    incident.analysis = "An infinite loop in the blob front-end."
    incident.save()

    assert Incident.objects.filter(search_vector="loop").get() == incident


def test_taxonomy_is_seeded_with_the_contract_slugs():
    assert set(ChangeType.objects.values_list("slug", flat=True)) == {
        "code-deploy", "config-change", "content-push", "network-change", "os-upgrade",
        "schema-migration", "capacity-change", "credential-rotation", "hardware-maintenance",
        "manual-operation", "upstream-change", "traffic-change", "time-event", "none", "unknown",
    }  # fmt: skip
    assert FailureCategory.objects.count() == 28
    assert FailureCategory.objects.get(slug="retry-storm").parent.slug == "cascading-failure"
    assert all(FailureCategory.objects.values_list("definition", flat=True))


@pytest.mark.parametrize(
    ("role", "can_review", "can_add"),
    [
        ("viewer", False, False),
        ("author", False, True),
        ("reviewer", True, True),
        ("admin", True, True),
    ],
)
def test_roles_grant_their_permissions(role, can_review, can_add):
    user = UserFactory(role=role)

    assert user.has_perm("postmortems.view_incident")
    assert user.has_perm("postmortems.review_incident") is can_review
    assert user.has_perm("postmortems.add_incident") is can_add
    assert user.has_perm("timeline.add_timelineevent") is can_add
    assert user.has_perm("postmortems.delete_incident") is (role == "admin")


def test_drafts_are_visible_only_to_their_authors_reviewers_and_admins(
    author, other_author, viewer, reviewer, admin_user
):
    draft = IncidentFactory(status=ReviewStatus.DRAFT)
    draft.authors.add(author)
    published = IncidentFactory()

    assert set(Incident.objects.visible_to(author)) == {draft, published}
    assert set(Incident.objects.visible_to(reviewer)) == {draft, published}
    assert set(Incident.objects.visible_to(admin_user)) == {draft, published}
    assert set(Incident.objects.visible_to(other_author)) == {published}
    assert set(Incident.objects.visible_to(viewer)) == {published}


def test_a_postmortem_created_published_is_stamped_with_its_publication_time():
    before = datetime.now(UTC)

    incident = IncidentFactory(status=ReviewStatus.PUBLISHED)
    draft = IncidentFactory(status=ReviewStatus.DRAFT)

    assert incident.published_at >= before
    assert draft.published_at is None


def test_database_refuses_a_published_postmortem_without_publication_time():
    incident = IncidentFactory(status=ReviewStatus.DRAFT)

    with (
        pytest.raises(IntegrityError, match="incident_published_has_published_at"),
        transaction.atomic(),
    ):
        Incident.objects.filter(pk=incident.pk).update(status=ReviewStatus.PUBLISHED)
