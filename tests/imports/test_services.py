"""The shared upsert path, fed hand-built batches (the parsers have their own tests)."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps
from django.db import connection

from imports.records import (
    ImportBatch,
    ImportedComponent,
    ImportedIncident,
    ImportedUpdate,
    ItemError,
)
from imports.services import import_batch
from postmortems.choices import ReviewStatus
from postmortems.models import Incident, Service
from postmortems.services import IncidentChanges, update_incident
from tests.factories import VendorFactory
from timeline.models import TimelineEvent
from timeline.services import update_event

T0 = datetime(2021, 8, 10, 17, 0, tzinfo=UTC)


def update(uid, status, minutes, body=None):
    return ImportedUpdate(
        external_id=uid,
        status=status,
        body=body or f"{status} at +{minutes} min",
        body_format="text",
        display_at=T0 + timedelta(minutes=minutes),
    )


def incident(ext="inc-1", **overrides):
    values = dict(
        external_id=ext,
        title="Degraded performance for Actions",
        status="resolved",
        impact="minor",
        started_at=T0,
        resolved_at=T0 + timedelta(minutes=90),
        components=[ImportedComponent("comp-actions", "Actions")],
        updates=[
            update(f"{ext}-u1", "investigating", 3),
            update(f"{ext}-u2", "investigating", 10),
            update(f"{ext}-u3", "identified", 25),
            update(f"{ext}-u4", "monitoring", 60),
            update(f"{ext}-u5", "resolved", 90),
        ],
        raw={"id": ext},
    )
    values.update(overrides)
    return ImportedIncident(**values)


def run(vendor, *items, errors=()):
    return import_batch(
        vendor=vendor, fmt="statuspage", batch=ImportBatch(list(items), list(errors))
    )


def history_rows() -> int:
    return sum(
        m.objects.count()
        for app in ("postmortems", "timeline")
        for m in apps.get_app_config(app).get_models()
        if m.__name__.startswith("Historical")
    )


@pytest.fixture
def vendor(db):
    return VendorFactory(slug="github", name="GitHub")


def test_an_incident_lands_as_a_draft_with_its_timeline_and_moments(vendor):
    report = run(vendor, incident())

    found = Incident.objects.get()
    assert (report.created, report.failed) == (1, 0)
    assert found.status == ReviewStatus.DRAFT and found.needs_review
    assert (found.origin, found.import_source, found.external_id) == (
        "imported",
        "statuspage:github",
        "inc-1",
    )
    kinds = list(found.events.values_list("kind", flat=True))
    assert kinds == ["detection", "status_update", "diagnosis", "mitigation", "resolution"]
    assert found.time_to_detect == timedelta(minutes=3)
    assert found.time_to_mitigate == timedelta(minutes=60)
    assert found.time_to_resolve == timedelta(minutes=90)
    assert [s.external_id for s in found.services.all()] == ["comp-actions"]


def test_importing_the_same_batch_again_changes_nothing(vendor):
    run(vendor, incident(), incident("inc-2"))
    before = (Incident.objects.count(), TimelineEvent.objects.count(), history_rows())
    versions = dict(Incident.objects.values_list("external_id", "version"))

    report = run(vendor, incident(), incident("inc-2"))

    assert (report.created, report.updated, report.unchanged) == (0, 0, 2)
    assert (Incident.objects.count(), TimelineEvent.objects.count(), history_rows()) == before
    assert dict(Incident.objects.values_list("external_id", "version")) == versions


def test_a_changed_payload_updates_and_appends_new_updates(vendor):
    run(vendor, incident(status="monitoring", resolved_at=None, updates=incident().updates[:4]))

    report = run(vendor, incident(title="Actions delayed"))

    found = Incident.objects.get()
    assert report.updated == 1
    assert found.title == "Actions delayed"
    assert found.events.count() == 5
    assert found.resolved_at == T0 + timedelta(minutes=90)


def test_a_persons_edit_wins_over_the_next_import_but_new_updates_still_append(vendor, author):
    run(vendor, incident(updates=incident().updates[:3], status="identified", resolved_at=None))
    found = Incident.objects.get()
    update_incident(
        incident_id=found.id,
        expected_version=found.version,
        changes=IncidentChanges(fields={"title": "GitHub Actions jobs queued for 90 minutes"}),
        user=author,
    )
    event = found.events.get(external_id="inc-1-u1")
    event._history_user = author
    update_event(event=event, description="Pager fired; on-call started investigating.")

    run(vendor, incident(title="Some other title"))

    found.refresh_from_db()
    assert found.title == "GitHub Actions jobs queued for 90 minutes"
    assert (
        found.events.get(external_id="inc-1-u1").description
        == "Pager fired; on-call started investigating."
    )
    assert found.events.count() == 5


def test_a_closed_incident_without_a_usable_end_has_an_unknown_duration(vendor):
    backfilled = incident(
        resolved_at=None,
        updates=[update("b-1", "resolved", 0, "Imported from the old status page.")],
    )

    run(vendor, backfilled)

    found = Incident.objects.get()
    assert found.duration_unknown
    assert found.resolved_at is None and found.time_to_resolve is None
    assert found.events.get().kind == "status_update"  # not a zero-length resolution


def test_one_broken_incident_is_reported_and_the_others_import(vendor):
    broken = incident("x" * 300)

    report = run(
        vendor, incident("ok-1"), broken, incident("ok-2"), errors=[ItemError("bad", "no id")]
    )

    assert (report.created, report.failed) == (2, 2)
    assert {e["external_id"] for e in report.errors} == {"x" * 300, "bad"}
    assert set(Incident.objects.values_list("external_id", flat=True)) == {"ok-1", "ok-2"}


def test_updates_out_of_order_keep_the_moments_valid(vendor):
    messy = incident(
        updates=[
            update("m-1", "monitoring", 5),
            update("m-2", "investigating", 10),
            update("m-3", "resolved", 40),
        ]
    )

    report = run(vendor, messy)

    found = Incident.objects.get()
    assert report.created == 1
    assert found.detected_at is None  # no detection after mitigation
    assert (found.mitigated_at, found.resolved_at) == (
        T0 + timedelta(minutes=5),
        T0 + timedelta(minutes=40),
    )


def test_an_update_displayed_before_the_pages_start_starts_the_incident(vendor):
    backdated = incident(
        updates=[
            update("b-1", "investigating", -30),
            update("b-2", "monitoring", 5),
            update("b-3", "resolved", 40),
        ]
    )

    run(vendor, backdated)

    found = Incident.objects.get()
    assert found.started_at == found.detected_at == T0 - timedelta(minutes=30)
    assert found.time_to_resolve == timedelta(minutes=70)


def test_a_renamed_component_keeps_its_service(vendor):
    run(vendor, incident())

    run(vendor, incident("inc-2", components=[ImportedComponent("comp-actions", "GitHub Actions")]))

    service = Service.objects.get()
    assert service.name == "GitHub Actions"
    assert Incident.objects.filter(services=service).count() == 2


def test_a_vendor_set_to_publish_imports_skips_review(vendor):
    vendor.publish_imports = True
    vendor.save()

    run(vendor, incident())

    assert Incident.objects.get().status == ReviewStatus.PUBLISHED


def test_ids_beyond_two_to_the_53_stay_exact(vendor):
    run(vendor, incident("9007199254740993"))

    assert Incident.objects.get().external_id == "9007199254740993"


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_imports_of_one_payload_create_one_incident(reference_data):
    vendor = VendorFactory(slug="github")
    batch = [incident(f"c-{n}") for n in range(5)]
    barrier, reports, failures = threading.Barrier(2), [], []

    def worker():
        try:
            barrier.wait()
            reports.append(run(vendor, *batch))
        except Exception as exc:  # surfaced below; a thread's exception is otherwise lost
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert failures == []
    assert Incident.objects.count() == 5
    assert TimelineEvent.objects.count() == 25
    assert sum(r.created for r in reports) == 5
    assert sum(r.failed for r in reports) == 0


def test_a_failing_status_source_is_visible_on_its_vendor_page(client, viewer, vendor):
    from django.urls import reverse
    from django.utils import timezone

    from imports.models import StatusSource

    StatusSource.objects.create(
        vendor=vendor,
        url="https://status.example.com/api/v2/incidents.json",
        format="statuspage",
        consecutive_failures=3,
        last_error="HTTP 500 from the status page",
        last_error_at=timezone.now(),
    )
    client.force_login(viewer)

    page = client.get(reverse("postmortems:vendor-detail", args=[vendor.slug])).content.decode()

    assert "Failing:" in page
    assert "3 polls in a row" in page
    assert "HTTP 500 from the status page" in page
