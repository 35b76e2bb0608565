"""PostgreSQL refuses Vigil for 10 s under traffic: every slash command gets a clear "try again", and Vigil recovers
on its own, without a restart (slow: the outage lasts 10 s of wall time).

The real Vigil (Bolt over Socket Mode against the emulator, the step and delivery workers, the jobs leader on its own
asyncpg connection) runs on a fresh PostgreSQL database with a webhook integration. A stream of slash commands flows
(`status` and notes in an incident's channel, `list` in #general) while the database is made to refuse Vigil:
`ALLOW_CONNECTIONS false` and every backend of the database terminated, again and again, so nothing reconnects. Into
the outage go a declaration whose Slack steps were in flight when it began, a declaration submitted during it, and a
:eyes: reaction on an incident's opening message. Then the database comes back, and the test polls (no fixed wait)
until everything the issue asks for holds:

* every command sent during the outage was acked and answered, with DATABASE_UNAVAILABLE or (when it ran after the
  outage) with its real answer, never "something went wrong" and never silence; a note refused was not recorded;
* the declaration in flight ends complete (the bar of tests/app/test_durable_steps.py's `surface_problems`) and its
  declarer is not told to try again; the one submitted during the outage is not silently lost: its declarer is told
  it was not saved, with what they typed;
* the reaction, refused unacked while its claim could not be written, is handled exactly once from Slack's re-send;
* commands, a new declaration (channel, pinned opening message, announcement), the step worker, the outbox (the
  webhook gets the new incident) and the jobs leader (the advisory lock held again on a new connection) work again;
* nothing was logged as an unhandled exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from bot import slack_ids as ids
from bot.container import build_container
from bot.emulator import SlackEmulator
from bot.emulator.records import AckResult
from bot.jobs.leader import LOCK_KEY, PostgresLeader
from bot.jobs.names import PURGE_LOGS
from bot.jobs.service import JobTiming
from bot.manifest import load_manifest, manifest_events
from bot.runtime import Runtime
from bot.slack_app import DATABASE_UNAVAILABLE, NOT_SAVED, SOMETHING_WRONG
from db.engine import database_unavailable
from db.models import Incident, JobRun, SurfaceStep
from db.tags import TECH_INCIDENTS
from integrations.service import IntegrationInput
from tests.app.conftest import ALICE, BOB, DAVE, GENERAL, INCIDENTS_CHANNEL, Vigil, seed, vigil_settings
from tests.app.test_declare import declare_values
from tests.app.test_durable_steps import cards_of, poll, surface_problems
from tests.integrations.platform import key_ring

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

OUTAGE = 10.0  # seconds the database refuses Vigil (the figure)
TERMINATE_EVERY = 0.2  # during the outage, any backend of the database that appears is ended this often
COMMAND_EVERY = 0.25  # the traffic: one slash command this often
COMMANDS_AFTER = 6  # the traffic goes on after the outage for this many commands (two of each kind)
RECOVERY = 40.0  # upper bound for each wait after the outage (steps claimed before it resume after their 20 s lease)
# Slack re-sends an unacked event after about a minute, then five; the emulator's gap stands in for that, so that a
# re-send falls after the outage (its attempts: at once, then every max(ack timeout, this) seconds, three times).
REDELIVERY_DELAY = OUTAGE
# The jobs leader checks its lock connection and tries the lock this often (real seconds).
LEADER_TIMING = JobTiming(heartbeat=0.5, heartbeat_timeout=2.0, leader_poll=0.5)


# ---------------------------------------------------------------- Vigil, with its jobs leader


@pytest.fixture
async def emulator() -> AsyncIterator[SlackEmulator]:
    """The emulator of tests/app/conftest.py, re-sending an unacked event as late as Slack would, relative to 10 s."""
    manifest = load_manifest()
    emu = SlackEmulator(
        ack_timeout=3.0,
        redelivery_delay=REDELIVERY_DELAY,
        subscribed_events=manifest_events(manifest),
        scopes=manifest["oauth_config"]["scopes"]["bot"],
    )
    seed(emu)
    await emu.start()
    yield emu
    await emu.stop()


@pytest.fixture
async def scene(emulator: SlackEmulator, postgresql_url: str, ca_bundle: Path, https_server: Any) -> AsyncIterator[Scene]:
    """`vigil run` in-process as tests/app/conftest.py's `start_vigil` starts it, plus the jobs leader (its scheduler
    too), with a webhook integration delivering to a recording HTTPS receiver."""
    receiver = await https_server()
    settings = vigil_settings(
        emulator,
        postgresql_url,
        VIGIL_ENCRYPTION_KEYS=key_ring(),
        VIGIL_CA_BUNDLE=str(ca_bundle),
        VIGIL_OUTBOUND_ALLOW_PRIVATE="true",
    )
    container = build_container(settings, job_timing=LEADER_TIMING)
    runtime = Runtime(container)
    try:
        await runtime.start(with_scheduler=True)
        await emulator.wait_connected()
        running = Vigil(runtime=runtime, container=container, emu=emulator)
        await running.tag(TECH_INCIDENTS, INCIDENTS_CHANNEL)
        await container.integrations.add(
            team_id=running.team_id,
            user_id=None,
            kind="webhook",
            change=IntegrationInput(name="ops", settings={"url": f"{receiver.url}/in"}),
        )
        yield Scene(vigil=running, db_url=postgresql_url, receiver=receiver)
    finally:
        await runtime.stop()
        await container.aclose()


# ---------------------------------------------------------------- the outage


def _admin_dsn(db_url: str) -> str:
    """The same server, its maintenance database: the outage is run from outside the database it takes away."""
    return make_url(db_url).set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)


@dataclass
class Outage:
    """The database refusing Vigil: `phase` is "before", "during" (refusal in force) or "after" (connections allowed)."""

    db_url: str
    phase: str = "before"
    terminated: int = 0
    began: float = 0.0  # loop time when the refusal came into force

    async def lasting(self, seconds: float) -> None:
        """Let the refusal last `seconds` from its start (whatever the test did in it meanwhile): the point itself."""
        await asyncio.sleep(max(0.0, self.began + seconds - asyncio.get_running_loop().time()))

    @property
    def database(self) -> str:
        return str(make_url(self.db_url).database)

    @contextlib.asynccontextmanager
    async def refusing(self) -> AsyncIterator[None]:
        """No new connection is allowed into the database, and every backend in it is ended, repeatedly."""
        admin = await asyncpg.connect(_admin_dsn(self.db_url), timeout=5)
        try:
            await admin.execute(f'ALTER DATABASE "{self.database}" WITH ALLOW_CONNECTIONS false')
            try:
                await self._terminate(admin)
                keeper = asyncio.create_task(self._keep_terminating(admin))
                self.phase, self.began = "during", asyncio.get_running_loop().time()
                try:
                    yield
                finally:
                    keeper.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await keeper
            finally:
                await admin.execute(f'ALTER DATABASE "{self.database}" WITH ALLOW_CONNECTIONS true')
                self.phase = "after"
        finally:
            await admin.close()

    async def _terminate(self, admin: asyncpg.Connection) -> None:
        ended = await admin.fetchval(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = $1 AND pid <> pg_backend_pid()",
            self.database,
        )
        self.terminated += int(ended or 0)

    async def _keep_terminating(self, admin: asyncpg.Connection) -> None:
        """A backend that was starting when connections were disallowed (or a superuser's) does not survive it."""
        while True:
            await asyncio.sleep(TERMINATE_EVERY)
            await self._terminate(admin)


@dataclass
class Scene:
    """The running Vigil, its database and its webhook receiver."""

    vigil: Vigil
    db_url: str
    receiver: Any

    @property
    def emu(self) -> SlackEmulator:
        return self.vigil.emu


# ---------------------------------------------------------------- the traffic


@dataclass
class Sent:
    """One slash command: when it was sent (the outage's phase), Slack's record of its ack, and for a note its text."""

    text: str
    channel: str
    phase: str
    ack: AckResult
    note: str | None = None


@dataclass
class Traffic:
    """A steady stream of slash commands from Alice: `status` and a note in the incident's channel, `list` in #general
    (a read, a write, a read of everything), one every COMMAND_EVERY seconds until stopped."""

    vigil: Vigil
    outage: Outage
    incident_channel: str
    sent: list[Sent] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def run(self) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            note = f"traffic note {n}" if n % 3 == 2 else None
            command, where = [
                ("status", self.incident_channel),
                ("list", GENERAL),
                (f"note {note}", self.incident_channel),
            ][n % 3]
            phase = self.outage.phase
            ack = await self.vigil.command(command, user=ALICE, channel=where)
            self.sent.append(Sent(text=command, channel=where, phase=phase, ack=ack, note=note))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), COMMAND_EVERY)

    async def stop_after(self, count: int) -> None:
        """Stop once `count` commands have been sent after the outage."""
        await poll(lambda: self._sent_after(count), timeout=RECOVERY, what=f"{count} commands after the outage")
        self._stop.set()

    async def _sent_after(self, count: int) -> bool:
        return len(self.of("after")) >= count

    def of(self, phase: str) -> list[Sent]:
        return [s for s in self.sent if s.phase == phase]

    def answers(self, emu: SlackEmulator, *, phase: str | None = None) -> dict[int, list[str]]:
        """What each command (of `phase`) was answered so far, by its index in `sent`."""
        return {n: answers_to(emu, s) for n, s in enumerate(self.sent) if phase is None or s.phase == phase}


def response_url_id(emu: SlackEmulator, envelope_id: str) -> str:
    """The id of the response_url the emulator gave the command delivered in `envelope_id`."""
    [record] = [e for e in emu.envelopes if e.envelope_id == envelope_id]
    return str(record.payload["response_url"]).split("/response/", 1)[1]


def answers_to(emu: SlackEmulator, sent: Sent) -> list[str]:
    """Everything Alice saw in answer to one command: the ack's text, posts to its response_url, and for a note made
    in the incident's channel (answered by its line there, for everyone) that line."""
    said = [str(sent.ack.payload["text"])] if sent.ack.payload and sent.ack.payload.get("text") else []
    url_id = response_url_id(emu, sent.ack.envelope_id)
    said += [r.text for r in emu.state.responses if r.url_id == url_id]
    if sent.note is not None:
        bot = emu.state.identity.bot_user_id
        said += [m.text for m in emu.state.history(sent.channel) if m.user == bot and m.text.endswith(sent.note)]
    return said


# ---------------------------------------------------------------- what Vigil shows


async def incidents_and_steps(vigil: Vigil) -> tuple[list[Incident], list[SurfaceStep]]:
    async with vigil.container.sessions() as session:
        incidents = list((await session.scalars(select(Incident).order_by(Incident.number))).all())
        steps = list((await session.scalars(select(SurfaceStep).order_by(SurfaceStep.id))).all())
    return incidents, steps


async def problems(vigil: Vigil) -> list[str]:
    """What keeps the incidents from being complete (the bar of test_durable_steps.py); [] when all are."""
    incidents, steps = await incidents_and_steps(vigil)
    cards = await cards_of(vigil.container.sessions, incidents)
    return surface_problems(vigil.emu, incidents, steps, cards=cards, announce_to=INCIDENTS_CHANNEL, deploy_to=None)


async def open_modal(vigil: Vigil, user: str) -> str:
    """`/incident open` as `user`: the declare modal's view id."""
    assert (await vigil.command("open", user=user, channel=GENERAL)).acked
    modal = await vigil.emu.wait_until(lambda: vigil.emu.state.top_modal(user), what="the declare modal")
    assert modal.callback_id == ids.VIEW_DECLARE
    return str(modal.id)


async def submit(vigil: Vigil, user: str, view_id: str, title: str, severity: str = "P2") -> AckResult:
    values = declare_values(title, severity, description=f"{title}, described")
    return await vigil.emu.send_view_submission(
        user_id=user,
        view_id=view_id,
        values=values,
        private_metadata=json.dumps({"channel_id": GENERAL}),
    )


def opened(receiver: Any) -> list[int]:
    """The incidents the webhook receiver was told were opened, in order."""
    bodies = [json.loads(r.body) for r in receiver.requests]
    return [int(b["incident"]["number"]) for b in bodies if b["event"] == "incident.opened"]


def dms_to(emu: SlackEmulator, user: str) -> list[str]:
    return [str(c.args.get("text") or "") for c in emu.calls_to("chat.postMessage") if c.args.get("channel") == user]


async def lock_holder_pid(vigil: Vigil) -> int | None:
    """The server pid of the session holding the scheduler's advisory lock in this database, if any."""
    query = (
        "SELECT l.pid FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
        "WHERE d.datname = current_database() AND l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
        "AND l.classid = :high AND l.objid = :low"
    )
    async with vigil.container.sessions() as session:
        row = (
            await session.execute(text(query), {"high": (LOCK_KEY >> 32) & 0xFFFFFFFF, "low": LOCK_KEY & 0xFFFFFFFF})
        ).first()
    return int(row[0]) if row else None


def leader_of(vigil: Vigil) -> PostgresLeader:
    leader = vigil.runtime.leader
    assert isinstance(leader, PostgresLeader)
    return leader


async def leader_backend(vigil: Vigil) -> int | None:
    """The server pid of the leader's own lock connection, while it leads."""
    leader = leader_of(vigil)
    conn = leader._conn
    if not leader.leading or conn is None or conn.is_closed():
        return None
    return int(conn.get_server_pid())


async def job_rounds_done(vigil: Vigil) -> bool:
    """Every job the new leader started at once has finished (none is left running)."""
    async with vigil.container.sessions() as session:
        runs = list((await session.scalars(select(JobRun))).all())
    return bool(runs) and all(r.outcome != "running" for r in runs)


def unhandled(records: list[logging.LogRecord]) -> list[str]:
    """Log records that are an unhandled exception (an error with a traceback, or asyncio's "never retrieved"), or a
    traceback at any level for the outage itself, which one line says all about."""
    return [
        f"{r.name}: {r.getMessage()}"
        for r in records
        if (r.levelno >= logging.ERROR and (r.exc_info is not None or "never retrieved" in r.getMessage()))
        or (r.exc_info is not None and r.exc_info[1] is not None and database_unavailable(r.exc_info[1]))
    ]


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    await poll(check, timeout=RECOVERY, interval=0.1, what=what)


# ---------------------------------------------------------------- the test


async def test_a_ten_second_database_outage_under_traffic(scene: Scene, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    vigil, emu, outage = scene.vigil, scene.emu, Outage(db_url=scene.db_url)
    first_leader = await leading(vigil)
    await until(lambda: job_rounds_done(vigil), "the first round of jobs")
    first = await declare_and_wait(vigil, ALICE, "Checkout down")
    await until(lambda: opened_are(scene.receiver, [1]), "INC-1 delivered")
    assert first.channel_id and first.opening_message_ts

    traffic = Traffic(vigil=vigil, outage=outage, incident_channel=first.channel_id)
    flowing = asyncio.create_task(traffic.run())
    await declaration_in_flight(scene, DAVE, "Payments slow")
    bob_modal = await open_modal(vigil, BOB)

    # A command sent just before the refusal may run into it (its ack is at once, its work after): only those already
    # answered now must have had a real answer.
    answered_before = {n for n, said in traffic.answers(emu, phase="before").items() if said}
    async with outage.refusing():
        emu.release("pins.add")  # Slack pins Dave's opening message; Vigil cannot write that down
        during = await submit(vigil, BOB, bob_modal, "Search down")
        reaction = await emu.user_reacts(BOB, first.channel_id, first.opening_message_ts, "eyes")
        assert reaction is not None
        await outage.lasting(OUTAGE)
        answered_in_outage = {n: said for n, said in traffic.answers(emu, phase="during").items() if said}

    await traffic.stop_after(COMMANDS_AFTER)
    await flowing

    await check_commands(emu, traffic, answered_in_outage, answered_before)
    await check_handled_once_after(vigil, reaction)
    await check_declarations(vigil, in_flight_by=DAVE, during=during, during_by=BOB, during_title="Search down")
    await check_recovered(scene, first_leader)
    assert outage.terminated >= 1
    assert not unhandled(caplog.records), "\n".join(unhandled(caplog.records))
    print(
        f"\n{len(traffic.of('during'))} commands sent in the outage, {len(answered_in_outage)} answered in it, "
        f"{outage.terminated} backends terminated, the event delivered {len(emu.deliveries_of(event_of(emu, reaction)))}"
        " times"
    )


# ---------------------------------------------------------------- its steps


async def leading(vigil: Vigil) -> int:
    """Wait until the leader holds the advisory lock (on its own connection); that connection's server pid."""
    held: list[int] = []

    async def holds() -> bool:
        backend = await leader_backend(vigil)
        if backend is None or await lock_holder_pid(vigil) != backend:
            return False
        held.append(backend)
        return True

    await until(holds, "the jobs leader holding its lock")
    return held[-1]


async def declare_and_wait(vigil: Vigil, user: str, title: str) -> Incident:
    """Declare through the modal, and wait until the new incident and every other is complete."""
    before = {i.number for i in await vigil.incidents()}
    ack = await submit(vigil, user, await open_modal(vigil, user), title)
    assert ack.acked and ack.payload is None, ack.payload

    async def complete() -> bool:
        return len(await vigil.incidents()) > len(before) and not await problems(vigil)

    await until(complete, f"{title} declared and complete")
    [new] = [i for i in await vigil.incidents() if i.number not in before]
    return new


async def declaration_in_flight(scene: Scene, user: str, title: str) -> None:
    """A declaration committed, its incident.opened delivered (nothing of the outbox left in flight), and its Slack
    steps running: the pin of its opening message held by Slack until the test releases it."""
    emu = scene.emu
    emu.hold("pins.add")
    ack = await submit(scene.vigil, user, await open_modal(scene.vigil, user), title)
    assert ack.acked and ack.payload is None, ack.payload
    await emu.wait_until(lambda: emu.held("pins.add") == 1, timeout=15, what=f"the pin of {title} held")
    await until(lambda: opened_are(scene.receiver, [1, 2]), f"{title} delivered")


async def check_commands(
    emu: SlackEmulator, traffic: Traffic, answered_in_outage: dict[int, list[str]], answered_before: set[int]
) -> None:
    """Every command acked and answered once: "try again" while the database refused Vigil; before and after it,
    whatever it asked (a command sent in the outage may run after it, one sent just before it may run into it); never
    "something went wrong", never silence. A refused note was not recorded."""
    assert all(s.ack.acked and not s.ack.limit_errors for s in traffic.sent), [s for s in traffic.sent if not s.ack.acked]
    assert len(answered_in_outage) >= 10, f"{len(answered_in_outage)} of {len(traffic.of('during'))} answered in it"
    for n, said in answered_in_outage.items():
        assert said == [DATABASE_UNAVAILABLE], (traffic.sent[n].text, said)

    async def all_answered() -> bool:
        return all(traffic.answers(emu).values())

    with contextlib.suppress(TimeoutError):
        await until(all_answered, "every command answered")
    for n, said in traffic.answers(emu).items():
        sent = traffic.sent[n]
        assert len(said) == 1 and SOMETHING_WRONG not in said, (sent.phase, sent.text, said)
        if sent.phase == "after" or n in answered_before:
            assert said != [DATABASE_UNAVAILABLE], (sent.phase, sent.text)
        if sent.note is not None and said == [DATABASE_UNAVAILABLE]:
            assert not note_posted(emu, sent), f"{sent.note}: refused, yet posted"


def event_of(emu: SlackEmulator, ack: AckResult) -> str:
    [event_id] = {str(e.event_id) for e in emu.envelopes if e.envelope_id == ack.envelope_id}
    return event_id


async def check_handled_once_after(vigil: Vigil, reaction: AckResult) -> None:
    """The :eyes: reaction was left unacked while its claim could not be written, and Slack's re-send after the outage
    was handled, once: INC-1 acknowledged by Bob."""
    emu = vigil.emu
    assert not reaction.acked

    async def acknowledged() -> bool:
        incidents = await vigil.incidents()
        return incidents[0].acknowledged_by == BOB and vigil.handled("event", "reaction_added") >= 1

    await until(acknowledged, "the :eyes: reaction acknowledging INC-1")
    await vigil.settle(timeout=RECOVERY)
    assert vigil.handled("event", "reaction_added") == 1
    acks = [e.acked for e in emu.deliveries_of(event_of(emu, reaction))]
    assert acks[-1] and not any(acks[:-1]), f"the event's deliveries, acked or not: {acks}"


async def check_declarations(
    vigil: Vigil, *, in_flight_by: str, during: AckResult, during_by: str, during_title: str
) -> None:
    """The declaration in flight when the outage began ends complete, and its declarer is not told to try again (it
    is declared). The one submitted during the outage closed its modal and was not saved: its declarer is told so,
    and given back what they typed."""
    emu = vigil.emu
    await until(lambda: no_problems(vigil), "every incident complete")
    assert not [t for t in dms_to(emu, in_flight_by) if "database" in t], dms_to(emu, in_flight_by)
    assert during.acked
    await until(lambda: told_not_saved(emu, during_by, during_title), f"{during_by} told {during_title} was not saved")
    assert during_title not in {i.title for i in await vigil.incidents()}


async def check_recovered(scene: Scene, first_leader: int) -> None:
    """Without a restart: a new declaration is complete (the step worker), the webhook hears of it (the outbox), the
    leader holds the lock again on a new connection, and a job runs."""
    vigil = scene.vigil
    after = await declare_and_wait(vigil, BOB, "Login broken")
    await until(lambda: opened_are(scene.receiver, [1, 2, after.number]), "the new incident delivered")
    assert await leading(vigil) != first_leader, "leading again, on a new connection"
    run = await vigil.container.jobs.run(PURGE_LOGS, team_id=vigil.team_id)
    assert run.outcome == "ok"


async def opened_are(receiver: Any, numbers: list[int]) -> bool:
    return opened(receiver) == numbers


async def no_problems(vigil: Vigil) -> bool:
    return not await problems(vigil)


async def told_not_saved(emu: SlackEmulator, user: str, title: str) -> bool:
    """`user` was told by direct message that the form was not saved, and given back the title they typed."""
    return any(t.startswith(NOT_SAVED) and f"*Title:* {title}" in t for t in dms_to(emu, user))


def note_posted(emu: SlackEmulator, sent: Sent) -> bool:
    bot = emu.state.identity.bot_user_id
    return any(m.user == bot and sent.note and m.text.endswith(sent.note) for m in emu.state.history(sent.channel))
