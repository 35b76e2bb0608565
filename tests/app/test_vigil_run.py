"""`vigil run` as an operator starts it: a subprocess against the emulator, stopped with SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from pathlib import Path

import aiohttp

from bot.emulator import SlackEmulator
from tests.app.conftest import ALICE, GENERAL


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def start_vigil_run(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "VIGIL_"))}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli.main",
        "run",
        env={**base, **env},
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def wait_ready(url: str, proc: asyncio.subprocess.Process, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise AssertionError(f"vigil run exited early with {proc.returncode}")
            try:
                async with http.get(f"{url}/readyz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("vigil run never became ready")


async def test_vigil_run_serves_then_stops_on_sigterm(emulator: SlackEmulator, sqlite_url: str, tmp_path: Path) -> None:
    port = free_port()
    env = {
        "SLACK_BOT_TOKEN": emulator.bot_token,
        "SLACK_APP_TOKEN": emulator.app_token,
        "SLACK_API_URL": emulator.api_url,
        "VIGIL_DATABASE_URL": sqlite_url,
        "VIGIL_HTTP_PORT": str(port),
        "VIGIL_LOG_FORMAT": "json",
    }
    proc = await start_vigil_run(env, tmp_path)
    try:
        await wait_ready(f"http://127.0.0.1:{port}", proc)
        ack = await emulator.send_slash_command("help", user_id=ALICE, channel_id=GENERAL)
        # The first help may come through response_url: the ack never waits on the help channel's lookup.
        text = ack.text or (await emulator.wait_for_response(ALICE)).text
        assert "/incident commands" in text and "open [P1-P5] [title]" in text
        unknown = await emulator.send_slash_command("wat", user_id=ALICE, channel_id=GENERAL)
        assert "wat" in unknown.text and "help" in unknown.text

        second = await start_vigil_run({**env, "VIGIL_HTTP_PORT": str(free_port())}, tmp_path)
        _out, err = await asyncio.wait_for(second.communicate(), 20)
        assert second.returncode == 1
        assert "another `vigil run`" in err.decode() and "Traceback" not in err.decode()

        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(proc.communicate(), 10)
        assert proc.returncode == 0, stderr.decode()[-2000:]
        assert time.monotonic() - started < 10
        assert b'"message": "stopped"' in stderr
        assert emulator.state.identity.bot_token.encode() not in stderr
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_vigil_run_refuses_an_unmigrated_database(emulator: SlackEmulator, tmp_path: Path) -> None:
    env = {
        "SLACK_BOT_TOKEN": emulator.bot_token,
        "SLACK_APP_TOKEN": emulator.app_token,
        "SLACK_API_URL": emulator.api_url,
        "VIGIL_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}",
        "VIGIL_HTTP_PORT": str(free_port()),
    }
    proc = await start_vigil_run(env, tmp_path)
    _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 1
    assert "run `vigil migrate`" in err.decode() and "Traceback" not in err.decode()


async def test_vigil_check_calls_auth_test_and_records_the_workspace(
    emulator: SlackEmulator, sqlite_url: str, tmp_path: Path
) -> None:
    env = {
        "SLACK_BOT_TOKEN": emulator.bot_token,
        "SLACK_APP_TOKEN": emulator.app_token,
        "SLACK_API_URL": emulator.api_url,
        "VIGIL_DATABASE_URL": sqlite_url,
    }
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "VIGIL_"))}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli.main",
        "check",
        env={**base, **env},
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, out.decode()
    assert "slack: ok: team T0VIGIL (Acme)" in out.decode()
    assert emulator.bot_token not in out.decode()
    # check never posts anything: it proves both tokens with two harmless calls.
    assert [c.method for c in emulator.calls] == ["auth.test", "apps.connections.open"]

    from db.engine import make_engine, make_session_factory
    from db.workspaces import only_workspace

    engine = make_engine(sqlite_url)
    async with make_session_factory(engine)() as session:
        ws = await only_workspace(session)
    await engine.dispose()
    assert ws is not None and ws.team_id == "T0VIGIL" and ws.bot_user_id == "U0VIGILBOT"

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli.main",
        "check",
        env={**base, **env, "SLACK_BOT_TOKEN": "xoxb-wrong"},
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 1
    assert "slack: failed: auth.test answered invalid_auth" in out.decode()
    assert "xoxb-wrong" not in out.decode()
