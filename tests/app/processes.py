"""`vigil` as a child process, for the tests that kill it: its environment, `vigil run`, a migrated database, logs.

The tests keep their own (thin) fixtures and call these, so each test module names what it uses.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pytest

from bot.emulator import SlackEmulator


def run_env(emu: SlackEmulator, database: str, **extra: str) -> dict[str, str]:
    """`vigil run`'s (and the CLI's) settings for the emulator's Slack and `database`, JSON logs, any free port."""
    return {
        "SLACK_BOT_TOKEN": emu.bot_token,
        "SLACK_APP_TOKEN": emu.app_token,
        "SLACK_API_URL": emu.api_url,
        "VIGIL_DATABASE_URL": database,
        "VIGIL_HTTP_PORT": "0",
        "VIGIL_LOG_FORMAT": "json",
        **extra,
    }


def child_env(env: dict[str, str]) -> dict[str, str]:
    """This process's environment without any Slack or Vigil setting of the developer's, plus `env`: the child
    sees only what the test gives it."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "VIGIL_"))}, **env}


async def vigil_run(env: dict[str, str], cwd: Path, log: IO[bytes]) -> asyncio.subprocess.Process:
    """`vigil run` as a child, writing its log (stdout and stderr) to `log`."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli.main", "run", env=child_env(env), cwd=cwd, stdout=log, stderr=log
    )


async def kill_9(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL: no handler runs, nothing is flushed or committed; wait until the kernel has reaped it."""
    proc.send_signal(signal.SIGKILL)
    assert await asyncio.wait_for(proc.wait(), 10) == -signal.SIGKILL


async def stop_all(procs: Iterable[asyncio.subprocess.Process]) -> None:
    """Kill whatever a failed test left running (a passing test has stopped them itself)."""
    for proc in procs:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def migrated_sqlite(directory: Path) -> str:
    """A new SQLite file in `directory` brought up to date by `vigil migrate`, as an operator does it."""
    url = f"sqlite+aiosqlite:///{directory / 'vigil.db'}"
    migrated = subprocess.run(
        [sys.executable, "-m", "bot.cli.main", "migrate"],
        env=child_env({"VIGIL_DATABASE_URL": url}),
        cwd=directory,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert migrated.returncode == 0, migrated.stderr.decode()[-2000:]
    return url


def database_for(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """For an indirectly parametrised `database` fixture: SQLite, a new file migrated by `vigil migrate`;
    PostgreSQL, a fresh migrated database (tests/conftest.py's `postgresql_url`)."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgresql_url"))
    return migrated_sqlite(tmp_path)


@contextmanager
def run_logs(directory: Path) -> Iterator[tuple[IO[bytes], IO[bytes]]]:
    """Where the first and the restarted `vigil run` write (left in `directory` to read when a run fails)."""
    with open(directory / "run1.log", "wb") as first, open(directory / "run2.log", "wb") as second:
        yield first, second
