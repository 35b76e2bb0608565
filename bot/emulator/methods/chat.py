"""chat.postMessage, chat.update, chat.postEphemeral, chat.delete, chat.getPermalink."""

from __future__ import annotations

from typing import Any

from bot.emulator import payloads
from bot.emulator.args import ApiError, Args
from bot.emulator.limits import check_message_blocks
from bot.emulator.methods.base import Ctx, Handler
from bot.emulator.state import Channel, Edit, Ephemeral, Message

TEXT_TRUNCATE_AT = 40_000
UPDATE_TEXT_MAX = 4_000
ATTACHMENTS_MAX = 100


def checked_blocks(blocks: Any) -> list[Any] | None:
    """Validate message blocks against Block Kit limits, raising invalid_blocks the way Slack does."""
    if blocks is None:
        return None
    if not isinstance(blocks, list):
        raise ApiError("invalid_blocks_format")
    errors = check_message_blocks(blocks)
    if errors:
        raise ApiError("invalid_blocks", errors=errors, messages=[f"[ERROR] {e}" for e in errors])
    return blocks


def _content(args: Args) -> tuple[str, list[Any] | None, list[Any] | None]:
    text = args.text("text") or ""
    blocks = checked_blocks(args.structured("blocks", error="invalid_blocks_format"))
    attachments = args.structured("attachments")
    if attachments is not None and not isinstance(attachments, list):
        raise ApiError("invalid_attachments")
    if attachments and len(attachments) > ATTACHMENTS_MAX:
        raise ApiError("too_many_attachments")
    return text, blocks, attachments


def store_bot_message(
    ctx: Ctx,
    channel: Channel,
    *,
    text: str,
    blocks: list[Any] | None = None,
    attachments: list[Any] | None = None,
    thread_ts: str | None = None,
    metadata: dict[str, Any] | None = None,
    broadcast: bool = False,
) -> Message:
    """Add a message from the app to the channel and tell subscribers, as Slack does for the poster too. A reply
    also sent to the channel (`reply_broadcast`) is a `thread_broadcast`: in the thread and in the channel's history."""
    message = Message(
        ts=ctx.ids.ts(),
        channel=channel.id,
        user=ctx.identity.bot_user_id,
        text=text[:TEXT_TRUNCATE_AT],
        blocks=blocks,
        attachments=attachments,
        thread_ts=thread_ts,
        bot_id=ctx.identity.bot_id,
        metadata=metadata,
        subtype="thread_broadcast" if broadcast and thread_ts else None,
    )
    ctx.state.history(channel.id).append(message)
    ctx.emit(payloads.message_event(ctx.identity, message, channel), channel)
    return message


def _metadata(args: Args) -> dict[str, Any] | None:
    """Message metadata: an object with a string `event_type` and an object `event_payload`, or Slack refuses it."""
    metadata = args.structured("metadata", error="invalid_metadata_format")
    if metadata is None:
        return None
    if (
        not isinstance(metadata, dict)
        or not isinstance(metadata.get("event_type"), str)
        or not metadata["event_type"]
        or not isinstance(metadata.get("event_payload"), dict)
    ):
        raise ApiError("invalid_metadata_format")
    return metadata


def post_message(ctx: Ctx, args: Args) -> dict[str, Any]:
    channel = ctx.writable_channel(args.text("channel"))
    text, blocks, attachments = _content(args)
    if not text and not blocks and not attachments:
        raise ApiError("no_text")
    metadata = _metadata(args)
    message = store_bot_message(
        ctx,
        channel,
        text=text,
        blocks=blocks,
        attachments=attachments,
        thread_ts=args.text("thread_ts") or None,
        metadata=metadata,
        broadcast=args.flag("reply_broadcast"),
    )
    return {"ok": True, "channel": channel.id, "ts": message.ts, "message": payloads.message_object(ctx.identity, message)}


def update(ctx: Ctx, args: Args) -> dict[str, Any]:
    channel = ctx.channel(args.text("channel"))
    message = ctx.message(channel, args.text("ts"))
    if message.user != ctx.caller:
        raise ApiError("cant_update_message")
    if channel.is_archived:
        raise ApiError("is_inactive")
    text, blocks, attachments = _content(args)
    if "text" not in args and "blocks" not in args and "attachments" not in args:
        raise ApiError("no_text")
    if len(text) > UPDATE_TEXT_MAX:
        raise ApiError("msg_too_long")
    message.edits.append(Edit(text=message.text, blocks=message.blocks, edited_at=ctx.ids.ts()))
    if "text" in args:
        message.text = text
    if blocks is not None:
        message.blocks = blocks or None
    if attachments is not None:
        message.attachments = attachments or None
    message.edited_ts = message.edits[-1].edited_at
    return {
        "ok": True,
        "channel": channel.id,
        "ts": message.ts,
        "text": message.text,
        "message": payloads.message_object(ctx.identity, message),
    }


def post_ephemeral(ctx: Ctx, args: Args) -> dict[str, Any]:
    channel = ctx.writable_channel(args.text("channel"))
    user_id = args.required("user", error="user_not_in_channel")
    if user_id not in ctx.state.users:
        raise ApiError("user_not_found")
    if user_id not in channel.members:
        raise ApiError("user_not_in_channel")
    text, blocks, _ = _content(args)
    if not text and not blocks:
        raise ApiError("no_text")
    ts = ctx.ids.ts()
    ctx.state.ephemerals.append(
        Ephemeral(channel=channel.id, user=user_id, ts=ts, text=text, blocks=blocks, thread_ts=args.text("thread_ts"))
    )
    return {"ok": True, "message_ts": ts}


def delete(ctx: Ctx, args: Args) -> dict[str, Any]:
    channel = ctx.channel(args.text("channel"))
    message = ctx.message(channel, args.text("ts"))
    if message.user != ctx.caller:
        raise ApiError("cant_delete_message")
    ctx.state.history(channel.id).remove(message)
    ctx.state.pins[channel.id] = [p for p in ctx.state.pins.get(channel.id, []) if p.ts != message.ts]
    return {"ok": True, "channel": channel.id, "ts": message.ts}


def get_permalink(ctx: Ctx, args: Args) -> dict[str, Any]:
    channel = ctx.channel(args.text("channel"))
    message = ctx.message(channel, args.text("message_ts"))
    link = f"https://{ctx.identity.domain}.slack.com/archives/{channel.id}/p{message.ts.replace('.', '')}"
    if message.is_reply:
        link += f"?thread_ts={message.thread_ts}&cid={channel.id}"
    return {"ok": True, "channel": channel.id, "permalink": link}


METHODS: dict[str, Handler] = {
    "chat.postMessage": post_message,
    "chat.update": update,
    "chat.postEphemeral": post_ephemeral,
    "chat.delete": delete,
    "chat.getPermalink": get_permalink,
}
