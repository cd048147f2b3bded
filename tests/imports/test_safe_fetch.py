"""Fetching users' URLs: public addresses only, checked redirects, a deadline, a size cap.

Every server here listens on loopback. Loopback is refused by default, and the tests of
refusals keep that default; the tests that must reach a local server allow 127.0.0.1 and
::1 through STATUS_FETCH_ALLOWED_NETWORKS. Other internal addresses are only resolved and
refused, never contacted: a guard fails any test that connects anywhere but loopback.
Names that must resolve to a chosen address go through a fake resolver (the only fake).
"""

import gzip
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.urls import reverse
from pytest_httpserver import HTTPServer
from rest_framework.test import APIClient
from werkzeug import Response

from imports import fetching
from imports.models import StatusSource
from postmortems.models import Incident
from tests.factories import VendorFactory
from tests.processes import child_env

BODY = (Path(__file__).parent.parent / "fixtures/imports/statuspage_small.json").read_bytes()
LOOPBACK = ("127.0.0.1", "::1")
MiB = 1024 * 1024
ONLY_PUBLIC = (
    "only public addresses may be polled "
    "(an operator can allow it with STATUS_FETCH_ALLOWED_NETWORKS)"
)


@pytest.fixture(autouse=True)
def connections(monkeypatch) -> list[str]:
    """The addresses a test connected to; connecting anywhere but loopback fails the test."""
    connect = socket.socket.connect

    def only_loopback(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            assert address[0] in LOOPBACK, f"a test connected to {address}"
            contacted.append(address[0])
        return connect(sock, address)

    contacted: list[str] = []
    monkeypatch.setattr(socket.socket, "connect", only_loopback)
    return contacted


@pytest.fixture
def allow_loopback(settings):
    settings.STATUS_FETCH_ALLOWED_NETWORKS = ["127.0.0.1", "::1"]


class FakeDNS:
    """Answers for chosen names, one answer per lookup (the last one repeats)."""

    def __init__(self, resolve):
        self.resolve, self.answers, self.lookups = resolve, {}, []

    def add(self, name: str, *answers: list[str]) -> None:
        self.answers[name] = list(answers)

    def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
        if flags & socket.AI_NUMERICHOST:  # parses an address, asks no server
            return self.resolve(host, port, family, type, proto, flags)
        self.lookups.append(host)
        if host not in self.answers:
            return self.resolve(host, port, family, type, proto, flags)
        answers = self.answers[host]
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, port, 0, 0))
            if ":" in a
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in (answers.pop(0) if len(answers) > 1 else answers[0])
        ]


@pytest.fixture
def dns(monkeypatch) -> FakeDNS:
    fake = FakeDNS(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", fake.getaddrinfo)
    return fake


class TricklingServer:
    """On 127.0.0.1, answers each connection with `at_once`, then `trickled` byte by byte."""

    def __init__(self, at_once: bytes, trickled: bytes, pause: float):
        self.at_once, self.trickled, self.pause = at_once, trickled, pause
        self.stop = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.05)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=self.trickle, args=(conn,), daemon=True).start()
        self.listener.close()

    def trickle(self, conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)  # the request
            try:
                conn.sendall(self.at_once)
                for i in range(len(self.trickled)):
                    if self.stop.wait(self.pause):
                        return
                    conn.sendall(self.trickled[i : i + 1])
            except OSError:
                return  # the client hung up


@pytest.fixture
def trickling():
    servers = []

    def start(at_once: bytes, trickled: bytes, pause: float = 0.05) -> TricklingServer:
        servers.append(TricklingServer(at_once, trickled, pause))
        return servers[-1]

    yield start
    for server in servers:
        server.stop.set()


# --- Refused destinations ---------------------------------------------------------------

REFUSED = [
    ("http://127.0.0.1:{port}/", "127.0.0.1 is a loopback address"),
    ("http://127.8.9.10:{port}/", "127.8.9.10 is a loopback address"),
    ("http://10.1.2.3/status.json", "10.1.2.3 is a private address"),
    ("http://172.16.0.1/", "172.16.0.1 is a private address"),
    ("http://172.31.255.254/", "172.31.255.254 is a private address"),
    ("http://192.168.1.1/", "192.168.1.1 is a private address"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
    ("http://[::1]:{port}/", "::1 is a loopback address"),
    ("http://[fc00::1]/", "fc00::1 is a private address"),
    ("http://[fd12:3456::1]/", "fd12:3456::1 is a private address"),
    ("http://[fe80::1]/", "fe80::1 is a link-local address"),
    ("http://[::ffff:127.0.0.1]:{port}/", "::ffff:127.0.0.1 is a loopback address"),
    ("http://[::ffff:169.254.169.254]/", "::ffff:169.254.169.254 is a link-local address"),
    ("http://[64:ff9b::a00:5]/", "64:ff9b::a00:5 is a private address"),
    ("http://[2002:a00:5::1]/", "2002:a00:5::1 is a private address"),
    ("http://0.0.0.0:{port}/", "0.0.0.0 is an unspecified address"),
    ("http://[::]:{port}/", ":: is an unspecified address"),
    ("http://224.0.0.1/", "224.0.0.1 is a multicast address"),
    ("http://[ff02::1]/", "ff02::1 is a multicast address"),
    ("http://240.0.0.1/", "240.0.0.1 is a reserved address"),
    ("http://100.64.0.1/", "100.64.0.1 is a non-public address"),
    ("http://2130706433:{port}/", "2130706433 resolves to 127.0.0.1, a loopback address"),
    ("http://0177.0.0.1:{port}/", "0177.0.0.1 resolves to 127.0.0.1, a loopback address"),
    ("http://0x7f.1:{port}/", "0x7f.1 resolves to 127.0.0.1, a loopback address"),
]


@pytest.mark.parametrize(("url", "says"), REFUSED)
def test_internal_addresses_are_refused_before_connecting(httpserver, connections, url, says):
    with pytest.raises(fetching.Refused) as refused:
        fetching.fetch(url.format(port=httpserver.port))

    assert str(refused.value) == f"Refused: {says}; {ONLY_PUBLIC}"
    assert connections == []
    assert httpserver.log == []


def test_a_name_is_refused_when_any_of_its_addresses_is_internal(dns, connections):
    dns.add("status-page.example.com", ["93.184.215.14", "10.0.0.5"])

    with pytest.raises(fetching.Refused) as refused:
        fetching.fetch("https://status-page.example.com/api/v2/incidents.json")

    assert str(refused.value) == (
        f"Refused: status-page.example.com resolves to 10.0.0.5, a private address; {ONLY_PUBLIC}"
    )
    assert connections == []


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://ftp.example.com/status.json", "gopher://127.0.0.1:70/_"]
)
def test_only_http_and_https_are_fetched(url, connections):
    scheme = url.split(":")[0]

    with pytest.raises(fetching.Refused) as refused:
        fetching.fetch(url)

    assert str(refused.value) == (
        f"Refused: only http:// and https:// URLs may be polled, not {scheme}://"
    )
    assert connections == []


def test_an_allowed_network_is_fetched_and_the_address_checked_is_the_one_contacted(
    httpserver, dns, connections, allow_loopback
):
    # The second lookup would point elsewhere (DNS rebinding): there must not be one.
    dns.add("status.test", ["127.0.0.1"], ["10.0.0.5"])
    httpserver.expect_request(
        "/api/v2/incidents.json", headers={"Host": f"status.test:{httpserver.port}"}
    ).respond_with_data(BODY)

    page = fetching.fetch(f"http://status.test:{httpserver.port}/api/v2/incidents.json")

    assert (page.status, page.content) == (200, BODY)
    assert dns.lookups == ["status.test"]
    assert connections == ["127.0.0.1"]
    with pytest.raises(fetching.Refused, match=r"status\.test resolves to 10\.0\.0\.5"):
        fetching.fetch(f"http://status.test:{httpserver.port}/api/v2/incidents.json")


def test_an_allowed_host_name_may_resolve_to_an_internal_address(httpserver, dns, settings):
    settings.STATUS_FETCH_ALLOWED_NETWORKS = ["status.corp.example"]
    dns.add("status.corp.example", ["127.0.0.1"])
    httpserver.expect_request("/feed.rss").respond_with_data(b"<rss/>")

    page = fetching.fetch(f"http://status.corp.example:{httpserver.port}/feed.rss")

    assert page.content == b"<rss/>"
    with pytest.raises(fetching.Refused):
        fetching.fetch(f"http://127.0.0.1:{httpserver.port}/feed.rss")


def test_the_path_is_percent_encoded_and_credentials_in_the_url_are_sent(
    httpserver, allow_loopback
):
    elsewhere = f"http://127.0.0.1:{httpserver.port}/plain.json"  # another host name
    httpserver.expect_request(
        "/status page/état.json", headers={"Authorization": "Basic c3RhdHVzOnBAc3M="}
    ).respond_with_data("", 302, {"Location": elsewhere})
    httpserver.expect_request("/plain.json").respond_with_data(BODY)

    page = fetching.fetch(f"http://status:p%40ss@localhost:{httpserver.port}/status page/état.json")

    assert page.content == BODY
    first, then = (entry[0] for entry in httpserver.log)
    assert first.environ["RAW_URI"] == "/status%20page/%C3%A9tat.json"
    assert "Authorization" not in then.headers  # not sent on to another host


# --- Redirects ------------------------------------------------------------------------


def test_redirects_are_followed_to_the_page(httpserver, allow_loopback):
    httpserver.expect_request("/old").respond_with_data("", 301, {"Location": "/moved"})
    httpserver.expect_request("/moved").respond_with_data("", 302, {"Location": "/new.json"})
    httpserver.expect_request("/new.json").respond_with_data(BODY)

    page = fetching.fetch(httpserver.url_for("/old"))

    assert (page.url, page.content) == (httpserver.url_for("/new.json"), BODY)


@pytest.mark.parametrize(
    ("location", "says"),
    [
        ("http://127.0.0.2:{port}/x.json", "127.0.0.2 is a loopback address"),
        ("http://10.0.0.5/x.json", "10.0.0.5 is a private address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://[::ffff:10.0.0.5]/", "::ffff:10.0.0.5 is a private address"),
        ("http://metadata.internal/", "metadata.internal resolves to 169.254.169.254, a link"),
    ],
)
def test_a_redirect_from_an_allowed_server_to_an_internal_one_is_refused(
    httpserver, dns, connections, allow_loopback, location, says
):
    dns.add("metadata.internal", ["169.254.169.254"])
    location = location.format(port=httpserver.port)
    httpserver.expect_request("/x.json").respond_with_data("", 302, {"Location": location})

    with pytest.raises(fetching.Refused) as refused:
        fetching.fetch(f"http://127.0.0.1:{httpserver.port}/x.json")

    assert str(refused.value).startswith(f"Refused: the page redirects to {location}, and {says}")
    assert str(refused.value).endswith(ONLY_PUBLIC)
    assert connections == ["127.0.0.1"]
    assert len(httpserver.log) == 1


def test_a_redirect_to_another_scheme_is_refused(httpserver, allow_loopback):
    httpserver.expect_request("/x").respond_with_data("", 302, {"Location": "file:///etc/passwd"})

    with pytest.raises(fetching.Refused) as refused:
        fetching.fetch(httpserver.url_for("/x"))

    assert str(refused.value) == (
        "Refused: the page redirects to file:///etc/passwd, but only http:// and https:// "
        "URLs may be polled, not file://"
    )


def test_redirects_stop_at_the_limit(httpserver, allow_loopback, settings):
    settings.STATUS_FETCH_MAX_REDIRECTS = 3

    def onwards(request):
        hop = int(request.path.rsplit("/", 1)[1])
        return Response("", 302, {"Location": f"/loop/{hop + 1}"})

    httpserver.expect_request(re.compile(r"/loop/\d+")).respond_with_handler(onwards)

    with pytest.raises(fetching.TooManyRedirects) as stopped:
        fetching.fetch(httpserver.url_for("/loop/0"))

    assert str(stopped.value) == (
        "Too many redirects: Hindsight follows at most 3 (STATUS_FETCH_MAX_REDIRECTS), "
        f"and the page redirected again, to {httpserver.url_for('/loop/4')}"
    )
    assert [entry[0].path for entry in httpserver.log] == [f"/loop/{n}" for n in range(4)]


# --- The deadline ---------------------------------------------------------------------


def head(length: int) -> bytes:
    """A status line and headers announcing a body of `length` bytes."""
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {length}\r\n\r\n".encode()
    )


@pytest.mark.parametrize(
    ("at_once", "trickled"),
    [
        (head(400), b" " * 400),  # the body
        (b"", b"HTTP/1.1 200 OK\r\nX-Padding: " + b"x" * 400),  # the status line and headers
    ],
    ids=["body", "headers"],
)
def test_a_trickling_server_is_cut_off_at_the_deadline(
    trickling, allow_loopback, settings, at_once, trickled
):
    settings.STATUS_FETCH_TIMEOUT = 1
    # A byte every 50 ms: no single read waits long, but the whole answer takes 20 s.
    server = trickling(at_once, trickled, pause=0.05)
    started = time.monotonic()

    with pytest.raises(fetching.TooSlow) as slow:
        fetching.fetch(f"http://127.0.0.1:{server.port}/api/v2/incidents.json")

    assert time.monotonic() - started < 2.5
    assert str(slow.value) == (
        "Timed out: the page did not arrive in full within 1 s (STATUS_FETCH_TIMEOUT)"
    )


# --- Size -----------------------------------------------------------------------------


@pytest.fixture
def one_mib(settings, allow_loopback):
    settings.STATUS_FETCH_MAX_BYTES = MiB


TOO_LARGE = (
    "Too large: the page is over 1 MiB once decompressed, the most Hindsight reads "
    "(STATUS_FETCH_MAX_BYTES)"
)


def test_a_page_of_exactly_the_limit_is_read(httpserver, allow_loopback, settings):
    settings.STATUS_FETCH_MAX_BYTES = len(BODY)
    httpserver.expect_request("/x").respond_with_data(BODY)

    assert fetching.fetch(httpserver.url_for("/x")).content == BODY


def test_a_declared_length_over_the_limit_is_refused(httpserver, one_mib):
    httpserver.expect_request("/x").respond_with_data(b"x" * (MiB + 1))

    with pytest.raises(fetching.TooLarge) as large:
        fetching.fetch(httpserver.url_for("/x"))

    assert str(large.value) == TOO_LARGE


def test_a_streamed_page_is_cut_off_at_the_limit_not_read_to_the_end(httpserver, one_mib):
    sent = []

    def endless(request):
        def chunks():
            for _ in range(512):  # 32 MiB
                sent.append(1)
                yield b"x" * (64 * 1024)

        return Response(chunks(), content_type="application/json")

    httpserver.expect_request("/x").respond_with_handler(endless)

    with pytest.raises(fetching.TooLarge) as large:
        fetching.fetch(httpserver.url_for("/x"))

    assert str(large.value) == TOO_LARGE
    assert len(sent) < 256  # well under half of it was ever produced


@pytest.mark.parametrize(
    ("encoding", "compress"), [("gzip", gzip.compress), ("deflate", zlib.compress)]
)
def test_a_compression_bomb_is_cut_off_after_decompression(httpserver, one_mib, encoding, compress):
    bomb = compress(b"\0" * (32 * MiB))
    assert len(bomb) < MiB / 8  # small on the wire: only the inflated size gives it away
    httpserver.expect_request("/x").respond_with_data(bomb, headers={"Content-Encoding": encoding})

    with pytest.raises(fetching.TooLarge) as large:
        fetching.fetch(httpserver.url_for("/x"))

    assert str(large.value) == TOO_LARGE


# --- TLS ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificates(tmp_path_factory) -> Path:
    """A throwaway CA and a certificate it signed for status.test, valid from now on."""
    folder = tmp_path_factory.mktemp("tls")
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    openssl("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=Hindsight test CA")  # fmt: skip
    openssl("req", *key, "-keyout", "site.key", "-out", "site.csr", "-subj", "/CN=status.test")
    (folder / "site.ext").write_text("subjectAltName=DNS:status.test\n")
    openssl("x509", "-req", "-in", "site.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-days", "2",
            "-CAcreateserial", "-extfile", "site.ext", "-out", "site.pem")  # fmt: skip
    return folder


@pytest.fixture
def https_server(certificates):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates / "site.pem", certificates / "site.key")
    context.names = []  # the names clients ask for in SNI
    context.sni_callback = lambda _socket, name, _context: context.names.append(name)
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
    server.start()
    yield server
    server.stop()


def test_https_checks_the_host_name_while_connecting_to_the_checked_address(
    https_server, certificates, dns, allow_loopback, monkeypatch
):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificates / "ca.pem"))
    dns.add("status.test", ["127.0.0.1"])
    dns.add("impostor.test", ["127.0.0.1"])
    https_server.expect_request("/x.json").respond_with_data(BODY)

    page = fetching.fetch(f"https://status.test:{https_server.port}/x.json")

    assert page.content == BODY
    assert https_server.ssl_context.names == ["status.test"]
    with pytest.raises(fetching.FetchFailed) as failed:
        fetching.fetch(f"https://impostor.test:{https_server.port}/x.json")
    assert str(failed.value).startswith("TLS with impostor.test failed:")
    assert "certificate is not valid for 'impostor.test'" in str(failed.value)


# --- Saving a source --------------------------------------------------------------------


@pytest.fixture
def api(author):
    client = APIClient()
    client.force_authenticate(author)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"),
        ("http://10.0.0.5/api/v2/incidents.json", "10.0.0.5 is a private address"),
        ("http://[::ffff:127.0.0.1]/x.json", "::ffff:127.0.0.1 is a loopback address"),
        ("http://[fd00::5]/x.json", "fd00::5 is a private address"),
    ],
)
def test_the_api_refuses_a_source_at_an_internal_address(api, url, says):
    VendorFactory(slug="acme")

    response = api.post(
        "/api/status-sources/", {"vendor": "acme", "url": url, "format": "rss"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"url": [f"Refused: {says}; {ONLY_PUBLIC}"]}
    assert not StatusSource.objects.exists()


@pytest.mark.django_db
def test_the_api_refuses_changing_a_url_to_another_scheme(api):
    source = StatusSource.objects.create(
        vendor=VendorFactory(), url="https://status.example.com/history.rss", format="rss"
    )

    response = api.patch(
        f"/api/status-sources/{source.pk}/", {"url": "ftp://status.example.com/x"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {
        "url": ["Refused: only http:// and https:// URLs may be polled, not ftp://"]
    }
    source.refresh_from_db()
    assert source.url == "https://status.example.com/history.rss"


@pytest.mark.django_db
def test_names_are_saved_without_a_lookup_and_allowed_addresses_are_saved(api, dns, settings):
    VendorFactory(slug="acme")
    settings.STATUS_FETCH_ALLOWED_NETWORKS = ["10.20.0.0/16"]

    for url in ("https://status.example.com/history.rss", "http://10.20.0.5/history.rss"):
        response = api.post(
            "/api/status-sources/", {"vendor": "acme", "url": url, "format": "rss"}, format="json"
        )
        assert response.status_code == 201, response.content

    assert "status.example.com" not in dns.lookups
    assert StatusSource.objects.count() == 2


@pytest.mark.django_db
def test_the_vendor_page_form_refuses_an_internal_address(client, author):
    vendor = VendorFactory(slug="acme")
    client.force_login(author)

    response = client.post(
        reverse("imports:source-create", args=[vendor.slug]),
        {"url": "http://127.0.0.1:8080/x.json", "format": "rss", "interval_minutes": 15},
        follow=True,
    )

    assert (
        f"Status page URL: Refused: 127.0.0.1 is a loopback address; {ONLY_PUBLIC}"
        in response.content.decode()
    )
    assert not StatusSource.objects.exists()


# --- The command line -------------------------------------------------------------------


@pytest.mark.django_db
def test_import_status_fetches_with_the_same_guard(httpserver, connections, settings):
    httpserver.expect_request("/incidents.json").respond_with_data(BODY)
    url = f"http://127.0.0.1:{httpserver.port}/incidents.json"

    with pytest.raises(CommandError) as refused:
        call_command("import_status", url, vendor="acme", format="statuspage")
    assert str(refused.value) == (
        f"Could not fetch {url}: Refused: 127.0.0.1 is a loopback address; {ONLY_PUBLIC}"
    )
    assert connections == []

    settings.STATUS_FETCH_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    call_command("import_status", url, vendor="acme", format="statuspage")
    assert Incident.objects.count() == 1


# --- Settings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("STATUS_FETCH_ALLOWED_NETWORKS", "10.0.0.0/8,10.0.0.0/33", "'10.0.0.0/33' is none"),
        ("STATUS_FETCH_ALLOWED_NETWORKS", "10.0.0.300", "'10.0.0.300' is none"),
        ("STATUS_FETCH_MAX_BYTES", "64MiB", "must be a whole number of at least 1"),
        ("STATUS_FETCH_TIMEOUT", "0", "must be a number of at least 0.1"),
        ("STATUS_FETCH_MAX_REDIRECTS", "-1", "must be a whole number of at least 0"),
    ],
)
def test_a_malformed_fetch_setting_stops_start_up_naming_the_variable(tmp_path, name, value, says):
    env = {**child_env(), "DJANGO_SETTINGS_MODULE": "config.settings", name: value}
    env["HINDSIGHT_DATA_DIR"] = str(tmp_path)

    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=django_settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert result.returncode != 0
    assert f"ImproperlyConfigured: {name} must" in result.stderr
    assert says in result.stderr
