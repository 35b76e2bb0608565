"""Runs the Slack steps of incident changes, right after the change commits and again after any crash.

Each step reads the incident as it is when it runs, and is idempotent against Slack:
- creating the channel adopts the channel Vigil already made under that name (`name_taken`, Vigil the creator,
  no incident linked to it) instead of making a second one;
- a post that may have happened before (the step is resumed, not fresh) is first looked for by the marker every
  Vigil post carries in its metadata;
- pins, invites, topics, edits and renames are naturally repeatable.

A step's outcome is written as soon as it is known (a dependent step reads what it recorded), so a crash loses at
most the steps in flight, which the worker claims again when their lease ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.incidents import steps as kinds
from bot.incidents.channel_names import channel_name, closed_name
from bot.incidents.invites import InviteStrategy, resolve_invitees
from bot.incidents.ports import CardLink, CardNote, ChatError, ChatPort, IncidentCard, NameTaken, Note, PeoplePort
from bot.incidents.steps import LABELS, Planned, marker, next_attempt, notes_of
from db.cards import display_names, latest_note, links_of, workspace_url
from db.engine import OutageNotice, database_unavailable, log_failure, outage_summary
from db.incidents import add_timeline, get_by_channel
from db.leases import renew_until
from db.models import Component, Incident, SurfaceStep
from db.steps import (
    claim_ready,
    failed_steps,
    finish,
    incidents_with_ready_steps,
    postpone,
    release,
    renew,
    unfinished_of_kind,
    waiting_of_kind,
)

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=20)  # a resumed step waits at most this long after a crash (plus the worker's poll)
MAX_SUFFIX = 99
# A channel Vigil made under this incident's name is adopted only if made since the incident was declared (with
# some slack for clocks): an older one belongs to an incident of an earlier database, whose numbers restarted.
ADOPT_WINDOW = 300.0
RENEW_EVERY = LEASE / 4  # how often a live run extends the lease of the steps it still holds
SWEEP_CONCURRENCY = 8
REDRAW_AFTER = timedelta(seconds=30)  # a name Slack could not give is asked again after this
NAMED = frozenset({kinds.SET_TOPIC, kinds.POST_OPENING, kinds.UPDATE_OPENING})  # the steps that show people by name


InviteContextOf = Callable[[AsyncSession, Incident, Component | None], Awaitable[Any]]
CardOf = Callable[[Incident, str | None, Sequence[str]], IncidentCard]


class StepCrash(BaseException):
    """Raised by a test's hook to stop the runner where a killed process would stop: nothing more is recorded."""


@dataclass
class Done:
    """A step's outcome: what to remember on the step, on the incident, and on its timeline."""

    data: dict[str, Any] = field(default_factory=dict)
    incident: dict[str, Any] = field(default_factory=dict)
    timeline: dict[str, Any] | None = None


# Steps that render the incident's card (the rest need only its row).
RENDERS_CARD = frozenset(
    {
        kinds.SET_TOPIC,
        kinds.POST_OPENING,
        kinds.UPDATE_OPENING,
        kinds.ANNOUNCE,
        kinds.UPDATE_ANNOUNCEMENT,
        kinds.ANNOUNCE_REPLY,
        kinds.CONFIRM,
    }
)


@dataclass
class State:
    """The incident as one run sees it: read once, then kept up to date by the run's own steps. With it, what the
    card shows beyond the row: the names of the people on it, the latest note, the links (the announcement's is made
    from the incident as the run leaves it, so a run that posts the announcement links it at once)."""

    incident: Incident
    component: str | None
    missing: list[str]
    card_of: CardOf
    names: dict[str, str] = field(default_factory=dict)
    # People whose name Slack could not tell this run (a 429, a 500): the run shows them as mentions and asks the
    # worker to draw the named surfaces again later (`StepRunner._redraw_later`).
    unmet: set[str] = field(default_factory=set)
    note: CardNote | None = None
    links: tuple[CardLink, ...] = ()
    workspace_url: str | None = None

    def card(self) -> IncidentCard:
        incident = self.incident
        links = self.links
        if self.workspace_url and incident.announcement_channel_id and incident.announcement_ts:
            ts = incident.announcement_ts.replace(".", "")
            url = f"{self.workspace_url.rstrip('/')}/archives/{incident.announcement_channel_id}/p{ts}"
            links = (*links, CardLink("Announcement", url))
        card = self.card_of(incident, self.component, self.missing)
        return replace(card, names=dict(self.names), latest_note=self.note, links=links)


@dataclass
class Context:
    step: SurfaceStep
    incident: Incident
    card: IncidentCard
    fresh: bool  # written by this runner a moment ago: it cannot have reached Slack before
    invitees: asyncio.Task[list[str]] | None = None


class StepRunner:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        chat: ChatPort,
        clock: Clock,
        card_of: CardOf,
        invite_context: InviteContextOf,
        invite_strategies: dict[str, InviteStrategy],
        poll_interval: float = 1.0,
        people: PeoplePort | None = None,
    ) -> None:
        self.sessions = sessions
        self.chat = chat
        self.clock = clock
        self.card_of = card_of
        self.invite_context = invite_context
        self.invite_strategies = invite_strategies
        self.poll_interval = poll_interval
        self.people = people
        # Tests stop the runner before the k-th Slack step with this hook (it raises StepCrash).
        self.before_step: Callable[[SurfaceStep], None] | None = None
        # Called with (incident, labels) when steps fail for good outside a door's own run (the worker's retries).
        self.on_failed: Callable[[Incident, list[str]], Awaitable[None]] | None = None
        self._stopping = False
        self._stopped = asyncio.Event()
        self._running: set[int] = set()  # steps this process is running now: its own worker never claims them
        # The workspace whose Slack the chat port talks to (the runtime sets it from its own auth.test; otherwise the
        # chat port is asked once). Another workspace's incidents are never shown in this one's Slack.
        self.team_id: str | None = None

    # ---------------------------------------------------------------- writing plans, inside the change's transaction

    async def write(
        self, session: AsyncSession, incident: Incident, plan: Sequence[Planned], *, token: str
    ) -> list[SurfaceStep]:
        """Write `plan`'s steps for `incident`, claimed by `token` for the run right after the commit (`write_steps`)."""
        return await write_steps(
            session, team_id=incident.team_id, incident_id=incident.id, plan=plan, token=token, now=self.clock.now()
        )

    # ---------------------------------------------------------------- running

    async def run(self, steps: Sequence[SurfaceStep], *, token: str, fresh: bool = True) -> list[str]:
        """Run claimed steps of one incident, each as soon as the step it waits for is done, all others at once; the
        labels of the steps that failed for good. Steps that failed but will be tried again are left to the worker.

        The incident is read once; what a step learns (the channel, a message's ts) is kept in memory for the steps
        after it and written in the background, in the order the steps depend on each other, so a step waits for
        Slack and never for the database. While the run lasts its claims are renewed: a slow Slack call (a 429 slept
        through) never lets the worker or another replica run the same step beside it.
        """
        if not steps:
            return []
        incident_id = steps[0].incident_id
        assert all(s.incident_id == incident_id for s in steps), "one run is one incident's steps"
        if steps[0].team_id != await self._serving():
            await self._leave(steps, token=token)
            return []
        try:
            state = await self._load(incident_id, steps)
        except Exception as exc:
            log_failure(
                log,
                exc,
                "steps of incident %s not started: its row could not be read; resumed after their lease",
                incident_id,
            )
            return []
        ids = [s.id for s in steps]
        self._running.update(ids)
        stop_renewing = asyncio.Event()
        renewing = asyncio.create_task(self._renew(ids, token=token, stop=stop_renewing))
        loop = asyncio.get_running_loop()
        outcome: dict[int, asyncio.Future[bool]] = {s.id: loop.create_future() for s in steps}
        records: dict[int, asyncio.Task[None]] = {}
        failed: list[str] = []
        invitees = {s.id: asyncio.create_task(self._invitees(s.incident_id)) for s in steps if s.kind == kinds.INVITE}

        async def one(step: SurfaceStep) -> None:
            ok = False
            try:
                parent = outcome.get(step.after_id) if step.after_id is not None else None
                if parent is not None and not await parent:
                    await self._write(release, step, step_ids=[step.id], token=token)
                    return
                # A step running beside the one it needs waits for it too (the edit of the opening message that
                # follows the announcement, for the opening message's own post); done or not, it then goes on.
                for needed in steps:
                    if needed.kind == kinds.NEEDS.get(step.kind) and needed.id != step.after_id:
                        await outcome[needed.id]
                ok = await self._attempt(
                    step, state, token=token, fresh=fresh, invitees=invitees.get(step.id), failed=failed, records=records
                )
            finally:
                if not outcome[step.id].done():
                    outcome[step.id].set_result(ok)

        try:
            async with asyncio.TaskGroup() as group:
                for step in steps:
                    group.create_task(one(step))
        except BaseExceptionGroup as crashed:
            crash = next((e for e in crashed.exceptions if isinstance(e, StepCrash)), None)
            raise crash or crashed from None
        finally:
            # Nothing that holds a session is cancelled half-way (a cancelled SQLite transaction can keep the file
            # locked until it is collected): records, renewals and invitee lookups are awaited instead.
            await asyncio.gather(*records.values(), return_exceptions=True)
            stop_renewing.set()
            await asyncio.gather(renewing, return_exceptions=True)
            self._running.difference_update(ids)
            await asyncio.gather(*invitees.values(), return_exceptions=True)
        if state.unmet and any(step.kind in NAMED for step in steps):
            await self._redraw_later(state.incident)
        return failed

    async def _redraw_later(self, incident: Incident) -> None:
        """The topic and the opening message were drawn with a mention for someone whose name Slack could not give
        (a 429, a 500): have the worker draw them again once Slack answers, instead of leaving a ping there."""
        try:
            async with self.sessions() as session, session.begin():
                await write_steps(
                    session,
                    team_id=incident.team_id,
                    incident_id=incident.id,
                    plan=[Planned("opening", kinds.UPDATE_OPENING), Planned("topic", kinds.SET_TOPIC)],
                    token=None,
                    now=self.clock.now(),
                    due=self.clock.now() + REDRAW_AFTER,
                )
        except Exception as exc:
            log_failure(log, exc, "INC-%s: could not plan drawing its names again", incident.number)

    async def sweep(self, incident_id: int) -> list[str]:
        """Run whatever of the incident is ready and not running elsewhere, until nothing is (a later change's
        coalesced edit, a step that waited for this run); the labels of steps that failed for good."""
        failed: list[str] = []
        team_id = await self._serving()
        if team_id is None:
            return failed
        while True:
            token = uuid.uuid4().hex
            now = self.clock.now()
            async with self.sessions() as session, session.begin():
                steps = await claim_ready(
                    session,
                    team_id=team_id,
                    incident_id=incident_id,
                    now=now,
                    until=now + LEASE,
                    token=token,
                    skip=self._running,
                )
            if not steps:
                return failed
            failed += await self.run(steps, token=token, fresh=False)
        return failed

    async def _serving(self) -> str | None:
        """The workspace this runner shows incidents to, or None (logged) while Slack cannot say: its steps then wait,
        as for any Slack outage."""
        if self.team_id is None:
            try:
                self.team_id = await self.chat.team_id()
            except Exception as exc:
                log.warning("could not learn the bot's workspace (%s); Slack steps wait", type(exc).__name__)
                return None
        return self.team_id

    async def _leave(self, steps: Sequence[SurfaceStep], *, token: str) -> None:
        """Give back the claims on another workspace's steps (or, while the workspace is unknown, on any): they are
        for the Vigil with that workspace's token, and this one's worker does not pick them up."""
        if self.team_id is not None:
            log.warning(
                "steps of incident %s left alone: it belongs to workspace %s, this bot serves %s",
                steps[0].incident_id,
                steps[0].team_id,
                self.team_id,
            )
        await self._write(release, steps[0], step_ids=[s.id for s in steps], token=token)

    async def _attempt(
        self,
        step: SurfaceStep,
        state: State,
        *,
        token: str,
        fresh: bool,
        invitees: asyncio.Task[list[str]] | None,
        failed: list[str],
        records: dict[int, asyncio.Task[None]],
    ) -> bool:
        if self.before_step is not None:
            self.before_step(step)
        incident = state.incident
        context = Context(step=step, incident=incident, card=state.card(), fresh=fresh, invitees=invitees)
        try:
            done = await EXECUTORS[step.kind](self, context)
        except ChatError as exc:
            return await self._failed(step, incident, token=token, code=exc.code, failed=failed)
        except Exception as exc:
            if database_unavailable(exc):
                # Not the step's fault, and postponing it needs the database too: its lease ends the claim.
                log.warning(
                    "INC-%s: step %s stopped, resumed after its lease (database unavailable: %s)",
                    incident.number,
                    step.kind,
                    outage_summary(exc),
                )
                return False
            log.exception("INC-%s: step %s failed unexpectedly", incident.number, step.kind)
            return await self._failed(step, incident, token=token, code="internal_error", failed=failed)
        for key, value in done.incident.items():
            setattr(incident, key, value)
        parent = records.get(step.after_id) if step.after_id is not None else None
        records[step.id] = asyncio.create_task(self._record(step, done, token=token, after=parent))
        return True

    async def _record(self, step: SurfaceStep, done: Done, *, token: str, after: asyncio.Task[None] | None) -> None:
        """Write a step's outcome once its parent's is written. If it cannot be written the step stays claimed, and
        runs again (finding what it did) when the lease ends."""
        if after is not None:
            await asyncio.gather(after, return_exceptions=True)
        now = self.clock.now()
        try:
            async with self.sessions() as session, session.begin():
                if not await finish(session, step_id=step.id, token=token, now=now, result=done.data):
                    return  # another runner took it over; its outcome stands
                if done.incident or done.timeline:
                    row = await session.get(Incident, step.incident_id)
                    assert row is not None
                    for key, value in done.incident.items():
                        setattr(row, key, value)
                    if done.timeline:
                        await add_timeline(session, row, source="slack", at=now, **done.timeline)
        except Exception as exc:
            log_failure(
                log,
                exc,
                "step %s of incident %s done but not recorded; it runs again after its lease",
                step.kind,
                step.incident_id,
            )

    async def _failed(self, step: SurfaceStep, incident: Incident, *, token: str, code: str, failed: list[str]) -> bool:
        attempts = step.attempts + 1
        at = next_attempt(attempts=attempts, code=code, now=self.clock.now())
        await self._write(postpone, step, step_id=step.id, token=token, attempts=attempts, at=at, error=code)
        log.warning("INC-%s: step %s failed (%s); %s", incident.number, step.kind, code, "retrying" if at else "giving up")
        if at is None:
            failed.append(f"{LABELS.get(step.kind, step.kind)} ({code})")
        return False

    async def _write(self, change: Callable[..., Awaitable[Any]], step: SurfaceStep, **kwargs: Any) -> None:
        """Give back or postpone a claim; if the database does not answer, the lease ends it instead. Shielded: a run
        cancelled meanwhile (a sibling step crashed) does not cut the transaction short."""
        await asyncio.shield(self._write_now(change, step, **kwargs))

    async def _write_now(self, change: Callable[..., Awaitable[Any]], step: SurfaceStep, **kwargs: Any) -> None:
        try:
            async with self.sessions() as session, session.begin():
                await change(session, **kwargs)
        except Exception as exc:
            log_failure(
                log, exc, "step %s of incident %s: claim not updated; its lease ends it", step.kind, step.incident_id
            )

    async def _renew(self, step_ids: list[int], *, token: str, stop: asyncio.Event) -> None:
        async def extend() -> None:
            async with self.sessions() as session, session.begin():
                await renew(session, step_ids=step_ids, token=token, until=self.clock.now() + LEASE)

        await renew_until(stop, every=RENEW_EVERY.total_seconds(), renew=extend, log=log, what=f"running steps {step_ids}")

    async def card(self, incident_id: int) -> IncidentCard:
        """The incident's card as a step would render it now."""
        return (await self._load(incident_id, detailed=True)).card()

    async def _load(self, incident_id: int, steps: Sequence[SurfaceStep] = (), *, detailed: bool = False) -> State:
        state, people = await load_state(self.sessions, incident_id, card_of=self.card_of, steps=steps, detailed=detailed)
        await self._meet(state, people - state.names.keys())
        return state

    async def _meet(self, state: State, user_ids: set[str]) -> None:
        """Names of people the directory has never met (a first declaration), asked once and remembered there; who
        stays unknown is mentioned instead."""
        if self.people is None or not user_ids:
            return
        team_id = state.incident.team_id
        people = self.people
        found = await asyncio.gather(
            *(people.name(team_id=team_id, user_id=u) for u in sorted(user_ids)), return_exceptions=True
        )
        for user_id, name in zip(sorted(user_ids), found, strict=True):
            if isinstance(name, str) and name:
                state.names[user_id] = name
            elif isinstance(name, BaseException) and not isinstance(name, Exception):
                raise name
            elif isinstance(name, Exception) and _transient(name):
                state.unmet.add(user_id)

    async def _invitees(self, incident_id: int) -> list[str]:
        """Resolved while the channel is being created, so inviting costs no extra round trip."""
        async with self.sessions() as session:
            incident = await session.get(Incident, incident_id)
            assert incident is not None
            component = await session.get(Component, incident.component_id) if incident.component_id else None
            ctx = await self.invite_context(session, incident, component)
        return await resolve_invitees(ctx, self.invite_strategies)

    async def _linked(self, *, team_id: str, channel_id: str) -> bool:
        async with self.sessions() as session:
            return await get_by_channel(session, team_id=team_id, channel_id=channel_id) is not None

    # ---------------------------------------------------------------- the worker

    async def run_forever(self) -> None:
        """Resume what crashes and failures left: every poll, sweep each incident with ready steps."""
        self._stopping = False
        self._stopped = asyncio.Event()
        outage = OutageNotice(log, "step worker")
        while not self._stopping:
            try:
                await self.resume_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                outage.failed(exc)
            else:
                outage.succeeded()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), self.poll_interval)

    def stop(self) -> None:
        self._stopping = True
        self._stopped.set()

    async def resume_once(self) -> int:
        """One round of the worker: sweep every incident with ready steps (a few at a time). How many were swept."""
        team_id = await self._serving()
        if team_id is None:
            return 0
        async with self.sessions() as session:
            incident_ids = await incidents_with_ready_steps(
                session, team_id=team_id, now=self.clock.now(), skip=self._running
            )
        if not incident_ids:
            return 0
        gate = asyncio.Semaphore(SWEEP_CONCURRENCY)

        async def swept(incident_id: int) -> None:
            async with gate:
                failed = await self.sweep(incident_id)
            if failed and self.on_failed is not None:
                await self.on_failed((await self._load(incident_id)).incident, failed)

        await asyncio.gather(*(swept(i) for i in incident_ids))
        return len(incident_ids)


async def write_steps(
    session: AsyncSession,
    *,
    team_id: str,
    incident_id: int,
    plan: Sequence[Planned],
    token: str | None,
    now: datetime,
    due: datetime | None = None,
) -> list[SurfaceStep]:
    """Write `plan`'s steps, claimed by `token` for the run right after the commit (without a token, for the step
    worker's next round, or from `due` on); the steps claimed.

    A step that only brings a surface in line is not written when one of its kind is already waiting; when one
    is running, the new one waits for it (unclaimed), so edits never race and a burst ends in one more edit.
    A step that needs something an earlier change's step has not done yet (the channel) waits for that step.
    """
    written: dict[str, SurfaceStep] = {}
    for planned in plan:
        claimed = token is not None
        after_id: int | None = written[planned.after].id if planned.after else None
        if planned.kind in kinds.COALESCED and planned.after is None:
            waiting = await waiting_of_kind(session, incident_id=incident_id, kind=planned.kind, now=now)
            if waiting is not None:
                # It will show the incident as it is when it runs; one planned for later now runs as soon as this.
                if waiting.next_attempt_at > (due or now):
                    waiting.next_attempt_at = due or now
                continue
            running = await unfinished_of_kind(session, incident_id=incident_id, kind=planned.kind)
            if running is not None and running.status == "pending":
                after_id, claimed = running.id, False
        if after_id is None and planned.after is None and planned.kind in kinds.NEEDS:
            needed = await unfinished_of_kind(session, incident_id=incident_id, kind=kinds.NEEDS[planned.kind])
            if needed is not None:
                after_id, claimed = needed.id, False
        row = SurfaceStep(
            team_id=team_id,
            incident_id=incident_id,
            kind=planned.kind,
            args=dict(planned.args),
            after_id=after_id,
            status="pending",
            attempts=0,
            next_attempt_at=due or now,
            claim_token=token if claimed else None,
            claimed_until=now + LEASE if claimed else None,
            result={},
            created_at=now,
        )
        session.add(row)
        await session.flush()
        written[planned.key] = row
    return [row for row in written.values() if token is not None and row.claim_token == token]


async def refresh_opening(session: AsyncSession, *, team_id: str, incident_id: int, now: datetime) -> None:
    """Have the step worker bring the opening message in line (in its next round, within a second or so): for what
    changed outside a change of the incident, such as a ticket or a page it now links to."""
    await write_steps(
        session,
        team_id=team_id,
        incident_id=incident_id,
        plan=[Planned("opening", kinds.UPDATE_OPENING)],
        token=None,
        now=now,
    )


async def load_state(
    sessions: async_sessionmaker[AsyncSession],
    incident_id: int,
    *,
    card_of: CardOf,
    steps: Sequence[SurfaceStep] = (),
    detailed: bool = False,
) -> tuple[State, set[str]]:
    """The incident, and what its card shows when one of `steps` renders it (or `detailed`): one session, a few reads.
    With it, the people the card and the steps' lines name (their names as far as the directory knows them)."""
    async with sessions() as session:
        incident = await session.get(Incident, incident_id, populate_existing=True)
        assert incident is not None
        component = await session.get(Component, incident.component_id) if incident.component_id else None
        missing = [LABELS.get(s.kind, s.kind) for s in await failed_steps(session, incident_id=incident_id)]
        state = State(incident=incident, component=component.name if component else None, missing=missing, card_of=card_of)
        people: set[str | None] = set()
        for step in steps:
            if step.kind == kinds.POST_CHANGE:
                people.add(_text(step.args.get("actor_id")))
                people.update(_text(n.data.get(k)) for n in notes_of(step.args) for k in ("from", "to"))
        if detailed or any(step.kind in RENDERS_CARD for step in steps):
            note = await latest_note(session, incident_id=incident_id)
            if note is not None:
                by = note.data.get("by") if isinstance(note.data, dict) else None
                state.note = CardNote(text=note.text, at=note.at, author_id=note.actor_id, author=_text(by))
                people.add(note.actor_id)
            people.update((incident.commander_id, incident.reporter_id, incident.acknowledged_by))
            state.links = tuple(CardLink(label, url) for label, url in await links_of(session, incident))
            state.workspace_url = await workspace_url(session, team_id=incident.team_id)
        state.names = await display_names(session, team_id=incident.team_id, user_ids=people)
    return state, {p for p in people if p}


# ---------------------------------------------------------------- what each kind does


async def _create_channel(runner: StepRunner, ctx: Context) -> Done:
    incident = ctx.incident
    if incident.channel_id:
        return Done({"channel_id": incident.channel_id})
    private = bool(ctx.step.args.get("private", incident.private))
    suffix: int | None = None
    while True:
        # The name planned with the change (a resumed step asks for the same channel even if the title changed since).
        planned = str(ctx.step.args.get("name") or "")
        name = planned if suffix is None and planned else channel_name(incident.number, incident.title, suffix=suffix)
        try:
            channel_id = await runner.chat.create_channel(name=name, private=private)
        except NameTaken:
            found = await runner.chat.find_channel(name=name)
            if (
                found is not None
                and not found.is_archived
                and found.creator == await runner.chat.bot_user_id()
                and found.created >= incident.created_at.timestamp() - ADOPT_WINDOW
                and not await runner._linked(team_id=incident.team_id, channel_id=found.id)
            ):
                log.info("INC-%s: adopting #%s, made by an earlier attempt", incident.number, name)
                channel_id = found.id
            else:
                suffix = (suffix or 1) + 1
                if suffix > MAX_SUFFIX:
                    raise
                continue
        return Done({"channel_id": channel_id, "name": name}, incident={"channel_id": channel_id, "channel_name": name})


async def _invite(runner: StepRunner, ctx: Context) -> Done:
    # Shielded: the lookup holds a session, which a cancelled run must not cut short.
    users = await asyncio.shield(ctx.invitees if ctx.invitees is not None else runner._invitees(ctx.incident.id))
    if users and ctx.incident.channel_id:
        await runner.chat.invite(channel_id=ctx.incident.channel_id, user_ids=users)
    return Done({"invited": len(users)})


async def _invite_users(runner: StepRunner, ctx: Context) -> Done:
    users = [str(u) for u in ctx.step.args.get("user_ids") or []]
    if users and ctx.incident.channel_id:
        await runner.chat.invite(channel_id=ctx.incident.channel_id, user_ids=users)
    return Done()


async def _set_topic(runner: StepRunner, ctx: Context) -> Done:
    if ctx.incident.channel_id:
        await runner.chat.set_topic(card=ctx.card)
    return Done()


async def _post_opening(runner: StepRunner, ctx: Context) -> Done:
    incident = ctx.incident
    if incident.opening_message_ts or not incident.channel_id:
        return Done()
    mark = marker(incident.external_key, "opening")
    ts = None if ctx.fresh else await runner.chat.find_marked(channel_id=incident.channel_id, marker=mark)
    ts = ts or await runner.chat.post_opening(card=ctx.card, marker=mark)
    return Done({"ts": ts}, incident={"opening_message_ts": ts})


async def _pin_opening(runner: StepRunner, ctx: Context) -> Done:
    if ctx.incident.channel_id and ctx.incident.opening_message_ts:
        await runner.chat.pin(channel_id=ctx.incident.channel_id, ts=ctx.incident.opening_message_ts)
    return Done()


async def _confirm(runner: StepRunner, ctx: Context) -> Done:
    channel_id = str(ctx.step.args.get("channel_id") or "")
    if channel_id:
        await runner.chat.confirm_declaration(user_id=ctx.incident.reporter_id, channel_id=channel_id, card=ctx.card)
    return Done()


async def _announce(runner: StepRunner, ctx: Context) -> Done:
    incident = ctx.incident
    if incident.announcement_ts:
        return Done()
    channel_id = str(ctx.step.args["channel_id"])
    mark = marker(incident.external_key, "announcement")
    ts = None if ctx.fresh else await runner.chat.find_marked(channel_id=channel_id, marker=mark)
    ts = ts or await runner.chat.announce(channel_id=channel_id, card=ctx.card, marker=mark)
    return Done({"ts": ts}, incident={"announcement_channel_id": channel_id, "announcement_ts": ts})


async def _warn_deploy(runner: StepRunner, ctx: Context) -> Done:
    channel_id = str(ctx.step.args["channel_id"])
    mark = marker(ctx.incident.external_key, "deploy")
    ts = None if ctx.fresh else await runner.chat.find_marked(channel_id=channel_id, marker=mark)
    ts = ts or await runner.chat.warn_deploy(channel_id=channel_id, card=ctx.card, marker=mark)
    entry = {"kind": "deploy_warning", "text": "Deploy freeze announced", "data": {"channel_id": channel_id, "ts": ts}}
    return Done({"ts": ts}, timeline=entry)


async def _update_opening(runner: StepRunner, ctx: Context) -> Done:
    incident = ctx.incident
    if incident.channel_id and incident.opening_message_ts:
        await runner.chat.update_opening(card=ctx.card, ts=incident.opening_message_ts)
    return Done()


async def _update_announcement(runner: StepRunner, ctx: Context) -> Done:
    incident = ctx.incident
    if incident.announcement_channel_id and incident.announcement_ts:
        await runner.chat.update_announcement(
            channel_id=incident.announcement_channel_id, ts=incident.announcement_ts, card=ctx.card
        )
    return Done()


async def _post_change(runner: StepRunner, ctx: Context) -> Done:
    incident = ctx.incident
    if not incident.channel_id:
        return Done()
    mark = marker(incident.external_key, f"change:{ctx.step.id}")
    ts = None if ctx.fresh else await runner.chat.find_marked(channel_id=incident.channel_id, marker=mark)
    if ts is None:
        ts = await runner.chat.post_change(
            channel_id=incident.channel_id,
            actor_id=_text(ctx.step.args.get("actor_id")),
            notes=notes_of(ctx.step.args),
            names=ctx.card.names,
            marker=mark,
        )
    return Done({"ts": ts})


async def _announce_reply(runner: StepRunner, ctx: Context) -> Done:
    incident = ctx.incident
    channel_id, thread_ts = incident.announcement_channel_id, incident.announcement_ts
    if not channel_id or not thread_ts:
        return Done()
    mark = marker(incident.external_key, f"thread:{ctx.step.id}")
    ts = None if ctx.fresh else await runner.chat.find_marked(channel_id=channel_id, marker=mark, thread_ts=thread_ts)
    if ts is None:
        raw = ctx.step.args.get("reply") or {}
        reply = Note(str(raw.get("kind") or ""), str(raw.get("text") or ""), dict(raw.get("data") or {}))
        ts = await runner.chat.reply_to_announcement(
            channel_id=channel_id,
            thread_ts=thread_ts,
            card=ctx.card,
            reply=reply,
            broadcast=bool(ctx.step.args.get("broadcast")),
            marker=mark,
        )
    return Done({"ts": ts})


def _text(value: object) -> str | None:
    return str(value) if isinstance(value, str) and value else None


async def _rename_closed(runner: StepRunner, ctx: Context) -> Done:
    incident = ctx.incident
    if not incident.channel_id or not incident.channel_name:
        return Done()
    name = closed_name(incident.channel_name)
    if name == incident.channel_name:
        return Done()
    renamed = await runner.chat.rename_channel(channel_id=incident.channel_id, name=name)
    return Done({"name": renamed}, incident={"channel_name": renamed})


Executor = Callable[[StepRunner, Context], Awaitable[Done]]
EXECUTORS: dict[str, Executor] = {
    kinds.CREATE_CHANNEL: _create_channel,
    kinds.INVITE: _invite,
    kinds.INVITE_USERS: _invite_users,
    kinds.SET_TOPIC: _set_topic,
    kinds.POST_OPENING: _post_opening,
    kinds.PIN_OPENING: _pin_opening,
    kinds.CONFIRM: _confirm,
    kinds.ANNOUNCE: _announce,
    kinds.WARN_DEPLOY: _warn_deploy,
    kinds.UPDATE_OPENING: _update_opening,
    kinds.UPDATE_ANNOUNCEMENT: _update_announcement,
    kinds.POST_CHANGE: _post_change,
    kinds.ANNOUNCE_REPLY: _announce_reply,
    kinds.RENAME_CLOSED: _rename_closed,
}


def _transient(exc: Exception) -> bool:
    """A failure worth asking again later (rate limited, Slack's 5xx, the network), as opposed to an answer."""
    response = getattr(exc, "response", None)
    if response is not None:
        status = getattr(response, "status_code", None)
        if isinstance(status, int) and status >= 500:
            return True
        try:
            code = str(response.get("error") or "")
        except Exception:
            code = ""
        if code:
            return kinds.retryable(code)
    chat_code = getattr(exc, "code", None)
    if isinstance(chat_code, str) and chat_code:
        return kinds.retryable(chat_code)
    return isinstance(exc, OSError | TimeoutError)
