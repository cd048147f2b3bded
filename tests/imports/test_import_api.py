"""Pushing payloads through /api/imports/ and the per-vendor Statuspage webhook."""

import gc
import importlib
import json
import zlib
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django.urls import reverse
from rest_framework.test import APIClient

from core.bulk import load_bytes
from imports import services
from imports.models import ImportJob, JobStatus
from postmortems.models import Incident, Vendor
from tests.processes import wait_for

pytestmark = pytest.mark.django_db
FIXTURE = json.loads(
    (Path(__file__).parent.parent / "fixtures/imports/statuspage_small.json").read_text()
)
IMPORTS = "/api/imports/"


@pytest.fixture
def api(author):
    client = APIClient()
    client.force_authenticate(author)
    return client


def push(api, payload=FIXTURE, vendor="example-cloud", fmt="statuspage"):
    return api.post(IMPORTS, {"vendor": vendor, "format": fmt, "payload": payload}, format="json")


def test_a_small_payload_imports_at_once_and_reports_counts(api):
    response = push(api)

    assert response.status_code == 200, response.content
    assert response.json()["report"]["created"] == 1
    incident = Incident.objects.get()
    assert incident.external_id == "p4xq7k2m9zt1"
    assert Vendor.objects.get(slug="example-cloud").name == "Example Cloud"
    # 08:00 PDT start, 10:30 PDT resolved: two and a half hours.
    assert incident.time_to_resolve.total_seconds() == 2.5 * 3600
    assert incident.time_to_detect.total_seconds() == 5 * 60


def test_pushing_the_same_payload_twice_changes_nothing(api):
    push(api)
    version = Incident.objects.get().version

    second = push(api)

    assert second.json()["report"]["unchanged"] == 1
    assert Incident.objects.get().version == version


def test_a_malformed_payload_is_a_400_and_writes_nothing(api):
    response = push(api, payload={"not": "a status page"})

    assert response.status_code == 400
    assert "payload" in json.dumps(response.json())
    assert not Incident.objects.exists()
    assert not Vendor.objects.filter(slug="example-cloud").exists()


def test_viewers_cannot_import(viewer):
    client = APIClient()
    client.force_authenticate(viewer)

    assert push(client).status_code == 403
    assert not Incident.objects.exists()


def test_a_large_payload_becomes_a_job_with_a_url(
    api, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(services, "SYNC_MAX_INCIDENTS", 0)

    with django_capture_on_commit_callbacks() as callbacks:
        response = push(api)

    job = ImportJob.objects.get()
    assert response.status_code == 202
    assert response["Location"].endswith(f"/api/imports/{job.id}/")
    # WSGI servers reject header values that are not exactly str (wsgiref asserts it).
    assert type(response.headers["Location"]) is str
    assert job.status == JobStatus.QUEUED and len(callbacks) == 1
    services.run_import_job(str(job.id))  # what the worker runs
    body = api.get(response["Location"]).json()
    assert (body["status"], body["processed"], body["report"]["created"]) == ("succeeded", 1, 1)
    # Whoever pushed the payload writes the drafts, as when it is imported at once.
    assert list(Incident.objects.get().authors.all()) == [job.created_by]


def test_a_queued_payload_counts_every_item_and_reports_the_broken_ones(api, monkeypatch):
    monkeypatch.setattr(services, "SYNC_MAX_INCIDENTS", 0)
    fixtures = Path(__file__).parent.parent / "fixtures/status_pages"
    payload = json.loads((fixtures / "statuspage_incidents_partly_broken.json").read_text())

    response = push(api, payload=payload)
    services.run_import_job(response.json()["id"])
    body = api.get(response["Location"]).json()

    report = body["report"]
    assert body["status"] == "succeeded" and report["failed"] >= 1 and report["created"] >= 1
    # Every item is counted when queued, and every one is processed: read or refused.
    assert body["total"] == body["processed"] == report["created"] + report["failed"]


def test_a_payload_refused_as_a_whole_is_a_400_even_when_it_would_be_queued(api, monkeypatch):
    monkeypatch.setattr(services, "SYNC_MAX_INCIDENTS", 0)

    response = push(api, payload={"incidents": "none"})

    assert response.status_code == 400
    assert "'incidents' is a string, not an array" in json.dumps(response.json())
    assert not ImportJob.objects.exists()


@pytest.mark.parametrize("queued", [False, True], ids=["at once", "queued"])
def test_the_raw_payload_keeps_every_value_exactly(api, monkeypatch, queued):
    # A status page's own JSON is kept beside the incident: integers beyond 64 bits,
    # which the fast JSON writer refuses, and text in any script survive unchanged.
    if queued:
        monkeypatch.setattr(services, "SYNC_MAX_INCIDENTS", 0)
    payload = json.loads(json.dumps(FIXTURE))
    item = payload["incidents"][0]
    item["tweet_id"] = 2**70 + 1
    item["name"] = "Störung: エラー率の上昇 \u2028 ✓"

    response = push(api, payload=payload)
    if queued:
        services.run_import_job(response.json()["id"])

    raw = Incident.objects.get().raw_payload
    assert raw["tweet_id"] == 2**70 + 1
    assert raw["name"] == item["name"]
    assert raw == item


@pytest.mark.slow
@pytest.mark.celery_worker
def test_a_real_worker_runs_a_queued_import(reference_data, start_worker, monkeypatch):
    from tests.factories import UserFactory

    monkeypatch.setattr(services, "SYNC_MAX_INCIDENTS", 0)
    start_worker()
    client = APIClient()
    client.force_authenticate(UserFactory(username="importer", role="author"))

    response = push(client)
    assert response.status_code == 202, response.content
    url = response["Location"]

    wait_for(lambda: client.get(url).json()["status"] == "succeeded", what="the import job")
    assert Incident.objects.filter(external_id="p4xq7k2m9zt1").exists()


def test_the_statuspage_webhook_imports_for_its_vendor(api, author):
    vendor = Vendor.objects.create(slug="example-cloud", name="Example Cloud")
    created = api.post("/api/webhooks/", {"vendor": "example-cloud"}, format="json")
    url = created.json()["url"]
    notification = {"meta": {"unsubscribe": "x", "documentation": "y"}, "page": FIXTURE["page"],
                    "incident": FIXTURE["incidents"][0]}  # fmt: skip

    response = APIClient().post(url, notification, format="json")

    assert response.status_code == 200, response.content
    assert Incident.objects.get().incident_vendors.get().vendor == vendor
    assert (
        APIClient()
        .post(url.replace(url.split("/")[-2], "wrong"), notification, format="json")
        .status_code
        == 404
    )


def test_the_webhook_url_is_shown_once(api):
    Vendor.objects.create(slug="example-cloud", name="Example Cloud")
    api.post("/api/webhooks/", {"vendor": "example-cloud"}, format="json")

    listed = api.get("/api/webhooks/").json()

    rows = listed["results"] if isinstance(listed, dict) else listed
    assert rows[0]["url"] is None


def test_import_status_command_imports_a_file(tmp_path, capsys):
    from django.core.management import call_command

    path = tmp_path / "incidents.json"
    path.write_text(json.dumps(FIXTURE))

    call_command("import_status", str(path), vendor="example-cloud", format="statuspage")
    call_command("import_status", str(path), vendor="example-cloud")  # format guessed

    out = capsys.readouterr().out
    assert "1 created, 0 updated, 0 unchanged, 0 failed." in out
    assert "0 created, 0 updated, 1 unchanged, 0 failed." in out
    assert reverse("imports-api:statuspage-webhook", kwargs={"secret": "s"}).startswith("/api/")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/api/imports/", {"vendor": "v", "format": "statuspage", "payload": {}}),
        ("post", "/api/status-sources/", {"vendor": "v", "url": "https://x.test", "format": "rss"}),
        ("post", "/api/webhooks/", {"vendor": "v"}),
    ],
)
def test_import_endpoints_refuse_anonymous_viewers_and_read_only_tokens(
    viewer, author, method, path, body
):
    from accounts.tokens import create_token

    assert getattr(APIClient(), method)(path, body, format="json").status_code == 401
    as_viewer = APIClient()
    as_viewer.force_authenticate(viewer)
    assert getattr(as_viewer, method)(path, body, format="json").status_code == 403
    _, key = create_token(user=author, name="ci", scope="read")
    read_only = APIClient(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert getattr(read_only, method)(path, body, format="json").status_code == 403
    assert not Incident.objects.exists()


def test_an_imported_draft_needs_review_until_a_person_publishes_it(api, author, reviewer):
    from postmortems.services import publish_incident, submit_for_review

    push(api)
    incident = Incident.objects.get()
    assert incident.needs_review

    submit_for_review(incident=incident, user=author)
    publish_incident(incident=incident, user=reviewer)

    assert not Incident.objects.get().needs_review


def test_imported_incidents_read_back_through_the_incidents_api(api):
    push(api)

    body = api.get("/api/incidents/").json()["results"][0]

    assert (body["origin"], body["external_id"], body["needs_review"]) == (
        "imported",
        "p4xq7k2m9zt1",
        True,
    )
    assert body["time_to_resolve"] == 9000
    assert [e["kind"] for e in body["timeline"]] == [
        "detection", "diagnosis", "mitigation", "resolution",
    ]  # fmt: skip


def test_a_page_that_edits_an_update_is_followed_on_re_import(api):
    push(api)
    edited = json.loads(json.dumps(FIXTURE))
    edited["incidents"][0]["incident_updates"][0]["body"] = (
        "Error rates are back to normal. RCA to follow."
    )

    report = push(api, payload=edited).json()["report"]

    assert report["updated"] == 1
    assert (
        Incident.objects.get()
        .events.get(external_id="u5resolved01")
        .description.endswith("RCA to follow.")
    )


def test_the_cycle_collector_is_paused_for_a_job_and_back_on_after_it_even_when_it_fails(
    api, monkeypatch
):
    # A job pauses Python's cycle collector while it reads a payload; leaving it off
    # would leak every reference cycle the worker makes afterwards.
    monkeypatch.setattr(services, "SYNC_MAX_INCIDENTS", 0)
    seen = []
    parse = services.parse_payload

    def parse_and_look(fmt, data):
        seen.append(gc.isenabled())
        if len(seen) == 2:
            raise RuntimeError("the worker ran out of memory")
        return parse(fmt, data)

    monkeypatch.setattr(services, "parse_payload", parse_and_look)
    jobs = [push(api).json()["id"], push(api, vendor="other-cloud").json()["id"]]

    services.run_import_job(jobs[0])
    with pytest.raises(RuntimeError):
        services.run_import_job(jobs[1])

    assert seen == [False, False]
    assert gc.isenabled()
    assert ImportJob.objects.get(id=jobs[1]).status == JobStatus.FAILED


def test_a_queued_payload_is_stored_compressed_and_payloads_queued_before_are_too(api, monkeypatch):
    monkeypatch.setattr(services, "SYNC_MAX_INCIDENTS", 0)
    job = ImportJob.objects.get(id=push(api).json()["id"])
    stored = bytes(load_bytes(ImportJob, job.id, "payload"))
    assert len(stored) < len(json.dumps(FIXTURE, separators=(",", ":"))) * 0.7
    assert json.loads(zlib.decompress(stored)) == FIXTURE
    # A job queued by the previous version kept its payload as it came.
    ImportJob.objects.filter(id=job.id).update(payload=json.dumps(FIXTURE).encode())

    migration = importlib.import_module("imports.migrations.0002_payload_compressed")
    migration.compress_queued_payloads(django_apps, None)
    services.run_import_job(str(job.id))

    job.refresh_from_db()
    assert (job.status, job.report["created"]) == (JobStatus.SUCCEEDED, 1)


def test_a_running_job_shows_its_progress_chunk_by_chunk(api, monkeypatch):
    monkeypatch.setattr(services, "SYNC_MAX_INCIDENTS", 0)
    monkeypatch.setattr(services, "CHUNK_SIZE", 1)
    fixtures = Path(__file__).parent.parent / "fixtures/status_pages"
    payload = json.loads((fixtures / "statuspage_incidents.json").read_text())
    job_id = push(api, payload=payload).json()["id"]
    seen = []
    import_chunk = services.import_chunk

    def look_then_import(**kwargs):
        seen.append(ImportJob.objects.get(id=job_id).processed)  # what the job page shows
        return import_chunk(**kwargs)

    monkeypatch.setattr(services, "import_chunk", look_then_import)
    services.run_import_job(job_id)

    count = len(payload["incidents"])
    assert seen == list(range(count))
    assert ImportJob.objects.get(id=job_id).processed == count
