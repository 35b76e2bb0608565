"""`vigil incidents repair [N]` through the real command line, Slack being the emulator.

The failed steps are made as Slack makes them: an incident declared through the service while the emulator refuses
`pins.add` with an error worth no retry. The verb runs in-process (click's runner) in a worker thread, so the
emulator serving on this test's loop can answer it.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot import slack_ids as ids
from bot.cli.main import cli
from bot.container import build_container
from bot.emulator import SlackEmulator
from bot.incidents.states import Severity
from bot.settings import load_settings
from db.models import Incident
from db.workspaces import record_workspace

ALICE = "U0ALICE"
FINAL = "not_in_channel"  # steps.retryable() says no: the pin fails for good at once
PIN = "pin the opening message"


@dataclass
class Vigil:
    """`vigil ARGS` with only this test's environment (nothing inherited from SLACK_*/VIGIL_*)."""

    env: dict[str, str]

    def sync(self, *args: str, env: dict[str, str | None] | None = None) -> Result:
        unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith(("SLACK_", "VIGIL_"))}
        result = CliRunner().invoke(
            cli, list(args), env={**unset, **self.env, **(env or {})}, prog_name="vigil", catch_exceptions=False
        )
        assert "Traceback" not in result.output, result.output
        return result

    async def __call__(self, *args: str, env: dict[str, str | None] | None = None) -> Result:
        return await asyncio.to_thread(self.sync, *args, env=env)


@pytest.fixture
async def emu(emulator: SlackEmulator) -> AsyncIterator[SlackEmulator]:
    emulator.add_user(ALICE, "alice", real_name="Alice Admin", is_admin=True)
    yield emulator


@pytest.fixture
def vigil(emu: SlackEmulator, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Vigil:
    monkeypatch.chdir(tmp_path)  # no `.env` here
    return Vigil({"SLACK_BOT_TOKEN": emu.bot_token, "SLACK_API_URL": emu.api_url, "VIGIL_DATABASE_URL": db_url})


async def declare(emu: SlackEmulator, db_url: str, title: str, *, pin_fails: bool) -> Incident:
    """Declare as the bot does (same service, same Slack), with the pin refused or not."""
    if pin_fails:
        emu.fail_next("pins.add", error=FINAL)
    settings = load_settings(
        env_file=None, SLACK_BOT_TOKEN=emu.bot_token, SLACK_API_URL=emu.api_url, VIGIL_DATABASE_URL=db_url
    )
    container = build_container(settings)
    me = emu.state.identity
    try:
        await container.open()
        async with container.sessions() as session, session.begin():  # as `vigil run` records it on start
            await record_workspace(session, team_id=me.team_id, name=me.team_name, url="", bot_user_id=me.bot_user_id)
        declared = await container.incidents.declare(
            team_id=me.team_id, reporter_id=ALICE, title=title, severity=Severity.P3
        )
    finally:
        await container.aclose()
    incident = declared.incident
    assert [step.startswith(PIN) for step in declared.skipped] == ([True] if pin_fails else [])
    assert incident.channel_id and incident.opening_message_ts
    return incident


def pinned(emu: SlackEmulator, incident: Incident) -> bool:
    return emu.state.is_pinned(incident.channel_id or "", incident.opening_message_ts or "")


def warning_shown(emu: SlackEmulator, incident: Incident) -> bool:
    message = emu.state.find_message(incident.channel_id or "", incident.opening_message_ts or "")
    assert message is not None
    retry = [b for b in message.blocks or [] if (b.get("accessory") or {}).get("action_id") == ids.ACTION_REPAIR]
    return bool(retry) and PIN in str(retry)


def rows(result: Result) -> list[list[str]]:
    """The table on stdout, header first, cells split on runs of two or more spaces."""
    return [re.split(r"\s{2,}", line.strip()) for line in result.stdout.splitlines()]


async def test_repair_runs_the_failed_pin_and_clears_the_warning(emu: SlackEmulator, db_url: str, vigil: Vigil) -> None:
    incident = await declare(emu, db_url, "Checkout down", pin_fails=True)
    assert not pinned(emu, incident) and warning_shown(emu, incident)
    pins_before = len(emu.calls_to("pins.add"))

    result = await vigil("incidents", "repair", str(incident.number))
    assert result.exit_code == 0, (result.stdout, result.stderr)
    assert rows(result) == [["incident", "status", "still_failing"], [f"INC-{incident.number}", "done", "-"]]
    [pin] = emu.calls_to("pins.add")[pins_before:]
    assert (pin.args["channel"], pin.args["timestamp"]) == (incident.channel_id, incident.opening_message_ts)
    assert pin.token == emu.bot_token
    assert pinned(emu, incident) and not warning_shown(emu, incident)

    again = await vigil("incidents", "repair")
    assert (again.exit_code, again.stdout) == (0, "nothing to repair\n")
    assert len(emu.calls_to("pins.add")) == pins_before + 1


async def test_still_failing_exits_1_and_lists_the_step_then_json(emu: SlackEmulator, db_url: str, vigil: Vigil) -> None:
    incident = await declare(emu, db_url, "Checkout down", pin_fails=True)
    emu.fail_next("pins.add", error=FINAL)

    failing = await vigil("incidents", "repair", f"INC-{incident.number}")
    assert failing.exit_code == 1
    assert rows(failing)[1:] == [[f"INC-{incident.number}", "failing", f"{PIN} ({FINAL})"]]
    assert not pinned(emu, incident) and warning_shown(emu, incident)

    emu.fail_next("pins.add", error=FINAL)
    as_json = await vigil("incidents", "repair", f"inc-{incident.number}", "--json")
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout) == [
        {"incident": f"INC-{incident.number}", "status": "failing", "still_failing": [f"{PIN} ({FINAL})"]}
    ]

    done = await vigil("incidents", "repair", str(incident.number), "--json")
    assert done.exit_code == 0
    assert json.loads(done.stdout) == [{"incident": f"INC-{incident.number}", "status": "done", "still_failing": []}]
    assert pinned(emu, incident) and not warning_shown(emu, incident)
    assert json.loads((await vigil("incidents", "repair", "--json")).stdout) == []


async def test_without_a_number_every_incident_with_unfinished_steps(emu: SlackEmulator, db_url: str, vigil: Vigil) -> None:
    first = await declare(emu, db_url, "Checkout down", pin_fails=True)
    fine = await declare(emu, db_url, "Search slow", pin_fails=False)
    third = await declare(emu, db_url, "Login fails", pin_fails=True)
    emu.fail_next("pins.add", error=FINAL)  # the first of the two retried pins fails again

    result = await vigil("incidents", "repair", "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == [
        {"incident": f"INC-{first.number}", "status": "failing", "still_failing": [f"{PIN} ({FINAL})"]},
        {"incident": f"INC-{third.number}", "status": "done", "still_failing": []},
    ]
    assert (pinned(emu, first), pinned(emu, fine), pinned(emu, third)) == (False, True, True)


async def test_refusals(emu: SlackEmulator, db_url: str, vigil: Vigil) -> None:
    missing = await vigil("incidents", "repair", "99")
    assert (missing.exit_code, missing.stdout, missing.stderr) == (1, "", "error: INC-99 not found.\n")
    assert json.loads((await vigil("incidents", "repair", "99", "--json")).stderr) == {"error": "INC-99 not found."}

    for bad in ("abc", "INC-", "0", "²", "99999999999"):
        usage = await vigil("incidents", "repair", bad)
        assert usage.exit_code == 2 and usage.stdout == "", bad
        assert "The incident number (104 or INC-104) must be a whole number" in usage.stderr

    no_token = await vigil("incidents", "repair", "1", env={"SLACK_BOT_TOKEN": None})
    assert no_token.exit_code == 2 and no_token.stdout == ""
    [line] = no_token.stderr.splitlines()
    assert line.startswith("config error: SLACK_BOT_TOKEN: required")
    no_token_json = await vigil("incidents", "repair", "--json", env={"SLACK_BOT_TOKEN": None})
    assert no_token_json.exit_code == 2
    assert json.loads(no_token_json.stderr)["problems"][0].startswith("SLACK_BOT_TOKEN: required")
    assert emu.calls_to("pins.add") == []
