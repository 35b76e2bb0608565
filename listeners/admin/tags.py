"""The tags screen: every conversation tag and the usergroup tag in one modal.

A tag is on one conversation (or usergroup); a conversation may carry several tags. What the form showed travels in
its metadata, so a tag another admin moved while it was open is answered rather than silently overwritten.
"""

from __future__ import annotations

from typing import Any

from bot import slack_ids as ids
from bot.admin.forms import TagsForm, check_tags
from bot.admin.service import AdminService
from bot.blocks.admin import CONVERSATION_TAG_BLOCKS, USERGROUP_TAG_BLOCKS, tags_modal
from bot.blocks.home import TAGS
from bot.slack_payloads import metadata, selected_conversation, selected_option, state_value
from listeners.admin.screens import Opener, Screen


def read_tags(view: dict[str, Any]) -> TagsForm:
    """Only the fields the form had: a tag whose field is missing is left alone."""
    conversations: dict[str, str | None] = {}
    for tag, block_id in CONVERSATION_TAG_BLOCKS.items():
        value = state_value(view, block_id, ids.ACTION_TAG_CONVERSATION)
        if value is not None:
            conversations[tag] = selected_conversation(value)
    usergroups: dict[str, str | None] = {}
    for tag, block_id in USERGROUP_TAG_BLOCKS.items():
        value = state_value(view, block_id, ids.ACTION_TAG_USERGROUP)
        if value is not None:
            usergroups[tag] = selected_option(value)
    raw = metadata(view).get("shown")
    shown = {str(tag): str(v) if v else None for tag, v in raw.items()} if isinstance(raw, dict) else None
    return TagsForm(conversations=conversations, usergroups=usergroups, shown=shown)


async def open_tags(admin: AdminService, *, team_id: str, user_id: str, item_id: int | None) -> dict[str, Any]:
    current = await admin.tags_form(team_id=team_id, user_id=user_id)
    return tags_modal(
        conversation_tags=current.conversation_tags, usergroup_tags=current.usergroup_tags, usergroups=current.usergroups
    )


SCREEN: Screen[TagsForm] = Screen(
    name="tags",
    callback_id=ids.VIEW_ADMIN_TAGS,
    openers=(Opener(ids.ACTION_ADMIN_EDIT_TAGS),),
    tab=TAGS,
    blocks={**CONVERSATION_TAG_BLOCKS, **USERGROUP_TAG_BLOCKS},
    open=open_tags,
    read=read_tags,
    check=check_tags,
    save=AdminService.save_tags,
)
