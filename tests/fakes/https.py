"""Recording fake HTTP(S) servers: the base for fake Jira, PagerDuty, Linear and webhook receivers.

A `RecordingServer` is an aiohttp web server on 127.0.0.1 with an ephemeral port, speaking TLS with a certificate
of the session's test CA (for `127.0.0.1`, `localhost` and `::1`) or plain HTTP. It records every request and
answers from a script:

    server = await https_server()                   # the fixture from tests/fakes/plugin.py
    server.respond(201, json={"id": "INC-1"})        # queued answers, first in first out
    server.default = 404                             # then this (an Answer, a status, or (status, json-or-bytes))
    server.route("/rest/api/2/issue", "POST").respond(201, json={"key": "OPS-1"})   # per path (and method)
    server.redirect_to("https://elsewhere/", status=307)
    server.handler = my_async_handler                # full control: async (request) -> web.StreamResponse
    gate = asyncio.Event(); server.respond(200, delay=gate)   # held until gate.set() (or the server stops)
    await server.wait_for(2)                         # until two requests arrived; returns server.requests

What answers a request: the first matching route's queue, handler, default (a route has no default unless given
one), then the server's queue, handler and default (200, empty). A request is recorded (`Recorded`) before its
answer is chosen and before any delay, so `wait_for` sees a request whose answer is still held. `connections`
counts TCP connections accepted, to prove that a refused client never even connected.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import re
import socket
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self

import trustme
from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
SERVER_IDENTITIES = ("127.0.0.1", "localhost", "::1")


def issue_server_cert(ca: trustme.CA) -> trustme.LeafCert:
    """A server certificate of `ca` valid for the names a fake answers on."""
    return ca.issue_cert(*SERVER_IDENTITIES)


def server_ssl_context(cert: trustme.LeafCert) -> ssl.SSLContext:
    """A TLS server context presenting `cert`."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    return context


@dataclass(frozen=True)
class Recorded:
    """One request as the fake saw it: `headers` is case-insensitive, `query` keeps repeated keys."""

    method: str
    path: str
    query: MultiDictProxy[str]
    headers: CIMultiDictProxy[str]
    body: bytes
    at: float  # time.monotonic() on arrival

    def json(self) -> Any:
        return jsonlib.loads(self.body)

    def text(self) -> str:
        return self.body.decode("utf-8")


@dataclass(frozen=True)
class Answer:
    """A scripted answer; `json` (when not None) is serialised as the body with its content type."""

    status: int = 200
    json: Any = None
    body: bytes = b""
    headers: Mapping[str, str] | None = None
    delay: asyncio.Event | None = field(default=None, compare=False)

    def response(self) -> web.Response:
        headers = dict(self.headers or {})
        if self.json is not None:
            headers.setdefault("Content-Type", "application/json")
            return web.Response(status=self.status, body=jsonlib.dumps(self.json).encode(), headers=headers)
        return web.Response(status=self.status, body=self.body, headers=headers)


def as_answer(value: Answer | int | tuple[Any, ...]) -> Answer:
    """An `Answer` from the short forms: `404`, `(404,)`, `(200, {"ok": True})`, `(200, b"raw")`."""
    if isinstance(value, Answer):
        return value
    if isinstance(value, int):
        return Answer(value)
    status, *rest = value
    if not rest:
        return Answer(status)
    (payload,) = rest
    return Answer(status, body=payload) if isinstance(payload, bytes) else Answer(status, json=payload)


class Script:
    """What to answer: a queue of answers, then a handler, then a default; and the requests it saw."""

    def __init__(self, default: Answer | None) -> None:
        self._queue: deque[Answer] = deque()
        self._default = default
        self.handler: Handler | None = None
        self.requests: list[Recorded] = []
        self._held: set[asyncio.Event] = set()

    @property
    def default(self) -> Answer | None:
        return self._default

    @default.setter
    def default(self, value: Answer | int | tuple[Any, ...] | None) -> None:
        self._default = None if value is None else self._hold(as_answer(value))

    def respond(
        self,
        status: int = 200,
        json: Any = None,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
        *,
        delay: asyncio.Event | None = None,
    ) -> Self:
        """Queue one answer; with `delay`, it is sent only once that event is set (or the server stops)."""
        self._queue.append(self._hold(Answer(status, json, body, headers, delay)))
        return self

    def redirect_to(self, url: str, status: int = 302, *, delay: asyncio.Event | None = None) -> Self:
        """Queue a redirect to `url` (absolute or relative)."""
        return self.respond(status, headers={"Location": url}, delay=delay)

    def _hold(self, answer: Answer) -> Answer:
        if answer.delay is not None:
            self._held.add(answer.delay)
        return answer

    def _next(self) -> Answer | Handler | None:
        if self._queue:
            return self._queue.popleft()
        if self.handler is not None:
            return self.handler
        return self._default


class Route(Script):
    """Answers for one path (exact, or a compiled regex matched in full), optionally one method."""

    def __init__(self, path: str | re.Pattern[str], method: str | None) -> None:
        super().__init__(default=None)
        self.path = path
        self.method = method.upper() if method else None

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and method != self.method:
            return False
        if isinstance(self.path, re.Pattern):
            return self.path.fullmatch(path) is not None
        return path == self.path


class RecordingServer(Script):
    """A fake HTTP(S) server on 127.0.0.1 (see the module docstring); `ssl_context=None` serves plain HTTP."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None, host: str = "127.0.0.1") -> None:
        super().__init__(default=Answer(200))
        self.host = host
        self.connections = 0
        self._ssl_context = ssl_context
        self._routes: list[Route] = []
        self._accepted: list[RequestHandler] = []
        self._arrived = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._listener: asyncio.Server | None = None
        self._port: int | None = None

    # --- lifecycle ---

    async def start(self) -> Self:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # A short shutdown: held answers are released on stop, anything else is a test's leftover.
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        protocols = self._runner.server
        assert protocols is not None

        def accept() -> asyncio.BaseProtocol:
            self.connections += 1
            protocol = protocols()
            self._accepted.append(protocol)
            return protocol

        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.bind((self.host, 0))
        self._port = sock.getsockname()[1]
        self._listener = await asyncio.get_running_loop().create_server(accept, sock=sock, ssl=self._ssl_context)
        return self

    async def stop(self) -> None:
        """Release held answers, stop listening and cut every connection (a fake owes nobody a graceful close)."""
        self.release()
        if self._listener is not None:
            self._listener.close()
        # Abort rather than close: a graceful TLS close waits for the client's close_notify, which a client that went
        # away (or runs in another thread) may never send, and the socket would outlive the test and its loop.
        for protocol in self._accepted:
            if protocol.transport is not None:
                protocol.transport.abort()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._listener is not None:
            await self._listener.wait_closed()
            self._listener = None
        async with asyncio.timeout(1.0):
            # Aborted transports report their loss a loop turn or two later; asyncio offers nothing to await for it.
            while any(protocol.transport is not None for protocol in self._accepted):  # noqa: ASYNC110
                await asyncio.sleep(0)

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def release(self) -> None:
        """Send every held answer (each `delay` event set)."""
        for script in (self, *self._routes):
            for event in script._held:
                event.set()

    # --- where it is ---

    @property
    def scheme(self) -> str:
        return "https" if self._ssl_context is not None else "http"

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the server is not started")
        return self._port

    @property
    def url(self) -> str:
        """`scheme://host:port`, no trailing slash: append a path."""
        return self.url_for("")

    def url_for(self, path: str = "/", *, host: str | None = None) -> str:
        """The URL of `path` on this server, optionally under another name of it (`localhost`)."""
        name = host or self.host
        if ":" in name:
            name = f"[{name}]"
        return f"{self.scheme}://{name}:{self.port}{path}"

    # --- script and record ---

    def route(self, path: str | re.Pattern[str], method: str | None = None) -> Route:
        """A script for one path (and method); routes are tried in the order they were added."""
        route = Route(path, method)
        self._routes.append(route)
        return route

    async def wait_for(self, n: int, timeout: float = 5.0) -> list[Recorded]:
        """Wait until at least `n` requests arrived (an AssertionError after `timeout` seconds)."""
        try:
            async with asyncio.timeout(timeout), self._arrived:
                await self._arrived.wait_for(lambda: len(self.requests) >= n)
        except TimeoutError:
            raise AssertionError(f"expected {n} requests within {timeout:g} s, got {len(self.requests)}") from None
        return self.requests

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        recorded = Recorded(
            method=request.method,
            path=request.path,
            query=MultiDictProxy(MultiDict(request.query)),
            headers=CIMultiDictProxy(CIMultiDict(request.headers)),
            body=await request.read(),
            at=time.monotonic(),
        )
        route = next((r for r in self._routes if r.matches(recorded.method, recorded.path)), None)
        self.requests.append(recorded)
        if route is not None:
            route.requests.append(recorded)
        async with self._arrived:
            self._arrived.notify_all()
        answer = (route._next() if route is not None else None) or self._next()
        if answer is None:  # pragma: no cover - the server's default is never None unless a test sets it so
            return web.Response(status=500, text="the fake has no answer scripted")
        if isinstance(answer, Answer):
            if answer.delay is not None:
                await answer.delay.wait()
            return answer.response()
        return await answer(request)
