"""Components from App Home (SPEC §5): name and the usergroups invited to its incidents; add, edit, remove.
PagerDuty service and routing key per component arrive with the PagerDuty integration."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from sqlalchemy.exc import IntegrityError

from bot import slack_ids as ids
from bot.blocks.admin import MAX_COMPONENT_NAME, component_modal
from bot.blocks.home import COMPONENTS, ComponentLine
from bot.container import Container
from bot.directory import Directory
from bot.incidents.errors import InvalidInput, NotFound
from bot.incidents.text import clean_line
from db.components import delete_component, find_component_by_name, get_component, save_component
from db.usergroups import known_usergroup_ids
from listeners.admin.common import (
    admin_for_button,
    admin_for_submission,
    button_item_id,
    metadata,
    selected_options,
    state_value,
    target_id,
    text_of,
    ticked,
)
from listeners.home import load_usergroups, publish_home, team_of, user_of

DOING = "manage components"


async def open_add(ack: AsyncAck, body: dict[str, Any], container: Container, directory: Directory, client: Any) -> None:
    await admin_for_button(ack, directory=directory, body=body, doing=DOING)
    groups = await load_usergroups(container, team_of(body))
    await client.views_open(trigger_id=body["trigger_id"], view=component_modal(component=None, usergroups=groups))


async def open_edit(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], container: Container, directory: Directory, client: Any
) -> None:
    await admin_for_button(ack, directory=directory, body=body, doing=DOING)
    team_id = team_of(body)
    wanted = button_item_id(action, "a component")
    async with container.sessions() as session:
        component = await get_component(session, team_id=team_id, component_id=wanted)
    if component is None:
        raise NotFound("That component no longer exists; reopen App Home to see the current ones.")
    line = ComponentLine(id=component.id, name=component.name, usergroup_ids=tuple(component.usergroup_ids or ()))
    groups = await load_usergroups(container, team_id)
    await client.views_open(trigger_id=body["trigger_id"], view=component_modal(component=line, usergroups=groups))


async def submit(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], container: Container, directory: Directory, client: Any
) -> None:
    actor = await admin_for_submission(
        ack, directory=directory, body=body, view=view, default_block=ids.BLOCK_COMPONENT_NAME, doing=DOING
    )
    if actor is None:
        return
    team_id, user_id = team_of(body), user_of(body)
    editing = target_id(metadata(view))
    async with container.sessions() as session:
        existing = await get_component(session, team_id=team_id, component_id=editing) if editing is not None else None
    if editing is not None and existing is None:
        await ack(response_action="errors", errors={ids.BLOCK_COMPONENT_NAME: "This component was removed meanwhile."})
        return

    if existing is not None and ticked(state_value(view, ids.BLOCK_REMOVE, ids.ACTION_REMOVE), "remove"):
        await ack()
        async with container.sessions() as session, session.begin():
            await delete_component(session, team_id=team_id, component_id=existing.id)
        notice = f"Removed component {existing.name}; its incidents keep their history."
        await publish_home(container, client, team_id=team_id, user_id=user_id, tab=COMPONENTS, notice=notice, actor=actor)
        return

    errors: dict[str, str] = {}
    name = clean_line(text_of(state_value(view, ids.BLOCK_COMPONENT_NAME, ids.ACTION_COMPONENT_NAME)))
    groups_value = state_value(view, ids.BLOCK_COMPONENT_USERGROUPS, ids.ACTION_COMPONENT_USERGROUPS)
    # Not in the form (no usergroups imported): keep what the component had.
    usergroup_ids = (
        selected_options(groups_value) if groups_value is not None else list(existing.usergroup_ids if existing else [])
    )
    if not name:
        errors[ids.BLOCK_COMPONENT_NAME] = "Give the component a name."
    elif len(name) > MAX_COMPONENT_NAME:
        errors[ids.BLOCK_COMPONENT_NAME] = f"Keep the name under {MAX_COMPONENT_NAME} characters."
    else:
        async with container.sessions() as session:
            clash = await find_component_by_name(session, team_id=team_id, name=name, except_id=editing)
        if clash is not None:
            errors[ids.BLOCK_COMPONENT_NAME] = f"There is already a component called {clash.name}."
    if groups_value is not None and usergroup_ids:
        async with container.sessions() as session:
            known = await known_usergroup_ids(session, team_id=team_id, ids=usergroup_ids)
        unknown = [g for g in usergroup_ids if g not in known]
        if unknown:
            errors[ids.BLOCK_COMPONENT_USERGROUPS] = (
                f"Vigil doesn't know {', '.join(unknown[:3])}; import usergroups under Usergroups first."
            )
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    await ack()

    try:
        async with container.sessions() as session, session.begin():
            saved = await save_component(
                session, team_id=team_id, component_id=editing, name=name, usergroup_ids=usergroup_ids
            )
    except IntegrityError:
        raise InvalidInput(f"Another admin just added a component called {name}; pick another name.") from None
    if saved is None:
        raise NotFound("That component was removed meanwhile; nothing was saved.")
    notice = f"Saved component {name}."
    await publish_home(container, client, team_id=team_id, user_id=user_id, tab=COMPONENTS, notice=notice, actor=actor)


def register(registry: Any) -> None:
    registry.action(ids.ACTION_ADMIN_ADD_COMPONENT)(open_add)
    registry.action(ids.ACTION_ADMIN_EDIT_COMPONENT)(open_edit)
    registry.view(ids.VIEW_ADMIN_COMPONENT)(submit)
