"""What every provider shares: the fields it takes, the job it is handed, what it answers, and how an HTTP answer
becomes success, a retry or a failure.

A provider is one folder under `integrations/<kind>/` exposing one object that satisfies `Provider`; the worker,
the service and the CLI know nothing else about a vendor.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol
from urllib.parse import parse_qsl, urlsplit

import aiohttp

from integrations.http.aio import GuardedConnector
from integrations.http.guard import AddressChecker, OutboundPolicy, Refused, describe_url
from integrations.payloads import IncidentSnapshot, external_key

FieldType = Literal["str", "url", "json", "list", "bool", "severity"]

# Answers that will never succeed on a re-send: fail at once, and say so in the delivery log.
FINAL_STATUSES = frozenset({400, 401, 403, 404, 422})
MAX_RETRY_AFTER = 3600.0  # a Retry-After beyond an hour is the vendor misbehaving; the backoff takes over
ERROR_LIMIT = 500  # characters of an error kept in the delivery log
# Deliveries only a pager makes, on request rather than from a domain event (so no admin can select them): a page of
# an incident's on-call, and a page of a service outside any incident.
PAGED_EVENT = "incident.paged"
PAGE_EVENT = "page"
MASK = "••••"  # what a secret reads as wherever Vigil shows or records text that held one
MIN_MASKED = 4  # shorter values (a flag, a digit) are left alone: masking them would garble every message
MIN_CUT = 8  # the shortest first part of a secret, at the very end of a clipped message, that is masked too
MIN_MASKED_QUERY = 16  # a secret URL's query values this long are credentials (`sig`), shorter ones (`sv=1.0`) not


@dataclass(frozen=True)
class Field:
    """A `--set` or `--secret` key of a kind. `generated` secrets are made by Vigil when the admin gives none."""

    name: str
    type: FieldType = "str"
    default: Any = None
    required: bool = False
    generated: bool = False
    help: str = ""


@dataclass(frozen=True)
class Configured:
    """An integration as a provider sees it: settings, and secrets already opened (never logged, never stored)."""

    id: str
    team_id: str
    kind: str
    name: str
    config: Mapping[str, Any]
    secrets: Mapping[str, str] = field(repr=False)

    def signing_secrets(self) -> list[str]:
        """The inbound secret, then the previous one while a rotation overlaps."""
        return [s for s in (self.secrets.get("inbound_secret"), self.secrets.get("previous_inbound_secret")) if s]


@dataclass(frozen=True)
class Link:
    """What this incident already is in the other tool, if anything."""

    external_id: str | None
    external_url: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Person:
    """Who made the change, as other tools may know them: their email and the accounts linked to them (`/incident
    link`, or matched by email), by kind (`jira`, `linear`, `pagerduty`, `github`)."""

    user_id: str
    email: str | None = None
    name: str = ""
    identities: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Page:
    """One page a pager made: which target (`routing:integration`, `routing:component:<id>`, `service:<id>`), how
    (`events` or `rest`), under which dedup key, and where it stands, so its acknowledge and resolve go the same way.
    `external_id`/`external_url` are the vendor's incident when it is known (a REST page learns it at once)."""

    target: str
    method: str
    dedup_key: str
    status: str = "triggered"
    service_id: str | None = None
    external_id: str | None = None
    external_url: str | None = None
    paged_by: str | None = None


@dataclass(frozen=True)
class PagerTarget:
    """What a component pages: its service in the pager and its own routing key (opened), either optional. A key
    that does not open is named in `key_problem` rather than silently missing, so a page never falls back elsewhere."""

    component_id: int
    service_id: str | None = None
    routing_key: str | None = field(default=None, repr=False)
    key_problem: str | None = None


@dataclass(frozen=True)
class Job:
    """One delivery attempt. `payload` is the body frozen at the first attempt (None on the first)."""

    delivery_id: str
    event: str
    occurred_at: datetime
    now: datetime  # when this attempt is made (signatures carry it)
    integration: Configured
    incident: IncidentSnapshot | None
    data: Mapping[str, Any] = field(default_factory=dict)
    payload: Mapping[str, Any] | None = None
    link: Link | None = None
    timeout: float = 10.0  # seconds one HTTP call may take
    actor: Person | None = None  # who made the change (None: the CLI, the scheduler, a vendor)
    # For pagers only: this integration's pages of the incident (or of this delivery's page outside any incident),
    # the incident's component, and what each of the workspace's paging components pages (by component id).
    pages: tuple[Page, ...] = ()
    component_id: int | None = None
    pager_targets: Mapping[int, PagerTarget] = field(default_factory=dict)

    @property
    def is_test(self) -> bool:
        return self.event == "test"

    @property
    def external_key(self) -> str:
        """The incident's key in other tools (`vigil-<team>-<number>`); a job without an incident has none."""
        if self.incident is None:
            raise ValueError("a job without an incident has no external key")
        return external_key(self.integration.team_id, self.incident.number)


@dataclass(frozen=True)
class Sent:
    """A delivery the other side accepted (or that found the target already in the wanted state)."""

    payload: Mapping[str, Any] | None = None
    http_status: int | None = None
    external_id: str | None = None
    external_url: str | None = None
    link_data: Mapping[str, Any] | None = None
    note: str = ""
    pages: tuple[Page, ...] = ()  # pages made or moved, recorded (by target) with the delivery's outcome


class DeliveryFailed(Exception):
    """The other side did not take it. `retryable` decides between the backoff and failing at once."""

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        retryable: bool = True,
        retry_after: float | None = None,
        payload: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message[:ERROR_LIMIT])
        self.http_status = http_status
        self.retryable = retryable
        self.retry_after = retry_after
        self.payload = payload


def secret_values(secrets: Iterable[str]) -> list[str]:
    """The strings to mask for these secrets, longest first: each value, and each query value of a secret URL (a
    Teams Workflows URL's `sig`), since a vendor quoting the URL back may quote only part of it."""
    values: set[str] = set()
    for secret in secrets:
        values.add(secret)
        if secret.startswith(("https://", "http://")):
            with contextlib.suppress(ValueError):  # not a URL after all: its value is masked whole
                values.update(v for _, v in parse_qsl(urlsplit(secret).query) if len(v) >= MIN_MASKED_QUERY)
    return sorted((v for v in values if len(v) >= MIN_MASKED), key=len, reverse=True)


def without_secrets(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret in it masked. Errors quote what vendors answered, and a vendor may quote the
    credential back ("API key … is not valid", the URL it was called on); the delivery log, the job log, the logs,
    the CLI and App Home show errors, and none of them may show a secret."""
    values = secret_values(secrets)
    for value in values:
        text = text.replace(value, MASK)
    # A quote cut short (answers are clipped at the end) may end in the first part of a secret. A secret URL's start
    # (scheme, host, path) is no secret, and is what errors name, so only its query values count here.
    for value in (v for v in values if not v.startswith(("https://", "http://"))):
        for size in range(len(value) - 1, MIN_CUT - 1, -1):
            if text.endswith(value[:size]):
                return text[:-size] + MASK
    return text


def masked_failure(failure: DeliveryFailed, secrets: Iterable[str]) -> DeliveryFailed:
    """The same failure with its message masked (`without_secrets`); the failure itself when nothing was masked."""
    message = without_secrets(str(failure), secrets)
    if message == str(failure):
        return failure
    return DeliveryFailed(
        message,
        http_status=failure.http_status,
        retryable=failure.retryable,
        retry_after=failure.retry_after,
        payload=failure.payload,
    )


class ConfigProblem(Exception):
    """An integration's settings or secrets are unusable; the message names the key, never a secret's value."""


class Provider(Protocol):
    kind: str
    settings: tuple[Field, ...]
    secrets: tuple[Field, ...]
    include_private_default: bool

    def handles(self, event: str) -> bool:
        """Whether this kind sends anything for `event` (a ticketing tool may ignore acknowledgements)."""
        ...

    def check(self, config: Mapping[str, Any], secrets: Mapping[str, str]) -> list[str]:
        """Problems with a configuration beyond each field's own type (one line each, no secret values)."""
        ...

    async def deliver(self, job: Job, http: aiohttp.ClientSession) -> Sent:
        """Send one event (or the `[TEST]` sample when `job.is_test`); raise DeliveryFailed when it is not taken."""
        ...

    async def probe(self, integration: Configured, http: aiohttp.ClientSession) -> str:
        """`vigil check`: validate what can be validated without posting anything; a one-line result, or
        DeliveryFailed/ConfigProblem."""
        ...


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header in seconds (delta-seconds only; an HTTP date is rare from APIs), bounded."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if seconds != seconds or seconds < 0:  # NaN or negative
        return None
    return min(seconds, MAX_RETRY_AFTER)


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    headers: Mapping[str, str]
    duration_ms: int


async def request(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    within: float = 10.0,
    payload: Mapping[str, Any] | None = None,
    limit: int = 64 * 1024,
) -> Answer:
    """One HTTP call with whatever status comes back (callers classify it); only not getting an answer raises: a
    refusal of the outbound guard finally, a timeout, TLS or connection failure retryably. Errors name the host
    and path, never the query (it may carry a secret)."""
    where = describe_url(url)
    started = time.monotonic()
    try:
        async with http.request(
            method,
            url,
            data=body,
            headers=dict(headers or {}),
            timeout=aiohttp.ClientTimeout(total=within),
            allow_redirects=False,
        ) as resp:
            data = await resp.content.read(limit)
            return Answer(resp.status, data, dict(resp.headers), int((time.monotonic() - started) * 1000))
    except Refused as exc:
        raise DeliveryFailed(str(exc), retryable=False, payload=payload) from None
    except TimeoutError:
        raise DeliveryFailed(f"no answer from {where} within {within:g} s", payload=payload) from None
    except aiohttp.ClientSSLError as exc:
        raise DeliveryFailed(
            f"TLS failed with {where} ({type(exc).__name__}); see VIGIL_CA_BUNDLE", payload=payload
        ) from None
    except (aiohttp.ClientError, OSError, asyncio.IncompleteReadError) as exc:
        raise DeliveryFailed(f"could not reach {where} ({type(exc).__name__})", payload=payload) from None


def raise_for_status(answer: Answer, *, url: str, payload: Mapping[str, Any] | None = None) -> None:
    """Nothing for a 2xx; a final DeliveryFailed for 400/401/403/404/422; a retryable one otherwise (429 and 503
    with their Retry-After)."""
    if 200 <= answer.status < 300:
        return
    snippet = answer.body[:200].decode("utf-8", "replace").strip()
    message = f"{describe_url(url)} answered {answer.status}" + (f": {snippet}" if snippet else "")
    if answer.status in FINAL_STATUSES:
        raise DeliveryFailed(message, http_status=answer.status, retryable=False, payload=payload)
    retry_after = retry_after_seconds(answer.headers.get("Retry-After")) if answer.status in (429, 503) else None
    raise DeliveryFailed(message, http_status=answer.status, retry_after=retry_after, payload=payload)


async def post_json(
    http: aiohttp.ClientSession,
    url: str,
    *,
    body: bytes,
    headers: Mapping[str, str] | None = None,
    within: float = 10.0,
    payload: Mapping[str, Any] | None = None,
) -> Answer:
    """POST bytes as JSON; a 2xx returns, anything else raises (see `request` and `raise_for_status`)."""
    answer = await request(
        http,
        "POST",
        url,
        body=body,
        headers={"Content-Type": "application/json", **(headers or {})},
        within=within,
        payload=payload,
    )
    raise_for_status(answer, url=url, payload=payload)
    return answer


async def head_probe(http: aiohttp.ClientSession, url: str, *, within: float = 10.0) -> str:
    """DNS, TLS and the outbound guard checked by a HEAD request: whatever status answers, nothing was posted."""
    where = describe_url(url)
    try:
        async with http.head(url, allow_redirects=False, timeout=aiohttp.ClientTimeout(total=within)) as resp:
            return f"reachable: {where} answered HEAD with {resp.status}"
    except Refused as exc:
        raise DeliveryFailed(str(exc), retryable=False) from None
    except TimeoutError:
        raise DeliveryFailed(f"no answer from {where} within {within:g} s") from None
    except aiohttp.ClientSSLError as exc:
        raise DeliveryFailed(f"TLS failed with {where} ({type(exc).__name__}); see VIGIL_CA_BUNDLE") from None
    except (aiohttp.ClientError, OSError) as exc:
        raise DeliveryFailed(f"could not reach {where} ({type(exc).__name__})") from None


def session_guard(http: aiohttp.ClientSession, *, vendor: str) -> tuple[OutboundPolicy, AddressChecker]:
    """The policy and address check of the shared session's guard, for a vendor library's own HTTP client (which
    must obey exactly the same rules); a session without the guard refuses rather than sending unguarded."""
    connector = http.connector
    if isinstance(connector, GuardedConnector):
        return connector.guard
    raise DeliveryFailed(f"refused: no outbound guard policy to put on the {vendor} client", retryable=False)
