"""The workspace settings screen: archive grace period and reminder intervals per severity."""

from __future__ import annotations

from typing import Any

from bot import slack_ids as ids
from bot.admin.forms import ARCHIVE_DAYS, SettingsForm, check_settings
from bot.admin.service import AdminService
from bot.blocks.admin import REMINDER_BLOCKS, settings_modal
from bot.blocks.home import SETTINGS
from bot.slack_payloads import state_value, text_of
from listeners.admin.screens import Opener, Screen


def read_settings(view: dict[str, Any]) -> SettingsForm:
    return SettingsForm(
        archive_days=text_of(state_value(view, ids.BLOCK_ARCHIVE_DAYS, ids.ACTION_ARCHIVE_DAYS)),
        reminders={
            sev: text_of(state_value(view, block_id, ids.ACTION_REMINDER)) for sev, block_id in REMINDER_BLOCKS.items()
        },
    )


async def open_settings(admin: AdminService, *, team_id: str, user_id: str, item_id: int | None) -> dict[str, Any]:
    return settings_modal(await admin.settings_form(team_id=team_id, user_id=user_id))


SCREEN: Screen[SettingsForm] = Screen(
    name="settings",
    callback_id=ids.VIEW_ADMIN_SETTINGS,
    openers=(Opener(ids.ACTION_ADMIN_EDIT_SETTINGS),),
    tab=SETTINGS,
    blocks={ARCHIVE_DAYS: ids.BLOCK_ARCHIVE_DAYS, **REMINDER_BLOCKS},
    open=open_settings,
    read=read_settings,
    check=check_settings,
    save=AdminService.save_settings,
)
