"""Accepting suggestions over the API and by policy: the normal write path, the version
rules, the history, and the auto-classified mark."""

import json

import pytest
from django.core.cache import cache
from django.urls import reverse
from rest_framework.test import APIClient

from classifier import services
from classifier.choices import ClassificationState
from classifier.models import AutoAcceptPolicy, Classification, ClassificationBatch
from imports.services import import_batch, parse_payload
from postmortems.choices import Origin, ReviewStatus
from postmortems.models import Incident, IncidentVendor
from tests.factories import FactorFactory, IncidentFactory, VendorFactory

pytestmark = pytest.mark.django_db

TEXT = (
    "A configuration change was pushed to every region at once. "
    "It contained an invalid setting that crashed the proxies."
)


@pytest.fixture(autouse=True)
def lexicon_only(monkeypatch):
    monkeypatch.setattr(services.reference, "examples", lambda: ())
    cache.clear()


@pytest.fixture
def imported(db):
    vendor = VendorFactory(slug="quokka", name="Quokka")
    incident = IncidentFactory(
        title="Elevated API errors",
        summary=TEXT,
        status=ReviewStatus.DRAFT,
        origin=Origin.IMPORTED,
        import_source="statuspage:quokka",
        external_id="abc",
        needs_review=True,
    )
    IncidentVendor.objects.create(incident=incident, vendor=vendor, is_primary=True)
    return incident


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def accept_url(incident):
    return reverse("classifier-api:accept", kwargs={"slug": incident.slug})


def test_the_suggestions_endpoint_has_the_documented_shape(reviewer, imported):
    body = (
        client_for(reviewer)
        .get(reverse("classifier-api:suggestions", kwargs={"slug": imported.slug}))
        .json()
    )

    assert body["model_version"] == 0
    assert body["classification"] is None
    config = next(c for c in body["change_types"] if c["slug"] == "config-change")
    assert 0.7 <= config["confidence"] <= 1
    assert config["evidence"] == "A configuration change was pushed to every region at once."
    factor = next(f for f in body["factors"] if f["category"] == "config-error")
    assert factor["role"] == "root_cause"
    assert "invalid setting" in factor["evidence"]


def test_a_viewer_cannot_see_a_drafts_suggestions(viewer, imported):
    response = client_for(viewer).get(
        reverse("classifier-api:suggestions", kwargs={"slug": imported.slug})
    )
    assert response.status_code == 404


def test_accepting_writes_the_labels_and_says_where_they_came_from(reviewer, imported):
    response = client_for(reviewer).post(
        accept_url(imported),
        {
            "change_types": ["config-change"],
            "factors": [{"category": "config-error", "role": "root_cause"}],
        },
        format="json",
        HTTP_IF_MATCH=f'"{imported.version}"',
    )

    assert response.status_code == 200, response.content
    assert response["ETag"] == f'"{imported.version + 1}"'
    incident = Incident.objects.get(id=imported.id)
    assert [c.slug for c in incident.change_types.all()] == ["config-change"]
    factor = incident.factors.get()
    assert (factor.category.slug, factor.role) == ("config-error", "root_cause")
    assert "invalid setting" in factor.description
    assert response.json()["classification"]["state"] == "accepted"
    reason = incident.history.latest().history_change_reason
    assert reason.startswith("Suggestions of the lexicon, accepted: config-change 0.")
    assert "config-error/root" in reason
    assert incident.history.latest().history_user == reviewer


def test_accepting_a_label_that_was_not_suggested_is_refused_and_writes_nothing(reviewer, imported):
    response = client_for(reviewer).post(
        accept_url(imported),
        {"change_types": ["config-change", "os-upgrade"]},
        format="json",
        HTTP_IF_MATCH=f'"{imported.version}"',
    )

    assert response.status_code == 400
    assert "os-upgrade" in json.dumps(response.json())
    assert not Incident.objects.get(id=imported.id).change_types.exists()


def test_a_stale_if_match_is_412_and_a_stale_body_version_409(reviewer, imported):
    client = client_for(reviewer)
    stale = imported.version
    Incident.objects.filter(id=imported.id).update(version=stale + 1)

    by_header = client.post(
        accept_url(imported),
        {"change_types": ["config-change"]},
        format="json",
        HTTP_IF_MATCH=f'"{stale}"',
    )
    by_body = client.post(
        accept_url(imported), {"change_types": ["config-change"], "version": stale}, format="json"
    )

    assert by_header.status_code == 412
    assert by_body.status_code == 409
    assert not Incident.objects.get(id=imported.id).change_types.exists()


def test_accepting_without_a_version_is_428(reviewer, imported):
    response = client_for(reviewer).post(
        accept_url(imported), {"change_types": ["config-change"]}, format="json"
    )
    assert response.status_code == 428


def test_two_people_accepting_the_same_version_one_wins(reviewer, admin_user, imported):
    version = imported.version
    first = client_for(reviewer).post(
        accept_url(imported), {"change_types": ["config-change"], "version": version}, format="json"
    )
    second = client_for(admin_user).post(
        accept_url(imported),
        {"factors": [{"category": "config-error", "role": "root_cause"}], "version": version},
        format="json",
    )

    assert (first.status_code, second.status_code) == (200, 409)
    incident = Incident.objects.get(id=imported.id)
    assert incident.change_types.count() == 1 and not incident.factors.exists()


def test_only_admins_retrain(reviewer, admin_user, monkeypatch):
    from classifier import tasks

    monkeypatch.setattr(tasks.retrain_classifier, "delay", lambda: type("R", (), {"id": "t1"})())
    refused = client_for(reviewer).post(reverse("classifier-api:retrain"))
    queued = client_for(admin_user).post(reverse("classifier-api:retrain"))

    assert refused.status_code == 403
    assert queued.status_code == 202 and queued.json()["queued"] is True


# --- Auto-accept --------------------------------------------------------------------------


def test_a_vendor_policy_auto_classifies_its_imports_above_the_threshold(imported):
    AutoAcceptPolicy.objects.create(vendor=imported.primary_vendor, threshold=0.7, publish=True)

    outcome = services.classify([imported.id])

    assert (outcome.classified, outcome.auto_classified) == (1, 1)
    incident = Incident.objects.get(id=imported.id)
    assert incident.status == ReviewStatus.PUBLISHED
    assert "config-change" in {c.slug for c in incident.change_types.all()}
    decided = Classification.objects.get(incident=incident)
    assert decided.state == ClassificationState.AUTO
    assert all(confidence >= 0.7 for confidence in decided.accepted.values())
    assert incident.history.latest().history_user is None
    assert "auto ≥ 0.70" in incident.history.latest().history_change_reason


def test_below_the_threshold_nothing_is_accepted(imported):
    AutoAcceptPolicy.objects.create(vendor=None, threshold=0.99)

    outcome = services.classify([imported.id])

    assert outcome.auto_classified == 0
    assert not Incident.objects.get(id=imported.id).change_types.exists()


def test_a_vendors_own_policy_wins_over_the_global_one(imported):
    AutoAcceptPolicy.objects.create(vendor=None, threshold=0.5)
    AutoAcceptPolicy.objects.create(vendor=imported.primary_vendor, enabled=False)

    assert services.classify([imported.id]).auto_classified == 0


def test_a_person_correcting_an_auto_classified_incident_clears_the_mark(imported, reviewer):
    AutoAcceptPolicy.objects.create(vendor=None, threshold=0.7)
    services.classify([imported.id])

    FactorFactory(incident=imported)  # a person adds a factor by hand

    assert Classification.objects.get(incident=imported).state == ClassificationState.CORRECTED


def test_written_postmortems_are_never_auto_classified(db):
    AutoAcceptPolicy.objects.create(vendor=None, threshold=0.1)
    written = IncidentFactory(summary=TEXT, status=ReviewStatus.DRAFT)

    assert services.classify([written.id]).auto_classified == 0


STATUSPAGE = {
    "page": {"id": "p1", "name": "Quokka"},
    "incidents": [
        {
            "id": "inc1",
            "name": "Elevated API errors",
            "status": "resolved",
            "impact": "major",
            "created_at": "2024-03-01T12:00:00Z",
            "resolved_at": "2024-03-01T13:00:00Z",
            "shortlink": "https://stspg.io/inc1",
            "incident_updates": [
                {
                    "id": "u1",
                    "status": "resolved",
                    "body": TEXT,
                    "created_at": "2024-03-01T13:00:00Z",
                    "display_at": "2024-03-01T13:00:00Z",
                }
            ],
            "components": [],
        }
    ],
}


def test_an_import_reports_its_classification_and_the_batch_counts_it(
    django_capture_on_commit_callbacks, monkeypatch
):
    from classifier import tasks

    ran = []
    monkeypatch.setattr(tasks.classify_batch, "delay", lambda batch_id: ran.append(batch_id))
    vendor = VendorFactory(slug="quokka", name="Quokka")
    AutoAcceptPolicy.objects.create(vendor=vendor, threshold=0.7)

    with django_capture_on_commit_callbacks(execute=True):
        report = import_batch(
            vendor=vendor,
            fmt="statuspage",
            batch=parse_payload("statuspage", json.dumps(STATUSPAGE).encode()),
        )

    assert report.as_dict()["classification"]["status"] == "queued"
    batch = ClassificationBatch.objects.get(id=report.classification["batch"])
    assert ran == [batch.id]
    services.classify_batch(batch.id)  # what the worker runs
    batch.refresh_from_db()
    assert (batch.classified, batch.auto_classified) == (1, 1)
    assert batch.finished_at is not None
