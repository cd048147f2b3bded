"""Polling against a real local HTTP server (pytest-httpserver).

The server is on loopback, which polling refuses by default: the tests that reach it allow
127.0.0.1 and ::1 through STATUS_FETCH_ALLOWED_NETWORKS; the tests of refusals do not.
"""

import gzip
import json
import socket
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from werkzeug import Response

from imports import polling
from imports.models import StatusSource
from postmortems.models import Incident
from tests.factories import VendorFactory

pytestmark = pytest.mark.django_db
BODY = (Path(__file__).parent.parent / "fixtures/imports/statuspage_small.json").read_bytes()
ONLY_PUBLIC = (
    "only public addresses may be polled "
    "(an operator can allow it with STATUS_FETCH_ALLOWED_NETWORKS)"
)


@pytest.fixture
def allow_loopback(settings):
    settings.STATUS_FETCH_ALLOWED_NETWORKS = ["127.0.0.1", "::1"]


@pytest.fixture
def source(httpserver, allow_loopback):
    return StatusSource.objects.create(
        vendor=VendorFactory(slug="example-cloud"),
        url=httpserver.url_for("/api/v2/incidents.json"),
        format="statuspage",
        poll_interval=timedelta(minutes=15),
    )


def test_a_200_imports_and_remembers_the_etag(httpserver, source):
    httpserver.expect_oneshot_request("/api/v2/incidents.json").respond_with_data(
        BODY,
        content_type="application/json",
        headers={"ETag": '"v1"', "Last-Modified": "Thu, 02 May 2024 10:00:00 GMT"},
    )

    outcome = polling.poll_source(source)

    source.refresh_from_db()
    assert outcome == "1 created, 0 updated, 0 failed"
    assert Incident.objects.count() == 1
    assert (source.etag, source.consecutive_failures) == ('"v1"', 0)
    assert source.next_poll_at > timezone.now() + timedelta(minutes=14)


def test_a_304_sends_the_conditional_headers_and_imports_nothing(httpserver, source):
    source.etag, source.last_modified = '"v1"', "Thu, 02 May 2024 10:00:00 GMT"
    source.save()
    httpserver.expect_oneshot_request(
        "/api/v2/incidents.json",
        headers={"If-None-Match": '"v1"', "If-Modified-Since": "Thu, 02 May 2024 10:00:00 GMT"},
    ).respond_with_response(Response(status=304))

    outcome = polling.poll_source(source)

    assert outcome == "not modified"
    assert not Incident.objects.exists()
    httpserver.check_assertions()


def test_server_errors_back_off_exponentially_until_a_success(httpserver, source):
    httpserver.expect_request("/api/v2/incidents.json").respond_with_data("oops", status=500)

    delays = []
    for _ in range(3):
        before = timezone.now()
        polling.poll_source(source)
        source.refresh_from_db()
        delays.append(round((source.next_poll_at - before).total_seconds() / 60))

    assert delays == [15, 30, 60]
    assert source.consecutive_failures == 3
    assert source.last_error == "HTTP 500 from the status page"
    httpserver.clear()
    httpserver.expect_request("/api/v2/incidents.json").respond_with_data(BODY)
    polling.poll_source(source)
    source.refresh_from_db()
    assert (source.consecutive_failures, source.last_error) == (0, "")


def test_a_timeout_is_a_recorded_failure(httpserver, source, settings):
    settings.STATUS_FETCH_TIMEOUT = 1

    def slow(request):
        import time

        time.sleep(1.5)
        return Response(BODY)

    httpserver.expect_request("/api/v2/incidents.json").respond_with_handler(slow)

    polling.poll_source(source)

    source.refresh_from_db()
    assert source.consecutive_failures == 1
    assert source.last_error == (
        "Timed out: the page did not arrive in full within 1 s (STATUS_FETCH_TIMEOUT)"
    )


def test_a_compressed_page_is_imported(httpserver, source):
    httpserver.expect_request("/api/v2/incidents.json").respond_with_data(
        gzip.compress(BODY), headers={"Content-Encoding": "gzip"}
    )

    outcome = polling.poll_source(source)

    assert outcome == "1 created, 0 updated, 0 failed"
    assert Incident.objects.count() == 1


def test_an_internal_address_is_refused_without_contacting_it(httpserver):
    source = StatusSource.objects.create(
        vendor=VendorFactory(), url=f"http://127.0.0.1:{httpserver.port}/x.json", format="rss"
    )

    outcome = polling.poll_source(source)

    source.refresh_from_db()
    refusal = f"Refused: 127.0.0.1 is a loopback address; {ONLY_PUBLIC}"
    assert (outcome, source.last_error) == (f"failed: {refusal}", refusal)
    assert source.consecutive_failures == 1
    assert httpserver.log == []


def test_a_name_resolving_to_a_private_address_is_refused_and_says_so(monkeypatch):
    resolve = socket.getaddrinfo

    def fake_dns(host, port, *args, **kwargs):
        if host == "status-page.example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", port))]
        return resolve(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_dns)
    source = StatusSource.objects.create(
        vendor=VendorFactory(), url="https://status-page.example.com/history.rss", format="rss"
    )

    polling.poll_source(source)

    source.refresh_from_db()
    assert source.last_error == (
        "Refused: status-page.example.com resolves to 10.0.0.5, a private address; " + ONLY_PUBLIC
    )
    assert "HTTP" not in source.last_error


def test_a_page_over_the_size_limit_is_a_recorded_failure(httpserver, source, settings):
    settings.STATUS_FETCH_MAX_BYTES = 1024
    httpserver.expect_request("/api/v2/incidents.json").respond_with_data(b" " * 2048 + BODY)

    polling.poll_source(source)

    source.refresh_from_db()
    assert source.last_error == (
        "Too large: the page is over 1 KiB once decompressed, the most Hindsight reads "
        "(STATUS_FETCH_MAX_BYTES)"
    )
    assert not Incident.objects.exists()


def test_endless_redirects_are_a_recorded_failure(httpserver, source, settings):
    settings.STATUS_FETCH_MAX_REDIRECTS = 2
    httpserver.expect_request("/api/v2/incidents.json").respond_with_data(
        "", status=302, headers={"Location": "/api/v2/incidents.json"}
    )

    polling.poll_source(source)

    source.refresh_from_db()
    assert source.last_error == (
        "Too many redirects: Hindsight follows at most 2 (STATUS_FETCH_MAX_REDIRECTS), and the "
        f"page redirected again, to {source.url}"
    )
    assert len(httpserver.log) == 3


def test_an_unreadable_page_is_a_failure_not_a_crash(httpserver, source):
    httpserver.expect_request("/api/v2/incidents.json").respond_with_data(
        "<html>maintenance</html>"
    )

    polling.poll_source(source)

    source.refresh_from_db()
    assert source.consecutive_failures == 1
    assert not Incident.objects.exists()


def test_due_sources_are_claimed_once(source):
    source.next_poll_at = timezone.now() - timedelta(minutes=1)
    source.save()
    StatusSource.objects.create(
        vendor=source.vendor, url="https://later.example/x.json", format="statuspage",
        next_poll_at=timezone.now() + timedelta(hours=1),
    )  # fmt: skip

    first, second = polling.claim_due_sources(), polling.claim_due_sources()

    assert (first, second) == ([source.id], [])
    assert json.dumps(first)


def test_a_source_is_added_polled_and_paused_from_the_vendor_page(
    client, httpserver, author, viewer, allow_loopback
):
    from django.urls import reverse

    vendor = VendorFactory(slug="example-cloud")
    httpserver.expect_request("/incidents.json").respond_with_data(BODY)
    page = reverse("postmortems:vendor-detail", args=[vendor.slug])
    client.force_login(viewer)
    assert "Poll a status page" not in client.get(page).content.decode()
    assert client.post(reverse("imports:source-create", args=[vendor.slug])).status_code == 403

    client.force_login(author)
    client.post(
        reverse("imports:source-create", args=[vendor.slug]),
        {
            "url": httpserver.url_for("/incidents.json"),
            "format": "statuspage",
            "interval_minutes": 30,
        },
    )
    source = StatusSource.objects.get()
    assert source.poll_interval == timedelta(minutes=30)
    client.post(reverse("imports:source-action", args=[source.pk, "poll"]))
    client.post(reverse("imports:source-action", args=[source.pk, "toggle"]))

    source.refresh_from_db()
    assert Incident.objects.count() == 1
    assert source.last_success_at is not None and not source.enabled
    assert "Resume" in client.get(page).content.decode()
