"""The PagerDuty service: what the Slack doors, the scheduler and the CLI ask of PagerDuty beyond an incident's own
deliveries — page someone, sync the on-call directory, give a component its own service and routing key, and read
who is on call.

A page is a delivery like any other (written in one transaction with the incident's timeline entry, sent by the
worker, retried with the same dedup key), so a page asked for while PagerDuty is slow or down is not lost, and the
person asking gets an answer at once.
"""

from __future__ import annotations

import asyncio
import difflib
import logging
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.directory import Directory
from bot.incidents.errors import InvalidInput, NotFound
from bot.incidents.step_runner import refresh_opening
from bot.permissions import require_admin
from db import pagerduty as db
from db.components import get_component, list_components
from db.incidents import add_timeline
from db.integrations import active_integrations
from db.models import PAGE_STATUSES, Component, Incident, Integration, PagerDutySync
from integrations.base import PAGE_EVENT, PAGED_EVENT, Configured
from integrations.http.guard import OutboundPolicy
from integrations.inbound.instructions import Instruction
from integrations.outbox import delivery_row
from integrations.pagerduty.client import Sleep, Transports, api_for
from integrations.pagerduty.provider import COMPONENT_PREFIX, INTEGRATION_TARGET, SERVICE_PREFIX, routing_key_problem
from integrations.pagerduty.sync import WAITS, IntegrationSync, SyncReport
from integrations.secret_box import KeyRing, NoKeyRing, Tampered, UnknownKey
from integrations.service import Problems
from integrations.worker import DeliveryWorker, configured

log = logging.getLogger(__name__)

KIND = "pagerduty"
NOT_CONNECTED = (
    "PagerDuty is not connected: an admin can add it with `vigil integrations add pagerduty` "
    "(a routing key to page, an API token for on-call and paging any service)."
)
SHIFTS_AHEAD = timedelta(days=7)
SYNC_TIMEOUT = 10.0  # seconds one sync request may take
MAX_QUERY = 255
CLOSE_MATCHES = 5
_SERVICE_ID = re.compile(r"P[A-Z0-9]{1,31}", re.ASCII)


@dataclass(frozen=True)
class PageQueued:
    """What was asked of PagerDuty: who will be paged (`target`, for people), `via` "events" or "rest", by which
    integration, for which incident (None outside one), and the delivery to follow in the log."""

    target: str
    via: str
    integration: str
    incident: str | None
    delivery_id: str


@dataclass(frozen=True)
class OnCallBoard:
    oncalls: list[db.OnCallRow]
    services_by_policy: dict[str, list[db.ServiceRow]]
    synced_at: datetime | None
    sync_ok: bool


@dataclass(frozen=True)
class _Choice:
    integration: Integration
    target: str
    via: str
    label: str
    service_id: str | None = None


class _HasPagerDuty(Protocol):
    pagerduty: PagerDutyService


class SyncFailed(Exception):
    """At least one integration's sync failed (the others ran); the message names each, without secrets."""


class PagerDutyService:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        keys: KeyRing,
        policy: OutboundPolicy,
        worker: DeliveryWorker,
        outbound_enabled: bool = True,
        directory: Directory | None = None,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.keys = keys
        self.policy = policy
        self.worker = worker
        self.outbound_enabled = outbound_enabled
        self.directory = directory
        self.sleep = sleep  # how the sync waits out PagerDuty's rate limit (tests record instead)
        self.transports = Transports()

    def close(self) -> None:
        self.transports.close()

    # ---------------------------------------------------------------- paging

    async def page(self, *, team_id: str, actor_id: str | None, incident_id: int | None, service: str | None) -> PageQueued:
        """Page a synced service (by name or id), or — with `service` None — the incident's default: its component's
        own routing key, else its component's service, else the integration's routing key. PagerDuty folds a second
        page of the same incident and target into the first (same dedup key)."""
        wanted = _wanted_service(service)
        if incident_id is not None and (
            isinstance(incident_id, bool) or not isinstance(incident_id, int) or incident_id < 1
        ):
            raise InvalidInput("That is not an incident.")
        if incident_id is None and wanted is None:
            raise InvalidInput("Outside an incident, name the PagerDuty service to page.")
        if not self.outbound_enabled:
            raise InvalidInput("Outbound traffic is off (VIGIL_OUTBOUND_ENABLED=false); nobody was paged.")
        now = self.clock.now()
        async with self.sessions() as session, session.begin():
            integrations = [i for i in await active_integrations(session, team_id=team_id) if i.kind == KIND]
            if not integrations:
                raise InvalidInput(NOT_CONNECTED)
            incident = await self._incident(session, team_id=team_id, incident_id=incident_id)
            if wanted is not None:
                choice = await self._service_choice(session, team_id=team_id, integrations=integrations, wanted=wanted)
            else:
                assert incident is not None
                choice = await self._default_choice(session, incident=incident, integrations=integrations)
            data: dict[str, Any] = {
                "actor_id": actor_id,
                "source": "slack" if actor_id else "cli",
                "target": choice.target,
                "service_id": choice.service_id,
                "service_name": choice.label,
            }
            if incident is None:
                data["dedup_key"] = f"vigil-{team_id}-page-{uuid.uuid4().hex}"
            delivery = delivery_row(
                team_id=team_id,
                integration_id=choice.integration.id,
                incident_id=incident.id if incident is not None else None,
                event=PAGE_EVENT if incident is None else PAGED_EVENT,
                occurred_at=now,
                data=data,
                now=now,
            )
            session.add(delivery)
            if incident is not None:
                await add_timeline(
                    session,
                    incident,
                    kind="page",
                    source=str(data["source"]),
                    at=now,
                    actor_id=actor_id,
                    text=f"Paged {choice.label} (PagerDuty)",
                    data={"target": choice.target, "integration_id": choice.integration.id, "via": choice.via},
                )
        self.worker.wake()
        log.info("page of %s via %s queued by %s", choice.target, choice.integration.id, actor_id or "the CLI")
        return PageQueued(
            target=choice.label,
            via=choice.via,
            integration=choice.integration.name,
            incident=incident.ref if incident is not None else None,
            delivery_id=delivery.delivery_id,
        )

    async def _incident(self, session: AsyncSession, *, team_id: str, incident_id: int | None) -> Incident | None:
        if incident_id is None:
            return None
        incident = await session.get(Incident, incident_id)
        if incident is None or incident.team_id != team_id:
            raise NotFound("That incident does not exist (or you cannot see it).")
        if incident.status == "closed":
            raise InvalidInput(f"{incident.ref} is closed; page a service by name, or open a new incident.")
        return incident

    async def _service_choice(
        self, session: AsyncSession, *, team_id: str, integrations: list[Integration], wanted: str
    ) -> _Choice:
        by_id = {i.id: i for i in integrations}
        rows = [r for r in await db.service_rows(session, team_id=team_id) if r.integration_id in by_id]
        found = [r for r in rows if r.pd_id == wanted.upper()] or [r for r in rows if r.name.casefold() == wanted.casefold()]
        if not found:
            names = {r.name.casefold(): r.name for r in rows}
            close = [name for folded, name in sorted(names.items()) if wanted.casefold() in folded]
            close += [
                names[folded]
                for folded in difflib.get_close_matches(wanted.casefold(), sorted(names), n=CLOSE_MATCHES, cutoff=0.6)
                if names[folded] not in close
            ]
            hint = f" Close matches: {', '.join(close[:CLOSE_MATCHES])}." if close else ""
            raise InvalidInput(f"No PagerDuty service named {wanted!r} in the last sync.{hint}")
        if len(found) > 1:
            ids = ", ".join(f"{r.name} ({r.pd_id})" for r in found[:CLOSE_MATCHES])
            raise InvalidInput(f"{wanted!r} matches {len(found)} PagerDuty services: name one by its id ({ids}).")
        row = found[0]
        integration = by_id[row.integration_id]
        problem = self._rest_problem(integration)
        if problem:
            raise InvalidInput(f"Paging {row.name} needs {problem}.")
        return _Choice(integration, f"{SERVICE_PREFIX}{row.pd_id}", "rest", row.name, service_id=row.pd_id)

    async def _default_choice(
        self, session: AsyncSession, *, incident: Incident, integrations: list[Integration]
    ) -> _Choice:
        component = await session.get(Component, incident.component_id) if incident.component_id is not None else None
        services = (
            await db.service_rows(session, team_id=incident.team_id, pd_id=component.pagerduty_service_id)
            if (component is not None and component.pagerduty_service_id)
            else []
        )
        if component is not None and component.pagerduty_routing_key:
            label = services[0].name if services else f"{component.name}'s on-call"
            target = f"{COMPONENT_PREFIX}{component.id}"
            return _Choice(integrations[0], target, "events", label, service_id=component.pagerduty_service_id)
        for row in services:
            integration = next((i for i in integrations if i.id == row.integration_id), None)
            if integration is not None and not self._rest_problem(integration):
                return _Choice(integration, f"{SERVICE_PREFIX}{row.pd_id}", "rest", row.name, service_id=row.pd_id)
        for integration in integrations:
            if self._opened(integration).secrets.get("routing_key"):
                return _Choice(integration, INTEGRATION_TARGET, "events", f"the on-call of {integration.name}")
        raise InvalidInput(
            "Nothing to page by default: no PagerDuty routing key, and the incident's component names no service "
            "that can be paged. Name a service, or an admin can add a routing key."
        )

    def _rest_problem(self, integration: Integration) -> str | None:
        opened = self._opened(integration)
        missing = [key for key in ("api_token", "from_email") if not (opened.secrets.get(key) or opened.config.get(key))]
        if not missing:
            return None
        how = " and ".join(f"`{key}`" for key in missing)
        return f"the {integration.name} integration's {how}: an admin can set them with `vigil integrations update`"

    def _opened(self, integration: Integration) -> Configured:
        try:
            return configured(self.keys, integration, now=self.clock.now())
        except (NoKeyRing, UnknownKey) as exc:
            raise InvalidInput(f"PagerDuty's secrets cannot be opened (VIGIL_ENCRYPTION_KEYS: {exc}).") from None
        except Tampered:
            raise InvalidInput("PagerDuty's stored secrets do not decrypt; an admin must set them again.") from None

    # ---------------------------------------------------------------- the on-call directory

    async def sync(self, integration_id: str | None = None) -> list[SyncReport]:
        """Sync one integration, or every active PagerDuty integration with an API token."""
        if not self.outbound_enabled:
            log.info("sync_pagerduty suppressed (VIGIL_OUTBOUND_ENABLED=false)")
            return []
        async with self.sessions() as session:
            stmt = select(Integration).where(Integration.kind == KIND, Integration.active.is_(True))
            if integration_id is not None:
                stmt = stmt.where(Integration.id == integration_id)
            rows = list((await session.scalars(stmt.order_by(Integration.name))).all())
        if integration_id is not None and not rows:
            raise NotFound(f"No active PagerDuty integration {integration_id!r}.")
        reports = []
        for integration in rows:
            try:
                opened = configured(self.keys, integration, now=self.clock.now())
            except (NoKeyRing, UnknownKey, Tampered) as exc:
                reports.append(SyncReport(integration.id, integration.name, False, {}, f"secrets: {exc}"))
                continue
            if not opened.secrets.get("api_token"):
                if integration_id is not None:
                    reports.append(SyncReport(integration.id, integration.name, False, {}, "api_token: not set"))
                continue
            transport = await asyncio.to_thread(self.transports.for_policy, self.policy)
            api = api_for(opened, transport, timeout=SYNC_TIMEOUT, sleep=self.sleep, waits=WAITS)
            reports.append(
                await IntegrationSync(sessions=self.sessions, clock=self.clock, api=api, integration=opened).run()
            )
        return reports

    # ---------------------------------------------------------------- components

    async def set_component_target(
        self,
        *,
        team_id: str,
        actor_id: str | None,
        component_id: int,
        service_id: str | None,
        routing_key: str | None,
        keep_routing_key: bool,
    ) -> str:
        """Give a component its PagerDuty service (one the sync knows) and optionally its own routing key, sealed;
        None clears either. Returns a line saying what the component now pages."""
        if actor_id is not None:
            if self.directory is None:
                raise InvalidInput("Only admins can set a component's PagerDuty service.")
            await require_admin(
                self.directory, team_id=team_id, user_id=actor_id, doing="set a component's PagerDuty service"
            )
        if isinstance(component_id, bool) or not isinstance(component_id, int) or component_id < 1:
            raise InvalidInput("That is not a component.")
        service_id = (service_id or "").strip().upper() or None
        if service_id is not None and not _SERVICE_ID.fullmatch(service_id):
            raise InvalidInput("A PagerDuty service id looks like PXXXXXX.", field="service")
        key = (routing_key or "").strip()
        if not keep_routing_key and key and (problem := routing_key_problem(key)):
            raise InvalidInput(f"Routing key: {problem}.", field="routing_key")
        sealed, kid = None, None
        if not keep_routing_key and key:
            try:
                sealed, kid = (
                    self.keys.seal({"routing_key": key}, aad=db.routing_key_aad(component_id)),
                    self.keys.primary_kid,
                )
            except NoKeyRing as exc:
                raise Problems([f"VIGIL_ENCRYPTION_KEYS: {exc}"]) from None
        async with self.sessions() as session, session.begin():
            component = await get_component(session, team_id=team_id, component_id=component_id)
            if component is None:
                raise NotFound("That component no longer exists.")
            services = await db.service_rows(session, team_id=team_id, pd_id=service_id) if service_id else []
            if service_id and not services:
                raise InvalidInput(f"No PagerDuty service {service_id} in the last sync.", field="service")
            component.pagerduty_service_id = service_id
            if not keep_routing_key:
                component.pagerduty_routing_key, component.pagerduty_key_id = sealed, kid
            has_key = component.pagerduty_routing_key is not None
            name = component.name
        log.info(
            "component %s: PagerDuty service %s, own routing key %s (by %s)", component_id, service_id, has_key, actor_id
        )
        paged = services[0].name if services else "no PagerDuty service"
        return f"{name} now pages {paged}" + (" with its own routing key." if has_key else ".")

    async def component_targets(self, team_id: str) -> dict[int, tuple[str | None, str | None, bool]]:
        """Component id → (service id, service name, whether it has its own routing key); never the key."""
        async with self.sessions() as session:
            names = {r.pd_id: r.name for r in reversed(await db.service_rows(session, team_id=team_id))}
            return {
                c.id: (c.pagerduty_service_id, names.get(c.pagerduty_service_id or ""), c.pagerduty_routing_key is not None)
                for c in await list_components(session, team_id=team_id)
            }

    # ---------------------------------------------------------------- reads for the doors

    async def oncall_now(self, team_id: str) -> list[db.OnCallRow]:
        async with self.sessions() as session:
            return await db.oncalls_now(session, team_id=team_id, now=self.clock.now())

    async def shifts(self, team_id: str, user_id: str) -> list[db.ShiftRow]:
        """A person's shifts over the next seven days (what the sync looks ahead)."""
        now = self.clock.now()
        async with self.sessions() as session:
            return await db.shifts_of(session, team_id=team_id, slack_user_id=user_id, now=now, until=now + SHIFTS_AHEAD)

    async def services(self, team_id: str, query: str = "") -> list[db.ServiceRow]:
        async with self.sessions() as session:
            return await db.services(session, team_id=team_id, query=query[:MAX_QUERY])

    async def record_from_webhook(self, integration: Configured, incident: Incident, instruction: Instruction) -> str:
        """PagerDuty's V3 webhook told its incident id and state for one of Vigil's pages: keep the page row in step
        (its acknowledge and resolve then need no lookup)."""
        data = instruction.data
        status = str(data.get("status") or "")
        pd_id = str(data.get("pd_incident_id") or "") or None
        url = str(data.get("pd_incident_url") or "") or None
        if status not in PAGE_STATUSES:
            return f"{incident.ref}: nothing to record"
        async with self.sessions() as session, session.begin():
            pages = await db.pages_of(session, pairs=[(integration.id, incident.id)], loose=())
            if not pages:
                return f"{incident.ref}: PagerDuty incident {pd_id or '?'} is not one Vigil paged"
            linked = False
            for page in pages:
                page.status = status
                page.pd_incident_id = page.pd_incident_id or pd_id
                if url and url.startswith("https://") and not page.pd_incident_url:
                    page.pd_incident_url, linked = url, True
                page.updated_at = self.clock.now()
            if linked:  # the opening message links to the page from now on
                await refresh_opening(session, team_id=incident.team_id, incident_id=incident.id, now=self.clock.now())
        return f"{incident.ref}: PagerDuty incident {pd_id or '?'} {status}"

    async def connected(self, team_id: str) -> bool:
        """Whether the workspace has an active PagerDuty integration."""
        async with self.sessions() as session:
            return any(i.kind == KIND for i in await active_integrations(session, team_id=team_id))

    async def board(self, team_id: str) -> OnCallBoard:
        """What `/incident oncall` shows: who is on call now, the services each policy pages, and the sync's age."""
        now = self.clock.now()
        async with self.sessions() as session:
            oncalls = await db.oncalls_now(session, team_id=team_id, now=now)
            services = await db.services(session, team_id=team_id)
            synced = await db.last_sync(session, team_id=team_id)
            connected = any(i.kind == KIND for i in await active_integrations(session, team_id=team_id))
        if not connected:
            raise InvalidInput(NOT_CONNECTED)
        by_policy: dict[str, list[db.ServiceRow]] = {}
        for service in services:
            if service.escalation_policy_id:
                by_policy.setdefault(service.escalation_policy_id, []).append(service)
        return OnCallBoard(
            oncalls=oncalls,
            services_by_policy=by_policy,
            synced_at=synced.synced_at if synced is not None else None,
            sync_ok=bool(synced.ok) if synced is not None else True,
        )

    async def last_sync(self, team_id: str) -> PagerDutySync | None:
        async with self.sessions() as session:
            return await db.last_sync(session, team_id=team_id)

    async def oncall_invitees(self, session: AsyncSession, incident: Incident, component: Component | None) -> list[str]:
        """The invite strategy: level-1 on-calls of the component's service, for public incidents only."""
        if incident.private or component is None or not component.pagerduty_service_id:
            return []
        return await db.oncall_slack_users_for_service(
            session, team_id=incident.team_id, service_pd_id=component.pagerduty_service_id, now=self.clock.now()
        )


def _wanted_service(service: str | None) -> str | None:
    if service is None:
        return None
    if not isinstance(service, str):
        raise InvalidInput("Name a PagerDuty service.")
    wanted = " ".join(service.split())
    if len(wanted) > MAX_QUERY:
        raise InvalidInput(f"A PagerDuty service name is at most {MAX_QUERY} characters.")
    return wanted or None


async def sync_pagerduty(container: _HasPagerDuty) -> int:
    """The `sync_pagerduty` job: every PagerDuty integration with an API token. Returns the rows synced; raises
    SyncFailed after the others ran when any failed, so the run is recorded as failed."""
    reports = await container.pagerduty.sync()
    failed = [r for r in reports if not r.ok]
    if failed:
        raise SyncFailed("; ".join(f"{r.name}: {r.error}" for r in failed))
    keys = ("services", "users", "policies", "schedules", "oncalls")
    return sum(int(r.counts.get(k, 0)) for r in reports for k in keys)
