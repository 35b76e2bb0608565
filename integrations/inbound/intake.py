"""The answer path of inbound webhooks: what happens between a vendor's request and Vigil's answer.

Requests are stored with a group commit. Each request waits for the transaction its row is written in; a writer
(two on PostgreSQL) takes every request that arrived meanwhile and handles them together — one query for their
integrations, one for the incidents they name, one INSERT for their rows, one commit — so under a burst of
deliveries the database work per request shrinks instead of queueing. When requests come one at a time, each is its
own batch and nothing waits.

Per request, in the order of the checks: an unknown or disabled integration (or one of another kind) is
404; a signature that no way of reading the request verifies is 401 (logged, nothing else happens); a body that
cannot be read is 400 (logged); a delivery id already stored is 200 "duplicate"; nothing to do or an unknown
incident is 202 and logged as ignored; otherwise the row is stored as pending and carried out after the answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Table, and_, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.metrics import Metrics
from db.models import InboundDelivery, Incident, Integration, IntegrationLink
from integrations.base import Configured
from integrations.inbound.instructions import Instruction, Malformed, Ref
from integrations.inbound.kinds import Kind, delivery_id
from integrations.inbound.request import Request
from integrations.secret_box import KeyRing, NoKeyRing, Tampered, UnknownKey
from integrations.teams.card import text_card
from integrations.worker import configured

log = logging.getLogger(__name__)

MAX_BATCH = 200
WRITERS_POSTGRESQL = 2
OUTCOME_LIMIT = 500
OPENED_KEPT = 1000
NOTHING = "nothing to do"
UNVERIFIED = "signature missing, wrong or stale"
TEAMS_USAGE = "Name the incident in your message, e.g. “@Vigil INC-12 rolled back the deploy”: it goes to its Slack channel."
INBOX: Table = InboundDelivery.__table__  # type: ignore[assignment]
KEY = re.compile(r"vigil-(?P<team>[A-Za-z0-9]+)-(?P<number>\d{1,10})")


@dataclass(frozen=True)
class Reply:
    status: int
    body: Mapping[str, Any]


def answer(kind: Kind | None, status: int, outcome: str, **extra: Any) -> Reply:
    """The JSON answer; Teams gets 200 and a card whatever happened (its user reads the card)."""
    if kind is not None and kind.teams_reply and status in (200, 202):
        text = TEAMS_USAGE if outcome == NOTHING else f"Vigil: {outcome}."
        return Reply(200, text_card(text))
    return Reply(status, {"ok": status < 300, "outcome": outcome, **extra})


@dataclass
class Arrival:
    """One request waiting for its batch."""

    kind: str
    integration_id: str
    request: Request
    ways: list[Kind]
    future: asyncio.Future[Reply]
    # Filled in while the batch is handled:
    integration: Integration | None = None
    spec: Kind | None = None
    row: dict[str, Any] = field(default_factory=dict)
    instructions: list[Instruction] = field(default_factory=list)
    reply: Reply | None = None


def target(integration: Integration, ref: Ref) -> tuple[str, str, str] | None:
    """Where a reference points, as a lookup key: ("number", team, n) or ("link", integration id, external id);
    None for a Vigil key of another workspace."""
    if ref.kind == "number":
        return ("number", integration.team_id, ref.value)
    if ref.kind == "key":
        match = KEY.fullmatch(ref.value)
        if match is not None:
            return ("number", integration.team_id, match["number"]) if match["team"] == integration.team_id else None
    return ("link", integration.id, ref.value)


class Intake:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        keys: KeyRing,
        metrics: Metrics | None,
        on_pending: Callable[[], None],
        max_batch: int = MAX_BATCH,
    ) -> None:
        self.sessions = sessions
        self.keys = keys
        self.metrics = metrics
        self.on_pending = on_pending
        self.max_batch = max_batch
        self._queue: list[Arrival] = []
        self._writers: set[asyncio.Task[None]] = set()
        self._opened: dict[str, tuple[tuple[Any, ...], Configured]] = {}

    async def receive(self, *, kind: str, integration_id: str, request: Request, ways: list[Kind]) -> Reply:
        arrival = Arrival(kind, integration_id, request, ways, asyncio.get_running_loop().create_future())
        self._queue.append(arrival)
        if len(self._writers) < self._writers_allowed():
            writer = asyncio.create_task(self._write_batches(), name="vigil-inbound-intake")
            self._writers.add(writer)
            writer.add_done_callback(self._writers.discard)
        return await asyncio.shield(arrival.future)

    def _writers_allowed(self) -> int:
        """Two batches in flight on PostgreSQL (one is written while the next one's queries run); SQLite writes
        one transaction at a time anyway."""
        return WRITERS_POSTGRESQL if self.sessions.kw["bind"].dialect.name == "postgresql" else 1

    async def _write_batches(self) -> None:
        while self._queue:
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            try:
                pending = await self._store(batch)
            except Exception as exc:
                log.exception("inbound batch of %d not stored", len(batch))
                for arrival in batch:
                    if not arrival.future.done():
                        arrival.future.set_exception(exc)
                continue
            for arrival in batch:
                if not arrival.future.done():
                    assert arrival.reply is not None
                    arrival.future.set_result(arrival.reply)
            if pending:
                self.on_pending()

    # ---------------------------------------------------------------- one batch, one transaction

    @contextlib.asynccontextmanager
    async def _statements(self) -> AsyncIterator[AsyncSession]:
        """On PostgreSQL, a session whose statements each commit on their own: a batch's two reads and its one INSERT
        need no transaction around them (the INSERT is atomic by itself; READ COMMITTED reads would see no more), and
        leaving it out saves two of a batch's five round trips (BEGIN and COMMIT). SQLite has no round trips to save
        and writes in one transaction."""
        engine = self.sessions.kw["bind"]
        if engine.dialect.name != "postgresql":
            async with self.sessions() as session, session.begin():
                yield session
            return
        async with engine.connect() as conn:
            each = await conn.execution_options(isolation_level="AUTOCOMMIT")
            async with AsyncSession(bind=each, expire_on_commit=False) as session:
                yield session

    async def _store(self, batch: Sequence[Arrival]) -> bool:
        async with self._statements() as session:
            ids = {a.integration_id for a in batch}
            found = {i.id: i for i in (await session.scalars(select(Integration).where(Integration.id.in_(ids)))).all()}
            for arrival in batch:
                self._check(arrival, found.get(arrival.integration_id))
            await self._find_incidents(session, [a for a in batch if a.reply is None])
            rows = [a.row for a in batch if a.row]
            stored = await self._insert(session, rows) if rows else set()
        pending = False
        seen: set[tuple[str, str]] = set()
        for arrival in batch:
            if arrival.reply is not None:
                continue
            key = (arrival.row["integration_id"], arrival.row["dedup_id"])
            if key not in stored or key in seen:
                arrival.reply = answer(arrival.spec, 200, "duplicate: already received", duplicate=True)
                continue
            seen.add(key)
            pending |= arrival.row["status"] == "pending"
            arrival.reply = answer(arrival.spec, 202, arrival.row["outcome"])
        return pending

    def _check(self, arrival: Arrival, integration: Integration | None) -> None:
        """Integration, signature, body: decides the answer of refused requests, and prepares the others' rows."""
        if integration is None or not integration.active or integration.kind != arrival.kind:
            arrival.reply = answer(None, 404, "no such integration")
            return
        request = arrival.request
        try:
            opened = self._open(integration, now=request.now)
        except (NoKeyRing, UnknownKey, Tampered) as exc:
            log.error("inbound %s: the integration's secrets cannot be opened (%s)", integration.name, type(exc).__name__)
            arrival.reply = answer(None, 503, "Vigil cannot check signatures right now; try again later")
            return
        arrival.integration = integration
        base: dict[str, Any] = {
            "team_id": integration.team_id,
            "integration_id": integration.id,
            "kind": arrival.kind,
            "dedup_id": None,
            "received_at": request.now,
            "verified": False,
            "instructions": [],
            "incident_id": None,
            "attempts": 0,
            "next_attempt_at": None,
            "finished_at": request.now,
        }
        arrival.spec = next((way for way in arrival.ways if way.verify(request, opened)), None)
        if arrival.spec is None:
            if self.metrics is not None:
                self.metrics.inbound_unverified.labels(kind=arrival.kind).inc()
            arrival.row = base | {"status": "refused", "http_status": 401, "outcome": UNVERIFIED}
            arrival.reply = answer(None, 401, UNVERIFIED)
            return
        base["verified"] = True
        try:
            arrival.instructions = arrival.spec.parse(request, opened)
        except Malformed as exc:
            arrival.row = base | {"status": "refused", "http_status": 400, "outcome": f"malformed: {exc}"[:OUTCOME_LIMIT]}
            arrival.reply = answer(None, 400, f"malformed: {exc}")
            return
        dedup = delivery_id(arrival.spec, request) or "sha256:" + hashlib.sha256(request.body).hexdigest()
        arrival.row = base | {"dedup_id": dedup, "http_status": 202}

    def _open(self, integration: Integration, *, now: datetime) -> Configured:
        """The integration's opened secrets, kept while its sealed blob (and the rotation overlap) is unchanged."""
        overlapping = integration.previous_secret_until is not None and integration.previous_secret_until > now
        version = (integration.secrets, integration.updated_at, overlapping, integration.active)
        kept = self._opened.get(integration.id)
        if kept is not None and kept[0] == version:
            return kept[1]
        opened = configured(self.keys, integration, now=now)
        if len(self._opened) >= OPENED_KEPT:
            self._opened.clear()
        self._opened[integration.id] = (version, opened)
        return opened

    async def _find_incidents(self, session: AsyncSession, arrivals: Sequence[Arrival]) -> None:
        """The incidents every request names, in two queries for the whole batch; then each row's outcome."""
        wanted: list[tuple[Arrival, list[tuple[str, str, str] | None]]] = []
        for arrival in arrivals:
            assert arrival.integration is not None
            wanted.append((arrival, [target(arrival.integration, i.ref) for i in arrival.instructions if i.ref is not None]))
        keys = {key for _, targets in wanted for key in targets if key is not None}
        numbers = {(team, int(n)) for kind, team, n in keys if kind == "number"}
        links = {(integration_id, value) for kind, integration_id, value in keys if kind == "link"}
        known: dict[tuple[str, str, str], Incident] = {}
        if numbers:
            teams: dict[str, set[int]] = {}
            for team, number in numbers:
                teams.setdefault(team, set()).add(number)
            where = or_(*(and_(Incident.team_id == team, Incident.number.in_(ns)) for team, ns in teams.items()))
            for incident in (await session.scalars(select(Incident).where(where))).all():
                known[("number", incident.team_id, str(incident.number))] = incident
        if links:
            stmt = (
                select(IntegrationLink.integration_id, IntegrationLink.external_id, Incident)
                .join(Incident, Incident.id == IntegrationLink.incident_id)
                .where(
                    IntegrationLink.integration_id.in_({i for i, _ in links}),
                    IntegrationLink.external_id.in_({v for _, v in links}),
                )
            )
            for integration_id, external_id, incident in (await session.execute(stmt)).all():
                known[("link", integration_id, str(external_id))] = incident
        for arrival, targets in wanted:
            incidents = [known[key] for key in targets if key is not None and key in known]
            arrival.row |= self._outcome(arrival, incidents)

    @staticmethod
    def _outcome(arrival: Arrival, incidents: list[Incident]) -> dict[str, Any]:
        instructions = arrival.instructions
        opens = any(i.action == "open" for i in instructions)
        if not instructions:
            return {"status": "ignored", "outcome": NOTHING}
        if not incidents and not opens:
            refs = ", ".join(sorted({i.ref.value for i in instructions if i.ref is not None}))
            return {"status": "ignored", "outcome": f"no incident for {refs}"[:OUTCOME_LIMIT]}
        names = ", ".join(dict.fromkeys(f"INC-{i.number}" for i in incidents))
        return {
            "status": "pending",
            "outcome": f"accepted for {names}" if names else "accepted: opening an incident",
            "instructions": [i.to_json() for i in instructions],
            "incident_id": incidents[0].id if incidents else None,
            "next_attempt_at": arrival.request.now,
            "finished_at": None,
        }

    @staticmethod
    async def _insert(session: AsyncSession, rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
        """Insert the rows in one statement; the (integration, dedup id) of the verified ones that were new."""
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        stmt = (
            insert(INBOX)
            .on_conflict_do_nothing(index_elements=["integration_id", "dedup_id"])
            .returning(INBOX.c.integration_id, INBOX.c.dedup_id)
        )
        # Core, not the ORM's bulk path (no per-row bookkeeping), in executemany form: one cached statement whatever
        # the batch size (SQLAlchemy sends it as multi-row INSERTs with RETURNING on both databases).
        result = await session.execute(stmt, rows)
        return {(i, d) for i, d in result.all() if d is not None}
