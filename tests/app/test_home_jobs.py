"""Job schedules in App Home (Settings → Job schedules) through the real doors: admins see each job's last run and
change its schedule; bad numbers are answered under their field; a non-admin's button or forged submission is
refused and changes nothing."""

from __future__ import annotations

from typing import Any

from bot import slack_ids as ids
from bot.blocks.jobs import job_block
from bot.emulator.records import AckResult
from bot.emulator.state import ViewRecord
from bot.jobs.names import DEFAULT_MINUTES
from bot.jobs.service import DOING_SCHEDULES
from bot.permissions import admin_refusal
from db.jobs import schedules
from tests.app.conftest import ALICE, BOB, Vigil
from tests.app.test_home import assert_views_within_limits, click, dms_to, open_home, text_of


async def open_jobs(vigil: Vigil, user: str = ALICE) -> ViewRecord:
    await click(vigil, user, ids.ACTION_HOME_TAB_SETTINGS, "settings")
    await click(vigil, user, ids.ACTION_ADMIN_EDIT_JOBS)
    modal = vigil.emu.state.top_modal(user)
    assert modal is not None and modal.callback_id == ids.VIEW_ADMIN_JOBS
    return modal


def values(answers: dict[str, str]) -> dict[str, Any]:
    """`state.values` for job names (and `keep_days`) to what is typed."""
    out: dict[str, Any] = {}
    for name, typed in answers.items():
        if name == "keep_days":
            out[ids.BLOCK_JOB_KEEP_DAYS] = {ids.ACTION_JOB_KEEP_DAYS: {"type": "plain_text_input", "value": typed}}
        else:
            out[job_block(name)] = {ids.ACTION_JOB_MINUTES: {"type": "plain_text_input", "value": typed}}
    return out


async def submit(vigil: Vigil, modal: ViewRecord, answers: dict[str, str], user: str = ALICE) -> AckResult:
    ack = await vigil.emu.send_view_submission(user_id=user, view_id=modal.id, values=values(answers))
    assert ack.acked
    await vigil.settle()
    return ack


async def stored(vigil: Vigil) -> dict[str, tuple[int | None, dict[str, Any]]]:
    async with vigil.container.sessions() as session:
        rows = await schedules(session, team_id=vigil.team_id)
    return {name: (s.interval_minutes, dict(s.options)) for name, s in rows.items()}


async def test_admins_see_last_runs_and_change_schedules(vigil: Vigil) -> None:
    await vigil.container.jobs.run("sync_slack_users", team_id=vigil.team_id)
    await open_home(vigil, ALICE)
    modal = await open_jobs(vigil)

    blocks = {b.get("block_id"): b for b in modal.data["blocks"]}
    assert blocks[job_block("sync_slack_users")]["element"]["initial_value"] == "240"
    assert blocks[ids.BLOCK_JOB_KEEP_DAYS]["element"]["initial_value"] == "30"
    shown = text_of(modal)
    assert "*sync_slack_users*" in shown and "*ok*" in shown and "users=" in shown and "Never run yet." in shown

    ack = await submit(
        vigil, modal, {"sync_slack_users": "30", "purge_logs": "off", "keep_days": "14", "send_reminders": "1"}
    )
    assert ack.payload is None
    assert await stored(vigil) == {"sync_slack_users": (30, {}), "purge_logs": (None, {"keep_days": 14})}
    home = vigil.emu.state.home_view(ALICE)
    assert home is not None and "Job schedules saved." in text_of(home)
    assert await vigil.container.jobs.keep_days(team_id=vigil.team_id) == 14
    lines = {line.name: line for line in await vigil.container.jobs.overview(team_id=vigil.team_id)}
    assert lines["sync_slack_users"].interval_minutes == 30 and lines["purge_logs"].next_run is None

    modal = await open_jobs(vigil)
    blocks = {b.get("block_id"): b for b in modal.data["blocks"]}
    assert blocks[job_block("purge_logs")]["element"]["initial_value"] == "off"
    assert blocks[job_block("sync_slack_usergroups")]["element"]["initial_value"] == str(
        DEFAULT_MINUTES["sync_slack_usergroups"]
    )
    assert_views_within_limits(vigil.emu)


async def test_bad_schedules_are_answered_on_their_fields_and_nothing_is_saved(vigil: Vigil) -> None:
    await open_home(vigil, ALICE)
    modal = await open_jobs(vigil)
    ack = await submit(vigil, modal, {"sync_slack_users": "0", "send_reminders": "²", "keep_days": "forever"})
    assert ack.payload == {
        "response_action": "errors",
        "errors": {
            job_block("sync_slack_users"): "Give a number of minutes from 1 to 10080, or off.",
            job_block("send_reminders"): "Give a number of minutes from 1 to 10080, or off.",
            ids.BLOCK_JOB_KEEP_DAYS: "Give a number of days from 1 to 3650.",
        },
    }
    assert await stored(vigil) == {}


async def test_non_admins_cannot_open_or_submit_job_schedules(vigil: Vigil) -> None:
    await open_home(vigil, ALICE)
    modal = await open_jobs(vigil)
    await open_home(vigil, BOB)
    ack = await vigil.emu.send_block_action(user_id=BOB, action_id=ids.ACTION_ADMIN_EDIT_JOBS, view_id=modal.id)
    assert ack.acked
    await vigil.settle()
    assert vigil.emu.state.top_modal(BOB) is None

    forged = await vigil.emu.send_view_submission(
        user_id=BOB, callback_id=ids.VIEW_ADMIN_JOBS, values=values({"send_reminders": "off"})
    )
    assert forged.acked and forged.payload is None
    await vigil.settle()
    assert await stored(vigil) == {}
    assert dms_to(vigil.emu, BOB)[-2:] == [f":warning: {admin_refusal(DOING_SCHEDULES)}"] * 2
