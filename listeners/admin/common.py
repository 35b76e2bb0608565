"""What every back-office listener does: the admin check on each press and submission, reading modal values, and
checking a picked conversation with Slack before answering (answers on the field need the 3 s ack)."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.errors import SlackApiError

from bot.container import Container
from bot.directory import Directory
from bot.incidents.access import Actor
from bot.incidents.errors import InvalidInput
from bot.permissions import admin_refusal, require_admin
from db.incidents import get_by_channel
from listeners.home import team_of, user_of


def first_input_block(view: dict[str, Any], default: str) -> str:
    """Where a refusal goes in a modal: its first input (Slack shows `errors` only under input blocks)."""
    for block in view.get("blocks") or []:
        if isinstance(block, dict) and block.get("type") == "input" and block.get("block_id"):
            return str(block["block_id"])
    return default


async def admin_for_submission(
    ack: AsyncAck, *, directory: Directory, body: dict[str, Any], view: dict[str, Any], default_block: str, doing: str
) -> Actor | None:
    """The submitting admin; for anyone else, acks with the refusal on the modal's first field and returns None."""
    actor = await directory.actor(team_id=team_of(body), user_id=user_of(body))
    if actor.is_admin:
        return actor
    await ack(response_action="errors", errors={first_input_block(view, default_block): admin_refusal(doing)})
    return None


async def admin_for_button(ack: AsyncAck, *, directory: Directory, body: dict[str, Any], doing: str) -> Actor:
    """Ack the press, then the admin check: a non-admin gets NotAllowed, which the error handler sends them."""
    await ack()
    return await require_admin(directory, team_id=team_of(body), user_id=user_of(body), doing=doing)


def button_item_id(action: dict[str, Any], what: str) -> int:
    """The id an edit button carries in its value (e.g. a component's); a clear refusal when it carries none."""
    try:
        return int(str(action.get("value") or ""))
    except ValueError:
        raise InvalidInput(f"That button does not name {what}; reopen App Home.") from None


def metadata(view: dict[str, Any]) -> dict[str, Any]:
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def state_value(view: dict[str, Any], block_id: str, action_id: str) -> dict[str, Any] | None:
    """The value object of one input, or None when the block is not in the submission at all."""
    values = (view.get("state") or {}).get("values") or {}
    block = values.get(block_id)
    if not isinstance(block, dict):
        return None
    value = block.get(action_id)
    return value if isinstance(value, dict) else {}


def text_of(value: dict[str, Any] | None) -> str:
    return str((value or {}).get("value") or "")


def selected_option(value: dict[str, Any] | None) -> str | None:
    option = (value or {}).get("selected_option")
    return str(option["value"]) if isinstance(option, dict) and option.get("value") else None


def selected_options(value: dict[str, Any] | None) -> list[str]:
    options = (value or {}).get("selected_options") or []
    return [str(o["value"]) for o in options if isinstance(o, dict) and o.get("value")]


def selected_conversation(value: dict[str, Any] | None) -> str | None:
    conversation = (value or {}).get("selected_conversation")
    return str(conversation) if conversation else None


def ticked(value: dict[str, Any] | None, option_value: str) -> bool:
    return option_value in selected_options(value)


def target_id(meta: dict[str, Any]) -> int | None:
    value = meta.get("id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


async def conversation_problem(container: Container, client: Any, *, team_id: str, conversation_id: str) -> str | None:
    """Why Vigil could not use a conversation for a tag or an SOS target, or None when it can."""
    try:
        resp = await client.conversations_info(channel=conversation_id)
    except SlackApiError as exc:
        code = exc.response.get("error")
        if code == "channel_not_found":
            return "Vigil can't see that channel. If it is private, invite @Vigil to it first."
        return f"Slack could not check that channel ({code}); try again."
    channel = resp.get("channel") or {}
    if channel.get("is_im") or channel.get("is_mpim"):
        return "Pick a channel, not a direct message."
    if channel.get("is_archived"):
        return "That channel is archived; pick another."
    if channel.get("is_private") and not channel.get("is_member"):
        return "Vigil is not in that private channel; invite @Vigil to it first."
    async with container.sessions() as session:
        incident = await get_by_channel(session, team_id=team_id, channel_id=conversation_id)
    if incident is not None:
        return f"That is INC-{incident.number}'s channel; pick a standing channel."
    return None
