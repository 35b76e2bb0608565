"""Inbound webhooks: verify a request, store what it asks in the inbox, answer; then act on it through the same
incident service Slack uses.

`receive` does everything the answer depends on in one transaction — find the integration, check the signature over
the raw bytes, read the body, find the incident it names, and insert the inbox row (a re-sent delivery hits the
unique dedup id and is answered as a duplicate) — so the vendor hears back well within its deadline (PagerDuty and
Teams wait 5 s) and a crash after the answer loses nothing: the row is processed right after the answer, or by the
worker's next round after a restart.

Changes carry `source="integration:<id>"`: they fan out to every other linked integration and never back to the
one they came from. A repeated resolve is the incident service's no-op.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.directory import Directory
from bot.incidents.errors import InvalidInput, NotAllowed, NotFound, VigilError
from bot.incidents.ports import Note
from bot.incidents.service import IncidentService
from bot.incidents.states import Severity, Status
from bot.metrics import Metrics
from bot.permissions import require_admin
from db.engine import OutageNotice, log_failure
from db.identities import find_user_by_identity
from db.inbound import claim, inbound_log, incident_by_link, settle
from db.incidents import get_by_number
from db.integrations import find_integration
from db.models import InboundDelivery, Incident, Integration, User, Workspace
from integrations.base import Configured
from integrations.inbound.instructions import Actor, Instruction, Ref
from integrations.inbound.intake import Intake, Reply, answer, target
from integrations.inbound.kinds import readings
from integrations.inbound.request import Request
from integrations.outbox import ORIGIN_PREFIX
from integrations.secret_box import KeyRing
from integrations.worker import configured

log = logging.getLogger(__name__)

ID_PATTERN = re.compile(r"[0-9a-f]{32}")
LEASE = timedelta(seconds=60)
RETRY_DELAYS = (timedelta(seconds=5), timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10))
BATCH = 20
LOG_LIMIT = 200
OUTCOME_LIMIT = 500
DEDUP_KEY_LIMIT = 255

# What an instruction does beyond the incident service (PagerDuty records its incident id on the page row).
ExtraAction = Callable[[Configured, Incident, Instruction], Awaitable[str]]


@dataclass(frozen=True)
class InboundEntry:
    """One line of an integration's inbound log."""

    id: int
    received_at: datetime
    verified: bool
    status: str
    http_status: int
    outcome: str
    incident_number: int | None
    attempts: int


def alert_key(integration_id: str, dedup_key: str) -> str:
    """The incident's dedup key for an alert source's `dedup_key`: one source's keys never meet another's."""
    key = f"{integration_id}:{dedup_key}"
    return (
        key if len(key) <= DEDUP_KEY_LIMIT else f"{integration_id}:sha256:{hashlib.sha256(dedup_key.encode()).hexdigest()}"
    )


class InboundService:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        keys: KeyRing,
        incidents: IncidentService,
        metrics: Metrics | None = None,
        directory: Directory | None = None,
        poll_interval: float = 1.0,
    ) -> None:
        self.sessions = sessions
        self.directory = directory
        self.clock = clock
        self.keys = keys
        self.incidents = incidents
        self.metrics = metrics
        self.poll_interval = poll_interval
        self.extra_actions: dict[str, ExtraAction] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._one_at_a_time = asyncio.Lock()  # rows are carried out in arrival order, one after another
        self.intake = Intake(sessions=sessions, keys=keys, metrics=metrics, on_pending=lambda: self._spawn(self.run_once()))

    # ---------------------------------------------------------------- receiving

    async def receive(self, *, kind: str, integration_id: str, headers: Mapping[str, str], body: bytes) -> Reply:
        """Everything `POST /hooks/{kind}/{integration_id}` answers, in the order the checks are made: unknown or
        disabled integration 404, bad signature 401 (before any change), unreadable body 400, nothing to do or an
        unknown reference 202, a duplicate 200, accepted 202 (Teams: 200 with a card, whatever it asked)."""
        reply = await self._receive(kind=kind, integration_id=integration_id, headers=headers, body=body)
        if self.metrics is not None:
            self.metrics.inbound_requests.labels(
                kind=kind if kind in KNOWN_KINDS else "unknown", status=str(reply.status)
            ).inc()
        return reply

    async def _receive(self, *, kind: str, integration_id: str, headers: Mapping[str, str], body: bytes) -> Reply:
        request = Request(headers=headers, body=body, now=self.clock.now())
        ways = readings(kind, request)
        if not ways or not ID_PATTERN.fullmatch(integration_id):
            return answer(None, 404, "no such integration")
        return await self.intake.receive(kind=kind, integration_id=integration_id, request=request, ways=ways)

    async def _find(self, session: AsyncSession, integration: Integration, ref: Ref) -> Incident | None:
        """The incident a reference names, within the integration's workspace only (the same reading as the intake's
        batched lookup: `intake.target`)."""
        where = target(integration, ref)
        if where is None:
            return None
        kind, scope, value = where
        if kind == "number":
            return await get_by_number(session, team_id=scope, number=int(value))
        return await incident_by_link(session, integration_id=scope, external_id=value)

    # ---------------------------------------------------------------- processing

    def wake(self) -> None:
        self._wake.set()

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the work spawned by `receive` (tests and a graceful stop)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def run_forever(self) -> None:
        self._stopping = False
        outage = OutageNotice(log, "inbound worker")
        while not self._stopping:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                outage.failed(exc)
            else:
                outage.succeeded()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            self._wake.clear()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run_once(self, *, ids: Sequence[int] | None = None) -> int:
        """Claim due inbox rows (or only `ids`) and carry them out, one after another in arrival order."""
        async with self._one_at_a_time:
            return await self._run_once(ids=ids)

    async def _run_once(self, *, ids: Sequence[int] | None) -> int:
        token = uuid.uuid4().hex
        now = self.clock.now()
        async with self.sessions() as session, session.begin():
            rows = await claim(session, now=now, until=now + LEASE, token=token, limit=BATCH, ids=ids)
        for row in rows:
            await self._process(row, token)
        return len(rows)

    async def _process(self, row: InboundDelivery, token: str) -> None:
        instructions = [Instruction.from_json(raw) for raw in row.instructions]
        done: list[str] = []
        incident_id = row.incident_id
        async with self.sessions() as session:
            integration = await session.get(Integration, row.integration_id)
        if integration is None:
            return  # removed meanwhile; its rows went with it
        opened = configured(self.keys, integration, now=self.clock.now())
        for index, instruction in enumerate(instructions):
            try:
                said, incident = await self._apply(opened, instruction)
            except VigilError as exc:
                said, incident = f"{instruction.action}: not applied ({exc.message})", None
            except Exception as exc:
                log_failure(log, exc, "inbound %s row %s: %s failed", integration.name, row.id, instruction.action)
                await self._retry(row, token, remaining=instructions[index:], done=done, error=type(exc).__name__)
                return
            done.append(said)
            if incident is not None and incident_id is None:
                incident_id = incident.id
        outcome = "; ".join(done) or "nothing to do"
        async with self.sessions() as session, session.begin():
            await settle(
                session,
                row_id=row.id,
                token=token,
                values={
                    "status": "done",
                    "http_status": row.http_status,
                    "outcome": outcome[:OUTCOME_LIMIT],
                    "incident_id": incident_id,
                    "attempts": row.attempts + 1,
                    "finished_at": self.clock.now(),
                    "next_attempt_at": None,
                },
            )

    async def _retry(
        self, row: InboundDelivery, token: str, *, remaining: list[Instruction], done: list[str], error: str
    ) -> None:
        """Keep what is left to do (what was done is not done twice) and try again later, or give up."""
        attempts = row.attempts + 1
        now = self.clock.now()
        last = attempts > len(RETRY_DELAYS)
        said = "; ".join([*done, f"failed: {error}" + ("" if last else ", retrying")])
        values: dict[str, Any] = {
            "attempts": attempts,
            "outcome": said[:OUTCOME_LIMIT],
            "instructions": [i.to_json() for i in remaining],
        }
        if last:
            values |= {"status": "failed", "next_attempt_at": None, "finished_at": now}
        else:
            values |= {"next_attempt_at": now + RETRY_DELAYS[attempts - 1]}
        async with self.sessions() as session, session.begin():
            await settle(session, row_id=row.id, token=token, values=values)

    async def _apply(self, integration: Configured, instruction: Instruction) -> tuple[str, Incident | None]:
        source = f"{ORIGIN_PREFIX}{integration.id}"
        action = instruction.action
        if action == "open":
            return await self._open(integration, instruction, source)
        assert instruction.ref is not None
        async with self.sessions() as session:
            row = await session.get(Integration, integration.id)
            assert row is not None
            incident = await self._find(session, row, instruction.ref)
            actor_id = await self._slack_user(session, integration.team_id, instruction.actor)
            bot_id = await session.scalar(select(Workspace.bot_user_id).where(Workspace.team_id == integration.team_id))
        if incident is None:
            return f"{action}: no incident for {instruction.ref.value}", None
        ref = f"INC-{incident.number}"
        incidents = self.incidents
        if action in self.extra_actions:
            return await self.extra_actions[action](integration, incident, instruction), incident
        if action == "acknowledge":
            change = await incidents.acknowledge(incident, actor_id=actor_id or bot_id or "", source=source)
            return f"{ref} {'acknowledged' if change.changed else 'already acknowledged'}", incident
        if action in ("resolve", "close"):
            target = Status.RESOLVED if action == "resolve" else Status.CLOSED
            change = await incidents.move(
                incident, actor_id=actor_id, target=target, source=source, note=instruction.text or None
            )
            return f"{ref} {target if change.changed else f'already {target}'}", incident
        if action == "move":
            target = Status(str(instruction.data.get("status")))
            change = await incidents.move(
                incident, actor_id=actor_id, target=target, source=source, note=instruction.text or None
            )
            return f"{ref} {target if change.changed else f'already {target}'}", incident
        if action == "reopen":
            change = await incidents.move(
                incident, actor_id=actor_id, target=Status.INVESTIGATING, source=source, note=instruction.text, reopen=True
            )
            return f"{ref} reopened", incident
        if action in ("note", "relay"):
            by = instruction.actor.name if instruction.actor else ""
            data = {"integration": integration.name, **({"by": by} if by else {})}
            relayed = Note("relay", instruction.text, {"by": by, "via": VIA.get(integration.kind, integration.kind)})
            added = await incidents.add_timeline_entry(
                incident,
                kind="note",
                text=instruction.text,
                actor_id=actor_id,
                source=source,
                data=data,
                post=relayed if action == "relay" else None,
            )
            return (
                f"{ref}: {'relayed' if action == 'relay' else 'note added'}" if added else f"{ref}: already noted"
            ), incident
        return f"{action}: not something Vigil does for {integration.kind}", incident

    async def _open(self, integration: Configured, instruction: Instruction, source: str) -> tuple[str, Incident | None]:
        async with self.sessions() as session:
            bot_id = await session.scalar(select(Workspace.bot_user_id).where(Workspace.team_id == integration.team_id))
        declaration = await self.incidents.declare(
            team_id=integration.team_id,
            reporter_id=bot_id or "",
            title=instruction.title,
            severity=Severity(instruction.severity),
            description=instruction.text,
            dedup_key=alert_key(integration.id, instruction.dedup_key),
            source=source,
        )
        ref = f"INC-{declaration.incident.number}"
        return (f"{ref} opened" if declaration.created else f"{ref} already open for this dedup_key"), declaration.incident

    async def _slack_user(self, session: AsyncSession, team_id: str, actor: Actor | None) -> str | None:
        """The Slack account of whoever acted in the other tool: a linked identity, else the same email."""
        if actor is None:
            return None
        if actor.external_id:
            found = await find_user_by_identity(session, team_id=team_id, kind=actor.kind, external_id=actor.external_id)
            if found:
                return found
        if actor.email:
            stmt = select(User.id).where(User.team_id == team_id, func.lower(User.email) == actor.email.lower())
            return (await session.scalars(stmt)).first()
        return None

    # ---------------------------------------------------------------- the log

    async def _authorize(self, *, team_id: str, user_id: str | None, doing: str) -> None:
        """Slack users must be admins; the CLI (user None) is trusted."""
        if user_id is None:
            return
        if self.directory is None:
            raise NotAllowed(f"Only admins can {doing}.")
        await require_admin(self.directory, team_id=team_id, user_id=user_id, doing=doing)

    async def retry(self, *, team_id: str, ref: str, entry_id: int, user_id: str | None = None) -> InboundEntry:
        """Carry out a failed inbound delivery again (what it had done already is not done twice)."""
        await self._authorize(team_id=team_id, user_id=user_id, doing="retry inbound deliveries")
        async with self.sessions() as session, session.begin():
            integration = await find_integration(session, team_id=team_id, ref=ref)
            row = await session.get(InboundDelivery, entry_id) if integration is not None else None
            if integration is None or row is None or row.integration_id != integration.id:
                raise NotFound(f"No inbound delivery {entry_id} for integration {ref!r}.")
            if row.status != "failed":
                raise InvalidInput(f"Inbound delivery {entry_id} is {row.status}; only a failed one can be retried.")
            row.status, row.attempts, row.next_attempt_at, row.finished_at = "pending", 0, self.clock.now(), None
        self.wake()  # the worker of this process, if it runs one; otherwise the bot's within its poll
        return next(e for e in await self.log(team_id=team_id, ref=ref, limit=LOG_LIMIT) if e.id == entry_id)

    async def name_of(self, *, team_id: str, ref: str) -> str:
        async with self.sessions() as session:
            integration = await find_integration(session, team_id=team_id, ref=ref)
        if integration is None:
            raise NotFound(f"No integration {ref!r}.")
        return integration.name

    async def log(self, *, team_id: str, ref: str, limit: int = 50, user_id: str | None = None) -> list[InboundEntry]:
        """The newest `limit` requests of an integration (admins only, from Slack)."""
        await self._authorize(team_id=team_id, user_id=user_id, doing="read inbound logs")
        limit = max(1, min(limit, LOG_LIMIT))
        async with self.sessions() as session:
            integration = await find_integration(session, team_id=team_id, ref=ref)
            if integration is None:
                raise NotFound(f"No integration {ref!r}.")
            rows = await inbound_log(session, integration_id=integration.id, limit=limit)
            numbers = {
                i.id: i.number
                for i in (
                    await session.scalars(
                        select(Incident).where(Incident.id.in_({r.incident_id for r in rows if r.incident_id}))
                    )
                ).all()
            }
        return [
            InboundEntry(
                id=r.id,
                received_at=r.received_at,
                verified=r.verified,
                status=r.status,
                http_status=r.http_status,
                outcome=r.outcome,
                incident_number=numbers.get(r.incident_id) if r.incident_id else None,
                attempts=r.attempts,
            )
            for r in rows
        ]


VIA = {"teams": "Teams", "github": "GitHub", "pagerduty": "PagerDuty", "jira": "Jira", "linear": "Linear"}
KNOWN_KINDS = frozenset({"pagerduty", "jira", "linear", "github", "teams", "servicenow", "webhook", "opsgenie"})
