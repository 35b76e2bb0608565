"""`vigil run` cold start to "connected" and idle RSS, as a subprocess against the emulator.

Each run is a fresh `vigil run` on a migrated SQLite database; RSS is read after it has idled for 5 s.

    .venv/bin/python -m bench.startup [--runs=N] [--json=PATH]
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import migrated_sqlite, seeded_emulator, stats, summary, write_json

RUNS = int(next((a.split("=")[1] for a in sys.argv if a.startswith("--runs=")), "5"))
IDLE_SECONDS = 5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def one_run(emu: object, db_url: str) -> tuple[float, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "VIGIL_"))}
    env.update(
        SLACK_BOT_TOKEN=emu.bot_token,  # type: ignore[attr-defined]
        SLACK_APP_TOKEN=emu.app_token,  # type: ignore[attr-defined]
        SLACK_API_URL=emu.api_url,  # type: ignore[attr-defined]
        VIGIL_DATABASE_URL=db_url,
        VIGIL_HTTP_PORT=str(free_port()),
        VIGIL_LOG_FORMAT="json",
    )
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli.main", "run", env=env, stderr=asyncio.subprocess.PIPE
    )
    assert proc.stderr is not None
    connected = None
    while connected is None:
        line = await asyncio.wait_for(proc.stderr.readline(), 30)
        if not line:
            raise RuntimeError("vigil run exited before connecting")
        try:
            if json.loads(line).get("message", "").startswith("connected to Slack"):
                connected = time.perf_counter() - started
        except ValueError:
            pass
    await asyncio.sleep(IDLE_SECONDS)
    rss = psutil.Process(proc.pid).memory_info().rss / 2**20
    proc.terminate()
    await proc.wait()
    return connected, rss


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db_url = await migrated_sqlite(Path(tmp) / "bench.db")
        emu = seeded_emulator()
        await emu.start()
        try:
            results = [await one_run(emu, db_url) for _ in range(RUNS)]
        finally:
            await emu.stop()
    print(f"cold start to connected (s): {summary([r[0] for r in results])}")
    print(f"idle RSS after {IDLE_SECONDS}s (MiB): {summary([r[1] for r in results])}")
    write_json(
        {
            "cold_start_s": stats([r[0] for r in results]),
            "idle_rss_mib": stats([r[1] for r in results]),
            "idle_seconds": IDLE_SECONDS,
        }
    )


if __name__ == "__main__":
    asyncio.run(main())
