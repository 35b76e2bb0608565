"""The `vigil` command line as an operator runs it: a subprocess with its own environment, Slack being the emulator."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.emulator import SlackEmulator

VIGIL = [sys.executable, "-m", "bot.cli.main"]
REPO = Path(__file__).resolve().parents[2]


def clean_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any Slack or Vigil setting, plus `env`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "VIGIL_"))}
    return {**base, **(env or {})}


def vigil(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run `vigil ARGS` and wait; for verbs that need no Slack (nothing in this loop has to answer)."""
    return subprocess.run(
        [*VIGIL, *args], env=clean_env(env), cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


async def avigil(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Result:
    """Run `vigil ARGS` without blocking the loop, so the emulator serving this test can answer it."""
    proc = await asyncio.create_subprocess_exec(
        *VIGIL, *args, env=clean_env(env), cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


@pytest.fixture
async def emulator() -> AsyncIterator[SlackEmulator]:
    emu = SlackEmulator(bot_token="xoxb-emulator-bot-SECRET", app_token="xapp-emulator-app-SECRET")
    await emu.start()
    yield emu
    await emu.stop()


def slack_env(emu: SlackEmulator) -> dict[str, str]:
    return {"SLACK_BOT_TOKEN": emu.bot_token, "SLACK_APP_TOKEN": emu.app_token, "SLACK_API_URL": emu.api_url}
