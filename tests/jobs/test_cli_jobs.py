"""`vigil jobs list` and `vigil jobs run NAME` as an operator runs them: subprocesses against the emulator and the
test's database."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

from tests.cli.conftest import avigil, slack_env, vigil
from tests.jobs.conftest import World


def env_of(world: World) -> dict[str, str]:
    return {**slack_env(world.emu), "VIGIL_DATABASE_URL": world.db_url}


async def test_run_syncs_20000_users_through_429s_and_list_shows_the_run(world: World, tmp_path: Path) -> None:
    world.emu.seed_users(20_000, deleted_every=100)
    world.emu.fail_next("users.list", retry_after=0, times=3)
    world.emu.record_responses = False

    out = await avigil("jobs", "run", "sync_slack_users", env=env_of(world), cwd=tmp_path)

    assert out.returncode == 0, out.stderr
    lines = dict(line.split(": ", 1) for line in out.stdout.splitlines())
    assert lines["job"] == "sync_slack_users" and lines["outcome"] == "ok" and lines["trigger"] == "cli"
    assert lines["count.users"] == "20004" and lines["count.rate_limited"] == "3" and lines["count.deactivated"] == "200"
    assert lines["error"] == "-"
    assert "sync_slack_users: users=" in out.stderr  # progress, one line a second at most off a terminal

    listed = await avigil("jobs", "list", env=env_of(world), cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["name", "schedule", "last_run", "outcome", "counts", "next_run", "running"]
    [users] = [r for r in rows if r.startswith("sync_slack_users ")]
    assert "every 4 h" in users and " ok " in users and "users=20004" in users and "rate_limited=3" in users
    assert len(rows) == 8

    as_json = json.loads((await avigil("jobs", "list", "--json", env=env_of(world), cwd=tmp_path)).stdout)
    [entry] = [e for e in as_json if e["name"] == "sync_slack_users"]
    assert entry["outcome"] == "ok" and entry["counts"]["users"] == 20004 and entry["interval_minutes"] == 240


async def test_run_beside_a_running_job_refuses_or_waits(world: World, tmp_path: Path) -> None:
    # The CLI reads the wall clock: the in-process runner's clock must agree with it about the lease.
    world.clock.advance(seconds=(datetime.now(UTC) - world.clock.now()).total_seconds())
    world.emu.hold("users.list")
    running = asyncio.create_task(world.run("sync_slack_users"))
    await world.emu.wait_until(lambda: world.emu.held("users.list") > 0, what="the first run waiting on Slack")

    refused = await avigil("jobs", "run", "sync_slack_users", env=env_of(world), cwd=tmp_path)
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: sync_slack_users is already running (")
    assert "not started again (try again later, or pass --wait SECONDS)" in refused.stderr

    waiting = asyncio.create_task(avigil("jobs", "run", "sync_slack_users", "--wait", "60", env=env_of(world), cwd=tmp_path))
    await world.emu.wait_until(lambda: world.emu.held("users.list") > 0)
    world.emu.release("users.list")
    first = await running
    second = await waiting
    assert first.outcome == "ok"
    assert second.returncode == 0, second.stderr
    assert "outcome: ok" in second.stdout
    assert len([c for c in world.emu.calls_to("users.list") if c.ok]) == 2


def test_run_of_an_unknown_job_is_bad_usage_naming_the_jobs(tmp_path: Path) -> None:
    out = vigil("jobs", "run", "nosuch", cwd=tmp_path)
    assert out.returncode == 2
    assert "'nosuch' is not one of" in out.stderr
    for name in ("sync_slack_users", "send_reminders", "archive_closed_channels", "purge_logs"):
        assert name in out.stderr


async def test_a_failed_run_exits_1_with_its_error(world: World, tmp_path: Path) -> None:
    world.emu.fail_next("usergroups.list", error="missing_scope")
    await world.container.jobs.run("sync_slack_users", team_id="T0VIGIL")  # a workspace with a synced directory
    from db.usergroups import upsert_usergroup

    async with world.container.sessions() as session, session.begin():
        await upsert_usergroup(
            session,
            team_id="T0VIGIL",
            usergroup_id="S0SRE",
            handle="sre",
            name="",
            user_ids=[],
            disabled=False,
            at=world.clock.now(),
        )
    out = await avigil("jobs", "run", "sync_slack_usergroups", "--json", env=env_of(world), cwd=tmp_path)
    assert out.returncode == 1
    run = json.loads(out.stdout)
    assert run["outcome"] == "failed" and run["error"] == "Slack answered missing_scope"
