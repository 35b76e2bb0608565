"""Workspace settings from App Home (SPEC §5): archive grace period and reminder intervals per severity."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot import slack_ids as ids
from bot.blocks.admin import OPTIONAL_REMINDERS, REMINDER_BLOCKS, settings_modal
from bot.blocks.home import SETTINGS, SettingsLine
from bot.container import Container
from bot.directory import Directory
from bot.incidents.errors import NotFound
from db.workspaces import WorkspaceSettings, save_workspace_settings, workspace_settings
from listeners.admin.common import admin_for_button, admin_for_submission, state_value, text_of
from listeners.home import publish_home, team_of, user_of

DOING = "change workspace settings"
MAX_GRACE_DAYS = 365
MIN_REMINDER, MAX_REMINDER = 5, 7 * 24 * 60


def read_settings(view: dict[str, Any]) -> tuple[WorkspaceSettings | None, dict[str, str]]:
    """The submitted settings, or the errors keyed by block_id."""
    errors: dict[str, str] = {}
    raw_days = text_of(state_value(view, ids.BLOCK_ARCHIVE_DAYS, ids.ACTION_ARCHIVE_DAYS)).strip().lower()
    days: int | None = None
    if raw_days != "never":
        if raw_days.isdigit() and int(raw_days) <= MAX_GRACE_DAYS:
            days = int(raw_days)
        else:
            errors[ids.BLOCK_ARCHIVE_DAYS] = f"Give a number of days from 0 to {MAX_GRACE_DAYS}, or never."
    minutes: dict[str, int] = {}
    for sev, block_id in REMINDER_BLOCKS.items():
        raw = text_of(state_value(view, block_id, ids.ACTION_REMINDER)).strip()
        if not raw and sev in OPTIONAL_REMINDERS:
            continue
        if raw.isdigit() and MIN_REMINDER <= int(raw) <= MAX_REMINDER:
            minutes[sev] = int(raw)
        else:
            errors[block_id] = f"Give a number of minutes from {MIN_REMINDER} to {MAX_REMINDER}" + (
                ", or leave it empty for no reminders." if sev in OPTIONAL_REMINDERS else "."
            )
    if errors:
        return None, errors
    return WorkspaceSettings(archive_grace_days=days, reminder_minutes=minutes), {}


async def open_settings(
    ack: AsyncAck, body: dict[str, Any], container: Container, directory: Directory, client: Any
) -> None:
    await admin_for_button(ack, directory=directory, body=body, doing=DOING)
    async with container.sessions() as session:
        current = await workspace_settings(session, team_id=team_of(body))
    line = SettingsLine(archive_grace_days=current.archive_grace_days, reminder_minutes=dict(current.reminder_minutes))
    await client.views_open(trigger_id=body["trigger_id"], view=settings_modal(line))


async def submit_settings(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], container: Container, directory: Directory, client: Any
) -> None:
    actor = await admin_for_submission(
        ack, directory=directory, body=body, view=view, default_block=ids.BLOCK_ARCHIVE_DAYS, doing=DOING
    )
    if actor is None:
        return
    settings, errors = read_settings(view)
    if settings is None:
        await ack(response_action="errors", errors=errors)
        return
    await ack()
    team_id = team_of(body)
    async with container.sessions() as session, session.begin():
        saved = await save_workspace_settings(session, team_id=team_id, settings=settings)
    if not saved:
        raise NotFound("This workspace is not recorded yet; restart `vigil run` and try again.")
    await publish_home(
        container, client, team_id=team_id, user_id=user_of(body), tab=SETTINGS, notice="Settings saved.", actor=actor
    )


def register(registry: Any) -> None:
    registry.action(ids.ACTION_ADMIN_EDIT_SETTINGS)(open_settings)
    registry.view(ids.VIEW_ADMIN_SETTINGS)(submit_settings)
