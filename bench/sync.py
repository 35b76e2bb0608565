"""`sync_slack_users` on a 20,000-person workspace: users synced per second, bot-side time and peak memory.

The emulator runs in its own process and answers at once (no added latency, responses not recorded), so what is
measured is Vigil: the bot process's wall time for the run, the share of it spent waiting for Slack's answers (the
emulator building and sending pages), the rest ("bot-side": parsing, upserts, commits), and the bot process's peak
RSS above its idle RSS (after a warm-up that touches the database and Slack but syncs nobody), sampled every 5 ms.
Two runs: the first inserts every user, the second updates them all.

    .venv/bin/python -m bench.sync                    # SQLite, 20,000 users
    .venv/bin/python -m bench.sync --users=50000
    .venv/bin/python -m bench.sync --postgres         # VIGIL_BENCH_POSTGRES_URL (default: local, user postgres)
    .venv/bin/python -m bench.sync --json=PATH        # the figures also as JSON in PATH (for bench.run_all)
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil

from bench._common import migrated_sqlite, write_json
from bot.jobs import sync
from bot.jobs.service import JobContext

USERS = int(next((a.split("=")[1] for a in sys.argv if a.startswith("--users=")), "20000"))
POSTGRES = "--postgres" in sys.argv
PG_ADMIN = os.environ.get("VIGIL_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
TEAM = "T0BENCH"


def serve_emulator(users: int, ready: Any, stop: Any) -> None:
    """The child process: a seeded emulator until told to stop."""
    from bot.emulator import SlackEmulator

    async def main() -> None:
        emu = SlackEmulator(team_id=TEAM)
        emu.seed_users(users, deleted_every=100, admin_every=1000)
        emu.record_responses = False
        await emu.start()
        ready.put((emu.api_url, emu.bot_token, emu.app_token))
        await asyncio.to_thread(stop.wait)
        await emu.stop()

    asyncio.run(main())


class PeakRss:
    """Samples this process's RSS every 5 ms on a thread (the loop is busy with the sync)."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.005)

    def __enter__(self) -> PeakRss:
        self.peak = self.process.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def database_url(tmp: Path) -> tuple[str, Any]:
    """A migrated throw-away database, and how to drop it."""
    if not POSTGRES:
        return await migrated_sqlite(tmp / "bench.db"), None
    import asyncpg
    from sqlalchemy.engine import make_url

    from db.engine import make_engine
    from db.migrate import upgrade

    name = f"vigil_bench_{uuid.uuid4().hex[:8]}"
    admin_dsn = make_url(PG_ADMIN).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(admin_dsn)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    url = make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url, statement_timeout=None)
    await upgrade(engine)
    await engine.dispose()

    async def drop() -> None:
        conn = await asyncpg.connect(admin_dsn)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()

    return url, drop


async def bench(api_url: str, bot_token: str, app_token: str) -> None:
    from bot.container import build_container
    from bot.settings import load_settings
    from db.workspaces import record_workspace

    with tempfile.TemporaryDirectory() as tmp:
        db_url, drop = await database_url(Path(tmp))
        settings = load_settings(
            env_file=None,
            SLACK_BOT_TOKEN=bot_token,
            SLACK_APP_TOKEN=app_token,
            SLACK_API_URL=api_url,
            VIGIL_DATABASE_URL=db_url,
        )
        container = build_container(settings)
        await container.open()
        async with container.sessions() as session, session.begin():
            await record_workspace(session, team_id=TEAM, name="Bench", url="", bot_user_id="U0VIGILBOT")

        waited = 0.0
        real_call = sync.call
        runs: list[dict[str, object]] = []

        async def timed_call(ctx: JobContext, client: Any, method: str, params: Any) -> dict[str, Any]:
            nonlocal waited
            started = time.perf_counter()
            try:
                return await real_call(ctx, client, method, params)
            finally:
                waited += time.perf_counter() - started

        sync.call = timed_call  # type: ignore[assignment]
        try:
            # Warm-up without users: imports, the database connection, the HTTP session to Slack. Idle is measured
            # after it, so the first run's peak counts everything the sync itself needs.
            await container.jobs.run("purge_logs", team_id=TEAM)
            await container.slack.auth_test()
            idle = psutil.Process().memory_info().rss
            for label in ("insert (first run)", "update (second run)"):
                waited = 0.0
                with PeakRss() as rss:
                    started = time.perf_counter()
                    run = await container.jobs.run("sync_slack_users", team_id=TEAM)
                    wall = time.perf_counter() - started
                assert run.outcome == "ok", run.error
                users = int(run.counts["users"])
                bot_side = wall - waited
                runs.append(
                    {
                        "run": label,
                        "users": users,
                        "wall_s": wall,
                        "waiting_s": waited,
                        "bot_side_s": bot_side,
                        "bot_side_users_per_s": users / bot_side,
                        "peak_rss_above_idle_mb": (rss.peak - idle) / 2**20,
                        "idle_rss_mb": idle / 2**20,
                    }
                )
                print(
                    f"{label:22} {users} users in {wall:.2f} s wall ({users / wall:,.0f}/s); "
                    f"waiting for Slack {waited:.2f} s; bot-side {bot_side:.2f} s ({users / bot_side:,.0f}/s); "
                    f"peak RSS +{(rss.peak - idle) / 2**20:.1f} MB above idle ({idle / 2**20:.0f} MB)"
                )
        finally:
            sync.call = real_call  # type: ignore[assignment]
            await container.aclose()
            if drop is not None:
                await drop()
    backend = "PostgreSQL" if POSTGRES else "SQLite"
    print(f"{backend}; Python {sys.version.split()[0]}; {os.cpu_count()} CPUs; load {os.getloadavg()[0]:.2f}")
    write_json({"database": backend, "users": USERS, "runs": runs})


def main() -> None:
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    child = ctx.Process(target=serve_emulator, args=(USERS, ready, stop), daemon=True)
    child.start()
    try:
        api_url, bot_token, app_token = ready.get(timeout=60)
        asyncio.run(bench(api_url, bot_token, app_token))
    finally:
        stop.set()
        child.join(10)


if __name__ == "__main__":
    main()
