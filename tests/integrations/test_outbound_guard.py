"""The one shared test of the outbound guard, run against every HTTP stack Vigil uses, plus the policy's tables.

Each stack (aiohttp via `make_session`, requests via `requests_session`, httpx2 via `httpx2_transport` in an
`httpx2.Client`, and the `pagerduty` library's clients on that transport) talks to recording fake servers on
127.0.0.1. The sync stacks run in a worker thread because the fakes run on the test's loop.

Everything local is loopback, so to show a redirect check with `allow_private=False` a test needs a first hop the
policy lets through: `allow_only(port)` is an address checker that treats 127.0.0.1 on that one port as public
and hands every other address to the real `check_address`. It goes in through the `checker=` parameter each stack
takes for tests; the policy itself has no test switch.

Decision (https -> http): plain http:// is allowed exactly when `VIGIL_OUTBOUND_ALLOW_PRIVATE=true`, so with it a
redirect from https to http on another host and port is followed; without it the redirect is refused.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import httpx2
import pytest
import requests
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

from bot.settings import Settings
from integrations.base import DeliveryFailed
from integrations.http.aio import make_session
from integrations.http.guard import (
    AddressChecker,
    OutboundPolicy,
    Refused,
    check_address,
    check_url,
    describe_url,
    ssl_context,
)
from integrations.http.sync import httpx2_transport, requests_session
from integrations.pagerduty.client import PagerDutyApi
from tests.fakes.plugin import ServerFactory

SECRET = "s3cret-sig"
HINT = "VIGIL_OUTBOUND_ALLOW_PRIVATE=true"


# --- the three stacks behind one call -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes


Send = Callable[[OutboundPolicy, str, str, bytes | None, float, AddressChecker], Awaitable[Reply]]


@dataclass(frozen=True)
class Stack:
    name: str
    send: Send
    tls_error: type[BaseException]
    timeout_error: type[BaseException]


async def _send_aiohttp(
    policy: OutboundPolicy, method: str, url: str, body: bytes | None, timeout: float, checker: AddressChecker
) -> Reply:
    async with (
        make_session(policy, timeout=timeout, checker=checker) as session,
        session.request(method, url, data=body) as resp,
    ):
        return Reply(resp.status, await resp.read())


async def _send_requests(
    policy: OutboundPolicy, method: str, url: str, body: bytes | None, timeout: float, checker: AddressChecker
) -> Reply:
    def run() -> Reply:
        with requests_session(policy, checker=checker) as session:
            resp = session.request(method, url, data=body, timeout=timeout)
            return Reply(resp.status_code, resp.content)

    return await asyncio.to_thread(run)


async def _send_httpx2(
    policy: OutboundPolicy, method: str, url: str, body: bytes | None, timeout: float, checker: AddressChecker
) -> Reply:
    def run() -> Reply:
        transport = httpx2_transport(policy, checker=checker)
        with httpx2.Client(transport=transport, follow_redirects=True, timeout=timeout) as client:
            resp = client.request(method, url, content=body)
            return Reply(resp.status_code, resp.content)

    return await asyncio.to_thread(run)


STACKS = [
    Stack("aiohttp", _send_aiohttp, aiohttp.ClientConnectorCertificateError, TimeoutError),
    Stack("requests", _send_requests, requests.exceptions.SSLError, requests.exceptions.ReadTimeout),
    Stack("httpx2", _send_httpx2, httpx2.ConnectError, httpx2.ReadTimeout),
]


@pytest.fixture(params=STACKS, ids=[s.name for s in STACKS])
def stack(request: pytest.FixtureRequest) -> Stack:
    value: Stack = request.param
    return value


async def send(
    stack: Stack,
    policy: OutboundPolicy,
    url: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    timeout: float = 5.0,
    checker: AddressChecker = check_address,
) -> Reply:
    return await stack.send(policy, method, url, body, timeout, checker)


def _chain(exc: BaseException | None) -> str:
    """The messages of an exception and its causes: each library wraps the TLS error its own way."""
    parts = []
    while exc is not None:
        parts.append(f"{type(exc).__name__}: {exc}")
        exc = exc.__cause__ or exc.__context__
    return " <- ".join(parts)


def allow_only(allowed_port: int) -> AddressChecker:
    """127.0.0.1 on `allowed_port` passes as if public; every other address gets the real check."""

    def checker(policy: OutboundPolicy, ip: str, *, host: str | None = None, port: int | None = None) -> None:
        if ip == "127.0.0.1" and port == allowed_port:
            return
        check_address(policy, ip, host=host, port=port)

    return checker


@pytest.fixture
def strict(ca_bundle: Path) -> OutboundPolicy:
    return OutboundPolicy(allow_private=False, ca_bundle=ca_bundle)


@pytest.fixture
def on_prem(ca_bundle: Path) -> OutboundPolicy:
    return OutboundPolicy(allow_private=True, ca_bundle=ca_bundle)


# --- every stack: what goes through, what is refused --------------------------------------------------------------


async def test_https_with_the_ca_bundle_delivers(stack: Stack, on_prem: OutboundPolicy, https_server: ServerFactory) -> None:
    server = await https_server()
    server.respond(201, json={"id": "INC-1"})

    reply = await send(stack, on_prem, server.url_for(f"/hook?sig={SECRET}"), method="POST", body=b'{"title": "db down"}')

    assert reply.status == 201
    assert reply.body == b'{"id": "INC-1"}'
    (seen,) = server.requests
    assert (seen.method, seen.path, seen.query["sig"]) == ("POST", "/hook", SECRET)
    assert seen.body == b'{"title": "db down"}'
    assert seen.headers["content-length"] == str(len(seen.body))
    assert server.connections == 1


async def test_without_the_ca_bundle_tls_verification_fails(stack: Stack, https_server: ServerFactory) -> None:
    server = await https_server()

    with pytest.raises(stack.tls_error) as caught:
        await send(stack, OutboundPolicy(allow_private=True), server.url_for("/hook"), method="POST", body=b"x")

    assert not isinstance(caught.value, Refused)
    assert "CERTIFICATE_VERIFY_FAILED" in _chain(caught.value)
    assert server.requests == []


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("127.0.0.1", "refused: 127.0.0.1 is a loopback address; set " + HINT),
        ("localhost", "refused: localhost resolves to a loopback address ("),
    ],
    ids=["literal-ip", "name-resolving-to-loopback"],
)
async def test_private_targets_are_refused_before_connecting(
    stack: Stack, strict: OutboundPolicy, https_server: ServerFactory, name: str, reason: str
) -> None:
    server = await https_server()

    with pytest.raises(Refused) as caught:
        await send(stack, strict, server.url_for(f"/hook?sig={SECRET}", host=name), method="POST", body=b"x")

    assert str(caught.value).startswith(reason)
    assert HINT in str(caught.value)
    assert SECRET not in str(caught.value)
    assert (server.connections, server.requests) == (0, [])


@pytest.mark.parametrize(
    ("name", "userinfo", "reason"),
    [
        ("127.0.0.1", "", "refused: 127.0.0.1 is a loopback address"),
        ("localhost", "", "refused: localhost resolves to a loopback address"),
        ("127.0.0.1", "admin:hunter2@", "refused: 127.0.0.1 is a loopback address"),
    ],
    ids=["literal-ip", "name-resolving-to-loopback", "with-credentials"],
)
async def test_a_redirect_to_a_private_target_is_refused(
    stack: Stack, strict: OutboundPolicy, https_server: ServerFactory, name: str, userinfo: str, reason: str
) -> None:
    public, private = await https_server(), await https_server()
    target = f"https://{userinfo}{name}:{private.port}/internal?sig={SECRET}"
    public.route("/start").redirect_to(target, status=307)

    with pytest.raises(Refused) as caught:
        await send(stack, strict, public.url_for("/start"), checker=allow_only(public.port))

    assert str(caught.value).startswith(reason)
    assert SECRET not in str(caught.value) and "hunter2" not in str(caught.value)
    assert [r.path for r in public.requests] == ["/start"]
    assert (private.connections, private.requests) == (0, [])


async def test_a_redirect_from_https_to_http_is_refused_without_allow_private(
    stack: Stack, strict: OutboundPolicy, https_server: ServerFactory, http_server: ServerFactory
) -> None:
    public, plain = await https_server(), await http_server()
    public.redirect_to(plain.url_for(f"/landing?sig={SECRET}"))

    with pytest.raises(Refused) as caught:
        await send(stack, strict, public.url_for("/start"), checker=allow_only(public.port))

    assert str(caught.value) == "refused: http:// is allowed only with VIGIL_OUTBOUND_ALLOW_PRIVATE=true"
    assert len(public.requests) == 1
    assert (plain.connections, plain.requests) == (0, [])


async def test_plain_http_is_refused_before_any_lookup(
    stack: Stack, strict: OutboundPolicy, http_server: ServerFactory
) -> None:
    plain = await http_server()
    looked_up: list[str] = []

    def spy(policy: OutboundPolicy, ip: str, *, host: str | None = None, port: int | None = None) -> None:
        looked_up.append(ip)

    with pytest.raises(Refused) as caught:
        await send(stack, strict, plain.url_for(f"/hook?sig={SECRET}", host="localhost"), checker=spy)

    assert str(caught.value) == "refused: http:// is allowed only with VIGIL_OUTBOUND_ALLOW_PRIVATE=true"
    assert looked_up == []  # no address was ever checked: refused on the URL alone
    assert (plain.connections, plain.requests) == (0, [])


async def test_with_allow_private_an_https_to_http_redirect_to_another_host_is_followed(
    stack: Stack, on_prem: OutboundPolicy, https_server: ServerFactory, http_server: ServerFactory
) -> None:
    secure, plain = await https_server(), await http_server()
    secure.route("/start").redirect_to(plain.url_for("/landing?from=https", host="localhost"))

    async def landing(request: web.Request) -> web.Response:
        return web.json_response({"landed": request.path, "host": request.host})

    plain.handler = landing

    reply = await send(stack, on_prem, secure.url_for("/start"))

    assert reply.status == 200
    assert [r.path for r in secure.requests] == ["/start"]
    (seen,) = plain.requests
    assert (seen.path, seen.query["from"], seen.headers["Host"]) == ("/landing", "https", f"localhost:{plain.port}")


async def test_a_client_timeout_stays_a_timeout(stack: Stack, on_prem: OutboundPolicy, https_server: ServerFactory) -> None:
    server = await https_server()
    gate = asyncio.Event()  # never set by the test: the server's teardown releases the held answer
    server.respond(200, json={"late": True}, delay=gate)

    with pytest.raises(stack.timeout_error) as caught:
        await send(stack, on_prem, server.url_for("/slow"), timeout=0.2)

    assert not isinstance(caught.value, Refused)
    assert [r.path for r in await server.wait_for(1)] == ["/slow"]


async def test_proxies_are_refused(strict: OutboundPolicy, https_server: ServerFactory) -> None:
    server = await https_server()
    proxy = "http://127.0.0.1:9"
    url = server.url_for("/hook")
    checker = allow_only(server.port)

    async with make_session(strict, checker=checker) as session:
        with pytest.raises(Refused, match="proxies are not supported"):
            await session.get(url, proxy=proxy)

    def via_requests() -> None:
        with requests_session(strict, checker=checker) as session:
            session.get(url, proxies={"https": proxy}, timeout=5)

    with pytest.raises(Refused, match="proxies are not supported"):
        await asyncio.to_thread(via_requests)
    assert server.requests == []


# --- the policy: addresses ----------------------------------------------------------------------------------------

REFUSED_ADDRESSES = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("::1", "loopback"),
    ("10.0.0.5", "private"),
    ("172.16.3.4", "private"),
    ("192.168.1.1", "private"),
    ("fd12:3456::1", "private"),
    ("169.254.169.254", "link-local"),
    ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"),
    ("100.64.0.1", "shared (CGNAT)"),
    ("100.127.255.254", "shared (CGNAT)"),
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("224.0.0.1", "multicast"),
    ("239.1.2.3", "multicast"),
    ("ff02::1", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("100::1", "reserved"),
    ("192.0.2.10", "private"),
    ("198.18.0.1", "private"),
    ("2001:db8::1", "private"),
    ("fec0::1", "site-local"),
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:10.0.0.5", "private"),
    ("::ffff:169.254.169.254", "link-local"),
    ("2002:7f00:1::1", "loopback"),
    ("2002:a00:5::", "private"),
    ("64:ff9b::7f00:1", "loopback"),
    ("64:ff9b::a9fe:a9fe", "link-local"),
    ("64:ff9b:1::808:808", "private"),
]
PUBLIC_ADDRESSES = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.216.34",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "64:ff9b::808:808",
    "2002:808:808::1",
]


@pytest.mark.parametrize(("ip", "kind"), REFUSED_ADDRESSES)
def test_check_address_refuses_what_is_not_public(ip: str, kind: str) -> None:
    with pytest.raises(Refused) as caught:
        check_address(OutboundPolicy(), ip)
    assert f" {kind} address" in str(caught.value)
    assert str(caught.value).endswith("set VIGIL_OUTBOUND_ALLOW_PRIVATE=true for on-prem tools")


@pytest.mark.parametrize("ip", [ip for ip, _ in REFUSED_ADDRESSES])
def test_check_address_lets_private_through_with_allow_private(ip: str) -> None:
    check_address(OutboundPolicy(allow_private=True), ip)


@pytest.mark.parametrize("ip", PUBLIC_ADDRESSES)
def test_check_address_lets_public_addresses_through(ip: str) -> None:
    check_address(OutboundPolicy(), ip)


def test_check_address_messages() -> None:
    with pytest.raises(Refused) as caught:
        check_address(OutboundPolicy(), "10.0.0.5", host="example.internal", port=443)
    assert str(caught.value) == (
        "refused: example.internal resolves to a private address (10.0.0.5); "
        "set VIGIL_OUTBOUND_ALLOW_PRIVATE=true for on-prem tools"
    )
    with pytest.raises(Refused) as caught:
        check_address(OutboundPolicy(), "169.254.169.254")
    assert str(caught.value) == (
        "refused: 169.254.169.254 is a link-local address; set VIGIL_OUTBOUND_ALLOW_PRIVATE=true for on-prem tools"
    )
    with pytest.raises(Refused, match="did not resolve to an IP address"):
        check_address(OutboundPolicy(allow_private=True), "not-an-ip", host="example.com")


@given(st.ip_addresses())
def test_check_address_refuses_exactly_what_is_not_global(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    """Cross-check against `ipaddress`: a refused address is never global unicast (embedded IPv4 forms aside)."""
    try:
        check_address(OutboundPolicy(), str(addr))
    except Refused:
        refused = True
    else:
        refused = False
    embeds = isinstance(addr, ipaddress.IPv6Address) and (
        addr.ipv4_mapped is not None or addr.sixtofour is not None or addr in ipaddress.ip_network("64:ff9b::/96")
    )
    if not embeds:
        public = addr.is_global and not addr.is_multicast and not addr.is_reserved
        if isinstance(addr, ipaddress.IPv6Address) and (
            addr.is_site_local or addr in ipaddress.ip_network("64:ff9b:1::/48")
        ):
            public = False
        assert refused is not public
    check_address(OutboundPolicy(allow_private=True), str(addr))


# --- the policy: URLs ---------------------------------------------------------------------------------------------

URLS = [
    # (url, refused without allow_private, refused with it)
    ("https://example.com/hook", None, None),
    ("HTTPS://Example.COM:8443/hook?sig=x", None, None),
    ("https://93.184.216.34/", None, None),
    ("https://[2606:4700:4700::1111]/", None, None),
    ("http://example.com/", "refused: http:// is allowed only with VIGIL_OUTBOUND_ALLOW_PRIVATE=true", None),
    ("ftp://example.com/", "refused: ftp:// is not allowed (https:// only)", "refused: ftp:// is not allowed"),
    ("example.com/hook", "refused: a URL without a scheme is not allowed", "refused: a URL without a scheme"),
    ("https:///hook", "refused: the URL has no host", "refused: the URL has no host"),
    ("https://127.0.0.1/", "refused: 127.0.0.1 is a loopback address", None),
    ("https://[::1]:8443/", "refused: ::1 is a loopback address", None),
    ("https://[::ffff:7f00:1]/", "refused: ::ffff:7f00:1 is a loopback address", None),
    ("https://10.0.0.5/hook", "refused: 10.0.0.5 is a private address", None),
    ("http://10.0.0.5/hook", "refused: http:// is allowed only", None),
    ("https://127.1/", "refused: 127.1 is not a canonical IP address", "refused: 127.1 is not a canonical"),
    ("https://2130706433/", "refused: 2130706433 is not a canonical IP address", "refused: 2130706433 is not"),
    ("https://0x7f.0.0.1/", "refused: 0x7f.0.0.1 is not a canonical IP address", "refused: 0x7f.0.0.1 is not"),
    ("https://example.com:99999/", "refused: not a valid URL", "refused: not a valid URL"),
    ("https://[::1/", "refused: not a valid URL", "refused: not a valid URL"),
]


@pytest.mark.parametrize(("url", "strict_reason", "on_prem_reason"), URLS)
def test_check_url(url: str, strict_reason: str | None, on_prem_reason: str | None) -> None:
    for policy, reason in ((OutboundPolicy(), strict_reason), (OutboundPolicy(allow_private=True), on_prem_reason)):
        if reason is None:
            check_url(policy, url)
        else:
            with pytest.raises(Refused) as caught:
                check_url(policy, url)
            assert str(caught.value).startswith(reason)


def test_check_url_never_shows_credentials_or_the_query() -> None:
    with pytest.raises(Refused) as caught:
        check_url(OutboundPolicy(), f"https://admin:hunter2@10.0.0.5/path-{SECRET}?sig={SECRET}#{SECRET}")
    assert "hunter2" not in str(caught.value) and SECRET not in str(caught.value)


@given(st.text(), st.sampled_from(["", "https://", "http://", "https://[", "https://user:pw@"]), st.booleans())
def test_check_url_raises_nothing_but_refused(text: str, prefix: str, allow_private: bool) -> None:
    try:
        check_url(OutboundPolicy(allow_private=allow_private), prefix + text)
    except Refused as exc:
        assert str(exc).startswith("refused: ")


# --- the policy: describing a URL, TLS, settings ------------------------------------------------------------------

TEAMS = (
    "https://prod-42.westeurope.logic.azure.com:443/workflows/0a1b/triggers/manual/paths/invoke"
    f"?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SECRET}"
)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (TEAMS, "https://prod-42.westeurope.logic.azure.com:443/workflows/0a1b/triggers/manual/paths/invoke"),
        (f"https://admin:{SECRET}@jira.example.com/rest/api/2/issue#{SECRET}", "https://jira.example.com/rest/api/2/issue"),
        ("http://[::1]:8080/x?y=1", "http://[::1]:8080/x"),
        ("https://example.com", "https://example.com"),
        ("https://example.com:99999/", "<invalid URL>"),
        ("https://[::1/", "<invalid URL>"),
    ],
)
def test_describe_url(url: str, shown: str) -> None:
    assert describe_url(url) == shown


@given(st.text(), st.text(min_size=1))
def test_describe_url_never_raises_and_drops_the_query(prefix: str, secret: str) -> None:
    shown = describe_url(f"https://{prefix}?q={SECRET}{secret}")
    assert SECRET not in shown


def test_ssl_context_verifies_and_adds_the_ca_bundle(ca_bundle: Path) -> None:
    plain, with_bundle = ssl_context(OutboundPolicy()), ssl_context(OutboundPolicy(ca_bundle=ca_bundle))
    for context in (plain, with_bundle):
        assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert len(with_bundle.get_ca_certs()) == len(plain.get_ca_certs()) + 1
    assert len(plain.get_ca_certs()) > 100  # certifi's roots are there too: the bundle adds to the default trust


def test_policy_from_settings(tmp_path: Path) -> None:
    settings = Settings.model_construct(outbound_allow_private=True, ca_bundle=tmp_path / "ca.pem")
    assert OutboundPolicy.from_settings(settings) == OutboundPolicy(allow_private=True, ca_bundle=tmp_path / "ca.pem")
    assert OutboundPolicy.from_settings(Settings.model_construct()) == OutboundPolicy()


async def test_the_pagerduty_library_clients_send_through_the_guarded_transport(
    strict: OutboundPolicy, on_prem: OutboundPolicy, https_server: ServerFactory
) -> None:
    """The `pagerduty` library's REST and Events clients (subclasses of `httpx2.Client`) are built on the guard's
    transport: with the policy they reach a server its CA bundle trusts, without it they never connect."""
    server = await https_server()
    server.route("/abilities").respond(200, json={"abilities": []})
    server.route("/v2/enqueue").respond(202, json={"status": "success", "dedup_key": "k"})
    by_name = server.url_for("", host="localhost")

    def send(policy: OutboundPolicy) -> list[int]:
        api = PagerDutyApi(transport=httpx2_transport(policy), events_url=by_name, api_url=by_name, api_token=SECRET)
        reply = api.rest("GET", "/abilities")
        event = api.event("R" * 32, "trigger", dedup_key="k", payload={"summary": "s", "source": "v", "severity": "info"})
        return [reply.status, event.status]

    assert await asyncio.to_thread(send, on_prem) == [200, 202]
    assert [r.path for r in server.requests] == ["/abilities", "/v2/enqueue"]
    connections = server.connections
    with pytest.raises(DeliveryFailed) as refused:
        await asyncio.to_thread(send, strict)
    assert str(refused.value).startswith("refused: localhost resolves to a loopback address")
    assert refused.value.retryable is False and SECRET not in str(refused.value)
    assert server.connections == connections and len(server.requests) == 2
