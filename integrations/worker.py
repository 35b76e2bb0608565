"""The delivery worker: claims due deliveries, hands each to its provider, records what happened.

At least once, never twice on purpose: a claim is a lease, so a worker that dies mid-send leaves the row to be
claimed again when the lease ends, and the re-send carries the same delivery id (and the provider's idempotency
key), which is what keeps a crash between the vendor's answer and our commit from opening a second ticket.
Several workers (replicas) share the table; `claim_due` makes sure no row is taken twice at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.incidents.step_runner import refresh_opening
from db.deliveries import claim_due, claimed, fail_followers, record, release, renew, upsert_link
from db.engine import OutageNotice
from db.leases import renew_until
from db.models import Component, Delivery, Identity, Incident, IncidentPage, Integration, IntegrationLink, User, Workspace
from db.pagerduty import pages_of, paging_components, routing_key_aad, upsert_page
from integrations.base import (
    ERROR_LIMIT,
    ConfigProblem,
    Configured,
    DeliveryFailed,
    Job,
    Link,
    Page,
    PagerTarget,
    Person,
    Provider,
    Sent,
    masked_failure,
)
from integrations.payloads import IncidentSnapshot
from integrations.registry import Registry
from integrations.secret_box import KeyRing, NoKeyRing, Tampered, UnknownKey

log = logging.getLogger(__name__)

BACKOFF = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30))
MAX_ATTEMPTS = len(BACKOFF) + 1
# A claim lapses this long after its worker last renewed it: a delivery held by a process that died (kill -9, a lost
# node) is taken up by another worker, or by the restarted one, within it. A live worker renews its claims every
# RENEW_EVERY while its attempts run, however long they take (a provider may make several calls).
LEASE = timedelta(seconds=20)
RENEW_EVERY = LEASE / 4
ATTEMPT_TIMEOUT = 10.0  # one HTTP call; a provider making several gets three times this in all
# An `incident.opened` waits this long for the incident's Slack channel, so the first thing a receiver sees links to
# it; after that it goes without (Slack may be down, the incident is not).
CHANNEL_WAIT = timedelta(seconds=15)
HISTORY_KEPT = 10
OPENED_KEPT = 1000  # integrations whose opened secrets are kept in memory (a workspace has a handful)


def secrets_of(keys: KeyRing, integration: Integration, *, now: datetime) -> dict[str, str]:
    """The integration's secrets, opened; the previous inbound secret only while its rotation overlap lasts."""
    if not integration.secrets:
        return {}
    opened = keys.open(integration.secrets, aad=integration.id)
    until = integration.previous_secret_until
    if until is None or until <= now:
        opened.pop("previous_inbound_secret", None)
    return opened


def configured(keys: KeyRing, integration: Integration, *, now: datetime) -> Configured:
    return Configured(
        id=integration.id,
        team_id=integration.team_id,
        kind=integration.kind,
        name=integration.name,
        config=dict(integration.config or {}),
        secrets=secrets_of(keys, integration, now=now),
    )


def channel_url(workspace_url: str | None, *, team_id: str, channel_id: str | None) -> str | None:
    if not channel_id:
        return None
    if workspace_url:
        return f"{workspace_url.rstrip('/')}/archives/{channel_id}"
    return f"https://slack.com/app_redirect?team={team_id}&channel={channel_id}"


def snapshot(incident: Incident, *, workspace_url: str | None, component: str | None = None) -> IncidentSnapshot:
    return IncidentSnapshot(
        number=incident.number,
        key=incident.ref,
        title=incident.title,
        severity=incident.severity,
        status=incident.status,
        private=incident.private,
        commander=incident.commander_id,
        channel_id=incident.channel_id,
        channel_url=channel_url(workspace_url, team_id=incident.team_id, channel_id=incident.channel_id),
        created_at=incident.created_at,
        acknowledged_at=incident.acknowledged_at,
        resolved_at=incident.resolved_at,
        closed_at=incident.closed_at,
        component=component,
        description=incident.description or "",
        resolution=incident.resolution,
    )


def pager_target(keys: KeyRing, component: Component) -> PagerTarget:
    """A component's service and opened routing key; a key that does not open is named, not dropped."""
    routing_key, problem = None, None
    if component.pagerduty_routing_key:
        try:
            routing_key = keys.open(component.pagerduty_routing_key, aad=routing_key_aad(component.id)).get("routing_key")
        except (NoKeyRing, UnknownKey) as exc:
            problem = str(exc)
        except Tampered:
            problem = "the stored routing key does not decrypt; set it again"
    return PagerTarget(component.id, component.pagerduty_service_id, routing_key, problem)


def page_of(row: IncidentPage) -> Page:
    return Page(
        target=row.target,
        method=row.method,
        dedup_key=row.dedup_key,
        status=row.status,
        service_id=row.service_id,
        external_id=row.pd_incident_id,
        external_url=row.pd_incident_url,
        paged_by=row.paged_by,
    )


@dataclass(frozen=True)
class PagerContext:
    """What a pager's delivery is handed beside the incident: its pages, and the workspace's paging components."""

    pages: tuple[Page, ...] = ()
    targets: dict[int, PagerTarget] = field(default_factory=dict)


@dataclass
class Outcome:
    """One attempt's result, as written to the delivery row."""

    delivery: Delivery
    token: str
    sent: Sent | None = None
    failure: DeliveryFailed | None = None
    duration_ms: int = 0
    final_attempt: bool = False

    @property
    def gives_up(self) -> bool:
        """A failure that is final: not retryable, out of attempts, or a one-shot attempt (a test)."""
        failure = self.failure
        return failure is not None and (
            not failure.retryable or self.final_attempt or self.delivery.attempts + 1 >= MAX_ATTEMPTS
        )

    def row(self, now: datetime) -> dict[str, Any]:
        d = self.delivery
        attempt = d.attempts + 1
        entry: dict[str, Any] = {"n": attempt, "at": now.isoformat(), "ms": self.duration_ms}
        result: dict[str, Any] = {
            "id": d.id,
            "token": self.token,
            "attempts": attempt,
            "last_attempt_at": now,
            "duration_ms": self.duration_ms,
            "external_id": d.external_id,
        }
        if self.sent is not None:
            entry |= {"outcome": "success", "http_status": self.sent.http_status}
            if self.sent.note:
                entry["note"] = self.sent.note[:ERROR_LIMIT]
            result |= {
                "status": "success",
                "next_attempt_at": None,
                "http_status": self.sent.http_status,
                "external_id": self.sent.external_id or d.external_id,
                "error": None,
                "payload": dict(self.sent.payload) if self.sent.payload is not None else d.payload,
            }
        else:
            failure = self.failure or DeliveryFailed("unknown failure")
            retry = not self.gives_up
            status = "retrying" if retry else "failed"
            wait = (
                timedelta(seconds=failure.retry_after) if failure.retry_after is not None else BACKOFF[min(attempt, 3) - 1]
            )
            entry |= {"outcome": status, "http_status": failure.http_status, "error": str(failure)}
            result |= {
                "status": status,
                "next_attempt_at": now + wait if retry else None,
                "http_status": failure.http_status,
                "error": str(failure),
                "payload": dict(failure.payload) if failure.payload is not None else d.payload,
            }
        result["history"] = [*(d.history or []), entry][-HISTORY_KEPT:]
        return result


class DeliveryWorker:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        keys: KeyRing,
        providers: Registry,
        http: Callable[[], aiohttp.ClientSession],
        batch: int = 100,
        poll_interval: float = 1.0,
        attempt_timeout: float = ATTEMPT_TIMEOUT,
        enabled: bool = True,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.keys = keys
        self.providers: dict[str, Provider] = {kind: factory() for kind, factory in providers.items()}
        self.http = http
        self.batch = batch
        self.poll_interval = poll_interval
        self.attempt_timeout = attempt_timeout
        self._wake = asyncio.Event()
        self._stopping = False
        self._round = asyncio.Event()
        self._workspace_urls: dict[str, str] = {}
        self._components: dict[int, str] = {}
        self._opened: dict[tuple[Any, ...], Configured] = {}
        self.sent = 0  # attempts made by this worker (benchmarks read it)
        # Tests inject a crash between the vendor's answer and the commit with this hook.
        self.before_record: Callable[[Sequence[Outcome]], None] | None = None
        # VIGIL_OUTBOUND_ENABLED: while it is false the worker claims nothing, so deliveries queued before it was turned
        # off are held, not sent, until it is true again (the outbox queues nothing new meanwhile).
        self.enabled = enabled

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """Finish the round in flight, then return from `run` (a shutdown that does not cut a send in half)."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """Deliver until stopped: a full batch goes straight on; otherwise wait for a commit or the poll interval."""
        self._stopping = False
        if not self.enabled:
            log.info("delivery worker: queued deliveries are held while VIGIL_OUTBOUND_ENABLED=false")
        outage = OutageNotice(log, "delivery worker")
        while not self._stopping:
            self._wake.clear()
            try:
                done = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                outage.failed(exc)
                done = 0
            else:
                outage.succeeded()
            if done < self.batch and not self._stopping:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll_interval):
                        await self._wake.wait()

    async def next_round(self) -> None:
        """Wait until the worker finishes a round (what tests and the sandbox wait on instead of sleeping)."""
        await self._round.wait()

    def _round_done(self) -> None:
        self._round.set()
        self._round = asyncio.Event()

    async def run_once(self) -> int:
        """One round: claim due deliveries, attempt them concurrently, record the results. How many were attempted."""
        try:
            return await self._run_once()
        finally:
            self._round_done()

    async def _run_once(self) -> int:
        if not self.enabled:
            return 0
        now = self.clock.now()
        token = uuid.uuid4().hex
        async with self.sessions() as session, session.begin():
            ids = await claim_due(session, now=now, until=now + LEASE, token=token, limit=self.batch)
        if not ids:
            return 0
        return await self._attempt_claimed(ids, token=token, now=now)

    async def deliver_now(self, delivery_pk: int, *, final: bool = False) -> Delivery:
        """Attempt one delivery at once, outside the queue (`integrations test`, `deliveries retry`); its callers
        refuse first while outbound is off, and this refuses too rather than send."""
        if not self.enabled:
            raise RuntimeError("outbound is off (VIGIL_OUTBOUND_ENABLED=false): nothing may be sent")
        now = self.clock.now()
        token = uuid.uuid4().hex
        async with self.sessions() as session, session.begin():
            row = await session.get(Delivery, delivery_pk, with_for_update=True)
            assert row is not None
            row.claim_token, row.claimed_until = token, now + LEASE
        await self._attempt_claimed([delivery_pk], token=token, now=now, final=final)
        async with self.sessions() as session:
            fresh = await session.get(Delivery, delivery_pk)
            assert fresh is not None
            return fresh

    async def _attempt_claimed(self, ids: Sequence[int], *, token: str, now: datetime, final: bool = False) -> int:
        async with self.sessions() as session:
            rows, integrations, incidents, links = await claimed(session, ids)
            await self._learn_workspaces(session, {r.team_id for r in rows})
            people = await self._people(session, rows)
            await self._learn_components(session, incidents.values())
            paging = await self._pager_context(session, rows, integrations)
        deferred: list[int] = []
        attempts: list[Any] = []
        for delivery in rows:
            integration = integrations[delivery.integration_id]
            incident = incidents.get(delivery.incident_id) if delivery.incident_id is not None else None
            if self._waits_for_channel(delivery, incident, now):
                deferred.append(delivery.id)
                continue
            link = links.get((delivery.incident_id, delivery.integration_id)) if delivery.incident_id is not None else None
            actor = people.get((delivery.team_id, str((delivery.data or {}).get("actor_id") or "")))
            attempts.append(
                self._attempt(
                    delivery,
                    integration,
                    incident,
                    link,
                    actor=actor,
                    pager=paging.get(delivery.id),
                    token=token,
                    now=now,
                    final=final,
                )
            )
        outcomes: list[Outcome] = list(await self._renewing(ids, token, asyncio.gather(*attempts)))
        if self.before_record is not None:
            self.before_record(outcomes)
        async with self.sessions() as session, session.begin():
            await release(session, ids=deferred, token=token)
            await record(session, [o.row(now) for o in outcomes])
            for outcome in outcomes:
                await self._after(session, outcome, now)
        self.sent += len(outcomes)
        return len(outcomes)

    async def _renewing(self, ids: Sequence[int], token: str, work: Awaitable[list[Outcome]]) -> list[Outcome]:
        """`work`, with the claims of `ids` renewed every RENEW_EVERY until it is done."""
        done = asyncio.Event()
        renewing = asyncio.create_task(self._renew(list(ids), token=token, stop=done))
        try:
            return await work
        finally:
            done.set()
            await asyncio.gather(renewing, return_exceptions=True)

    async def _renew(self, ids: list[int], *, token: str, stop: asyncio.Event) -> None:
        async def extend() -> None:
            async with self.sessions() as session, session.begin():
                await renew(session, ids=ids, token=token, until=self.clock.now() + LEASE)

        await renew_until(stop, every=RENEW_EVERY.total_seconds(), renew=extend, log=log, what=f"deliveries {ids}")

    def _waits_for_channel(self, delivery: Delivery, incident: Incident | None, now: datetime) -> bool:
        return (
            delivery.event == "incident.opened"
            and delivery.payload is None
            and incident is not None
            and incident.channel_id is None
            and now - incident.created_at < CHANNEL_WAIT
        )

    async def _people(self, session: AsyncSession, rows: Sequence[Delivery]) -> dict[tuple[str, str], Person]:
        """Who made each change, with their email and linked accounts: two queries for the whole round."""
        wanted = {(r.team_id, str((r.data or {}).get("actor_id") or "")) for r in rows}
        wanted = {(team, user) for team, user in wanted if user}
        if not wanted:
            return {}
        user_ids = {user for _, user in wanted}
        users = {(u.team_id, u.id): u for u in await session.scalars(select(User).where(User.id.in_(user_ids)))}
        linked: dict[tuple[str, str], dict[str, str]] = {}
        for identity in await session.scalars(select(Identity).where(Identity.user_id.in_(user_ids))):
            linked.setdefault((identity.team_id, identity.user_id), {})[identity.kind] = identity.external_id
        people = {}
        for key in wanted:
            user = users.get(key)
            people[key] = Person(
                user_id=key[1],
                email=user.email if user else None,
                name=(user.real_name or user.name) if user else "",
                identities=linked.get(key, {}),
            )
        return people

    async def _pager_context(
        self, session: AsyncSession, rows: Sequence[Delivery], integrations: dict[str, Integration]
    ) -> dict[int, PagerContext]:
        """For deliveries to pagers only: their pages so far, and the components they may page, two queries a round."""
        paging = [d for d in rows if getattr(self.providers.get(integrations[d.integration_id].kind), "pager", False)]
        if not paging:
            return {}
        pairs = {(d.integration_id, d.incident_id) for d in paging if d.incident_id is not None}
        loose = {
            (d.integration_id, str((d.data or {}).get("dedup_key")))
            for d in paging
            if d.incident_id is None and (d.data or {}).get("dedup_key")
        }
        pages = await pages_of(session, pairs=pairs, loose=loose)
        components = await paging_components(session, team_ids={d.team_id for d in paging})
        targets = {c.id: (c.team_id, pager_target(self.keys, c)) for c in components}
        contexts = {}
        for d in paging:
            key = str((d.data or {}).get("dedup_key") or "")
            mine = tuple(
                page_of(p)
                for p in pages
                if p.integration_id == d.integration_id
                and (p.incident_id == d.incident_id if d.incident_id is not None else p.dedup_key == key)
            )
            contexts[d.id] = PagerContext(
                mine, {cid: target for cid, (team, target) in targets.items() if team == d.team_id}
            )
        return contexts

    async def _learn_components(self, session: AsyncSession, incidents: Iterable[Incident]) -> None:
        """Component names of this round's incidents (a rename shows from the next round on)."""
        wanted = {i.component_id for i in incidents if i.component_id is not None}
        if wanted:
            for component in await session.scalars(select(Component).where(Component.id.in_(wanted))):
                self._components[component.id] = component.name

    async def _learn_workspaces(self, session: AsyncSession, team_ids: set[str]) -> None:
        missing = team_ids - self._workspace_urls.keys()
        if missing:
            for ws in await session.scalars(select(Workspace).where(Workspace.team_id.in_(missing))):
                self._workspace_urls[ws.team_id] = ws.url or ""

    async def _attempt(
        self,
        delivery: Delivery,
        integration: Integration,
        incident: Incident | None,
        link: IntegrationLink | None,
        *,
        actor: Person | None,
        pager: PagerContext | None,
        token: str,
        now: datetime,
        final: bool,
    ) -> Outcome:
        outcome = Outcome(delivery=delivery, token=token, final_attempt=final)
        provider = self.providers.get(integration.kind)
        started = time.monotonic()
        secrets: list[str] = []  # what the job was handed, masked out of whatever failure it records
        try:
            if provider is None:
                raise DeliveryFailed(f"this Vigil cannot send to {integration.kind} integrations", retryable=False)
            job = Job(
                delivery_id=delivery.delivery_id,
                event=delivery.event,
                occurred_at=delivery.occurred_at,
                now=now,
                integration=self._configured(integration, now),
                incident=snapshot(
                    incident,
                    workspace_url=self._workspace_urls.get(delivery.team_id),
                    component=self._components.get(incident.component_id) if incident.component_id else None,
                )
                if incident is not None
                else None,
                data=dict(delivery.data or {}),
                payload=delivery.payload,
                link=Link(link.external_id, link.external_url, dict(link.data or {})) if link is not None else None,
                timeout=self.attempt_timeout,
                actor=actor,
                pages=pager.pages if pager is not None else (),
                component_id=incident.component_id if incident is not None else None,
                pager_targets=pager.targets if pager is not None else {},
            )
            keys = [t.routing_key for t in job.pager_targets.values() if t.routing_key]
            secrets = [*job.integration.secrets.values(), *keys]
            # The provider's own HTTP timeout fires first; this bounds a provider that makes several calls.
            outcome.sent = await asyncio.wait_for(provider.deliver(job, self.http()), timeout=self.attempt_timeout * 3)
        except DeliveryFailed as exc:
            outcome.failure = exc
        except ConfigProblem as exc:
            outcome.failure = DeliveryFailed(str(exc), retryable=False)
        except TimeoutError:
            outcome.failure = DeliveryFailed(f"no answer within {self.attempt_timeout * 3:g} s")
        except Exception as exc:  # a provider bug: logged with its trace, the log row says only the type
            log.exception("%s delivery %s failed unexpectedly", integration.kind, delivery.delivery_id)
            outcome.failure = DeliveryFailed(f"internal error ({type(exc).__name__}); see Vigil's log")
        if outcome.failure is not None:
            outcome.failure = masked_failure(outcome.failure, secrets)
        outcome.duration_ms = int((time.monotonic() - started) * 1000)
        return outcome

    def _configured(self, integration: Integration, now: datetime) -> Configured:
        """Opened once per version of the integration (its secrets blob, its settings, its rotation overlap), not
        once per delivery: a round to five integrations opens five blobs, not a hundred."""
        overlap = integration.previous_secret_until is not None and integration.previous_secret_until > now
        key = (integration.id, integration.secrets, integration.updated_at, overlap)
        cached = self._opened.get(key)
        if cached is not None:
            return cached
        if len(self._opened) > OPENED_KEPT:
            self._opened.clear()
        try:
            self._opened[key] = opened = configured(self.keys, integration, now=now)
            return opened
        except (NoKeyRing, UnknownKey) as exc:  # the operator can fix the key ring; keep retrying meanwhile
            raise DeliveryFailed(str(exc)) from None
        except Tampered:
            raise DeliveryFailed("the stored secrets do not decrypt; set them again", retryable=False) from None

    async def _after(self, session: AsyncSession, outcome: Outcome, now: datetime) -> None:
        d = outcome.delivery
        sent = outcome.sent
        linked = False  # a new ticket or page address: the opening message gets to link to it
        for page in sent.pages if sent is not None else ():
            linked |= await upsert_page(
                session,
                team_id=d.team_id,
                integration_id=d.integration_id,
                incident_id=d.incident_id,
                target=page.target,
                method=page.method,
                dedup_key=page.dedup_key,
                status=page.status,
                service_id=page.service_id,
                pd_incident_id=page.external_id,
                pd_incident_url=page.external_url,
                paged_by=page.paged_by,
                at=now,
            )
        if d.incident_id is None:
            return
        if sent is not None and (sent.external_id or sent.external_url or sent.link_data):
            linked |= await upsert_link(
                session,
                team_id=d.team_id,
                incident_id=d.incident_id,
                integration_id=d.integration_id,
                external_id=sent.external_id,
                external_url=sent.external_url,
                data=dict(sent.link_data or {}),
            )
        elif outcome.gives_up:
            await fail_followers(
                session,
                integration_id=d.integration_id,
                incident_id=d.incident_id,
                after_id=d.id,
                error=f"not sent: the earlier delivery {d.delivery_id[:8]} failed",
            )
        if linked:
            await refresh_opening(session, team_id=d.team_id, incident_id=d.incident_id, now=now)
