"""Usergroups: the import screen (by id alone; handle, name and members come from Slack), and each imported
group's menu (refresh from Slack, or remove from Vigil when nothing uses it)."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot import slack_ids as ids
from bot.admin.forms import USERGROUP_ID_FIELD, UsergroupForm, check_usergroup_id
from bot.admin.service import AdminService
from bot.blocks.admin import usergroup_import_modal
from bot.blocks.home import USERGROUPS
from bot.home.publisher import HomePublisher
from bot.incidents.errors import InvalidInput
from bot.slack_payloads import action_value, state_value, team_of, text_of, user_of
from listeners.admin.screens import Opener, Screen

MENU_VERBS = ("refresh", "remove")


def read_usergroup(view: dict[str, Any]) -> UsergroupForm:
    return UsergroupForm(usergroup_id=text_of(state_value(view, ids.BLOCK_USERGROUP_ID, ids.ACTION_USERGROUP_ID)))


async def open_import(admin: AdminService, *, team_id: str, user_id: str, item_id: int | None) -> dict[str, Any]:
    await admin.usergroup_import_form(team_id=team_id, user_id=user_id)
    return usergroup_import_modal()


SCREEN: Screen[UsergroupForm] = Screen(
    name="usergroup",
    callback_id=ids.VIEW_ADMIN_USERGROUP,
    openers=(Opener(ids.ACTION_ADMIN_IMPORT_USERGROUP),),
    tab=USERGROUPS,
    blocks={USERGROUP_ID_FIELD: ids.BLOCK_USERGROUP_ID},
    open=open_import,
    read=read_usergroup,
    check=check_usergroup_id,
    save=AdminService.import_usergroup,
)


async def on_menu(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], admin: AdminService, home: HomePublisher
) -> None:
    verb, _, usergroup_id = (action_value(action) or "").partition(":")
    if verb not in MENU_VERBS or not usergroup_id:
        raise InvalidInput("That menu option is not one Vigil knows; reopen App Home.")
    await ack()
    team_id, user_id = team_of(body), user_of(body)
    if verb == "remove":
        notice = await admin.remove_usergroup(team_id=team_id, user_id=user_id, usergroup_id=usergroup_id)
    else:
        notice = await admin.refresh_usergroup(team_id=team_id, user_id=user_id, usergroup_id=usergroup_id)
    await home.publish(team_id=team_id, user_id=user_id, tab=USERGROUPS, notice=notice)


def register_menu(registry: Any) -> None:
    registry.action(ids.ACTION_ADMIN_USERGROUP_MENU)(on_menu)
