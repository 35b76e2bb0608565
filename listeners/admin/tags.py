"""Conversation tags and the usergroup tag, edited in one modal (SPEC §5).

A tag is on one conversation (or usergroup); a conversation may carry several tags. Picking a new conversation for a
tag moves it there. If another admin moved the same tag while this form was open, the submission is answered on that
field instead of silently overwriting their change.
"""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot import slack_ids as ids
from bot.blocks.admin import CONVERSATION_TAG_BLOCKS, USERGROUP_TAG_BLOCKS, tags_modal
from bot.blocks.home import TAGS
from bot.container import Container
from bot.directory import Directory
from db.tags import (
    clear_conversation_tag,
    clear_usergroup_tag,
    set_conversation_tag,
    set_usergroup_tag,
    tagged_conversation,
    tagged_usergroup,
)
from db.usergroups import known_usergroup_ids
from listeners.admin.common import (
    admin_for_button,
    admin_for_submission,
    conversation_problem,
    metadata,
    selected_conversation,
    selected_option,
    state_value,
)
from listeners.home import load_usergroups, publish_home, team_of, user_of

DOING = "change tags"
MOVED_MEANWHILE = "Another admin changed this tag while the form was open. Close the form and open Edit tags again."
UNKNOWN_USERGROUP = "Vigil doesn't know that usergroup; import it under Usergroups first."


async def _current(container: Container, team_id: str) -> tuple[dict[str, str | None], dict[str, str | None]]:
    async with container.sessions() as session:
        conversations = {
            tag: await tagged_conversation(session, team_id=team_id, tag=tag) for tag in CONVERSATION_TAG_BLOCKS
        }
        usergroups = {tag: await tagged_usergroup(session, team_id=team_id, tag=tag) for tag in USERGROUP_TAG_BLOCKS}
    return conversations, usergroups


async def open_tags(ack: AsyncAck, body: dict[str, Any], container: Container, directory: Directory, client: Any) -> None:
    await admin_for_button(ack, directory=directory, body=body, doing=DOING)
    conversations, usergroups = await _current(container, team_of(body))
    groups = await load_usergroups(container, team_of(body))
    view = tags_modal(conversation_tags=conversations, usergroup_tags=usergroups, usergroups=groups)
    await client.views_open(trigger_id=body["trigger_id"], view=view)


def _wanted(shown: dict[str, Any] | None, tag: str, chosen: str | None, current: str | None) -> tuple[bool, bool]:
    """(change it, conflict): an untouched field changes nothing; a touched one conflicts if the tag moved meanwhile."""
    if shown is None:  # no record of what the form showed: take the submission as it is
        return chosen != current, False
    before = shown.get(tag)
    if chosen == before:
        return False, False
    return chosen != current, current != before


async def submit_tags(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], container: Container, directory: Directory, client: Any
) -> None:
    actor = await admin_for_submission(
        ack, directory=directory, body=body, view=view, default_block=ids.BLOCK_TAG_TECH_INCIDENTS, doing=DOING
    )
    if actor is None:
        return
    team_id = team_of(body)
    raw_shown = metadata(view).get("shown")
    shown = raw_shown if isinstance(raw_shown, dict) else None
    conversations, usergroups = await _current(container, team_id)
    errors: dict[str, str] = {}
    conversation_changes: dict[str, str | None] = {}
    usergroup_changes: dict[str, str | None] = {}

    for tag, block_id in CONVERSATION_TAG_BLOCKS.items():
        value = state_value(view, block_id, ids.ACTION_TAG_CONVERSATION)
        if value is None:
            continue  # not in the form: leave the tag alone
        change, conflict = _wanted(shown, tag, selected_conversation(value), conversations[tag])
        if conflict:
            errors[block_id] = MOVED_MEANWHILE
        elif change:
            conversation_changes[tag] = selected_conversation(value)
    for tag, block_id in USERGROUP_TAG_BLOCKS.items():
        value = state_value(view, block_id, ids.ACTION_TAG_USERGROUP)
        if value is None:
            continue
        change, conflict = _wanted(shown, tag, selected_option(value), usergroups[tag])
        if conflict:
            errors[block_id] = MOVED_MEANWHILE
        elif change:
            usergroup_changes[tag] = selected_option(value)

    to_check = {tag: cid for tag, cid in conversation_changes.items() if cid}
    problems = await asyncio.gather(
        *(conversation_problem(container, client, team_id=team_id, conversation_id=cid) for cid in to_check.values())
    )
    for tag, problem in zip(to_check, problems, strict=True):
        if problem:
            errors[CONVERSATION_TAG_BLOCKS[tag]] = problem
    wanted_groups = [gid for gid in usergroup_changes.values() if gid]
    if wanted_groups:
        async with container.sessions() as session:
            known = await known_usergroup_ids(session, team_id=team_id, ids=wanted_groups)
        for tag, gid in usergroup_changes.items():
            if gid and gid not in known:
                errors[USERGROUP_TAG_BLOCKS[tag]] = UNKNOWN_USERGROUP
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    await ack()

    async with container.sessions() as session, session.begin():
        for tag, cid in conversation_changes.items():
            if cid:
                await set_conversation_tag(session, team_id=team_id, tag=tag, conversation_id=cid, by=actor.user_id)
            else:
                await clear_conversation_tag(session, team_id=team_id, tag=tag)
        for tag, gid in usergroup_changes.items():
            if gid:
                await set_usergroup_tag(session, team_id=team_id, tag=tag, usergroup_id=gid, by=actor.user_id)
            else:
                await clear_usergroup_tag(session, team_id=team_id, tag=tag)
    changed = len(conversation_changes) + len(usergroup_changes)
    notice = f"Tags saved ({changed} changed)." if changed else "Tags unchanged."
    await publish_home(container, client, team_id=team_id, user_id=user_of(body), tab=TAGS, notice=notice, actor=actor)


def register(registry: Any) -> None:
    registry.action(ids.ACTION_ADMIN_EDIT_TAGS)(open_tags)
    registry.view(ids.VIEW_ADMIN_TAGS)(submit_tags)
