"""Writing an incident's factors and action items through the API, whole lists at a time."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse

from postmortems.api.serializers import FactorSerializer
from postmortems.choices import ActionItemStatus, FactorRole
from postmortems.models import ActionItem, Factor, FailureCategory, Incident
from postmortems.services import IncidentChanges, update_incident
from tests.api.conftest import error_of
from tests.factories import (
    ActionItemFactory,
    FactorFactory,
    IncidentFactory,
    TimelineEventFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db
LIST = reverse("postmortems-api:incident-list")
NOW = datetime(2024, 6, 1, 9, 30, tzinfo=UTC)

ROOT_CAUSE = {
    "category": "time-handling",
    "role": FactorRole.ROOT_CAUSE,
    "description": "The certificate's validity ended on 29 February.",
}
CONTRIBUTING = {"category": "non-staged-rollout", "role": FactorRole.CONTRIBUTING}
ADD_CANARY = {"title": "Add a canary stage", "type": "preventive"}


def detail(incident) -> str:
    return reverse("postmortems-api:incident-detail", args=[incident.slug])


def factor_rows(incident) -> list[tuple]:
    return list(
        Factor.objects.filter(incident=incident)
        .order_by("position", "id")
        .values_list("category__slug", "role", "description")
    )


@pytest.fixture
def client(client_for, author):
    return client_for(author)


@pytest.fixture
def labelled(author, incident_by):
    """An incident of the author's, with one factor and one action item."""
    incident = incident_by(author, summary="Current text.")
    FactorFactory(incident=incident, description="A bug.")
    ActionItemFactory(incident=incident, title="Old follow-up")
    return incident


def test_a_postmortem_created_with_factors_and_action_items_reads_with_them(client, author):
    body = {
        "title": "Leap-day outage",
        "factors": [ROOT_CAUSE, CONTRIBUTING],
        "action_items": [
            {**ADD_CANARY, "owner": "author", "due_date": "2024-07-01"},
            {"title": "Test leap days", "type": "corrective", "status": "in_progress",
             "ticket_url": "https://tickets.example.com/42"},
        ],
    }  # fmt: skip

    created = client.post(LIST, body, format="json")

    assert created.status_code == 201, created.json()
    read = client.get(created["Location"]).json()
    assert [(f["category"], f["role"], f["description"]) for f in read["factors"]] == [
        ("time-handling", "root_cause", ROOT_CAUSE["description"]),
        ("non-staged-rollout", "contributing", ""),
    ]
    assert [f["position"] for f in read["factors"]] == [0, 1]
    items = {item["title"]: item for item in read["action_items"]}
    assert items["Add a canary stage"]["owner"] == "author"
    assert items["Add a canary stage"]["due_date"] == "2024-07-01"
    assert items["Add a canary stage"]["status"] == "open"
    assert items["Test leap days"]["ticket_url"] == "https://tickets.example.com/42"
    assert read["version"] == 1


def test_patching_factors_replaces_the_set_and_bumps_the_version(client, labelled):
    response = client.patch(
        detail(labelled), {"factors": [ROOT_CAUSE, CONTRIBUTING]}, format="json",
        HTTP_IF_MATCH='"1"',
    )  # fmt: skip

    assert response.status_code == 200, response.json()
    assert response["ETag"] == '"2"'
    assert [f["category"] for f in response.json()["factors"]] == [
        "time-handling",
        "non-staged-rollout",
    ]
    assert factor_rows(labelled) == [
        ("time-handling", "root_cause", ROOT_CAUSE["description"]),
        ("non-staged-rollout", "contributing", ""),
    ]
    assert Incident.objects.get(pk=labelled.pk).version == 2


def test_a_patch_without_the_keys_leaves_factors_and_action_items_alone(client, labelled):
    response = client.patch(detail(labelled), {"summary": "New text.", "version": 1})

    assert response.status_code == 200
    assert factor_rows(labelled) == [("software-bug", "root_cause", "A bug.")]
    assert list(labelled.action_items.values_list("title", flat=True)) == ["Old follow-up"]


def test_an_empty_list_removes_every_action_item(client, labelled):
    response = client.patch(detail(labelled), {"action_items": [], "version": 1}, format="json")

    assert response.status_code == 200
    assert response.json()["action_items"] == []
    assert not ActionItem.objects.filter(incident=labelled).exists()


def test_an_item_with_its_id_is_edited_in_place_and_keeps_its_evidence(client, labelled):
    factor = labelled.factors.get()
    event = TimelineEventFactory(incident=labelled)
    event.evidence_for.add(factor)

    response = client.patch(
        detail(labelled),
        {"factors": [{"id": factor.id, **ROOT_CAUSE}], "version": 1},
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert [f["id"] for f in response.json()["factors"]] == [factor.id]
    factor.refresh_from_db()
    assert factor.category.slug == "time-handling"
    assert list(factor.evidence.all()) == [event]


def test_factor_edits_are_in_the_history_with_who_made_them(client, author, labelled):
    client.patch(detail(labelled), {"factors": [CONTRIBUTING], "version": 1}, format="json")

    records = Factor.history.filter(incident_id=labelled.id)
    assert {(r.history_type, r.history_user) for r in records.exclude(history_user=None)} == {
        ("-", author),
        ("+", author),
    }


def test_an_unknown_category_is_refused_by_its_place_and_nothing_changes(client, labelled):
    response = client.patch(
        detail(labelled),
        {"summary": "Mine.", "factors": [ROOT_CAUSE, {**CONTRIBUTING, "category": "foo"}]},
        format="json",
        HTTP_IF_MATCH='"1"',
    )

    assert response.status_code == 400
    error = error_of(response)
    assert error["fields"] == {"factors.1.category": ["Unknown category “foo”."]}
    labelled.refresh_from_db()
    assert (labelled.summary, labelled.version) == ("Current text.", 1)
    assert factor_rows(labelled) == [("software-bug", "root_cause", "A bug.")]


def test_an_unknown_category_on_creation_creates_nothing(client):
    body = {"title": "Half labelled", "factors": [ROOT_CAUSE, {**ROOT_CAUSE, "category": "foo"}]}

    response = client.post(LIST, body, format="json")

    assert response.status_code == 400
    assert error_of(response)["fields"] == {"factors.1.category": ["Unknown category “foo”."]}
    assert not Incident.objects.filter(title="Half labelled").exists()
    assert not Factor.objects.exists()


def test_an_item_missing_required_fields_is_refused_in_a_patch_too(client, labelled):
    response = client.patch(
        detail(labelled),
        {"factors": [{"description": "No category."}], "action_items": [{}], "version": 1},
        format="json",
    )

    assert response.status_code == 400
    assert set(error_of(response)["fields"]) == {
        "factors.0.category",
        "factors.0.role",
        "action_items.0.title",
        "action_items.0.type",
    }
    assert factor_rows(labelled) == [("software-bug", "root_cause", "A bug.")]


def test_an_id_from_another_postmortem_is_refused(client, labelled):
    elsewhere = FactorFactory(incident=IncidentFactory())

    response = client.patch(
        detail(labelled),
        {"factors": [{"id": elsewhere.id, **ROOT_CAUSE}], "version": 1},
        format="json",
    )

    assert response.status_code == 400
    assert error_of(response)["fields"] == {
        "factors.0.id": [f"This postmortem has no factor with id {elsewhere.id}."]
    }
    elsewhere.refresh_from_db()
    assert elsewhere.category.slug == "software-bug"
    assert factor_rows(labelled) == [("software-bug", "root_cause", "A bug.")]
    assert Incident.objects.get(pk=labelled.pk).version == 1


def test_an_unknown_owner_is_refused(client, labelled):
    response = client.patch(
        detail(labelled),
        {"action_items": [{**ADD_CANARY, "owner": "nobody-here"}], "version": 1},
        format="json",
    )

    assert response.status_code == 400
    assert error_of(response)["fields"] == {
        "action_items.0.owner": ["No active user is called “nobody-here”."]
    }
    assert list(labelled.action_items.values_list("title", flat=True)) == ["Old follow-up"]


def test_a_done_item_without_a_completion_time_is_stamped_now_as_in_the_editor(client, labelled):
    with time_machine.travel(NOW, tick=False):
        response = client.patch(
            detail(labelled),
            {"action_items": [{**ADD_CANARY, "status": "done"}], "version": 1},
            format="json",
        )

    assert response.status_code == 200, response.json()
    assert response.json()["action_items"][0]["completed_at"] == "2024-06-01T09:30:00Z"


def test_a_done_item_keeps_the_completion_time_it_is_sent_with(client, labelled):
    body = {**ADD_CANARY, "status": "done", "completed_at": "2024-05-02T10:00:00Z"}

    response = client.patch(detail(labelled), {"action_items": [body], "version": 1}, format="json")

    assert response.json()["action_items"][0]["completed_at"] == "2024-05-02T10:00:00Z"


def test_an_open_item_with_a_completion_time_is_refused(client, labelled):
    body = {**ADD_CANARY, "status": ActionItemStatus.OPEN, "completed_at": "2024-05-02T10:00:00Z"}

    response = client.patch(detail(labelled), {"action_items": [body], "version": 1}, format="json")

    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == ["action_items.0.completed_at"]


def test_an_items_departed_owner_may_stay_when_the_list_is_sent_back(client, labelled):
    departed = UserFactory(username="departed", is_active=False)
    item = labelled.action_items.get()
    ActionItem.objects.filter(pk=item.pk).update(owner=departed)
    read = client.get(detail(labelled)).json()

    response = client.patch(
        detail(labelled),
        {"action_items": read["action_items"], "version": read["version"]},
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert response.json()["action_items"][0]["owner"] == "departed"


@pytest.mark.parametrize(
    ("headers", "body_version", "status"),
    [({"HTTP_IF_MATCH": '"1"'}, None, 412), ({}, 1, 409)],
)
def test_a_stale_version_refuses_new_factors_and_changes_nothing(
    client, edited_labelled, headers, body_version, status
):
    body = {"factors": [ROOT_CAUSE]}
    if body_version is not None:
        body["version"] = body_version

    response = client.patch(detail(edited_labelled), body, format="json", **headers)

    assert response.status_code == status
    assert error_of(response)["current_version"] == 2
    assert factor_rows(edited_labelled) == [("non-staged-rollout", "contributing", "")]
    assert Incident.objects.get(pk=edited_labelled.pk).version == 2


@pytest.fixture
def edited_labelled(labelled, reviewer):
    """The labelled incident after someone else replaced its factors (now at version 2)."""
    contributing = FailureCategory.objects.get(slug="non-staged-rollout")
    changes = IncidentChanges(factors=[{"role": FactorRole.CONTRIBUTING, "category": contributing}])
    update_incident(incident_id=labelled.id, expected_version=1, changes=changes, user=reviewer)
    return labelled


def test_a_conflict_says_the_factors_changed_meanwhile(client, edited_labelled):
    response = client.patch(detail(edited_labelled), {"title": "Mine", "version": 1})

    assert response.status_code == 409
    assert error_of(response)["changed_fields"] == ["factors"]


# --- Evidence: the timeline events behind a factor ---------------------------------------


@pytest.fixture
def evidenced(labelled):
    """The labelled incident with two events (the later one written first)."""
    later = TimelineEventFactory(
        incident=labelled, occurred_at=datetime(2024, 3, 1, 13, tzinfo=UTC)
    )
    earlier = TimelineEventFactory(
        incident=labelled, occurred_at=datetime(2024, 3, 1, 12, tzinfo=UTC)
    )
    return labelled, earlier, later


def test_a_factor_reads_with_its_evidence_in_timeline_order(client, evidenced):
    incident, earlier, later = evidenced
    factor = incident.factors.get()
    later.evidence_for.add(factor)
    earlier.evidence_for.add(factor)

    read = client.get(detail(incident)).json()

    assert read["factors"][0]["evidence"] == [earlier.id, later.id]
    # The list is built by the database; it says what the serializer's fields say.
    assert read["factors"] == FactorSerializer(incident.factors.all(), many=True).data
    listed = client.get(LIST).json()["results"]
    assert [row["factors"] for row in listed if row["slug"] == incident.slug] == [read["factors"]]


def test_evidence_is_written_with_the_factors(client, evidenced):
    incident, earlier, later = evidenced
    factor = incident.factors.get()
    body = {"factors": [{"id": factor.id, **ROOT_CAUSE, "evidence": [later.id, earlier.id]},
                        {**CONTRIBUTING, "evidence": [later.id]}], "version": 1}  # fmt: skip

    response = client.patch(detail(incident), body, format="json")

    assert response.status_code == 200, response.json()
    assert [f["evidence"] for f in response.json()["factors"]] == [
        [earlier.id, later.id],
        [later.id],
    ]
    assert set(factor.evidence.all()) == {earlier, later}
    assert list(later.evidence_for.order_by("position")) == list(incident.factors.all())


def test_an_empty_evidence_list_unlinks_the_events(client, evidenced):
    incident, earlier, _ = evidenced
    factor = incident.factors.get()
    earlier.evidence_for.add(factor)

    response = client.patch(
        detail(incident),
        {"factors": [{"id": factor.id, **ROOT_CAUSE, "evidence": []}], "version": 1},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["factors"][0]["evidence"] == []
    assert not factor.evidence.exists()


def test_an_evidence_change_is_in_the_factors_history_with_who_made_it(client, author, evidenced):
    incident, earlier, _ = evidenced
    factor = incident.factors.get()
    unchanged = {"id": factor.id, "role": factor.role, "category": "software-bug",
                 "description": factor.description, "position": 0}  # fmt: skip

    client.patch(
        detail(incident),
        {"factors": [{**unchanged, "evidence": [earlier.id]}], "version": 1},
        format="json",
    )

    record = factor.history.order_by("-history_date").first()
    assert (record.history_type, record.history_user) == ("~", author)
    assert record.history_change_reason == f"Evidence: timeline events {earlier.id}."
    assert factor.history.count() == 2


def test_sending_the_same_evidence_back_records_nothing(client, evidenced):
    incident, earlier, _ = evidenced
    factor = incident.factors.get()
    earlier.evidence_for.add(factor)
    read = client.get(detail(incident)).json()

    response = client.patch(
        detail(incident), {"factors": read["factors"], "version": read["version"]}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert factor.history.count() == 1
    assert list(factor.evidence.all()) == [earlier]


def test_an_event_of_another_postmortem_is_refused_by_its_place(client, evidenced):
    incident, earlier, _ = evidenced
    elsewhere = TimelineEventFactory(incident=IncidentFactory())
    factor = incident.factors.get()
    body = {
        "summary": "Mine.",
        "factors": [{"id": factor.id, **ROOT_CAUSE, "evidence": [earlier.id]},
                    {**CONTRIBUTING, "evidence": [earlier.id, elsewhere.id]}],
        "version": 1,
    }  # fmt: skip

    response = client.patch(detail(incident), body, format="json")

    assert response.status_code == 400
    assert error_of(response)["fields"] == {
        "factors.1.evidence": [f"This postmortem's timeline has no event with id {elsewhere.id}."]
    }
    incident.refresh_from_db()
    assert (incident.summary, incident.version) == ("Current text.", 1)
    assert factor_rows(incident) == [("software-bug", "root_cause", "A bug.")]
    assert not factor.evidence.exists()
    assert not elsewhere.evidence_for.exists()


@pytest.mark.parametrize("evidence", [["one"], [0], "1", [2**63]])
def test_evidence_that_is_not_a_list_of_ids_is_refused(client, labelled, evidence):
    response = client.patch(
        detail(labelled),
        {"factors": [{**ROOT_CAUSE, "evidence": evidence}], "version": 1},
        format="json",
    )

    assert response.status_code == 400
    assert [name.removesuffix(".0") for name in error_of(response)["fields"]] == [
        "factors.0.evidence"
    ]
    assert factor_rows(labelled) == [("software-bug", "root_cause", "A bug.")]


def test_a_new_postmortem_has_no_events_to_cite_yet(client):
    body = {"title": "Cited too soon", "factors": [{**ROOT_CAUSE, "evidence": [1]}]}

    response = client.post(LIST, body, format="json")

    assert response.status_code == 400
    assert list(error_of(response)["fields"]) == ["factors.0.evidence"]
    assert not Incident.objects.filter(title="Cited too soon").exists()
