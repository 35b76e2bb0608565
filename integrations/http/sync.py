"""The outbound guard in the two synchronous stacks: requests (for `jira`) and httpx2 (for `pagerduty`).

Both get the policy at the same two points as aiohttp (see `aio`): every request, redirect hops included, passes
`check_url` before anything is resolved; and every new connection resolves its host here, checks every address,
and connects only to an address it checked (so a name cannot change between the check and the connection).

* requests: `GuardedAdapter` (an `HTTPAdapter`, mounted for http:// and https://) checks the URL in `send()` and
  makes urllib3 build its connections from guarded classes whose `_new_conn` resolves and checks (urllib3 2.8:
  `HTTPConnection._new_conn` and `_dns_host` are private; requests 2.34: `init_poolmanager`/`cert_verify` are the
  documented subclassing hooks). TLS comes from `ssl_context(policy)`, so `VIGIL_CA_BUNDLE` adds to the default
  trust instead of replacing it (requests' `verify=<path>` would replace it).
* httpx2: `GuardedTransport` (an `HTTPTransport`) checks the URL in `handle_request()`, which a client calls once
  per hop when it follows redirects, and connects through `GuardedBackend`, an `httpcore2.NetworkBackend` (public
  API). httpx2 2.16 offers no way to pass a network backend to `HTTPTransport`, so the transport replaces its
  private `_pool` with an `httpcore2.ConnectionPool` built on the guarded backend.

A refusal raises `Refused` unchanged out of `session.get(...)` and `client.get(...)`: neither library wraps an
exception it does not know, and neither `jira` (retries `ConnectionError`) nor `pagerduty` (retries
`TransportError`) retries it.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import httpcore2
import httpx2
import requests
from requests.adapters import DEFAULT_POOLBLOCK, HTTPAdapter
from requests.utils import select_proxy
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import create_connection

from integrations.http.guard import AddressChecker, OutboundPolicy, Refused, check_address, check_url, ssl_context

SessionT = TypeVar("SessionT", bound=requests.Session)

PROXY_REFUSED = "refused: outbound proxies are not supported by the outbound guard"
# httpx2's own default pool limits (DEFAULT_LIMITS is private to httpx2).
DEFAULT_LIMITS = httpx2.Limits(max_connections=100, max_keepalive_connections=20)


@dataclass(frozen=True)
class _Guard:
    """The policy and the address check, bound together for the connection classes of one session or transport."""

    policy: OutboundPolicy
    checker: AddressChecker

    def check_url(self, url: str) -> None:
        check_url(self.policy, url, checker=self.checker)

    def addresses(self, host: str, port: int) -> list[str]:
        """The addresses `host` resolves to, all checked; raises `socket.gaierror` when it does not resolve."""
        found: list[str] = []
        for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
            ip = str(sockaddr[0])
            if ip not in found:
                found.append(ip)
        for ip in found:
            # Any refused address refuses the name: skipping it would let a name mix a public and a private answer.
            self.checker(self.policy, ip, host=host, port=port)
        return found


# --- requests / urllib3 -------------------------------------------------------------------------------------------


def _open_checked_socket(conn: HTTPConnection, guard: _Guard) -> socket.socket:
    """urllib3's `_new_conn`, connecting only to addresses the guard checked (tried in resolver order)."""
    try:
        addresses = guard.addresses(conn._dns_host, conn.port)
    except socket.gaierror as exc:
        raise NameResolutionError(conn.host, conn, exc) from exc
    failure: Exception | None = None
    for ip in addresses:
        try:
            sock = create_connection(
                (ip, conn.port), conn.timeout, source_address=conn.source_address, socket_options=conn.socket_options
            )
        except TimeoutError as exc:
            failure = ConnectTimeoutError(conn, f"Connection to {conn.host} timed out. (connect timeout={conn.timeout})")
            failure.__cause__ = exc
        except OSError as exc:
            failure = NewConnectionError(conn, f"Failed to establish a new connection: {exc}")
            failure.__cause__ = exc
        else:
            sys.audit("http.client.connect", conn, conn.host, conn.port)
            return sock
    assert failure is not None  # getaddrinfo never answers an empty list
    raise failure


class _GuardedHTTPConnection(HTTPConnection):
    guard: ClassVar[_Guard]

    def _new_conn(self) -> socket.socket:
        return _open_checked_socket(self, self.guard)


class _GuardedHTTPSConnection(HTTPSConnection):
    guard: ClassVar[_Guard]

    def _new_conn(self) -> socket.socket:
        return _open_checked_socket(self, self.guard)


def _pool_classes(guard: _Guard) -> dict[str, type[HTTPConnectionPool]]:
    """Connection pool classes whose connections carry `guard` (urllib3 builds connections from a class)."""

    class Connection(_GuardedHTTPConnection):
        pass

    class TLSConnection(_GuardedHTTPSConnection):
        pass

    Connection.guard = guard
    TLSConnection.guard = guard

    class Pool(HTTPConnectionPool):
        ConnectionCls = Connection

    class TLSPool(HTTPSConnectionPool):
        ConnectionCls = TLSConnection

    return {"http": Pool, "https": TLSPool}


class GuardedAdapter(HTTPAdapter):
    """An `HTTPAdapter` under the outbound guard; mount it for both http:// and https:// (see `guard_session`)."""

    def __init__(self, policy: OutboundPolicy, *, checker: AddressChecker = check_address, **kw: Any) -> None:
        self._guard = _Guard(policy, checker)
        self._ssl_context = ssl_context(policy)
        super().__init__(**kw)  # calls init_poolmanager, which needs the two attributes above

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = DEFAULT_POOLBLOCK, **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, ssl_context=self._ssl_context, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = _pool_classes(self._guard)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        super().cert_verify(conn, url, verify, cert)
        if verify is True:
            # The context already trusts the system store, certifi and VIGIL_CA_BUNDLE; requests would point urllib3
            # at certifi alone, which urllib3 would load into the context again on every connection.
            conn.ca_certs = None
            conn.ca_cert_dir = None

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: dict[str, str] | None = None,
    ) -> requests.Response:
        url = request.url or ""
        if proxies and select_proxy(url, proxies):
            raise Refused(PROXY_REFUSED)
        self._guard.check_url(url)
        return super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies)


def guard_session(session: SessionT, policy: OutboundPolicy, *, checker: AddressChecker = check_address) -> SessionT:
    """Put an existing session (such as the `jira` client's) under the guard, and return it.

    Environment proxies, `.netrc` and `REQUESTS_CA_BUNDLE` are switched off (`trust_env`): the guard needs direct
    connections, and the trust is the policy's.
    """
    adapter = GuardedAdapter(policy, checker=checker)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.trust_env = False
    return session


def requests_session(policy: OutboundPolicy, *, checker: AddressChecker = check_address) -> requests.Session:
    """A new requests session under the outbound guard. `checker` exists for tests only."""
    return guard_session(requests.Session(), policy, checker=checker)


# --- httpx2 / httpcore2 -------------------------------------------------------------------------------------------


class GuardedBackend(httpcore2.NetworkBackend):
    """A network backend that connects only to addresses the guard checked; TLS then runs on the host name."""

    def __init__(self, guard: _Guard) -> None:
        self._guard = guard
        self._inner = httpcore2.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.NetworkStream:
        try:
            addresses = self._guard.addresses(host, port)
        except OSError as exc:
            raise httpcore2.ConnectError(str(exc)) from exc
        options = list(socket_options or ())
        failure: Exception | None = None
        for ip in addresses:
            try:
                return self._inner.connect_tcp(
                    ip, port, timeout=timeout, local_address=local_address, socket_options=options
                )
            except (httpcore2.ConnectError, httpcore2.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # getaddrinfo never answers an empty list
        raise failure

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class GuardedTransport(httpx2.HTTPTransport):
    """An httpx2 transport under the outbound guard, for `httpx2.Client(transport=...)` and the pagerduty clients.

    A client given a transport ignores environment proxies; do not also give it `proxy=` or `mounts=`, which
    would bypass this transport.
    """

    def __init__(
        self,
        policy: OutboundPolicy,
        *,
        checker: AddressChecker = check_address,
        limits: httpx2.Limits = DEFAULT_LIMITS,
        retries: int = 0,
    ) -> None:
        context = ssl_context(policy)
        super().__init__(verify=context, trust_env=False, limits=limits, retries=retries)
        self._guard = _Guard(policy, checker)
        self._pool = httpcore2.ConnectionPool(
            ssl_context=context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            retries=retries,
            network_backend=GuardedBackend(self._guard),
        )

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        self._guard.check_url(str(request.url))
        return super().handle_request(request)


def httpx2_transport(
    policy: OutboundPolicy, *, checker: AddressChecker = check_address, retries: int = 0
) -> GuardedTransport:
    """A transport under the outbound guard. `checker` exists for tests only."""
    return GuardedTransport(policy, checker=checker, retries=retries)
