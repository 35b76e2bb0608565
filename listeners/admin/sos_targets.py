"""The SOS target screen: name, conversation, optional usergroup; add, edit, or remove (a ticked Remove)."""

from __future__ import annotations

from typing import Any

from bot import slack_ids as ids
from bot.admin.forms import CONVERSATION, NAME, USERGROUP, SosTargetForm, check_sos_target
from bot.admin.service import AdminService
from bot.blocks.admin import sos_target_modal
from bot.blocks.home import SOS
from bot.slack_payloads import selected_conversation, selected_option, state_value, text_of, ticked
from listeners.admin.screens import Opener, Screen, item_of


def read_sos_target(view: dict[str, Any]) -> SosTargetForm:
    return SosTargetForm(
        target_id=item_of(view),
        name=text_of(state_value(view, ids.BLOCK_SOS_NAME, ids.ACTION_SOS_NAME)),
        conversation_id=selected_conversation(state_value(view, ids.BLOCK_SOS_CONVERSATION, ids.ACTION_SOS_CONVERSATION)),
        usergroup_id=selected_option(state_value(view, ids.BLOCK_SOS_USERGROUP, ids.ACTION_SOS_USERGROUP)),
        remove=ticked(state_value(view, ids.BLOCK_REMOVE, ids.ACTION_REMOVE), "remove"),
    )


async def open_sos_target(admin: AdminService, *, team_id: str, user_id: str, item_id: int | None) -> dict[str, Any]:
    current = await admin.sos_target_form(team_id=team_id, user_id=user_id, target_id=item_id)
    return sos_target_modal(target=current.target, usergroups=current.usergroups)


SCREEN: Screen[SosTargetForm] = Screen(
    name="sos_target",
    callback_id=ids.VIEW_ADMIN_SOS,
    openers=(Opener(ids.ACTION_ADMIN_ADD_SOS), Opener(ids.ACTION_ADMIN_EDIT_SOS, item="an SOS target")),
    tab=SOS,
    blocks={NAME: ids.BLOCK_SOS_NAME, CONVERSATION: ids.BLOCK_SOS_CONVERSATION, USERGROUP: ids.BLOCK_SOS_USERGROUP},
    open=open_sos_target,
    read=read_sos_target,
    check=check_sos_target,
    save=AdminService.save_sos_target,
)
