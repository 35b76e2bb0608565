"""The component screen: name and the usergroups invited to its incidents; add, edit, or remove (a ticked Remove).
PagerDuty service and routing key per component arrive with the PagerDuty integration."""

from __future__ import annotations

from typing import Any

from bot import slack_ids as ids
from bot.admin.forms import NAME, USERGROUPS, ComponentForm, check_component
from bot.admin.service import AdminService
from bot.blocks.admin import component_modal
from bot.blocks.home import COMPONENTS
from bot.slack_payloads import selected_options, state_value, text_of, ticked
from listeners.admin.screens import Opener, Screen, item_of


def read_component(view: dict[str, Any]) -> ComponentForm:
    groups = state_value(view, ids.BLOCK_COMPONENT_USERGROUPS, ids.ACTION_COMPONENT_USERGROUPS)
    return ComponentForm(
        component_id=item_of(view),
        name=text_of(state_value(view, ids.BLOCK_COMPONENT_NAME, ids.ACTION_COMPONENT_NAME)),
        usergroup_ids=tuple(selected_options(groups)) if groups is not None else None,
        remove=ticked(state_value(view, ids.BLOCK_REMOVE, ids.ACTION_REMOVE), "remove"),
    )


async def open_component(admin: AdminService, *, team_id: str, user_id: str, item_id: int | None) -> dict[str, Any]:
    current = await admin.component_form(team_id=team_id, user_id=user_id, component_id=item_id)
    return component_modal(component=current.component, usergroups=current.usergroups)


SCREEN: Screen[ComponentForm] = Screen(
    name="component",
    callback_id=ids.VIEW_ADMIN_COMPONENT,
    openers=(Opener(ids.ACTION_ADMIN_ADD_COMPONENT), Opener(ids.ACTION_ADMIN_EDIT_COMPONENT, item="a component")),
    tab=COMPONENTS,
    blocks={NAME: ids.BLOCK_COMPONENT_NAME, USERGROUPS: ids.BLOCK_COMPONENT_USERGROUPS},
    open=open_component,
    read=read_component,
    check=check_component,
    save=AdminService.save_component,
)
