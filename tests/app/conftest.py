"""The real Vigil (Bolt over Socket Mode, sidecar, database) against the bundled Slack emulator."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest
from sqlalchemy import select

from bot.container import Container, build_container
from bot.emulator import SlackEmulator
from bot.manifest import load_manifest, manifest_events
from bot.runtime import Runtime
from bot.settings import Settings, load_settings
from db.models import Incident
from db.tags import TECH_INCIDENTS, set_conversation_tag
from tests.app.processes import database_for, run_logs

ALICE, BOB, CAROL, DAVE = "U0ALICE", "U0BOB", "U0CAROL", "U0DAVE"
SRE = "S0SRE"
INCIDENTS_CHANNEL = "C0INCIDENTS"
GENERAL = "C0GENERAL"


def seed(emu: SlackEmulator) -> None:
    emu.add_user(ALICE, "alice", real_name="Alice Admin", email="alice@acme.example", is_admin=True, tz="Europe/Paris")
    emu.add_user(BOB, "bob", real_name="Bob Builder", email="bob@acme.example", tz="America/New_York")
    emu.add_user(CAROL, "carol", real_name="Carol Guest", email="carol@acme.example", is_restricted=True)
    emu.add_user(DAVE, "dave", real_name="Dave Oncall", email="dave@acme.example")
    emu.add_usergroup(SRE, "sre", name="SRE", users=[ALICE, DAVE])
    emu.add_channel("general", members=[ALICE, BOB, CAROL, DAVE], channel_id=GENERAL)
    emu.add_channel("incidents", members=[ALICE, BOB], channel_id=INCIDENTS_CHANNEL)


@pytest.fixture
async def emulator() -> AsyncIterator[SlackEmulator]:
    # Slack sends only the events the app subscribes to: the ones in manifest.yml.
    manifest = load_manifest()
    emu = SlackEmulator(
        ack_timeout=3.0,
        redelivery_delay=0.5,
        subscribed_events=manifest_events(manifest),
        scopes=manifest["oauth_config"]["scopes"]["bot"],
    )
    seed(emu)
    await emu.start()
    yield emu
    await emu.stop()


def vigil_settings(emu: SlackEmulator, db_url: str, **extra: Any) -> Settings:
    return load_settings(
        env_file=None,
        SLACK_BOT_TOKEN=emu.bot_token,
        SLACK_APP_TOKEN=emu.app_token,
        SLACK_API_URL=emu.api_url,
        VIGIL_DATABASE_URL=db_url,
        VIGIL_HTTP_PORT=0,
        **extra,
    )


@dataclass
class Vigil:
    """A running Vigil and the emulator it talks to, with shortcuts for what tests do most."""

    runtime: Runtime
    container: Container
    emu: SlackEmulator

    @property
    def team_id(self) -> str:
        return self.runtime.team_id

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.runtime.http_port}"

    async def command(self, text: str, *, user: str = ALICE, channel: str = GENERAL) -> Any:
        return await self.emu.send_slash_command(text, user_id=user, channel_id=channel, command="/incident")

    async def incidents(self) -> list[Incident]:
        async with self.container.sessions() as session:
            return list((await session.scalars(select(Incident).order_by(Incident.number))).all())

    async def tag(self, tag: str, channel_id: str) -> None:
        async with self.container.sessions() as session, session.begin():
            await set_conversation_tag(session, team_id=self.team_id, tag=tag, conversation_id=channel_id, by=None)

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait until every listener Vigil started has finished."""
        assert self.runtime.slack_app is not None
        async with asyncio.timeout(timeout):
            await self.runtime.slack_app.in_flight.idle()

    def handled(self, kind: str, ident: str) -> float:
        """How many times a listener ran (from /metrics' registry): what tests use to prove 'handled once'."""
        value = self.container.metrics.registry.get_sample_value("vigil_handler_seconds_count", {"kind": kind, "id": ident})
        return value or 0.0

    async def wait_handled(self, kind: str, ident: str, count: int = 1, timeout: float = 5.0) -> None:
        await wait_handled([self], kind, ident, count, timeout)


async def wait_handled(vigils: list[Vigil], kind: str, ident: str, count: int = 1, timeout: float = 5.0) -> None:
    """Wait until a listener has run `count` times in all. Polled: a listener's timing is recorded after its last
    Slack call, so nothing the emulator sees marks the moment."""
    deadline = time.monotonic() + timeout
    while (seen := sum(vigil.handled(kind, ident) for vigil in vigils)) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{kind} {ident} handled {seen:g} times, not {count}, in {timeout}s")
        await asyncio.sleep(0.01)


StartVigil = Callable[..., Awaitable[Vigil]]


@pytest.fixture
async def start_vigil(emulator: SlackEmulator, db_url: str) -> AsyncIterator[StartVigil]:
    """Start Vigil (on both databases, via db_url); everything started is stopped after the test."""
    running: list[Vigil] = []

    async def start(**overrides: Any) -> Vigil:
        settings = vigil_settings(emulator, db_url, **overrides.pop("settings", {}))
        container = build_container(settings, **overrides)
        runtime = Runtime(container)
        await runtime.start(with_scheduler=False)
        await emulator.wait_connected()
        vigil = Vigil(runtime=runtime, container=container, emu=emulator)
        running.append(vigil)
        return vigil

    yield start
    for vigil in running:
        await vigil.runtime.stop()
        await vigil.container.aclose()


@pytest.fixture
async def vigil(start_vigil: StartVigil) -> Vigil:
    v = await start_vigil()
    await v.tag(TECH_INCIDENTS, INCIDENTS_CHANNEL)
    return v


# `vigil run` as a real process (tests/app/test_kill9*.py): its database, parametrised `sqlite`/`postgresql`, and logs.
@pytest.fixture
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite: a new file brought up to date by `vigil migrate`; PostgreSQL: a fresh migrated database."""
    return database_for(request, tmp_path)


@pytest.fixture
def logs(tmp_path: Path) -> Iterator[tuple[IO[bytes], IO[bytes]]]:
    """Where each `vigil run` writes (left in tmp_path to read when a run fails)."""
    with run_logs(tmp_path) as both:
        yield both
