"""The upsert path writes in chunks: a fixed number of statements per chunk, nothing lost."""

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from imports.records import ImportBatch, ImportedComponent, ImportedIncident, ImportedUpdate
from imports.services import import_batch
from postmortems.choices import ReviewStatus
from postmortems.models import Incident, Service, Source
from postmortems.services import IncidentChanges, update_incident
from tests.factories import VendorFactory
from timeline.models import TimelineEvent

T0 = datetime(2022, 3, 1, 9, 0, tzinfo=UTC)
STEPS = ("investigating", "identified", "investigating", "monitoring", "resolved")


def incident(n: int, *, title: str = "", body: str = "", steps=STEPS, **overrides):
    start = T0 + timedelta(hours=n)
    values = dict(
        external_id=f"inc-{n}",
        title=title or f"Elevated errors on the API ({n})",
        status="resolved",
        impact=("minor", "major", "critical")[n % 3],
        started_at=start,
        resolved_at=start + timedelta(minutes=90),
        components=[ImportedComponent(f"comp-{n % 4}", f"Component {n % 4}")],
        updates=[
            ImportedUpdate(
                external_id=f"inc-{n}-u{u}",
                status=status,
                body=body or f"<p>Update {u}: {status}.</p>",
                body_format="html",
                display_at=start + timedelta(minutes=5 + 20 * u),
            )
            for u, status in enumerate(steps)
        ],
        raw={"id": f"inc-{n}", "name": title or f"Elevated errors on the API ({n})"},
    )
    values.update(overrides)
    return ImportedIncident(**values)


def run(vendor, items, **options):
    return import_batch(vendor=vendor, fmt="statuspage", batch=ImportBatch(list(items)), **options)


def history_rows() -> int:
    return Incident.history.count() + TimelineEvent.history.count()


@pytest.fixture
def vendor(db):
    return VendorFactory(slug="quokka", name="Quokka Cloud")


@pytest.fixture
def no_pending_refresh():
    from patterns.signals import MARKER

    cache.delete(MARKER)
    yield
    cache.delete(MARKER)


def queries_for(vendor, items, **options) -> int:
    with CaptureQueriesContext(connection) as captured:
        run(vendor, items, **options)
    return len(captured)


def test_a_chunk_issues_the_same_queries_for_300_and_for_1200_incidents(vendor, author):
    # A first import, per chunk: its savepoint; the source's advisory lock; the incidents
    # that exist; the vendor's services, then the new ones; ids for the incidents; the slugs
    # taken; COPY incidents; their history; ids for the events; COPY events; their history;
    # COPY vendor links, service links, author links; the savepoint's release.
    other = VendorFactory(slug="wombat")
    few = queries_for(vendor, [incident(n) for n in range(300)], chunk_size=2000, user=author)
    many = queries_for(other, [incident(n) for n in range(300, 1500)], chunk_size=2000, user=author)

    # And once per import: the batch that asks for what it wrote to be classified.
    assert few == many == 16 + 1
    assert Incident.objects.count() == 1500
    assert TimelineEvent.objects.count() == 1500 * 5


def linked(n: int, **overrides):
    return incident(n, url=f"https://status.quokka.example/incidents/inc-{n}", **overrides)


def test_the_pages_links_take_one_statement_per_chunk_for_300_or_1200_incidents(vendor, author):
    # As above, and one COPY of the sources.
    other = VendorFactory(slug="wombat")
    few = queries_for(vendor, [linked(n) for n in range(300)], chunk_size=2000, user=author)
    many = queries_for(other, [linked(n) for n in range(300, 1500)], chunk_size=2000, user=author)

    assert few == many == 17 + 1  # with the classification batch
    assert Source.objects.count() == 1500


def test_importing_linked_incidents_again_reads_no_sources_and_writes_nothing(vendor):
    run(vendor, [linked(n) for n in range(600)], chunk_size=300)
    before = (Source.objects.count(), history_rows())

    with CaptureQueriesContext(connection) as captured:
        report = run(vendor, [linked(n) for n in range(600)], chunk_size=300)

    # Per chunk as for incidents without links: the importer's record of each link says
    # the sources need no look.
    assert len(captured) == 2 * 7
    assert report.unchanged == 600
    assert (Source.objects.count(), history_rows()) == before


def test_giving_earlier_imports_their_links_takes_the_same_queries_for_30_and_300(vendor):
    run(vendor, [incident(n) for n in range(330)])

    # Per chunk: savepoint; lock; incidents; timelines; services; service links; the
    # incidents' sources; UPDATE the incidents' record of their link; COPY the sources;
    # release. No history entry.
    before = history_rows()
    few = queries_for(vendor, [linked(n) for n in range(30)], chunk_size=500)
    many = queries_for(vendor, [linked(n) for n in range(30, 330)], chunk_size=500)

    assert few == many == 10 + 1  # with the classification batch
    assert Source.objects.count() == 330
    assert history_rows() == before


def test_a_chunked_import_of_1200_incidents_is_idempotent(vendor):
    items = [incident(n) for n in range(1200)]
    first = queries_for(vendor, items, chunk_size=300)
    before = (Incident.objects.count(), TimelineEvent.objects.count(), history_rows())

    with CaptureQueriesContext(connection) as captured:
        report = run(vendor, items, chunk_size=300)

    # As above without author links; only the first chunk adds the vendor's services.
    assert first == 15 + 3 * 14 + 1  # and the classification batch
    # Again, per chunk: its savepoint; the lock; the incidents (locked); their timelines;
    # the vendor's services; their service links; the savepoint's release. Nothing written.
    assert len(captured) == 4 * 7
    assert not [q for q in captured if q["sql"].startswith(("INSERT", "UPDATE", "COPY"))]
    assert (report.created, report.updated, report.unchanged, report.failed) == (0, 0, 1200, 0)
    assert (Incident.objects.count(), TimelineEvent.objects.count(), history_rows()) == before


def test_changing_every_incident_of_a_chunk_takes_the_same_queries_for_30_and_300(vendor):
    def revised(n):
        return incident(n, title=f"API errors ({n})", body="Edited by the page.")

    run(vendor, [incident(n, steps=STEPS[:4]) for n in range(330)])

    # Per chunk: savepoint; lock; incidents; timelines; which of the events the page edited
    # a person edited too; services; service links; UPDATE the incidents; their history; ids
    # for the new events; COPY them; their history; UPDATE the edited events; their history;
    # release.
    few = queries_for(vendor, [revised(n) for n in range(30)], chunk_size=500)
    many = queries_for(vendor, [revised(n) for n in range(30, 330)], chunk_size=500)

    assert few == many == 15 + 1  # with the classification batch
    assert Incident.objects.filter(title__startswith="API errors").count() == 330
    assert TimelineEvent.objects.filter(description="Edited by the page.").count() == 330 * 5


def test_new_and_changed_incidents_share_a_chunk(vendor):
    run(vendor, [incident(n, steps=STEPS[:3]) for n in range(4)])

    report = run(vendor, [incident(0, title="API errors"), *(incident(n) for n in range(1, 6))])

    assert (report.created, report.updated, report.unchanged) == (2, 4, 0)
    assert Incident.objects.get(external_id="inc-0").title == "API errors"
    assert TimelineEvent.objects.count() == 6 * 5
    assert Incident.objects.filter(resolved_at__isnull=False).count() == 6
    positions = list(
        TimelineEvent.objects.filter(incident__external_id="inc-1")
        .order_by("position")
        .values_list("position", "external_id")
    )
    assert positions == [(u, f"inc-1-u{u}") for u in range(5)]


def test_one_incident_the_database_refuses_is_reported_and_the_chunk_still_imports(vendor):
    items = [incident(n) for n in range(5)]
    items[2] = incident(2, body="PostgreSQL refuses text with a \x00 in it")

    report = run(vendor, items)

    assert (report.created, report.failed) == (4, 1)
    assert report.errors[0]["external_id"] == "inc-2"
    assert "NUL" in report.errors[0]["message"]
    assert sorted(Incident.objects.values_list("external_id", flat=True)) == [
        "inc-0", "inc-1", "inc-3", "inc-4",
    ]  # fmt: skip
    assert [i["external_id"] for i in report.incidents] == ["inc-0", "inc-1", "inc-3", "inc-4"]


def test_an_incident_whose_moments_cannot_be_ordered_is_reported_the_others_import(vendor):
    # The page says it ended before its "monitoring" update, and no update resolves it.
    broken = incident(
        1, steps=("investigating", "monitoring"), resolved_at=T0 + timedelta(minutes=70)
    )

    report = run(vendor, [incident(0), broken, incident(2)])

    assert (report.created, report.failed) == (2, 1)
    assert report.errors[0]["external_id"] == "inc-1"
    assert "before mitigated" in report.errors[0]["message"]


def test_an_id_that_is_too_long_gets_a_clear_error(vendor):
    report = run(vendor, [incident(0, external_id="x" * 300)])

    assert report.errors[0]["message"] == (
        "Incident id: Ensure this value has at most 255 characters (it has 300)."
    )


def test_the_same_incident_twice_in_one_payload_is_created_then_updated(vendor):
    report = run(vendor, [incident(0, steps=STEPS[:2]), incident(1), incident(0)])

    assert [i["outcome"] for i in report.incidents] == ["created", "created", "updated"]
    assert Incident.objects.get(external_id="inc-0").events.count() == 5


def test_a_persons_edit_keeps_winning_on_every_later_import(vendor, author):
    run(vendor, [incident(0, steps=STEPS[:2])])
    found = Incident.objects.get()
    update_incident(
        incident_id=found.id,
        expected_version=found.version,
        changes=IncidentChanges(fields={"title": "API returned 500s for 90 minutes"}),
        user=author,
    )

    run(vendor, [incident(0, steps=STEPS[:3], title="Still investigating")])
    run(vendor, [incident(0, title="Resolved: API errors")])

    found.refresh_from_db()
    assert found.title == "API returned 500s for 90 minutes"
    assert found.events.count() == 5


def test_an_import_writes_one_history_entry_per_row_it_creates_or_changes(vendor):
    run(vendor, [incident(0, steps=STEPS[:3])])
    found = Incident.objects.get()
    assert found.history.count() == 1 and found.version == 1
    assert TimelineEvent.history.filter(incident_id=found.id).count() == 3

    run(vendor, [incident(0, title="API errors", body="Edited by the page.")])

    assert found.history.count() == 2
    assert found.history.first().history_user is None
    # Three updates edited by the page, two new ones.
    assert TimelineEvent.history.filter(incident_id=found.id).count() == 3 + 3 + 2


def test_imports_report_progress_after_each_chunk(vendor):
    seen = []

    run(vendor, [incident(n) for n in range(7)], chunk_size=3, on_progress=seen.append)

    assert seen == [3, 6, 7]


def test_a_renamed_component_takes_its_latest_name_within_a_chunk(vendor):
    renamed = incident(4, components=[ImportedComponent("comp-0", "Public API")])

    run(vendor, [incident(0), renamed])

    assert Service.objects.get(external_id="comp-0").name == "Public API"
    assert Service.objects.get(external_id="comp-0").incidents.count() == 2


def test_imports_that_publish_ask_for_one_pattern_refresh(
    vendor, no_pending_refresh, django_capture_on_commit_callbacks
):
    vendor.publish_imports = True
    vendor.save()

    with (
        mock.patch("patterns.signals.schedule_refresh") as schedule,
        django_capture_on_commit_callbacks(execute=True),
    ):
        run(vendor, [incident(n) for n in range(6)], chunk_size=2)

    assert schedule.call_count == 1
    published = Incident.objects.all()
    assert {i.status for i in published} == {ReviewStatus.PUBLISHED}
    assert all(i.published_at is not None for i in published)


def test_imports_of_drafts_ask_for_no_pattern_refresh(
    vendor, no_pending_refresh, django_capture_on_commit_callbacks
):
    with (
        mock.patch("patterns.signals.schedule_refresh") as schedule,
        django_capture_on_commit_callbacks(execute=True),
    ):
        run(vendor, [incident(n) for n in range(3)])

    assert schedule.call_count == 0
