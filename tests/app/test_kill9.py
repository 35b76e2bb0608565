"""`kill -9` of `vigil run` during ten parallel declarations: within 30 s of the restart every incident is complete.

A real `vigil run` subprocess against the bundled emulator (in this process, with 100 ms added to every Web API
call, as in bench/declare.py) and a migrated database. Ten declarations are submitted at once; the process is
SIGKILLed once Slack has answered a chosen number of its calls (early: the channels being made; mid: invites, topics,
posts and announcements in flight; late: pins) — 0.3 to 0.9 s after the submissions — so that calls are in flight
when it dies (the emulator completes them: Slack did it, Vigil forgot). `vigil run` is started again and the test
polls the database and the emulator (no fixed wait) until the bar holds, as tests/app/test_durable_steps.py's
`surface_problems` checks it: exactly one channel that Vigil knows per incident, no orphan channel, the reporter in
it, its topic, the opening message once and pinned, the announcement and the P1 deploy warning once, no duplicate
message, every step done.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pytest
from sqlalchemy import select

from bot import slack_ids as ids
from bot.emulator import SlackEmulator
from bot.emulator.records import AckResult
from bot.incidents.ports import IncidentCard
from db.engine import make_engine, make_session_factory
from db.models import Incident, SurfaceStep
from db.tags import IT_DEPLOY, TECH_INCIDENTS, set_conversation_tag
from db.workspaces import record_workspace
from tests.app.conftest import ALICE, BOB, DAVE, GENERAL, INCIDENTS_CHANNEL
from tests.app.processes import kill_9, run_env, stop_all, vigil_run
from tests.app.test_declare import declare_values
from tests.app.test_durable_steps import DEPLOYS, cards_of, poll, surface_problems

pytestmark = pytest.mark.slow

LATENCY = 0.1
DECLARATIONS = 10
RESTART_BUDGET = 30.0  # the bar: every incident complete within 30 s of the restart
KillPoint = Callable[[Sequence["asyncio.Future[AckResult]"], int], Awaitable[None]]
KILL_AFTER_CALLS = {"early": 12, "mid": 35, "late": 60}  # of about 85 Web API calls for the ten declarations


async def read_state(url: str) -> tuple[list[Incident], list[SurfaceStep], dict[int, IncidentCard]]:
    """The incidents, their steps, and their cards as the step runner renders them."""
    engine = make_engine(url)
    try:
        sessions = make_session_factory(engine)
        async with sessions() as session:
            incidents = list((await session.scalars(select(Incident).order_by(Incident.number))).all())
            steps = list((await session.scalars(select(SurfaceStep).order_by(SurfaceStep.id))).all())
        return incidents, steps, await cards_of(sessions, incidents)
    finally:
        await engine.dispose()


@dataclass
class Crash:
    """One run of the scenario: what was in Slack and the database when `vigil run` was killed, and after."""

    killed_after: float = 0.0  # seconds after the submissions
    answered: list[str] = field(default_factory=list)  # Web API methods Slack answered before the kill
    acked: int = 0
    at_kill: list[Incident] = field(default_factory=list)
    unfinished_at_kill: int = 0
    incidents: list[Incident] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    complete_after: float = 0.0  # seconds after the restart

    def summary(self) -> str:
        return (
            f"killed {self.killed_after:.2f}s after the submissions with {len(self.answered)} calls answered "
            f"({self.answered.count('conversations.create')} channels made), {self.acked} acked, "
            f"{len(self.at_kill)} incidents with {self.unfinished_at_kill} steps unfinished; after the restart "
            f"{len(self.incidents)} incidents, complete after {self.complete_after:.1f}s"
        )


async def declare_kill_restart(
    emu: SlackEmulator, database: str, tmp_path: Path, logs: tuple[IO[bytes], IO[bytes]], *, kill_point: KillPoint
) -> Crash:
    """Start `vigil run`, submit ten declarations, SIGKILL it once `kill_point(acks, first_call)` returns, start it
    again and wait (≤ 30 s) until every incident in the database is complete."""
    identity = emu.state.identity
    emu.add_channel("deploys", members=[ALICE], channel_id=DEPLOYS)
    engine = make_engine(database)
    try:  # the workspace row `vigil run` records, the announcement and deploy-freeze channels an admin tags
        async with make_session_factory(engine)() as session, session.begin():
            await record_workspace(
                session, team_id=identity.team_id, name=identity.team_name, url="", bot_user_id=identity.bot_user_id
            )
            for tag, channel_id in ((TECH_INCIDENTS, INCIDENTS_CHANNEL), (IT_DEPLOY, DEPLOYS)):
                await set_conversation_tag(session, team_id=identity.team_id, tag=tag, conversation_id=channel_id, by=None)
    finally:
        await engine.dispose()
    env = run_env(emu, database)
    crash = Crash()
    procs: list[asyncio.subprocess.Process] = []
    log1, log2 = logs
    try:
        procs.append(await vigil_run(env, tmp_path, log1))
        await emu.wait_connected(timeout=30)
        emu.latency = LATENCY
        first = len(emu.calls)
        submitted = time.monotonic()
        acks = [
            asyncio.ensure_future(
                emu.send_view_submission(
                    user_id=(ALICE, BOB, DAVE)[n % 3],
                    callback_id=ids.VIEW_DECLARE,
                    values=declare_values(f"Crash {n}", "P1" if n % 2 == 0 else "P2"),
                    private_metadata=json.dumps({"channel_id": GENERAL}),  # from #general: a confirmation too
                )
            )
            for n in range(DECLARATIONS)
        ]
        await asyncio.wait_for(kill_point(acks, first), 15)
        await kill_9(procs[0])
        crash.killed_after = time.monotonic() - submitted
        crash.answered = [c.method for c in emu.calls[first:]]
        answers = await asyncio.gather(*acks, return_exceptions=True)
        crash.acked = sum(1 for a in answers if isinstance(a, AckResult) and a.acked)
        crash.at_kill, steps, _ = await read_state(database)
        crash.unfinished_at_kill = sum(1 for s in steps if s.status != "done")

        restarted = time.monotonic()
        procs.append(await vigil_run(env, tmp_path, log2))

        async def complete() -> bool:
            if procs[1].returncode is not None:
                raise AssertionError(f"the restarted vigil run exited with {procs[1].returncode}")
            crash.incidents, steps, cards = await read_state(database)
            crash.problems = surface_problems(
                emu, crash.incidents, steps, cards=cards, announce_to=INCIDENTS_CHANNEL, deploy_to=DEPLOYS, changes={}
            )
            return not crash.problems

        with contextlib.suppress(TimeoutError):
            await poll(complete, timeout=RESTART_BUDGET, interval=0.2, what="every incident complete")
        crash.complete_after = time.monotonic() - restarted
        print(f"\n{crash.summary()}")

        procs[1].send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(procs[1].wait(), 15) == 0, "the restarted vigil run stops cleanly"
    finally:
        await stop_all(procs)
    return crash


@pytest.mark.parametrize(
    ("database", "kill_point"),
    [
        ("sqlite", "early"),
        ("sqlite", "mid"),
        ("sqlite", "late"),
        pytest.param("postgresql", "mid", marks=pytest.mark.postgres),
    ],
    indirect=["database"],
)
async def test_kill_9_during_ten_declarations_then_restart(
    emulator: SlackEmulator, database: str, tmp_path: Path, logs: tuple[IO[bytes], IO[bytes]], kill_point: str
) -> None:
    calls = KILL_AFTER_CALLS[kill_point]

    async def answered(_: Sequence[asyncio.Future[AckResult]], first: int) -> None:
        await emulator.wait_until(lambda: len(emulator.calls) - first >= calls, timeout=15, what=f"{calls} calls")

    crash = await declare_kill_restart(emulator, database, tmp_path, logs, kill_point=answered)
    assert crash.at_kill and crash.unfinished_at_kill, f"the kill left declarations half done: {crash.summary()}"
    assert not crash.problems, "\n".join([crash.summary(), *crash.problems])
    assert crash.complete_after < RESTART_BUDGET
    made = crash.answered.count("conversations.create")
    assert made <= len(crash.incidents) <= DECLARATIONS
    assert len({i.channel_id for i in crash.incidents}) == len(crash.incidents)
    for incident in crash.incidents:
        confirmations = emulator.state.ephemerals_for(incident.reporter_id, GENERAL)
        assert any(f"INC-{incident.number} declared" in e.text for e in confirmations)


@pytest.mark.xfail(
    strict=True,
    reason="KNOWN WINDOW, kept on purpose: an ack never waits on the database, so listeners/declare.py acks the "
    "submission before the incident commits; Slack does not redeliver an acked view_submission, so a declaration "
    "killed in the few milliseconds between its ack and its commit is lost (the modal closed, nothing declared)",
)
@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_kill_9_right_after_the_acks_loses_no_declaration(
    emulator: SlackEmulator, database: str, tmp_path: Path, logs: tuple[IO[bytes], IO[bytes]]
) -> None:
    """Killed as soon as Slack has the ten acks (each declarer saw the modal close): ten incidents after the restart."""

    async def acked(acks: Sequence[asyncio.Future[AckResult]], _: int) -> None:
        await asyncio.gather(*acks)

    crash = await declare_kill_restart(emulator, database, tmp_path, logs, kill_point=acked)
    assert crash.acked == DECLARATIONS
    assert not crash.problems, "\n".join([crash.summary(), *crash.problems])
    assert len(crash.incidents) == DECLARATIONS, crash.summary()
