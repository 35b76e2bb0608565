"""The `pagerduty` library's two clients (REST API v2 and Events API v2) behind a small synchronous surface, which
callers run under `asyncio.to_thread` (the library has no async client).

Why a wrapper rather than the library as it is: by default it retries a 429 forever and a failed Events call up to
six times, sleeping with `time.sleep` between tries (nothing the worker can bound, nor a test skip); and the message
of its 401 error shows the end of the key. So here its own loop is off — a request is one HTTP call, a connection
failure raises at once — and this module decides instead: a 429 is waited out for `ratelimit-reset` seconds with an
injected `sleep`, at most `waits` times (the sync waits; a delivery does not, and hands the wait to the outbox as
`retry_after`). Every answer and failure leaves here as a `Reply` or a `DeliveryFailed` that names the host and path
and PagerDuty's own error text, never a key, a token or a query string.

Every client is built on the outbound guard's httpx2 transport, one per policy, shared by all the clients made from
it (clients are cheap; the transport holds the TLS context and the connection pool, so it is never closed here).
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx2
import pagerduty

from integrations.base import FINAL_STATUSES, Configured, DeliveryFailed, retry_after_seconds
from integrations.http.guard import AddressChecker, OutboundPolicy, Refused, check_address, describe_url
from integrations.http.sync import GuardedTransport, httpx2_transport

T = TypeVar("T")
Sleep = Callable[[float], None]

DEFAULT_EVENTS_URL = "https://events.pagerduty.com"
DEFAULT_API_URL = "https://api.pagerduty.com"
PAGE_SIZE = 100  # PagerDuty's largest page
OFFSET_LIMIT = 10000  # classic pagination refuses offset + limit beyond this
LONGEST_WAIT = 60.0  # seconds one wait lasts at most (PagerDuty resets its limits within a minute)
SNIPPET = 200
# Statuses the library would retry on its own; each is given one attempt (see `_one_call`).
LIBRARY_RETRIES = (429, 500, 502, 503, 504)


class _LibraryLog(logging.LoggerAdapter[logging.Logger]):
    """The library's log, less one line: it calls every answer it does not retry a "non-transient HTTP error" at
    ERROR level, which with its loop off is every 429 and 5xx, and this module reports those itself."""

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if "Non-transient HTTP error" not in str(msg):
            super().log(level, msg, *args, **kwargs)


def _one_call(client: pagerduty.ApiClient, *, timeout: float) -> None:
    """Make the library send each request once. Its loop returns an answer whose status has a `retry` entry as soon
    as the attempts of all statuses together exceed `max_http_attempts`; -1 means at once. A 429 without an entry
    would be retried forever, so every status it knows to retry gets one."""
    client.retry = dict.fromkeys(LIBRARY_RETRIES, 1)
    client.max_http_attempts = -1
    client.max_network_attempts = 0
    client.timeout = timeout  # type: ignore[assignment]  # typed int by the library; httpx2 takes seconds as float
    # The library only calls debug/warning/error on it, which an adapter has.
    client.log = _LibraryLog(logging.getLogger("integrations.pagerduty.library"), {})  # type: ignore[assignment]


@dataclass(frozen=True)
class Reply:
    """One answer: its status, decoded JSON body (None when not JSON) and headers."""

    status: int
    data: Any
    headers: Mapping[str, str]
    where: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def said(self) -> str:
        """PagerDuty's own words: `error.message` and `error.errors` (REST), or `message` and `errors` (Events)."""
        data: Mapping[str, Any] = self.data if isinstance(self.data, Mapping) else {}
        nested = data.get("error")
        error: Mapping[str, Any] = nested if isinstance(nested, Mapping) else data
        parts = [str(error.get("message") or "")]
        errors = error.get("errors")
        if isinstance(errors, list):
            parts += [str(e) for e in errors]
        return " ".join(" ".join(p for p in parts if p).split())[:SNIPPET]

    def retry_after(self) -> float | None:
        """`ratelimit-reset` (PagerDuty's REST API), else `Retry-After`, in seconds."""
        headers = {k.lower(): v for k, v in self.headers.items()}
        return retry_after_seconds(headers.get("ratelimit-reset") or headers.get("retry-after"))


def raise_for(reply: Reply, *, payload: Mapping[str, Any] | None = None) -> None:
    """Nothing for a 2xx; a final DeliveryFailed for 400/401/403/404/422; a retryable one otherwise (429 with its
    `ratelimit-reset`)."""
    if reply.ok:
        return
    said = reply.said()
    message = f"{reply.where} answered {reply.status}" + (f": {said}" if said else "")
    if reply.status in FINAL_STATUSES:
        raise DeliveryFailed(message, http_status=reply.status, retryable=False, payload=payload)
    wait = reply.retry_after() if reply.status in (429, 503) else None
    raise DeliveryFailed(message, http_status=reply.status, retry_after=wait, payload=payload)


@dataclass
class Transports:
    """The guarded httpx2 transport of each outbound policy (and address check), made on first use by whichever
    worker thread needs it first."""

    made: dict[tuple[OutboundPolicy, AddressChecker], GuardedTransport] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def for_policy(self, policy: OutboundPolicy, checker: AddressChecker = check_address) -> GuardedTransport:
        with self.lock:
            key = (policy, checker)
            if key not in self.made:
                self.made[key] = httpx2_transport(policy, checker=checker)
            return self.made[key]

    def close(self) -> None:
        for transport in self.made.values():
            transport.close()
        self.made.clear()


class PagerDutyApi:
    """One integration's PagerDuty: the Events API under any routing key, and the REST API with its token (when it
    has one). Every method blocks; `waits` is how many 429s a call waits out before it answers with one."""

    def __init__(
        self,
        *,
        transport: GuardedTransport,
        events_url: str = DEFAULT_EVENTS_URL,
        api_url: str = DEFAULT_API_URL,
        api_token: str | None = None,
        from_email: str | None = None,
        timeout: float = 10.0,
        sleep: Sleep = time.sleep,
        waits: int = 0,
    ) -> None:
        self.transport = transport
        self.events_url = events_url.rstrip("/")
        self.api_url = api_url.rstrip("/")
        self.from_email = from_email
        self.timeout = timeout
        self.sleep = sleep
        self.waits = waits
        self.requests = 0  # HTTP requests made (a sync reports them)
        self.rate_limited = 0  # 429s waited out
        self.truncated = False  # the last listing stopped at PagerDuty's offset limit
        self._rest: pagerduty.RestApiV2Client | None = None
        if api_token:
            self._rest = self._built(
                lambda: pagerduty.RestApiV2Client(
                    api_token,
                    default_from=from_email or None,
                    base_url=self.api_url,
                    transport=transport,
                    trust_env=False,
                ),
                self.api_url,
            )

    @property
    def has_token(self) -> bool:
        return self._rest is not None

    def _built(self, make: Callable[[], T], url: str) -> T:
        try:
            client = make()
        except pagerduty.UrlError:
            raise DeliveryFailed(
                f"{describe_url(url)}: the pagerduty library needs an https:// URL", retryable=False
            ) from None
        assert isinstance(client, pagerduty.ApiClient)
        _one_call(client, timeout=self.timeout)
        return client

    # ---------------------------------------------------------------- Events API v2

    def event(self, routing_key: str, action: str, *, dedup_key: str, **properties: Any) -> Reply:
        """Send `trigger`, `acknowledge` or `resolve`; a 202 (PagerDuty folds a trigger into the open alert with the
        same dedup key, and drops an acknowledge or resolve that finds none) or a DeliveryFailed."""
        client = self._events(routing_key)
        where = describe_url(self.events_url + "/v2/enqueue")
        self._calling(lambda: client.send_event(action, dedup_key=dedup_key, **properties), where)
        return Reply(202, {"dedup_key": dedup_key}, {}, where)

    def change_event(self, routing_key: str, *, payload: Mapping[str, Any], links: list[dict[str, str]]) -> Reply:
        """A change event: shown on the service's timeline, never pages anyone (what `test` sends)."""
        client = self._events(routing_key)
        where = describe_url(self.events_url + "/v2/change/enqueue")
        self._calling(lambda: client.send_change_event(payload=dict(payload), links=links), where)
        return Reply(202, None, {}, where)

    def _events(self, routing_key: str) -> pagerduty.EventsApiV2Client:
        return self._built(
            lambda: pagerduty.EventsApiV2Client(
                routing_key, base_url=self.events_url, transport=self.transport, trust_env=False
            ),
            self.events_url,
        )

    def _calling(self, send: Callable[[], object], where: str) -> None:
        """Run one Events call, waiting out 429s; the library raises for any answer but a 2xx with a dedup key."""
        attempt = 0
        while True:
            try:
                self._guarded(send, where)
                return
            except pagerduty.ServerHttpError as exc:
                response = exc.response
                if response is None or response.is_success:
                    raise DeliveryFailed(f"{where} answered without the dedup_key it always returns") from None
                reply = _reply(response, where)
            except pagerduty.HttpError as exc:
                reply = _reply(exc.response, where)
            if reply.status != 429 or attempt >= self.waits:
                raise_for(reply)
                raise DeliveryFailed(f"{where} answered {reply.status}")  # a 2xx the library refused: not reached
            self._wait(reply, attempt)
            attempt += 1

    # ---------------------------------------------------------------- REST API v2

    def rest(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Reply:
        """One REST call (429s waited out up to `waits`); whatever status comes back, only no answer raises."""
        client = self._rest
        if client is None:
            raise DeliveryFailed("api_token: not set; the REST API needs it (--secret api_token=-)", retryable=False)
        where = describe_url(self.api_url + path)
        kwargs: dict[str, Any] = {}
        if params is not None:
            kwargs["params"] = dict(params)
        if body is not None:
            kwargs["json"] = dict(body)
        attempt = 0
        while True:
            response: httpx2.Response | None
            try:
                response = self._guarded(lambda: client.request(method, path, **kwargs), where)
            except pagerduty.HttpError as exc:  # the library raises on a 401 rather than returning it
                response = exc.response
            reply = _reply(response, where)
            if reply.status != 429 or attempt >= self.waits:
                return reply
            self._wait(reply, attempt)
            attempt += 1

    def pages(self, path: str, key: str, params: Mapping[str, Any] | None = None) -> Iterator[list[dict[str, Any]]]:
        """The items of a listing, a page at a time: classic pagination (`limit`, `offset`, `more`) up to PagerDuty's
        offset limit, or cursors (`cursor`, `next_cursor`) where an endpoint answers with them. `truncated` tells
        whether the offset limit cut the listing short."""
        self.truncated = False
        offset, cursor = 0, None
        while True:
            limit = min(PAGE_SIZE, OFFSET_LIMIT - offset)
            if limit <= 0:
                self.truncated = True
                return
            query: dict[str, Any] = {**(params or {}), "limit": limit}
            if cursor is not None:
                query["cursor"] = cursor
            else:
                query["offset"], query["total"] = offset, "false"
            reply = self.rest("GET", path, params=query)
            raise_for(reply)
            data = reply.data if isinstance(reply.data, Mapping) else {}
            items = [item for item in data.get(key) or [] if isinstance(item, Mapping)]
            yield [dict(item) for item in items]
            if data.get("next_cursor"):
                cursor = str(data["next_cursor"])
                continue
            if not data.get("more") or not items or cursor is not None:
                return
            offset += len(items)

    # ---------------------------------------------------------------- plumbing

    def _wait(self, reply: Reply, attempt: int) -> None:
        self.rate_limited += 1
        wait = reply.retry_after()
        self.sleep(min(LONGEST_WAIT, wait if wait is not None else float(2**attempt)))

    def _guarded(self, call: Callable[[], T], where: str) -> T:
        """One library call with what can go wrong before an answer turned into DeliveryFailed."""
        self.requests += 1
        try:
            return call()
        except Refused as exc:
            raise DeliveryFailed(str(exc), retryable=False) from None
        except pagerduty.HttpError:
            raise
        except pagerduty.Error as exc:  # the library's "network error" around httpx2's own
            raise _unreached(exc.__cause__ or exc, where, self.timeout) from None
        except httpx2.TransportError as exc:
            raise _unreached(exc, where, self.timeout) from None


def api_for(
    integration: Configured, transport: GuardedTransport, *, timeout: float, sleep: Sleep = time.sleep, waits: int = 0
) -> PagerDutyApi:
    """An integration's client from its settings and opened secrets."""
    config = integration.config
    return PagerDutyApi(
        transport=transport,
        events_url=str(config.get("events_url") or DEFAULT_EVENTS_URL),
        api_url=str(config.get("api_url") or DEFAULT_API_URL),
        api_token=integration.secrets.get("api_token") or None,
        from_email=str(config.get("from_email") or "") or None,
        timeout=timeout,
        sleep=sleep,
        waits=waits,
    )


def _reply(response: httpx2.Response | None, where: str) -> Reply:
    if response is None:
        raise DeliveryFailed(f"no answer from {where}")
    try:
        data = json.loads(response.content) if response.content else None
    except ValueError:
        data = None
    return Reply(response.status_code, data, dict(response.headers), where)


def _unreached(exc: BaseException, where: str, timeout: float) -> DeliveryFailed:
    if isinstance(exc, httpx2.TimeoutException):
        return DeliveryFailed(f"no answer from {where} within {timeout:g} s")
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            return DeliveryFailed(f"TLS failed with {where} ({type(cause).__name__}); see VIGIL_CA_BUNDLE")
        cause = cause.__cause__ or cause.__context__
    return DeliveryFailed(f"could not reach {where} ({type(exc).__name__})")
