from datetime import UTC, datetime, timedelta

import pytest

from postmortems.models import ActionItem, ChangeType, Factor, Incident, Vendor
from postmortems.services import (
    EditConflict,
    IncidentChanges,
    create_incident,
    set_incident_vendors,
    update_incident,
)
from tests.factories import ActionItemFactory, FactorFactory, VendorFactory
from timeline.services import record_event, update_event

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident(author):
    return create_incident(
        title="Blob front-ends loop after a config change",
        author=author,
        started_at=T0,
        summary="Original summary.",
        change_types=ChangeType.objects.filter(slug="config-change"),
    )


def test_create_incident_gives_a_readable_unique_slug(author):
    first = create_incident(title="Storage outage", started_at=T0)
    second = create_incident(title="Storage outage", started_at=T0)

    assert first.slug == "storage-outage-2024-03"
    assert second.slug == "storage-outage-2024-03-2"


def test_the_creating_author_is_an_author(incident, author):
    assert list(incident.authors.all()) == [author]


def test_an_edit_against_the_current_version_is_saved_and_bumps_it(incident):
    edited = update_incident(
        incident_id=incident.id,
        expected_version=incident.version,
        changes=IncidentChanges(fields={"summary": "Better summary."}),
    )

    assert edited.version == incident.version + 1
    assert Incident.objects.get(id=incident.id).summary == "Better summary."


def test_a_stale_edit_is_refused_and_overwrites_nothing(incident, author, reviewer):
    loaded_version = incident.version
    update_incident(
        incident_id=incident.id,
        expected_version=loaded_version,
        changes=IncidentChanges(fields={"summary": "Reviewer's summary."}),
        user=reviewer,
    )

    with pytest.raises(EditConflict) as caught:
        update_incident(
            incident_id=incident.id,
            expected_version=loaded_version,
            changes=IncidentChanges(fields={"summary": "Author's summary."}),
            user=author,
        )

    assert caught.value.changed_fields == ["summary"]
    assert caught.value.current.summary == "Reviewer's summary."
    assert Incident.objects.get(id=incident.id).summary == "Reviewer's summary."


def test_history_keeps_every_previous_text_and_who_changed_it(incident, reviewer):
    update_incident(
        incident_id=incident.id,
        expected_version=incident.version,
        changes=IncidentChanges(fields={"summary": "Rewritten summary."}),
        user=reviewer,
    )

    newest, oldest = incident.history.order_by("-history_date")[:2]
    assert oldest.summary == "Original summary."
    assert newest.summary == "Rewritten summary."
    assert newest.history_user == reviewer
    assert [c.field for c in newest.diff_against(oldest).changes] == ["summary"]


def test_history_is_kept_for_factors_events_and_action_items(incident):
    factor = FactorFactory(incident=incident, description="First wording.")
    factor.description = "Second wording."
    factor.save()
    item = ActionItemFactory(incident=incident)
    item.status = "done"
    item.save()
    event = record_event(incident=incident, occurred_at=T0, description="Alert fired.")
    update_event(event=event, description="Pager alert fired.")

    assert [h.description for h in Factor.history.order_by("history_date")] == [
        "First wording.",
        "Second wording.",
    ]
    assert [h.status for h in ActionItem.history.order_by("history_date")] == ["open", "done"]
    assert [h.description for h in event.history.order_by("history_date")] == [
        "Alert fired.",
        "Pager alert fired.",
    ]


def test_completing_an_action_item_stamps_it_and_reopening_clears_it(incident):
    item = ActionItemFactory(incident=incident, status="done")
    assert item.completed_at is not None

    item.status = "open"
    item.save()
    assert item.completed_at is None


def test_switching_the_primary_vendor(incident):
    azure, aws = VendorFactory(slug="azure"), VendorFactory(slug="aws")
    set_incident_vendors(incident=incident, vendors=[azure, aws], primary=azure)

    set_incident_vendors(incident=incident, vendors=[azure, aws], primary=aws)

    incident = Incident.objects.prefetch_related("incident_vendors__vendor").get(id=incident.id)
    assert incident.primary_vendor == aws
    assert set(incident.vendors.all()) == set(Vendor.objects.filter(slug__in=["azure", "aws"]))


def test_an_invalid_edit_leaves_the_incident_untouched(incident):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        update_incident(
            incident_id=incident.id,
            expected_version=incident.version,
            changes=IncidentChanges(
                fields={"summary": "Half an edit", "resolved_at": T0 - timedelta(days=1)}
            ),
        )

    fresh = Incident.objects.get(id=incident.id)
    assert (fresh.summary, fresh.version) == ("Original summary.", incident.version)
