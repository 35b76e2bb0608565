"""Fixtures: an emulator per test, a real slack_sdk client on it, and real Bolt apps connected over Socket Mode."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.emulator import SlackEmulator

ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, now: float = 1_763_805_600.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def seed(emu: SlackEmulator) -> None:
    emu.add_user(ALICE, "alice", email="alice@acme.example", is_admin=True)
    emu.add_user(BOB, "bob", email="bob@acme.example")
    emu.add_user(CAROL, "carol", email="carol@acme.example", is_restricted=True)
    emu.add_usergroup("S0SRE", "sre", name="SRE", users=[ALICE, BOB])
    emu.add_channel("incidents", members=[ALICE, BOB], channel_id="C0INCIDENTS")


EmulatorFactory = Callable[..., Awaitable[SlackEmulator]]


@pytest.fixture(autouse=True)
async def no_leftover_tasks() -> AsyncIterator[None]:
    """Torn down last: every emulator, socket and background task of the test must be gone by then."""
    before = asyncio.all_tasks()
    yield
    for _ in range(3):  # let cancelled SDK tasks finish unwinding
        await asyncio.sleep(0)
    leftovers = [t for t in asyncio.all_tasks() - before if not t.done() and t is not asyncio.current_task()]
    assert not leftovers, leftovers


@pytest.fixture
async def make_emulator() -> AsyncIterator[EmulatorFactory]:
    """Start emulators with custom settings; every one is stopped after the test."""
    started: list[SlackEmulator] = []

    async def make(**kwargs: Any) -> SlackEmulator:
        kwargs.setdefault("ack_timeout", 1.0)
        kwargs.setdefault("redelivery_delay", 1.0)
        emu = SlackEmulator(**kwargs)
        seed(emu)
        await emu.start()
        started.append(emu)
        return emu

    yield make
    for emu in started:
        await emu.stop()


@pytest.fixture
async def emu(make_emulator: EmulatorFactory) -> SlackEmulator:
    return await make_emulator()


@pytest.fixture
def client(emu: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token=emu.bot_token, base_url=emu.api_url)


@pytest.fixture
def bolt_app(emu: SlackEmulator) -> AsyncApp:
    return AsyncApp(client=AsyncWebClient(token=emu.bot_token, base_url=emu.api_url))


@pytest.fixture
async def connect(emu: SlackEmulator) -> AsyncIterator[Callable[[AsyncApp], Awaitable[AsyncSocketModeHandler]]]:
    """Connect a Bolt app to the emulator over Socket Mode; handlers are closed before the emulator stops."""
    handlers: list[AsyncSocketModeHandler] = []

    async def _connect(app: AsyncApp) -> AsyncSocketModeHandler:
        handler = AsyncSocketModeHandler(app, app_token=emu.app_token)
        handlers.append(handler)
        await handler.connect_async()
        await emu.wait_connected()
        return handler

    yield _connect
    for handler in handlers:
        await handler.close_async()
