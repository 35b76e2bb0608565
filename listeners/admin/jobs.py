"""The job schedules screen (App Home → Settings → Job schedules): admins see each job's last run and change how
often it runs. The jobs service checks admin rights when the modal opens and again when it is submitted.

Its own two listeners rather than the screens skeleton: the skeleton serves the admin service, and job schedules
are the jobs service's.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot import slack_ids as ids
from bot.admin.forms import FieldErrors
from bot.blocks.home import SETTINGS
from bot.blocks.jobs import job_block, jobs_modal
from bot.home.publisher import HomePublisher
from bot.jobs.forms import JobsForm, check_jobs_form
from bot.jobs.names import KEEP_DAYS
from bot.jobs.service import JobService
from bot.slack_payloads import state_value, team_of, text_of, user_of


def read_jobs(view: dict[str, Any]) -> JobsForm:
    """The submitted schedules: only the jobs whose input was in the form (an older form leaves the rest alone)."""
    values = (view.get("state") or {}).get("values")
    minutes = {
        block_id.removeprefix(ids.BLOCK_JOB_PREFIX): text_of(state_value(view, block_id, ids.ACTION_JOB_MINUTES))
        for block_id in (values if isinstance(values, dict) else ())
        if isinstance(block_id, str) and block_id.startswith(ids.BLOCK_JOB_PREFIX) and block_id != ids.BLOCK_JOB_KEEP_DAYS
    }
    keep = state_value(view, ids.BLOCK_JOB_KEEP_DAYS, ids.ACTION_JOB_KEEP_DAYS)
    return JobsForm(minutes=minutes, keep_days=text_of(keep) if keep is not None else None)


async def open_jobs(ack: AsyncAck, body: dict[str, Any], jobs: JobService, client: Any) -> None:
    await ack()
    lines = await jobs.schedules_form(team_id=team_of(body), user_id=user_of(body))
    await client.views_open(trigger_id=body["trigger_id"], view=jobs_modal(lines))


async def submit_jobs(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], jobs: JobService, home: HomePublisher
) -> None:
    form = read_jobs(view)
    try:
        check_jobs_form(form)
    except FieldErrors as exc:
        errors = {
            (ids.BLOCK_JOB_KEEP_DAYS if name == KEEP_DAYS else job_block(name)): text for name, text in exc.errors.items()
        }
        await ack(response_action="errors", errors=errors)
        return
    await ack()
    team_id, user_id = team_of(body), user_of(body)
    notice = await jobs.save_schedules(team_id=team_id, user_id=user_id, form=form)
    await home.publish(team_id=team_id, user_id=user_id, tab=SETTINGS, notice=notice)


def register(registry: Any) -> None:
    registry.action(ids.ACTION_ADMIN_EDIT_JOBS)(open_jobs)
    registry.view(ids.VIEW_ADMIN_JOBS)(submit_jobs)
