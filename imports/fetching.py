"""Fetching a URL that a user gave: public addresses only, bounded in time, size and redirects.

Anyone who may change vendors types a status source's URL, and the server fetches it. So
every fetch here:

* accepts only http:// and https://;
* resolves the host once and refuses it if any of its addresses is not public (loopback,
  private, link-local such as the cloud metadata address 169.254.169.254, multicast,
  reserved, unspecified, or one of those inside an IPv6 address), unless an operator allowed
  it with STATUS_FETCH_ALLOWED_NETWORKS; then it connects to exactly the addresses it
  checked, since a second lookup could answer differently (DNS rebinding). The Host header,
  TLS SNI and the certificate check keep the host name;
* follows redirects itself, checking every hop the same way, at most
  STATUS_FETCH_MAX_REDIRECTS of them;
* gives the whole exchange STATUS_FETCH_TIMEOUT seconds, not each read, so a server that
  trickles bytes cannot hold a worker;
* stops reading past STATUS_FETCH_MAX_BYTES, counted after decompression (gzip bombs).

A failed fetch raises a FetchError whose text is written for the person who gave the URL. A
refused destination is never contacted, so no message can tell what answers there.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import SplitResult, unquote, urljoin, urlsplit

import urllib3
from django.conf import settings
from django.core.exceptions import ValidationError
from requests.certs import where as default_ca_bundle
from requests.utils import requote_uri
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import DecodeError, ProtocolError, SSLError
from urllib3.exceptions import HTTPError as TransportError
from urllib3.exceptions import TimeoutError as TransportTimeout

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

REDIRECTS = frozenset({301, 302, 303, 307, 308})
CHUNK = 64 * 1024
ONLY_PUBLIC = (
    "only public addresses may be polled "
    "(an operator can allow it with STATUS_FETCH_ALLOWED_NETWORKS)"
)
# IPv6 addresses that carry an IPv4 address the packet really goes to.
NAT64 = ipaddress.ip_network("64:ff9b::/96")
NON_PUBLIC = (
    ("an unspecified", "is_unspecified"),
    ("a loopback", "is_loopback"),
    ("a link-local", "is_link_local"),
    ("a multicast", "is_multicast"),
    ("a reserved", "is_reserved"),
    ("a private", "is_private"),
)


class FetchError(Exception):
    """A fetch that gave no page; its text is the message for the person who gave the URL."""


class Refused(FetchError):
    """The URL, or a redirect, leads where no fetch may go; nothing was sent there."""


class TooLarge(FetchError):
    pass


class TooSlow(FetchError):
    pass


class TooManyRedirects(FetchError):
    pass


class FetchFailed(FetchError):
    """The name did not resolve, or the connection, TLS or HTTP exchange failed."""


@dataclass(frozen=True)
class FetchPolicy:
    """Where fetches may go and how much they may take."""

    allowed_networks: tuple[Network, ...] = ()
    allowed_hosts: frozenset[str] = frozenset()
    max_bytes: int = 64 * 1024 * 1024
    timeout: float = 30.0
    max_redirects: int = 5

    @classmethod
    def from_settings(cls) -> FetchPolicy:
        networks, hosts = [], set()
        # config/settings.py has checked each entry is a network, an address or a host name.
        for entry in settings.STATUS_FETCH_ALLOWED_NETWORKS:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        return cls(
            allowed_networks=tuple(networks),
            allowed_hosts=frozenset(hosts),
            max_bytes=settings.STATUS_FETCH_MAX_BYTES,
            timeout=settings.STATUS_FETCH_TIMEOUT,
            max_redirects=settings.STATUS_FETCH_MAX_REDIRECTS,
        )

    def allows(self, address: Address) -> bool:
        candidates = {address, embedded_ipv4(address) or address}
        return any(a in network for a in candidates for network in self.allowed_networks)


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    status: int
    headers: Mapping[str, str]  # case-insensitive
    content: bytes


def fetch(
    url: str, *, headers: Mapping[str, str] | None = None, policy: FetchPolicy | None = None
) -> Fetched:
    """GET a user's URL under the policy (the settings' by default), redirects checked per hop."""
    policy = policy or FetchPolicy.from_settings()
    redirects = 0
    with Deadline(policy.timeout) as deadline:
        while True:
            target = Target.resolve(url, policy, deadline, redirected=redirects > 0)
            page = target.get(headers or {}, policy, deadline)
            location = page.headers.get("Location")
            if page.status not in REDIRECTS or not location:
                return page
            url = urljoin(url, location)
            if redirects == policy.max_redirects:
                raise TooManyRedirects(
                    f"Too many redirects: Hindsight follows at most {policy.max_redirects} "
                    f"(STATUS_FETCH_MAX_REDIRECTS), and the page redirected again, to {url}"
                )
            redirects += 1


def check_url(url: str, policy: FetchPolicy | None = None) -> None:
    """Refuse, without any DNS lookup, a URL whose scheme or literal address fetch() refuses.

    Host names are left to fetch time: what a name resolves to can change after it is saved.
    """
    policy = policy or FetchPolicy.from_settings()
    _, host, port = split(url, redirected=False)
    if host in policy.allowed_hosts:
        return
    try:
        # Numeric hosts only (no lookup), in every spelling the resolver accepts: 2130706433.
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError):
        return
    for *_, sockaddr in found:
        refuse_unless_public(host, parse_address(sockaddr[0]), policy, redirect=None)


def validate_fetch_url(value: str) -> None:
    """Django validator for a URL to be polled: the checks of check_url(), as a field error."""
    try:
        check_url(value)
    except Refused as exc:
        raise ValidationError(str(exc), code="refused") from exc


# --- Addresses ----------------------------------------------------------------------------


def parse_address(text: str) -> Address:
    return ipaddress.ip_address(text.partition("%")[0])  # fe80::1%eth0: the zone is no part


def is_literal(host: str, address: Address) -> bool:
    try:
        return parse_address(host) == address
    except ValueError:
        return False


def spelled(address: Address) -> str:
    mapped = address.version == 6 and address.ipv4_mapped
    return f"::ffff:{mapped}" if mapped else str(address)  # not ::ffff:7f00:1


def embedded_ipv4(address: Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one leads to: ::ffff:127.0.0.1, 64:ff9b::a00:5, 2002:a00:5::."""
    if address.version == 4:
        return None
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address in NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def non_public_kind(address: Address) -> str | None:
    """What keeps an address from being public ("a loopback address"), None for a public one."""
    inner = embedded_ipv4(address)
    if inner is not None and (kind := non_public_kind(inner)):
        return kind
    if address.version == 6 and (address.ipv4_mapped or address in NAT64):
        return None  # the IPv4 address inside is where it goes, and it is public
    for kind, test in NON_PUBLIC:
        if getattr(address, test):
            return f"{kind} address"
    # Python counts multicast as global; it was refused above. Shared (100.64/10) is neither.
    return None if address.is_global else "a non-public address"


def refuse_unless_public(
    host: str, address: Address, policy: FetchPolicy, *, redirect: str | None
) -> None:
    kind = non_public_kind(address)
    if kind is None or policy.allows(address):
        return
    if is_literal(host, address):
        where = f"{host} is {kind}"
    else:
        where = f"{host} resolves to {spelled(address)}, {kind}"
    lead = f"the page redirects to {redirect}, and " if redirect else ""
    raise Refused(f"Refused: {lead}{where}; {ONLY_PUBLIC}")


# --- One hop ------------------------------------------------------------------------------


def split(url: str, *, redirected: bool) -> tuple[SplitResult, str, int]:
    """The URL's parts, host (ASCII) and port; a refusal for another scheme or no valid host."""
    lead = f"the page redirects to {url}, but " if redirected else ""
    try:
        parts = urlsplit(url)
    except ValueError:  # http://[::1
        raise Refused(f"Refused: {lead}{url} is not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        scheme = f", not {parts.scheme}://" if parts.scheme else ""
        raise Refused(f"Refused: {lead}only http:// and https:// URLs may be polled{scheme}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host = (parts.hostname or "").rstrip(".")
        host = unquote(host) if ":" in host else host  # an IPv6 zone: [fe80::1%25eth0]
        host = host if host.isascii() else host.encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        host = ""
    if not host:
        raise Refused(f"Refused: {lead}{url} has no valid host and port")
    return parts, host, port


@dataclass(frozen=True)
class Target:
    """A URL whose host has been resolved and checked, with the addresses to connect to."""

    url: str
    parts: SplitResult
    host: str
    port: int
    addresses: tuple[tuple, ...]  # getaddrinfo() entries

    @classmethod
    def resolve(
        cls, url: str, policy: FetchPolicy, deadline: Deadline, *, redirected: bool
    ) -> Target:
        parts, host, port = split(url, redirected=redirected)
        try:
            # Bounded by the resolver's own timeouts (resolv.conf), not by the deadline.
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            raise FetchFailed(f"Could not resolve {host}") from exc
        deadline.remaining()
        if host not in policy.allowed_hosts:
            for *_, sockaddr in found:
                address = parse_address(sockaddr[0])
                refuse_unless_public(host, address, policy, redirect=url if redirected else None)
        return cls(url, parts, host, port, tuple(found))

    def request_headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        sent = {"Accept-Encoding": "gzip, deflate", **headers}
        if self.parts.username is not None:  # https://user:password@host/: Basic, this hop only
            credentials = f"{unquote(self.parts.username)}:{unquote(self.parts.password or '')}"
            sent.update(urllib3.make_headers(basic_auth=credentials))
        return sent

    def get(self, headers: Mapping[str, str], policy: FetchPolicy, deadline: Deadline) -> Fetched:
        path = (self.parts.path or "/") + (f"?{self.parts.query}" if self.parts.query else "")
        path = requote_uri(path)  # spaces and non-ASCII percent-encoded, as requests does
        pool, response = self.pool(deadline), None
        try:
            left = deadline.remaining()
            response = pool.urlopen(
                "GET", path, headers=self.request_headers(headers), retries=False,
                redirect=False, assert_same_host=False, preload_content=False,
                timeout=urllib3.Timeout(connect=left, read=left),
            )  # fmt: skip
            body = b"" if response.status in REDIRECTS else read_body(response, policy, deadline)
            return Fetched(self.url, response.status, response.headers, body)
        except (TransportError, OSError) as exc:
            if deadline.expired or isinstance(exc, TransportTimeout):
                raise deadline.error() from exc
            raise transport_failure(self.host, exc) from exc
        finally:
            if response is not None:
                response.close()  # a body left unread (too large) must not keep the connection
            pool.close()

    def pool(self, deadline: Deadline) -> urllib3.HTTPConnectionPool:
        pinned = {"addresses": self.addresses, "deadline": deadline}
        if self.parts.scheme == "http":
            return PinnedHTTPPool(self.host, self.port, maxsize=1, **pinned)
        # requests' CA bundle, and its variables for another one (an on-prem CA).
        bundle = (
            os.environ.get("REQUESTS_CA_BUNDLE")
            or os.environ.get("CURL_CA_BUNDLE")
            or default_ca_bundle()
        )
        return PinnedHTTPSPool(
            self.host, self.port, maxsize=1, cert_reqs="CERT_REQUIRED", ca_certs=bundle, **pinned
        )


def read_body(response: urllib3.BaseHTTPResponse, policy: FetchPolicy, deadline: Deadline) -> bytes:
    declared = response.headers.get("Content-Length", "")
    encoded = response.headers.get("Content-Encoding", "identity") != "identity"
    if declared.isdigit() and not encoded and int(declared) > policy.max_bytes:
        raise too_large(policy)
    body = bytearray()
    # urllib3 decompresses at most CHUNK bytes per read, so a bomb is never inflated whole.
    while chunk := response.read(CHUNK, decode_content=True):
        body += chunk
        if len(body) > policy.max_bytes:
            raise too_large(policy)
        deadline.remaining()
    deadline.remaining()  # a body the deadline cut off can end like a whole one
    return bytes(body)


def too_large(policy: FetchPolicy) -> TooLarge:
    return TooLarge(
        f"Too large: the page is over {size(policy.max_bytes)} once decompressed, "
        "the most Hindsight reads (STATUS_FETCH_MAX_BYTES)"
    )


def transport_failure(host: str, exc: Exception) -> FetchFailed:
    if isinstance(exc, SSLError):
        reason = str(exc).splitlines()[0]
        return FetchFailed(f"TLS with {host} failed: {reason}"[:500])
    if isinstance(exc, DecodeError):
        return FetchFailed(f"{host} sent a compressed page that could not be decompressed")
    if isinstance(exc, ProtocolError):
        return FetchFailed(f"{host} closed the connection before the whole page arrived")
    return FetchFailed(f"Fetching from {host} failed: {str(exc).splitlines()[0]}"[:500])


def size(count: int) -> str:
    for unit, factor in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= factor:
            return f"{round(count / factor, 1):g} {unit}"
    return f"{count} bytes"


# --- Connections pinned to the checked addresses ------------------------------------------


class PinnedConnection:
    """Connects to the addresses checked for its host, never to a new lookup of the name."""

    def __init__(self, *args, addresses: tuple[tuple, ...], deadline: Deadline, **kwargs):
        self.pinned_addresses = addresses
        self.deadline = deadline
        super().__init__(*args, **kwargs)

    def _new_conn(self) -> socket.socket:
        failure: OSError | None = None
        for family, kind, proto, _, sockaddr in self.pinned_addresses:
            sock = socket.socket(family, kind, proto)
            try:
                self.deadline.watch(sock)
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                sock.settimeout(self.deadline.remaining())
                sock.connect(sockaddr)
                return sock
            except TimeoutError as exc:
                sock.close()
                raise self.deadline.error() from exc
            except OSError as exc:
                sock.close()
                failure = exc
            except BaseException:
                sock.close()
                raise
        reason = failure.strerror if failure and failure.strerror else str(failure)
        raise FetchFailed(f"Could not connect to {self.host} (port {self.port}): {reason}")


class PinnedHTTPConnection(PinnedConnection, HTTPConnection):
    pass


class PinnedHTTPSConnection(PinnedConnection, HTTPSConnection):
    pass


class PinnedHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = PinnedHTTPConnection


class PinnedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = PinnedHTTPSConnection


class Deadline:
    """The end of one whole fetch, connecting and every byte included.

    A socket timeout only bounds each read, and a server that sends a byte now and then
    never trips it. So at the deadline a timer shuts the fetch's sockets down, which wakes
    any read blocked on them, in TLS too.
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.ends_at = time.monotonic() + seconds
        self.expired = False
        self.lock = threading.Lock()
        self.sockets: list[socket.socket] = []
        self.timer = threading.Timer(seconds, self.expire)
        self.timer.daemon = True

    def __enter__(self) -> Deadline:
        self.timer.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.timer.cancel()
        with self.lock:
            for sock in self.sockets:  # no connection of the fetch outlives it
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self.sockets.clear()

    def remaining(self) -> float:
        left = self.ends_at - time.monotonic()
        if self.expired or left <= 0:
            raise self.error()
        return left

    def error(self) -> TooSlow:
        return TooSlow(
            f"Timed out: the page did not arrive in full within {self.seconds:g} s "
            "(STATUS_FETCH_TIMEOUT)"
        )

    def watch(self, sock: socket.socket) -> None:
        # A descriptor of our own for the socket: shutting it down stops the connection
        # whatever urllib3 did with its descriptor (wrapped it in TLS, closed it), and no
        # other socket can have been given the same number meanwhile.
        with self.lock:
            self.sockets.append(sock.dup())

    def expire(self) -> None:
        with self.lock:
            self.expired = True
            for sock in self.sockets:
                # OSError: not connected yet, or already closed by the peer.
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
