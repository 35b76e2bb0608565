"""Through the real doors: an integration added with the CLI, an incident declared and worked in Slack (Socket Mode,
emulator), deliveries arriving signed at a recording HTTPS receiver; no secret in the database file or the logs."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import make_url

from bot.cli.main import cli
from integrations.signing import verify_header
from tests.app.conftest import INCIDENTS_CHANNEL, StartVigil, Vigil
from tests.app.test_declare import declare
from tests.integrations.platform import key_ring

TEAMS_SECRET_URL_PART = "sig=TeamsWorkflowSignatureNeverShown"


def env_for(vigil_db: str, ca_bundle: Path, ring: str) -> dict[str, str]:
    return {
        "VIGIL_DATABASE_URL": vigil_db,
        "VIGIL_ENCRYPTION_KEYS": ring,
        "VIGIL_CA_BUNDLE": str(ca_bundle),
        "VIGIL_OUTBOUND_ALLOW_PRIVATE": "true",
    }


async def vigil_cli(env: dict[str, str], *args: str) -> Any:
    """`vigil …` in-process, in a thread (the CLI runs its own asyncio loop; this test's loop keeps serving)."""
    return await asyncio.to_thread(CliRunner().invoke, cli, list(args), env=env, catch_exceptions=False)


async def start(start_vigil: StartVigil, db_url: str, ca_bundle: Path, ring: str) -> Vigil:
    settings = {k: v for k, v in env_for(db_url, ca_bundle, ring).items() if k != "VIGIL_DATABASE_URL"}
    vigil = await start_vigil(settings=settings)
    await vigil.tag("tech_incidents", INCIDENTS_CHANNEL)
    return vigil


async def test_cli_added_webhook_receives_the_declaration_signed(
    start_vigil: StartVigil, db_url: str, ca_bundle: Path, https_server: Any
) -> None:
    server = await https_server()
    ring = key_ring()
    vigil = await start(start_vigil, db_url, ca_bundle, ring)
    added = await vigil_cli(
        env_for(db_url, ca_bundle, ring), "integrations", "add", "webhook", "--name", "ops", "--set", f"url={server.url}/in"
    )
    assert added.exit_code == 0, added.output
    lines = dict(line.split(": ", 1) for line in added.output.splitlines() if ": " in line)
    secret = lines["inbound_secret"]
    assert lines["webhook_url"].endswith(f"/hooks/webhook/{lines['id']}")

    incident = await declare(vigil, "Checkout down", "P1")
    await server.wait_for(1)
    [request] = server.requests
    body = json.loads(request.body)
    assert body["event"] == "incident.opened" and body["incident"]["key"] == incident.ref
    assert body["incident"]["channel_id"] == incident.channel_id, "the first delivery already links the channel"
    assert verify_header(request.headers["X-Vigil-Signature"], request.body, [secret], now=int(body_time(request)))

    await vigil.command("ack", channel=incident.channel_id or "")
    await vigil.settle()
    await server.wait_for(2)
    assert json.loads(server.requests[1].body)["event"] == "incident.acknowledged"

    listed = await vigil_cli(env_for(db_url, ca_bundle, ring), "deliveries", "list")
    assert listed.exit_code == 0, listed.output
    assert sum(" success " in f" {line} " for line in listed.output.splitlines()) == 2


def body_time(request: Any) -> int:
    header = request.headers["X-Vigil-Signature"]
    return int(header.split(",")[0].removeprefix("t="))


async def test_a_failing_receiver_shows_retrying_in_the_delivery_log(
    start_vigil: StartVigil, db_url: str, ca_bundle: Path, https_server: Any
) -> None:
    server = await https_server()
    server.default = (500,)
    ring = key_ring()
    vigil = await start(start_vigil, db_url, ca_bundle, ring)
    added = await vigil_cli(
        env_for(db_url, ca_bundle, ring), "integrations", "add", "webhook", "--name", "down", "--set", f"url={server.url}"
    )
    assert added.exit_code == 0, added.output
    await declare(vigil, "Search slow", "P2")
    await server.wait_for(1)
    await recorded(vigil)
    listed = await vigil_cli(env_for(db_url, ca_bundle, ring), "deliveries", "list", "--json")
    rows = json.loads(listed.output)
    assert [(r["event"], r["status"]) for r in rows] == [("incident.opened", "retrying")]


async def test_declaring_with_integrations_costs_no_extra_slack_call(
    start_vigil: StartVigil, db_url: str, ca_bundle: Path, https_server: Any
) -> None:
    server = await https_server()
    ring = key_ring()
    vigil = await start(start_vigil, db_url, ca_bundle, ring)
    await declare(vigil, "Warming up", "P2")  # Vigil meets the declarer (users.info for their name) once
    start_count = len(vigil.emu.calls)
    await declare(vigil, "Before any integration", "P2")
    without = [c.method for c in vigil.emu.calls[start_count:] if c.method != "auth.test"]  # auth.test: once, at start
    env = env_for(db_url, ca_bundle, ring)
    for n in range(3):
        added = await vigil_cli(env, "integrations", "add", "webhook", "--name", f"h{n}", "--set", f"url={server.url}")
        assert added.exit_code == 0, added.output
    start_count = len(vigil.emu.calls)
    await declare(vigil, "With three integrations", "P2")
    with_integrations = [c.method for c in vigil.emu.calls[start_count:] if c.method != "auth.test"]
    await server.wait_for(3)
    assert sorted(with_integrations) == sorted(without)


async def recorded(vigil: Vigil, *, timeout: float = 5.0) -> None:
    """Wait until the worker has written what the receiver answered (it answers before the row is updated)."""
    async with asyncio.timeout(timeout):
        while any(d.status == "pending" for d in await vigil.container.integrations.deliveries(team_id=vigil.team_id)):
            await vigil.container.worker.next_round()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_no_secret_in_the_database_file_or_the_logs(
    start_vigil: StartVigil, db_url: str, ca_bundle: Path, https_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    server = await https_server()
    server.default = (500,)
    ring = key_ring()
    caplog.set_level(logging.DEBUG)
    vigil = await start(start_vigil, db_url, ca_bundle, ring)
    env = env_for(db_url, ca_bundle, ring)
    hook = await vigil_cli(env, "integrations", "add", "webhook", "--name", "hook", "--set", f"url={server.url}")
    inbound = dict(line.split(": ", 1) for line in hook.output.splitlines() if ": " in line)["inbound_secret"]
    teams_url = f"{server.url}/workflows/x/triggers/manual/paths/invoke?api-version=1&{TEAMS_SECRET_URL_PART}"
    teams = await vigil_cli(env, "integrations", "add", "teams", "--name", "teams", "--secret", f"url={teams_url}")
    assert teams.exit_code == 0, teams.output
    await declare(vigil, "Secrets stay sealed", "P1")
    await server.wait_for(2)
    rotated = await vigil_cli(env, "integrations", "rotate-secret", "hook")
    new_inbound = dict(line.split(": ", 1) for line in rotated.output.splitlines() if ": " in line)["inbound_secret"]
    await recorded(vigil)
    shown = (await vigil_cli(env, "deliveries", "list")).output + (
        await vigil_cli(env, "integrations", "list", "--json")
    ).output
    await vigil.runtime.stop()

    path = Path(make_url(db_url).database or "")
    stored = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    for secret in (inbound, new_inbound, TEAMS_SECRET_URL_PART):
        assert secret.encode() not in stored, "a secret reached the database file"
        assert secret not in caplog.text, "a secret reached the logs"
        assert secret not in shown, "a secret was shown again"
    assert b"Secrets stay sealed" in stored, "the scan reads the real file"
