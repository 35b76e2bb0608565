"""A declaration, a status change and a burst of changes survive a crash at any point between their Slack calls.

The process is "killed" in-process: the step runner is stopped with `StepCrash` (a BaseException, so nothing more is
recorded and it propagates out of the service call, as a killed process records nothing) at a chosen step, either

* before the step's Slack call (`StepRunner.before_step`): Slack never saw it; or
* after Slack answered it: the runner's chat port is wrapped so that the call goes through to the emulator and the
  crash is raised on its return, before the runner writes the outcome. Slack did it and Vigil forgot — the case where
  a second channel or a second message would come from.

The first crash kills the whole "process": sibling steps in flight are cancelled by the runner's task group wherever
they were (their Slack call made or not), and any other change still running stops at its next step or Slack answer.
`World.kill` then stops the dead Vigil's tasks and socket and waits until none of its transactions is left open. The
"restart" is a second Vigil on the same database, emulator and injected clock (a new container, engine, Slack client
and step runner); its clock is moved past the crashed run's lease (`LEASE`) and `resume_once()` is called until
nothing is ready, as `vigil run`'s step worker does every second. Both Vigils' background step workers are stopped so
that the test decides when steps run.

Then the workspace is checked as the issue states the bar: every incident has exactly one channel that Vigil knows
and no other channel Vigil made under its number (no orphan), the reporter in it, the topic, the opening message
posted once (by its metadata marker) and pinned, the announcement posted once, the P1 deploy warning posted once, each
change line once, and the opening message, topic and announcement showing the incident as the database has it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import sqlite3
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.blocks.incident import headline, opening_blocks, topic
from bot.clock import FrozenClock
from bot.emulator import SlackEmulator
from bot.emulator.state import Message
from bot.incidents import steps as kinds
from bot.incidents.ports import ChatPort, IncidentCard
from bot.incidents.states import Severity, Status
from bot.incidents.step_runner import LEASE, StepCrash, StepRunner, load_state
from bot.incidents.surfaces import card_of
from db.models import Incident, SurfaceStep
from db.tags import IT_DEPLOY, TECH_INCIDENTS
from tests.app.conftest import ALICE, BOB, GENERAL, INCIDENTS_CHANNEL, StartVigil, Vigil

DEPLOYS = "C0DEPLOYS"

# The ChatPort calls that change something in Slack (what a crash "after the Slack call" follows); lookups
# (find_marked, find_channel, bot_user_id, members) are reads a resumed step makes first.
MUTATING = frozenset(
    {
        "create_channel",
        "invite",
        "set_topic",
        "post_opening",
        "update_opening",
        "pin",
        "announce",
        "update_announcement",
        "warn_deploy",
        "rename_channel",
        "post_change",
        "post_message",
        "confirm_declaration",
        "reply_to_announcement",
    }
)

# Every Slack step of a public P1 declaration with an announcement channel, a deploy channel and an origin channel,
# in plan order: create → (invite ‖ topic ‖ post → pin ‖ confirm ‖ announce → opening ‖ warn).
DECLARATION_STEPS = (
    kinds.CREATE_CHANNEL,
    kinds.INVITE,
    kinds.SET_TOPIC,
    kinds.POST_OPENING,
    kinds.PIN_OPENING,
    kinds.CONFIRM,
    kinds.ANNOUNCE,
    kinds.UPDATE_OPENING,
    kinds.WARN_DEPLOY,
)
# Every Slack step of a status change (acknowledge, move): the surfaces it shows on and the change line (an ack does
# not show on the announcement); a resolution also replies in the announcement's thread.
CHANGE_STEPS = {
    "ack": (kinds.UPDATE_OPENING, kinds.SET_TOPIC, kinds.POST_CHANGE),
    "resolve": (kinds.UPDATE_OPENING, kinds.SET_TOPIC, kinds.UPDATE_ANNOUNCEMENT, kinds.POST_CHANGE, kinds.ANNOUNCE_REPLY),
}
WHEN = ("before", "after")  # the crash before the step's Slack call, or after Slack answered it

# ---------------------------------------------------------------- the crash injector

_current_step: ContextVar[SurfaceStep | None] = ContextVar("current_step", default=None)


@dataclass
class Crash:
    """Stop the runner at the step of `kind` (of `incident_id`, or of any incident), before or after its Slack call."""

    kind: str
    after: bool = False
    incident_id: int | None = None

    def matches(self, step: SurfaceStep | None) -> bool:
        return (
            step is not None
            and step.kind == self.kind
            and (self.incident_id is None or step.incident_id == self.incident_id)
        )


@dataclass
class Injector:
    """Installed on a runner: its `before_step` hook and a wrapper of its chat port.

    The hook records the step in a context variable: the step's Slack calls run in the same task, so the chat wrapper
    knows which step makes each call. A planned `Crash` fires once; `crash_after_calls=n` crashes after the n-th
    answered Slack call that changed something. The first crash kills the whole "process": from then on every step
    that reaches the hook and every Slack call (its answer, for one in flight) raises StepCrash too, so the other
    changes running at that moment stop where they are, as they would under `kill -9`.

    `hold` makes the first call of those methods wait for `release` (a slow Slack); `gate`, when set, makes every
    changing call wait until it is opened.
    """

    crashes: list[Crash] = field(default_factory=list)
    crash_after_calls: int | None = None
    hold: frozenset[str] = frozenset()
    gate: asyncio.Event | None = None
    fired: list[Crash] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)  # (step kind, chat method) of answered changing calls
    died_at: list[tuple[int, str]] = field(default_factory=list)  # (incident id, step kind) stopped by the crash
    dead: asyncio.Event = field(default_factory=asyncio.Event)
    held: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: StepRunner | None = None
    _chat: ChatPort | None = None

    def install(self, runner: StepRunner) -> Injector:
        self._runner, self._chat = runner, runner.chat
        runner.before_step = self.before_step
        runner.chat = _CrashingChat(runner.chat, self)
        return self

    def uninstall(self) -> None:
        if self._runner is not None and self._chat is not None:
            self._runner.before_step = None
            self._runner.chat = self._chat

    def before_step(self, step: SurfaceStep) -> None:
        _current_step.set(step)
        self._die_if(step, self._planned(step, after=False), where="before the step")

    def _planned(self, step: SurfaceStep | None, *, after: bool) -> Crash | None:
        return next((c for c in self.crashes if c.after == after and c not in self.fired and c.matches(step)), None)

    def _die_if(self, step: SurfaceStep | None, crash: Crash | None, *, where: str, nth: bool = False) -> None:
        if crash is None and not nth and not self.dead.is_set():
            return
        if crash is not None:
            self.fired.append(crash)
        self.dead.set()
        if step is not None:
            self.died_at.append((step.incident_id, step.kind))
        raise StepCrash(f"{step.kind if step else '?'}: {where}")

    async def around(self, method: str, call: Callable[[], Awaitable[Any]], *, changing: bool) -> Any:
        step = _current_step.get()
        self._die_if(step, None, where=f"before {method}")
        if changing and self.gate is not None:
            await self.gate.wait()
        if method in self.hold and not self.held.is_set():
            self.held.set()
            await self.release.wait()
        result = await call()
        if not changing:
            self._die_if(step, None, where=f"after {method}")
            return result
        self.calls.append((step.kind if step else "?", method))
        nth = self.crash_after_calls is not None and len(self.calls) == self.crash_after_calls
        self._die_if(step, self._planned(step, after=True), where=f"after {method}", nth=nth)
        return result


class _CrashingChat:
    def __init__(self, chat: ChatPort, injector: Injector) -> None:
        self._chat = chat
        self._injector = injector

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._chat, name)
        if not asyncio.iscoroutinefunction(attr):
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await self._injector.around(name, lambda: attr(*args, **kwargs), changing=name in MUTATING)

        return call


# ---------------------------------------------------------------- starting, crashing, restarting


def runner_of(vigil: Vigil) -> StepRunner:
    return vigil.container.incidents.steps


async def _cancel(task: asyncio.Task[None] | None) -> None:
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@dataclass
class World:
    """The Vigil under test (its step worker stopped, so that steps run only when the test says so; cancelled rather
    than `stop()`ped, which would also end the `sweep` the service runs after a change), and its restarts."""

    start_vigil: StartVigil
    db_url: str
    clock: FrozenClock = field(default_factory=lambda: FrozenClock(datetime.now(UTC)))
    vigil: Vigil = field(init=False)

    @property
    def emu(self) -> SlackEmulator:
        return self.vigil.emu

    async def start(self) -> Vigil:
        """A Vigil on the database, emulator and clock."""
        self.vigil = await self.start_vigil(clock=self.clock)
        await _cancel(self.vigil.runtime.steps_task)
        self.vigil.runtime.steps_task = None
        return self.vigil

    async def kill(self) -> None:
        """What `kill -9` leaves of the running Vigil, once its changes have stopped (StepCrash): none of its tasks
        runs any more, its Socket Mode connection is gone and so is any transaction it had open.

        In-process, the task group a StepCrash breaks cancels the sibling steps wherever they are, and a task
        cancelled inside a session can lose its connection with the transaction still open (the rollback on check-in
        is cancelled too): SQLite's write lock, or PostgreSQL's row locks, stay held until the garbage collector
        finalizes that connection. A killed process's connections close at once, so this waits until they have."""
        runtime = self.vigil.runtime
        await _cancel(runtime.worker_task)
        runtime.worker_task = None
        if runtime.handler is not None:
            await runtime.handler.close_async()
        await poll(self._nothing_held, timeout=15, what="the dead Vigil's transactions to be gone", interval=0.05)

    async def _nothing_held(self) -> bool:
        gc.collect()  # finalizes (closes) a connection lost by a cancelled check-in
        await asyncio.sleep(0.01)  # its close runs on the loop and the driver's thread
        url = make_url(self.db_url)
        if url.get_backend_name() == "sqlite":
            try:
                with contextlib.closing(sqlite3.connect(url.database or "", timeout=0, isolation_level=None)) as db:
                    db.execute("BEGIN IMMEDIATE")
                    db.execute("ROLLBACK")
            except sqlite3.OperationalError:
                return False
            return True
        query = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"
        )
        async with self.vigil.container.engine.connect() as conn:
            return not (await conn.execute(text(query))).scalar()

    async def restart(self) -> Vigil:
        """`kill -9`, then `vigil run` again: a new Vigil on the same database, emulator and clock (no step run yet)."""
        await self.kill()
        return await self.start()

    async def resume(self, rounds: int = 10) -> None:
        """The lease of whatever the dead runner held ends; the step worker's rounds until nothing is ready."""
        self.clock.advance(seconds=LEASE.total_seconds() + 1)
        await drain(self.vigil, rounds=rounds)

    async def incidents(self) -> list[Incident]:
        return await self.vigil.incidents()

    async def steps(self) -> list[SurfaceStep]:
        async with self.vigil.container.sessions() as session:
            return list((await session.scalars(select(SurfaceStep).order_by(SurfaceStep.id))).all())

    async def check(self, *, changes: dict[int, int]) -> None:
        """Every incident complete (the bar), each with exactly `changes[number]` change lines."""
        problems = await self.problems(changes=changes)
        assert not problems, "\n".join(problems)

    async def problems(self, *, changes: dict[int, int] | None = None) -> list[str]:
        incidents = await self.incidents()
        return surface_problems(
            self.emu,
            incidents,
            await self.steps(),
            cards=await cards_of(self.vigil.container.sessions, incidents),
            announce_to=INCIDENTS_CHANNEL,
            deploy_to=DEPLOYS,
            changes=changes,
        )


async def cards_of(sessions: async_sessionmaker[AsyncSession], incidents: Sequence[Incident]) -> dict[int, IncidentCard]:
    """Each incident's card as the step runner renders it from the database now: what Slack must show."""
    return {i.id: (await load_state(sessions, i.id, card_of=card_of, detailed=True))[0].card() for i in incidents}


async def drain(vigil: Vigil, *, rounds: int = 10) -> None:
    runner = runner_of(vigil)
    for _ in range(rounds):
        if not await runner.resume_once():
            return
    raise AssertionError(f"steps still ready after {rounds} rounds of the step worker")


@pytest.fixture
async def world(start_vigil: StartVigil, db_url: str) -> World:
    """Vigil with a frozen clock at the wall time (channels' `created` in the emulator is wall time: adoption compares
    them), its step worker stopped, #incidents tagged for announcements and #deploys for deploy warnings."""
    world = World(start_vigil=start_vigil, db_url=db_url)
    vigil = await world.start()
    vigil.emu.add_channel("deploys", members=[ALICE], channel_id=DEPLOYS)
    await vigil.tag(TECH_INCIDENTS, INCIDENTS_CHANNEL)
    await vigil.tag(IT_DEPLOY, DEPLOYS)
    return world


async def declare(vigil: Vigil, title: str = "Checkout down", severity: Severity = Severity.P1, **extra: Any) -> Any:
    return await vigil.container.incidents.declare(
        team_id=vigil.team_id,
        reporter_id=BOB,
        title=title,
        severity=severity,
        origin_channel_id=GENERAL,
        **extra,
    )


async def crashed(call: Awaitable[Any]) -> None:
    with pytest.raises(StepCrash):
        await call


async def poll(check: Callable[[], Awaitable[bool]], *, timeout: float, what: str, interval: float = 0.01) -> None:
    """Wait until `check()` is true, checking every `interval` (what is waited for signals nothing), at most `timeout`."""
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


# ---------------------------------------------------------------- the bar, as a list of what is wrong


def marker_of(message: Message) -> str | None:
    payload = (message.metadata or {}).get("event_payload")
    return str(payload.get("marker")) if isinstance(payload, dict) and payload.get("marker") else None


def marked(emu: SlackEmulator, channel_id: str, marker: str) -> list[Message]:
    bot = emu.state.identity.bot_user_id
    return [m for m in emu.state.history(channel_id) if m.user == bot and marker_of(m) == marker]


def opening_edits(emu: SlackEmulator, incident: Incident) -> int:
    """How many `chat.update` calls Slack answered for the incident's opening message."""
    return len(
        [c for c in emu.calls_to("chat.update") if c.response.get("ok") and c.args.get("ts") == incident.opening_message_ts]
    )


def surface_problems(
    emu: SlackEmulator,
    incidents: Sequence[Incident],
    steps: Sequence[SurfaceStep],
    *,
    cards: Mapping[int, IncidentCard],
    announce_to: str | None,
    deploy_to: str | None,
    changes: dict[int, int] | None = None,
) -> list[str]:
    """What keeps the incidents from being complete, as the issue states the bar; [] when every one is.

    `cards` are the incidents as Slack must show them (`cards_of`); `changes` maps an incident number to how many
    change lines its channel must show (each exactly once)."""
    out: list[str] = []
    bot = emu.state.identity.bot_user_id
    unfinished = [f"{s.kind}#{s.id} of incident {s.incident_id} is {s.status}" for s in steps if s.status != "done"]
    out += unfinished
    known = {i.channel_id for i in incidents}
    made = [c for c in emu.state.channels.values() if c.creator == bot and c.name.startswith("inc-")]
    out += [f"orphan channel #{c.name} ({c.id}): made by Vigil, linked to no incident" for c in made if c.id not in known]
    for inc in incidents:
        ref = f"INC-{inc.number}"
        card = cards[inc.id]
        channel = emu.state.channels.get(inc.channel_id or "")
        if channel is None:
            out.append(f"{ref}: no channel (channel_id {inc.channel_id!r})")
            continue
        mine = [c.name for c in made if c.name.startswith(f"inc-{inc.number}-")]
        if mine != [channel.name] or channel.name != inc.channel_name:
            out.append(f"{ref}: Vigil made channels {mine}; the incident knows #{inc.channel_name}")
        if inc.reporter_id not in channel.members:
            out.append(f"{ref}: the reporter {inc.reporter_id} is not in #{channel.name} ({channel.members})")
        if channel.topic != topic(card):
            out.append(f"{ref}: topic {channel.topic!r}, expected {topic(card)!r}")
        key = inc.external_key
        openings = marked(emu, channel.id, f"{key}:opening")
        if [m.ts for m in openings] != [inc.opening_message_ts]:
            out.append(f"{ref}: opening messages {[m.ts for m in openings]}, the incident knows {inc.opening_message_ts}")
        elif not emu.state.is_pinned(channel.id, openings[0].ts):
            out.append(f"{ref}: the opening message is not pinned")
        elif openings[0].text != headline(card) or openings[0].blocks != opening_blocks(card):
            out.append(f"{ref}: the opening message shows {openings[0].text!r}, expected {headline(card)!r}")
        in_channel = Counter(marker_of(m) for m in emu.state.history(channel.id) if m.user == bot and not m.subtype)
        out += [f"{ref}: {n} messages marked {mark!r} in #{channel.name}" for mark, n in in_channel.items() if n > 1]
        if None in in_channel:
            out.append(f"{ref}: {in_channel[None]} unmarked Vigil message(s) in #{channel.name}")
        lines = sum(1 for mark in in_channel if mark and mark.startswith(f"{key}:change:"))
        if changes is not None and lines != changes.get(inc.number, 0):
            out.append(f"{ref}: {lines} change line(s), expected {changes.get(inc.number, 0)}")
        announced = inc.severity in ("P1", "P2", "P3") and not inc.private and announce_to
        if announced and announce_to:
            posts = marked(emu, announce_to, f"{key}:announcement")
            if [m.ts for m in posts] != [inc.announcement_ts]:
                out.append(f"{ref}: announcements {[m.ts for m in posts]}, the incident knows {inc.announcement_ts}")
            elif posts[0].text != headline(card):
                out.append(f"{ref}: the announcement shows {posts[0].text!r}, expected {headline(card)!r}")
            replies = Counter(
                marker_of(m) for m in emu.state.history(announce_to) if m.user == bot and m.thread_ts == inc.announcement_ts
            )
            out += [f"{ref}: {n} replies marked {mark!r} in its thread" for mark, n in replies.items() if n > 1]
        if deploy_to and inc.severity == "P1" and not inc.private:
            warnings = marked(emu, deploy_to, f"{key}:deploy")
            if len(warnings) != 1:
                out.append(f"{ref}: {len(warnings)} deploy warnings")
    return out


# ---------------------------------------------------------------- a declaration


async def test_the_bar_holds_for_a_declaration_without_a_crash(world: World) -> None:
    """The checker itself: a plain declaration passes it, and each of the defects it looks for is reported."""
    await declare(world.vigil)
    await world.check(changes={})
    [incident] = await world.incidents()
    emu, channel_id = world.emu, incident.channel_id or ""
    opening = marked(emu, channel_id, f"{incident.external_key}:opening")[0]
    emu.state.history(channel_id).append(
        Message(ts=emu.ids.ts(), channel=channel_id, user=opening.user, text="x", metadata=opening.metadata)
    )
    emu.state.channels[channel_id].topic = "stale"
    emu.state.channels[channel_id].members.remove(BOB)
    orphan = emu.add_channel(f"inc-{incident.number}-checkout-down-2", members=[emu.state.identity.bot_user_id])
    problems = "\n".join(await world.problems(changes={}))
    assert "opening messages" in problems and "2 messages marked" in problems
    assert "topic 'stale'" in problems and "reporter U0BOB is not in" in problems
    assert f"orphan channel #inc-{incident.number}-checkout-down-2 ({orphan})" in problems


@pytest.mark.parametrize("when", WHEN)
@pytest.mark.parametrize("kind", DECLARATION_STEPS)
async def test_a_declaration_survives_a_crash_at_each_step(world: World, kind: str, when: str) -> None:
    """Killed before / right after the Slack call of each step of a P1 declaration (channel, invites, topic, opening
    message, pin, the declarer's confirmation, announcement, deploy warning); after the restart the incident is
    complete with nothing made twice. A crash after `create_channel` leaves a channel Slack made and Vigil forgot:
    it is adopted (name_taken → the bot's own unlinked channel), not duplicated. After `post_opening`, `announce`,
    `warn_deploy` the message is found by its marker instead of posted again."""
    injector = Injector(crashes=[Crash(kind, after=when == "after")]).install(runner_of(world.vigil))
    await crashed(declare(world.vigil))
    assert injector.fired == injector.crashes, "the crash happened"
    await world.restart()
    [incident] = await world.incidents()
    assert await world.problems(changes={}), "the crash left the incident incomplete"

    await world.resume()

    await world.check(changes={})
    assert len(world.emu.calls_to("conversations.create")) == 1 + (kind == kinds.CREATE_CHANNEL and when == "after")
    confirmations = world.emu.state.ephemerals_for(BOB, GENERAL)
    # An ephemeral message cannot be looked up: one Slack answered before the crash (this step's, or a sibling's that
    # was in flight when the run died) is sent again. At least once, at most once more.
    assert 1 <= len(confirmations) <= 2
    if kind == kinds.CONFIRM:
        assert len(confirmations) == 1 + (when == "after")
    assert all(f"INC-{incident.number}" in e.text for e in confirmations)


async def test_a_declaration_survives_a_crash_at_every_slack_call_in_turn(world: World) -> None:
    """Killed after the 1st Slack call, restarted and killed after the 2nd of that run, and so on: every run dies one
    call later than the one before until one gets through. Many steps are redone after Slack did them."""
    Injector(crash_after_calls=1).install(runner_of(world.vigil))
    await crashed(declare(world.vigil))
    for n in range(2, 20):
        restarted = await world.restart()
        world.clock.advance(seconds=LEASE.total_seconds() + 1)
        Injector(crash_after_calls=n).install(runner_of(restarted))
        try:
            await drain(restarted)
        except StepCrash:
            continue
        break
    else:
        raise AssertionError("the declaration never completed")
    assert n > 3, "several runs were killed"
    await world.check(changes={})


async def test_crash_before_commit_leaves_nothing(world: World) -> None:
    """Killed inside the declaration's transaction (here: while writing its steps): no incident, no step, no Slack."""
    runner = runner_of(world.vigil)
    write = runner.write

    async def dying_write(*args: Any, **kwargs: Any) -> Any:
        await write(*args, **kwargs)
        raise StepCrash("inside the transaction")

    runner.write = dying_write  # type: ignore[method-assign]
    await crashed(declare(world.vigil))
    await world.restart()
    await world.resume()
    assert await world.incidents() == [] and await world.steps() == []
    assert world.emu.calls_to("conversations.create") == []


# ---------------------------------------------------------------- a status change


@pytest.mark.parametrize("when", WHEN)
@pytest.mark.parametrize(("crashing", "kind"), [(c, k) for c, ks in CHANGE_STEPS.items() for k in ks])
async def test_a_status_change_survives_a_crash_at_each_step(world: World, crashing: str, kind: str, when: str) -> None:
    """Acknowledge, then resolve, with the process killed before / after each Slack call of one of them.

    When the ack is the one killed, the restarted Vigil is asked to resolve before the dead run's lease ends: the
    resolve's edits wait for the dead run's edits of the same surface, and everything catches up at the resume. In
    the end the pinned opening message, the topic and the announcement show `resolved`, each change line (the
    ack's, the resolve's) is in the channel exactly once, and the resolution once in the announcement's thread."""
    await declare(world.vigil, severity=Severity.P2)
    [incident] = await world.incidents()
    service = world.vigil.container.incidents
    injector = Injector(crashes=[Crash(kind, after=when == "after")])
    if crashing == "ack":
        injector.install(runner_of(world.vigil))
        await crashed(service.acknowledge(incident, actor_id=ALICE, source="slack"))
        service = (await world.restart()).container.incidents
        await service.move(incident, actor_id=ALICE, target=Status.RESOLVED, source="slack", note="rolled back")
    else:
        await service.acknowledge(incident, actor_id=ALICE, source="slack")
        injector.install(runner_of(world.vigil))
        await crashed(service.move(incident, actor_id=ALICE, target=Status.RESOLVED, source="slack", note="rolled back"))
        await world.restart()
    assert injector.fired == injector.crashes, "the crash happened"

    await world.resume()

    [incident] = await world.incidents()
    assert (incident.status, incident.acknowledged_by) == ("resolved", ALICE)
    await world.check(changes={incident.number: 2})
    channel = world.emu.state.channels[incident.channel_id or ""]
    assert channel.topic == "🟠 P2 · Resolved · IC @bob"
    texts = sorted(m.text for m in world.emu.state.history(channel.id) if ":change:" in (marker_of(m) or ""))
    assert texts == [":eyes: @alice: Acknowledged", ":white_check_mark: @alice: Status open → resolved: rolled back"]
    [reply] = [m for m in world.emu.state.history(INCIDENTS_CHANNEL) if m.thread_ts == incident.announcement_ts]
    assert reply.text.startswith(":white_check_mark: INC-1 resolved after 1 m: rolled back")
    assert reply.subtype == "thread_broadcast"


@pytest.mark.parametrize("when", WHEN)
@pytest.mark.parametrize("kind", [kinds.RENAME_CLOSED, kinds.POST_CHANGE])
async def test_closing_survives_a_crash_around_the_rename(world: World, kind: str, when: str) -> None:
    """Closing renames the channel: killed before / after the rename (or the close's change line), the channel ends
    renamed once, known by its new name, with no other channel made."""
    await declare(world.vigil, severity=Severity.P3)
    [incident] = await world.incidents()
    service = world.vigil.container.incidents
    await service.move(incident, actor_id=ALICE, target=Status.RESOLVED, source="slack", note="rolled back")
    Injector(crashes=[Crash(kind, after=when == "after")]).install(runner_of(world.vigil))
    await crashed(service.move(incident, actor_id=ALICE, target=Status.CLOSED, source="slack"))
    await world.restart()
    await world.resume()

    [incident] = await world.incidents()
    assert incident.status == "closed" and incident.channel_name == "inc-1-checkout-down-closed"
    await world.check(changes={incident.number: 2})
    assert world.emu.state.channels[incident.channel_id or ""].topic == "rolled back"


# ---------------------------------------------------------------- a burst of changes

BURST: tuple[tuple[str, Any], ...] = (
    ("move", Status.INVESTIGATING),
    ("title", "Checkout down in EU"),
    ("severity", Severity.P3),
    ("title", "Checkout down in EU and US"),
    ("move", Status.MITIGATING),
    ("title", "Checkout slow in EU and US"),
    ("severity", Severity.P4),
    ("title", "Checkout slow in US"),
    ("title", "Checkout slow, one region"),
    ("title", "Checkout recovering"),
)


async def burst(vigil: Vigil, incident: Incident) -> list[Any]:
    """The ten changes at once, each through the service as a door calls it (commit, then its Slack steps). Each is
    a real change whatever order they commit in (two different statuses, two severities, six titles)."""
    service = vigil.container.incidents

    async def one(what: str, value: Any) -> Any:
        if what == "move":
            return await service.move(incident, actor_id=ALICE, target=value, source="slack")
        if what == "severity":
            return await service.set_severity(incident, actor_id=ALICE, severity=value, source="slack")
        return await service.set_title(incident, actor_id=ALICE, title=value, source="slack")

    return await asyncio.gather(*(one(what, value) for what, value in BURST), return_exceptions=True)


async def committed_changes(vigil: Vigil, incident: Incident) -> int:
    async with vigil.container.sessions() as session:
        return await _changes(session, incident)


async def _changes(session: AsyncSession, incident: Incident) -> int:
    from db.models import TimelineEvent

    rows = await session.scalars(
        select(TimelineEvent).where(
            TimelineEvent.incident_id == incident.id, TimelineEvent.kind.in_(("status", "title", "severity"))
        )
    )
    return len(rows.all())


@pytest.mark.parametrize("crash", [False, True], ids=["no-crash", "crash-after-first-edit"])
async def test_a_burst_of_changes_ends_in_one_more_edit_showing_the_final_state(world: World, crash: bool) -> None:
    """Ten status/severity/title changes at once to one incident while Slack is slower than the burst (every Slack
    call of the runner waits at a gate until all ten have committed — with 100 ms per call in production, the ten
    transactions commit while the first edits are in flight).

    The first change's edit of each surface is running when the others commit; the second change writes one edit
    that waits for it; the eight others find that one waiting and write none (it reads the incident when it runs).
    So the opening message is edited twice for ten changes: once by the running edit (an intermediate state), once
    by the waiting one (the final state). With a crash right after the first edit's Slack call, that edit is redone
    after the lease (showing the final state by then): three. Never ten, and the final state is never lost."""
    await declare(world.vigil, severity=Severity.P2)
    [incident] = await world.incidents()
    declared = opening_edits(world.emu, incident)  # the declaration's own edit, linking the announcement
    gate = asyncio.Event()
    crashes = [Crash(kinds.UPDATE_OPENING, after=True)] if crash else []
    injector = Injector(crashes=crashes, gate=gate).install(runner_of(world.vigil))
    running = asyncio.ensure_future(burst(world.vigil, incident))
    await poll(lambda: _all_committed(world.vigil, incident), timeout=10, what="the ten changes to commit")
    gate.set()
    results = await running
    crashed_changes = [r for r in results if isinstance(r, BaseException)]
    assert all(isinstance(r, StepCrash) for r in crashed_changes), crashed_changes
    assert bool(crashed_changes) == crash  # the crash stops every change whose Slack side was still running
    if crash:
        await world.restart()
    await world.resume()

    [incident] = await world.incidents()
    assert await committed_changes(world.vigil, incident) == len(BURST)
    await world.check(changes={incident.number: len(BURST)})
    edits = opening_edits(world.emu, incident) - declared
    assert edits == (3 if crash else 2), edits
    assert incident.status in ("investigating", "mitigating") and incident.severity in ("P3", "P4")
    assert injector.fired == crashes


async def _all_committed(vigil: Vigil, incident: Incident) -> bool:
    return await committed_changes(vigil, incident) == len(BURST)


# ---------------------------------------------------------------- ten declarations at once


async def test_ten_parallel_declarations_killed_mid_way_all_complete_once(world: World) -> None:
    """Ten declarations at once; the process dies right after Slack answered the 30th of their ~75 calls: all ten
    have committed (Vigil's Slack calls wait at a gate until they have) and their runs stop wherever each one is —
    before a step, with a call in flight, or right after Slack answered one. After the restart all ten are complete:
    ten channels, no orphan, nothing posted twice."""
    gate = asyncio.Event()
    injector = Injector(crash_after_calls=30, gate=gate).install(runner_of(world.vigil))
    running = asyncio.gather(*(declare(world.vigil, f"Outage {n}") for n in range(10)), return_exceptions=True)

    async def all_committed() -> bool:
        return len(await world.incidents()) == 10

    await poll(all_committed, timeout=10, what="the ten declarations to commit")
    gate.set()
    await asyncio.wait_for(injector.dead.wait(), 10)
    while not running.done():  # the other runs stop at their next step or Slack answer; see World.kill
        gc.collect()
        await asyncio.wait([running], timeout=0.05)
    results = running.result()
    await world.kill()
    assert sum(isinstance(r, StepCrash) for r in results) >= 5, results
    assert len({kind for _, kind in injector.died_at}) >= 2, injector.died_at
    await world.start()
    await world.resume()

    incidents = await world.incidents()
    assert sorted(i.number for i in incidents) == list(range(1, 11))
    assert len({i.channel_id for i in incidents}) == 10
    await world.check(changes={})


# ---------------------------------------------------------------- what the bar finds that the runner gets wrong


async def test_a_title_change_between_crash_and_resume_leaves_no_orphan(world: World) -> None:
    """Slack made #inc-1-checkout-down, the process died before recording it; the restarted Vigil is asked to change
    the title (any door: by number, the CLI, a webhook) before the resume. The resumed step must adopt the channel it
    made, not make #inc-1-payments-down beside it."""
    Injector(crashes=[Crash(kinds.CREATE_CHANNEL, after=True)]).install(runner_of(world.vigil))
    await crashed(declare(world.vigil))
    service = (await world.restart()).container.incidents
    [incident] = await world.incidents()
    await service.set_title(incident, actor_id=BOB, title="Payments down", source="slack")
    await world.resume()
    await world.check(changes={1: 1})


async def test_a_step_slower_than_its_lease_is_not_run_twice(world: World) -> None:
    """The opening message's chat.postMessage is slow (here held before it reaches Slack; in production a 429 whose
    Retry-After the Slack client sleeps through, up to 5 times, or a 15 s timeout retried): the step's 20 s lease
    ends while it is still running, the step worker takes it over (finds no marked message: none was posted yet) and
    posts; then the slow call goes through too."""
    injector = Injector(hold=frozenset({"post_opening"})).install(runner_of(world.vigil))
    declaring = asyncio.ensure_future(declare(world.vigil))
    await asyncio.wait_for(injector.held.wait(), 10)

    async def only_the_post_and_what_follows_it_left() -> bool:
        left = {s.kind for s in await world.steps() if s.status != "done"}
        return left == {kinds.POST_OPENING, kinds.PIN_OPENING, kinds.UPDATE_OPENING}

    await poll(only_the_post_and_what_follows_it_left, timeout=10, what="the other steps to finish")
    world.clock.advance(seconds=LEASE.total_seconds() + 1)
    await drain(world.vigil)  # the step worker of the same process (or another replica on PostgreSQL)
    injector.release.set()
    await declaring
    await drain(world.vigil)
    await world.check(changes={})


async def test_a_change_committing_while_the_worker_runs_its_waiting_edit_is_shown(world: World, db_url: str) -> None:
    """A coalesced edit is skipped when one of its kind is waiting (`StepRunner.write`): the waiting one will read the
    incident when it runs. But if the step worker claims and runs the waiting edit after the change saw it waiting and
    before the change commits, the edit reads the incident without the change and no edit is left to show it.

    Forced here: an ack's edits are left by a crash (lease over, so they are waiting); the restarted Vigil changes
    the title, and the worker's round runs inside that change's transaction, between its planning and its commit."""
    if db_url.startswith("sqlite"):
        pytest.skip("SQLite serialises writers (BEGIN IMMEDIATE): the worker's claim waits for the change to commit")
    await declare(world.vigil, severity=Severity.P2)
    [incident] = await world.incidents()
    Injector(crashes=[Crash(kinds.UPDATE_OPENING)]).install(runner_of(world.vigil))
    await crashed(world.vigil.container.incidents.acknowledge(incident, actor_id=ALICE, source="slack"))
    restarted = await world.restart()
    world.clock.advance(seconds=LEASE.total_seconds() + 1)
    runner = runner_of(restarted)
    write = runner.write

    async def write_then_worker_round(*args: Any, **kwargs: Any) -> Any:
        written = await write(*args, **kwargs)
        runner.write = write  # type: ignore[method-assign]
        await asyncio.wait_for(runner.resume_once(), 10)
        return written

    runner.write = write_then_worker_round  # type: ignore[method-assign]
    await restarted.container.incidents.set_title(incident, actor_id=ALICE, title="Payments down", source="slack")
    await world.resume()
    [incident] = await world.incidents()
    assert incident.title == "Payments down"
    await world.check(changes={incident.number: 2})
