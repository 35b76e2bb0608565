"""Two `vigil run` replicas on one PostgreSQL with an injected clock (slow: real processes).

The first leads and starts every job; its user sync is frozen in a Slack call. The same `events_api` envelope sent to
both replicas is handled once. The leader is killed with SIGKILL: the other takes the leadership over, runs what
falls due by the last recorded runs (and nothing twice in one interval), and takes over the killed run's job once
its lease has run out on the clock.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import signal
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from bot.emulator import SlackEmulator
from bot.jobs.leader import LOCK_KEY
from bot.jobs.names import DEFAULT_MINUTES, JOB_NAMES
from db.engine import make_engine, make_session_factory
from db.jobs import advisory_lock_holder
from db.models import JobRun
from tests.cli.conftest import REPO, clean_env, slack_env
from tests.jobs.conftest import ALICE, eventually
from tests.jobs.replica import set_clock

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=2)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Replica:
    name: str
    proc: asyncio.subprocess.Process
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def handled(self, kind: str, ident: str) -> float:
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{self.port}/metrics") as resp:
            text = await resp.text()
        pattern = rf'vigil_handler_seconds_count\{{(?=[^}}]*kind="{kind}")(?=[^}}]*id="{ident}")[^}}]*\}} (\S+)'
        match = re.search(pattern, text)
        return float(match.group(1)) if match else 0.0


@dataclass
class Cluster:
    emu: SlackEmulator
    db_url: str
    clock_file: Path
    tmp: Path
    replicas: list[Replica]

    async def start(self, name: str) -> Replica:
        port = free_port()
        log = self.tmp / f"{name}.log"
        env = clean_env(
            {
                **slack_env(self.emu),
                "VIGIL_DATABASE_URL": self.db_url,
                "VIGIL_HTTP_PORT": str(port),
                "VIGIL_TEST_CLOCK_FILE": str(self.clock_file),
            }
        )
        with log.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tests.jobs.replica", env=env, cwd=REPO, stdout=out, stderr=out
            )
        replica = Replica(name=name, proc=proc, port=port, log=log)
        self.replicas.append(replica)
        return replica

    def move_clock(self, delta: timedelta) -> None:
        set_clock(self.clock_file, self.now() + delta)

    def now(self) -> datetime:
        return datetime.fromisoformat(self.clock_file.read_text())

    async def runs(self) -> list[JobRun]:
        engine = make_engine(self.db_url)
        try:
            async with make_session_factory(engine)() as session:
                return list((await session.scalars(select(JobRun).order_by(JobRun.id))).all())
        finally:
            await engine.dispose()

    async def leader_pid(self) -> int | None:
        engine = make_engine(self.db_url)
        try:
            async with make_session_factory(engine)() as session:
                holder = await advisory_lock_holder(session, key=LOCK_KEY)
        finally:
            await engine.dispose()
        return int(holder.name.rsplit(":", 1)[1]) if holder else None


@pytest.fixture
async def cluster(emulator: SlackEmulator, postgresql_url: str, tmp_path: Path) -> AsyncIterator[Cluster]:
    clock_file = tmp_path / "clock"
    set_clock(clock_file, T0)
    cluster = Cluster(emu=emulator, db_url=postgresql_url, clock_file=clock_file, tmp=tmp_path, replicas=[])
    yield cluster
    for replica in cluster.replicas:
        if replica.proc.returncode is None:
            replica.proc.kill()
            await replica.proc.wait()


async def test_killing_the_leader_hands_the_jobs_to_the_other_replica(cluster: Cluster) -> None:
    emu = cluster.emu
    emu.seed_users(2000)
    emu.hold("users.list")  # the first leader's user sync freezes in its first call
    first = await cluster.start("first")
    await emu.wait_until(lambda: emu.num_connections == 1, timeout=30, what="the first replica connected")

    async def first_leads() -> bool:
        return await cluster.leader_pid() == first.pid

    await eventually(first_leads, timeout=30, what="the first replica leading")
    second = await cluster.start("second")
    await emu.wait_until(lambda: emu.num_connections == 2, timeout=30, what="the second replica connected")

    async def first_round_done() -> bool:
        runs = await cluster.runs()
        done = {r.name for r in runs if r.outcome != "running"}
        return done >= set(JOB_NAMES) - {"sync_slack_users"} and any(
            r.name == "sync_slack_users" and r.outcome == "running" for r in runs
        )

    await eventually(first_round_done, timeout=30, what="every job run once by the first leader")
    assert emu.held("users.list") == 1

    # The same event twice, once to each replica (Slack re-sends an event whose ack it missed): handled once.
    event = {"type": "app_home_opened", "user": ALICE, "channel": "D0ALICE", "tab": "home", "event_ts": "1.0"}
    one = await emu.send_event(event, event_id="Ev0DUPLICATE")
    two = await emu.send_event(event, event_id="Ev0DUPLICATE")
    assert one.acked and two.acked
    connections = {e.connection_id for e in emu.deliveries_of("Ev0DUPLICATE")}
    assert len(connections) == 2, "the two envelopes went to the two replicas"
    await emu.wait_for_call("views.publish", timeout=10)

    async def handled_once() -> bool:
        counts = [await r.handled("event", "app_home_opened") for r in (first, second)]
        return sum(counts) >= 1

    await eventually(handled_once, what="the event handled")
    assert sorted([await first.handled("event", "app_home_opened"), await second.handled("event", "app_home_opened")]) == [
        0.0,
        1.0,
    ]
    assert len(emu.calls_to("views.publish")) == 1

    # Kill -9 the leader in the middle of its user sync.
    first.proc.send_signal(signal.SIGKILL)
    await first.proc.wait()

    async def second_leads() -> bool:
        return await cluster.leader_pid() == second.pid

    await eventually(second_leads, timeout=30, what="the second replica leading")

    # A minute later on the clock, send_reminders falls due and the new leader runs it; the user sync does not run
    # again: its run is still under the killed leader's lease.
    cluster.move_clock(timedelta(seconds=61))

    async def reminders_again() -> bool:
        return len([r for r in await cluster.runs() if r.name == "send_reminders"]) == 2

    await eventually(reminders_again, timeout=30, what="send_reminders run by the new leader")
    runs = await cluster.runs()
    assert [r.outcome for r in runs if r.name == "sync_slack_users"] == ["running"]

    # Once the lease has run out on the clock, the new leader takes the user sync over and finishes it.
    emu.release("users.list")
    cluster.move_clock(LEASE)

    async def users_synced() -> bool:
        return any(r.name == "sync_slack_users" and r.outcome == "ok" for r in await cluster.runs())

    await eventually(users_synced, timeout=30, what="the user sync taken over")

    runs = await cluster.runs()
    killed, taken_over = [r for r in runs if r.name == "sync_slack_users"]
    assert killed.outcome == "abandoned" and taken_over.outcome == "ok" and taken_over.counts["users"] == 2000 + 4
    assert killed.holder.split(":")[1] == str(first.pid) and taken_over.holder.split(":")[1] == str(second.pid)
    # No job ran twice in one of its intervals.
    by_job: dict[str, list[JobRun]] = {}
    for run in runs:
        by_job.setdefault(run.name, []).append(run)
    for name, job_runs in by_job.items():
        starts = [r.started_at for r in job_runs if r.outcome != "abandoned"]
        gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
        assert all(gap >= timedelta(minutes=DEFAULT_MINUTES[name]) * 0.95 for gap in gaps), (name, starts)

    second.proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(second.proc.wait(), 20) == 0
    assert "this replica now leads the scheduled jobs" in second.log.read_text()
