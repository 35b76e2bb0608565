"""SOS targets from App Home (SPEC §5): name, conversation, optional usergroup; add, edit, remove."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from sqlalchemy.exc import IntegrityError

from bot import slack_ids as ids
from bot.blocks.admin import MAX_SOS_NAME, sos_target_modal
from bot.blocks.home import SOS, SosTargetLine
from bot.container import Container
from bot.directory import Directory
from bot.incidents.errors import InvalidInput, NotFound
from bot.incidents.text import clean_line
from db.sos import delete_sos_target, find_sos_target_by_name, get_sos_target, save_sos_target
from db.usergroups import known_usergroup_ids
from listeners.admin.common import (
    admin_for_button,
    admin_for_submission,
    button_item_id,
    conversation_problem,
    metadata,
    selected_conversation,
    selected_option,
    state_value,
    target_id,
    text_of,
    ticked,
)
from listeners.home import load_usergroups, publish_home, team_of, user_of

DOING = "manage SOS targets"


async def open_add(ack: AsyncAck, body: dict[str, Any], container: Container, directory: Directory, client: Any) -> None:
    await admin_for_button(ack, directory=directory, body=body, doing=DOING)
    groups = await load_usergroups(container, team_of(body))
    await client.views_open(trigger_id=body["trigger_id"], view=sos_target_modal(target=None, usergroups=groups))


async def open_edit(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], container: Container, directory: Directory, client: Any
) -> None:
    await admin_for_button(ack, directory=directory, body=body, doing=DOING)
    team_id = team_of(body)
    wanted = button_item_id(action, "an SOS target")
    async with container.sessions() as session:
        target = await get_sos_target(session, team_id=team_id, target_id=wanted)
    if target is None:
        raise NotFound("That SOS target no longer exists; reopen App Home to see the current ones.")
    line = SosTargetLine(
        id=target.id, name=target.name, conversation_id=target.conversation_id, usergroup_id=target.usergroup_id
    )
    groups = await load_usergroups(container, team_id)
    await client.views_open(trigger_id=body["trigger_id"], view=sos_target_modal(target=line, usergroups=groups))


async def submit(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], container: Container, directory: Directory, client: Any
) -> None:
    actor = await admin_for_submission(
        ack, directory=directory, body=body, view=view, default_block=ids.BLOCK_SOS_NAME, doing=DOING
    )
    if actor is None:
        return
    team_id, user_id = team_of(body), user_of(body)
    editing = target_id(metadata(view))
    async with container.sessions() as session:
        existing = await get_sos_target(session, team_id=team_id, target_id=editing) if editing is not None else None
    if editing is not None and existing is None:
        await ack(response_action="errors", errors={ids.BLOCK_SOS_NAME: "This SOS target was removed meanwhile."})
        return

    if existing is not None and ticked(state_value(view, ids.BLOCK_REMOVE, ids.ACTION_REMOVE), "remove"):
        await ack()
        async with container.sessions() as session, session.begin():
            await delete_sos_target(session, team_id=team_id, target_id=existing.id)
        notice = f"Removed SOS target {existing.name}."
        await publish_home(container, client, team_id=team_id, user_id=user_id, tab=SOS, notice=notice, actor=actor)
        return

    errors: dict[str, str] = {}
    name = clean_line(text_of(state_value(view, ids.BLOCK_SOS_NAME, ids.ACTION_SOS_NAME)))
    conversation_id = selected_conversation(state_value(view, ids.BLOCK_SOS_CONVERSATION, ids.ACTION_SOS_CONVERSATION))
    usergroup_id = selected_option(state_value(view, ids.BLOCK_SOS_USERGROUP, ids.ACTION_SOS_USERGROUP))
    if not name:
        errors[ids.BLOCK_SOS_NAME] = "Give the SOS target a name."
    elif len(name) > MAX_SOS_NAME:
        errors[ids.BLOCK_SOS_NAME] = f"Keep the name under {MAX_SOS_NAME} characters."
    else:
        async with container.sessions() as session:
            clash = await find_sos_target_by_name(session, team_id=team_id, name=name, except_id=editing)
        if clash is not None:
            errors[ids.BLOCK_SOS_NAME] = f"There is already an SOS target called {clash.name}."
    if not conversation_id:
        errors[ids.BLOCK_SOS_CONVERSATION] = "Pick the channel where help requests go."
    elif existing is None or conversation_id != existing.conversation_id:
        problem = await conversation_problem(container, client, team_id=team_id, conversation_id=conversation_id)
        if problem:
            errors[ids.BLOCK_SOS_CONVERSATION] = problem
    if usergroup_id:
        async with container.sessions() as session:
            if not await known_usergroup_ids(session, team_id=team_id, ids=[usergroup_id]):
                errors[ids.BLOCK_SOS_USERGROUP] = "Vigil doesn't know that usergroup; import it under Usergroups first."
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    await ack()

    assert conversation_id is not None
    try:
        async with container.sessions() as session, session.begin():
            saved = await save_sos_target(
                session,
                team_id=team_id,
                target_id=editing,
                name=name,
                conversation_id=conversation_id,
                usergroup_id=usergroup_id,
                by=actor.user_id,
            )
    except IntegrityError:
        raise InvalidInput(f"Another admin just added an SOS target called {name}; pick another name.") from None
    if saved is None:
        raise NotFound("That SOS target was removed meanwhile; nothing was saved.")
    notice = f"Saved SOS target {name}."
    await publish_home(container, client, team_id=team_id, user_id=user_id, tab=SOS, notice=notice, actor=actor)


def register(registry: Any) -> None:
    registry.action(ids.ACTION_ADMIN_ADD_SOS)(open_add)
    registry.action(ids.ACTION_ADMIN_EDIT_SOS)(open_edit)
    registry.view(ids.VIEW_ADMIN_SOS)(submit)
