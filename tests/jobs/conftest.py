"""Scheduled jobs against the bundled Slack emulator and a real database (SQLite and PostgreSQL), with an injected
clock: a container as `vigil run` builds it, without the Socket Mode connection (jobs need none)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from bot.clock import FrozenClock
from bot.container import Container, build_container
from bot.emulator import SlackEmulator
from bot.jobs.service import JobTiming, RunView
from db.workspaces import record_workspace
from tests.app.conftest import vigil_settings

TEAM = "T0VIGIL"
ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"
SRE = "S0SRE"


def seed(emu: SlackEmulator) -> None:
    emu.add_user(ALICE, "alice", real_name="Alice Admin", email="alice@acme.example", is_admin=True, tz="Europe/Paris")
    emu.add_user(BOB, "bob", email="bob@acme.example", tz="America/New_York")
    emu.add_user(CAROL, "carol", email="carol@acme.example", is_restricted=True)
    emu.add_usergroup(SRE, "sre", name="SRE", users=[ALICE, BOB])
    emu.add_channel("general", members=[ALICE, BOB, CAROL], channel_id="C0GENERAL")


@dataclass
class Sleeps:
    """The jobs' sleep, recorded instead of slept: tests see how long a job would have waited."""

    waits: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@dataclass
class World:
    emu: SlackEmulator
    container: Container
    clock: FrozenClock
    sleeps: Sleeps
    db_url: str

    async def run(self, name: str, **kwargs: Any) -> RunView:
        return await self.container.jobs.run(name, team_id=TEAM, **kwargs)


@pytest.fixture
async def emulator() -> AsyncIterator[SlackEmulator]:
    emu = SlackEmulator(team_id=TEAM)
    seed(emu)
    await emu.start()
    yield emu
    await emu.stop()


@asynccontextmanager
async def make_world(emulator: SlackEmulator, db_url: str, **overrides: Any) -> AsyncIterator[World]:
    """A world whose container takes `overrides` (an engine with a short statement timeout, say)."""
    clock = FrozenClock()
    sleeps = Sleeps()
    timing = JobTiming(renew_every=0.05, wait_poll=0.02, reconcile=0.05, leader_poll=0.05, heartbeat=0.05)
    settings = vigil_settings(emulator, db_url)
    container = build_container(settings, clock=clock, job_sleep=sleeps, job_timing=timing, **overrides)
    await container.open()
    async with container.sessions() as session, session.begin():
        await record_workspace(session, team_id=TEAM, name="Acme", url="https://acme.slack.com/", bot_user_id="U0VIGILBOT")
    try:
        yield World(emu=emulator, container=container, clock=clock, sleeps=sleeps, db_url=db_url)
    finally:
        await container.aclose()


@pytest.fixture
async def world(emulator: SlackEmulator, db_url: str) -> AsyncIterator[World]:
    async with make_world(emulator, db_url) as made:
        yield made


async def eventually(check: Callable[[], Awaitable[bool]], *, timeout: float = 10.0, what: str = "condition") -> None:
    """Wait until `check()` holds (re-checked every 20 ms): for what happens on its own, in the background."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"still not true after {timeout}s: {what}")
        await asyncio.sleep(0.02)
