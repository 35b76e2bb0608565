"""The component screen: name, the usergroups invited to its incidents and — with PagerDuty connected — the service
its incidents page and optionally its own routing key; add, edit, or remove (a ticked Remove)."""

from __future__ import annotations

from typing import Any

from bot import slack_ids as ids
from bot.admin.forms import NAME, PD_SERVICE, ROUTING_KEY, USERGROUPS, ComponentForm, check_component
from bot.admin.service import AdminService
from bot.blocks.admin import MASKED, NO_SERVICE, component_modal
from bot.blocks.home import COMPONENTS
from bot.slack_payloads import selected_option, selected_options, state_value, text_of, ticked
from listeners.admin.screens import Opener, Screen, item_of


def read_component(view: dict[str, Any]) -> ComponentForm:
    groups = state_value(view, ids.BLOCK_COMPONENT_USERGROUPS, ids.ACTION_COMPONENT_USERGROUPS)
    service = state_value(view, ids.BLOCK_COMPONENT_PD_SERVICE, ids.ACTION_COMPONENT_PD_SERVICE)
    key = state_value(view, ids.BLOCK_COMPONENT_ROUTING_KEY, ids.ACTION_COMPONENT_ROUTING_KEY)
    typed_key = text_of(key).strip() if key is not None else None
    return ComponentForm(
        component_id=item_of(view),
        name=text_of(state_value(view, ids.BLOCK_COMPONENT_NAME, ids.ACTION_COMPONENT_NAME)),
        usergroup_ids=tuple(selected_options(groups)) if groups is not None else None,
        remove=ticked(state_value(view, ids.BLOCK_REMOVE, ids.ACTION_REMOVE), "remove"),
        pagerduty_service=(selected_option(service) or NO_SERVICE) if service is not None else None,
        routing_key=None if typed_key is None or typed_key == MASKED else typed_key,
    )


async def open_component(admin: AdminService, *, team_id: str, user_id: str, item_id: int | None) -> dict[str, Any]:
    current = await admin.component_form(team_id=team_id, user_id=user_id, component_id=item_id)
    return component_modal(component=current.component, usergroups=current.usergroups, services=current.services)


SCREEN: Screen[ComponentForm] = Screen(
    name="component",
    callback_id=ids.VIEW_ADMIN_COMPONENT,
    openers=(Opener(ids.ACTION_ADMIN_ADD_COMPONENT), Opener(ids.ACTION_ADMIN_EDIT_COMPONENT, item="a component")),
    tab=COMPONENTS,
    blocks={
        NAME: ids.BLOCK_COMPONENT_NAME,
        USERGROUPS: ids.BLOCK_COMPONENT_USERGROUPS,
        PD_SERVICE: ids.BLOCK_COMPONENT_PD_SERVICE,
        ROUTING_KEY: ids.BLOCK_COMPONENT_ROUTING_KEY,
    },
    open=open_component,
    read=read_component,
    check=check_component,
    save=AdminService.save_component,
)
