"""pins.*, bookmarks.*, reactions.*: things attached to messages and channels."""

from __future__ import annotations

import re
from typing import Any

from bot.emulator import payloads
from bot.emulator.args import ApiError, Args, invalid_arguments
from bot.emulator.methods.base import Ctx, Handler
from bot.emulator.methods.conversations import UNPINNABLE_SUBTYPES
from bot.emulator.state import Bookmark, Channel, Message, Pin

_EMOJI_RE = re.compile(r"^[a-z0-9_+'-]+(::skin-tone-[2-6])?$")


# ---- pins ---------------------------------------------------------------------------------------------------------


def pins_add(ctx: Ctx, args: Args) -> dict[str, Any]:
    channel = ctx.channel(args.text("channel"))
    ts = args.text("timestamp")
    if not ts:
        raise ApiError("no_item_specified")
    if ctx.caller not in channel.members:
        raise ApiError("not_in_channel")
    if channel.is_archived:
        raise ApiError("is_archived")
    message = ctx.message(channel, ts)
    if message.subtype in UNPINNABLE_SUBTYPES:
        raise ApiError("not_pinnable")
    if ctx.state.is_pinned(channel.id, ts):
        raise ApiError("already_pinned")
    pin = Pin(channel=channel.id, ts=ts, created=ctx.now(), created_by=ctx.caller)
    ctx.state.pins.setdefault(channel.id, []).append(pin)
    ctx.emit(
        {
            "type": "pin_added",
            "user": ctx.caller,
            "channel_id": channel.id,
            "item": _pin_item(ctx, pin),
            "event_ts": ctx.ids.ts(),
        },
        channel,
    )
    return {"ok": True}


def pins_remove(ctx: Ctx, args: Args) -> dict[str, Any]:
    channel = ctx.channel(args.text("channel"))
    ts = args.text("timestamp")
    if not ts:
        raise ApiError("no_item_specified")
    pins = ctx.state.pins.get(channel.id, [])
    pin = next((p for p in pins if p.ts == ts), None)
    if pin is None:
        raise ApiError("no_pin")
    pins.remove(pin)
    ctx.emit(
        {
            "type": "pin_removed",
            "user": ctx.caller,
            "channel_id": channel.id,
            "item": _pin_item(ctx, pin),
            "event_ts": ctx.ids.ts(),
        },
        channel,
    )
    return {"ok": True}


def _pin_item(ctx: Ctx, pin: Pin) -> dict[str, Any]:
    item: dict[str, Any] = {"type": "message", "channel": pin.channel, "created": pin.created, "created_by": pin.created_by}
    message = ctx.state.find_message(pin.channel, pin.ts)
    if message:
        item["message"] = payloads.message_object(ctx.identity, message)
    return item


def pins_list(ctx: Ctx, args: Args) -> dict[str, Any]:
    channel = ctx.channel(args.text("channel"))
    items = [_pin_item(ctx, p) for p in reversed(ctx.state.pins.get(channel.id, []))]
    return {"ok": True, "items": items}


# ---- bookmarks ----------------------------------------------------------------------------------------------------


def _bookmark_object(ctx: Ctx, bookmark: Bookmark) -> dict[str, Any]:
    return {
        "id": bookmark.id,
        "channel_id": bookmark.channel_id,
        "title": bookmark.title,
        "link": bookmark.link,
        "emoji": bookmark.emoji or None,
        "icon_url": None,
        "type": bookmark.type,
        "entity_id": None,
        "date_created": bookmark.created,
        "date_updated": bookmark.updated,
        "rank": "U",
        "last_updated_by_user_id": bookmark.updated_by,
        "last_updated_by_team_id": ctx.identity.team_id,
        "shortcut_id": None,
        "app_id": ctx.identity.app_id,
    }


def _bookmark(ctx: Ctx, args: Args) -> tuple[list[Bookmark], Bookmark]:
    channel = ctx.channel(args.text("channel_id"))
    bookmarks = ctx.state.bookmarks.get(channel.id, [])
    bookmark_id = args.text("bookmark_id")
    found = next((b for b in bookmarks if b.id == bookmark_id), None)
    if found is None:
        raise ApiError("not_found")
    return bookmarks, found


def bookmarks_add(ctx: Ctx, args: Args) -> dict[str, Any]:
    channel = ctx.channel(args.text("channel_id"))
    title = args.text("title")
    kind = args.text("type") or ""
    if not title:
        raise invalid_arguments("missing required field: title")
    if kind != "link":
        raise ApiError("invalid_bookmark_type")
    link = args.text("link") or ""
    if not link.startswith(("http://", "https://")):
        raise ApiError("invalid_link")
    if channel.is_archived:
        raise ApiError("is_archived")
    now = ctx.now()
    bookmark = Bookmark(
        id=ctx.ids.sequential("Bk"),
        channel_id=channel.id,
        title=title,
        link=link,
        emoji=args.text("emoji") or "",
        created=now,
        updated=now,
        updated_by=ctx.caller,
    )
    ctx.state.bookmarks.setdefault(channel.id, []).append(bookmark)
    return {"ok": True, "bookmark": _bookmark_object(ctx, bookmark)}


def bookmarks_edit(ctx: Ctx, args: Args) -> dict[str, Any]:
    _, bookmark = _bookmark(ctx, args)
    if "title" in args:
        bookmark.title = args.text("title") or ""
    if "link" in args:
        link = args.text("link") or ""
        if not link.startswith(("http://", "https://")):
            raise ApiError("invalid_link")
        bookmark.link = link
    if "emoji" in args:
        bookmark.emoji = args.text("emoji") or ""
    bookmark.updated = ctx.now()
    bookmark.updated_by = ctx.caller
    return {"ok": True, "bookmark": _bookmark_object(ctx, bookmark)}


def bookmarks_remove(ctx: Ctx, args: Args) -> dict[str, Any]:
    bookmarks, bookmark = _bookmark(ctx, args)
    bookmarks.remove(bookmark)
    return {"ok": True}


def bookmarks_list(ctx: Ctx, args: Args) -> dict[str, Any]:
    channel = ctx.channel(args.text("channel_id"))
    return {"ok": True, "bookmarks": [_bookmark_object(ctx, b) for b in ctx.state.bookmarks.get(channel.id, [])]}


# ---- reactions ----------------------------------------------------------------------------------------------------


def _reaction_target(ctx: Ctx, args: Args) -> tuple[Channel, Message, str]:
    channel = ctx.channel(args.text("channel"))
    ts = args.text("timestamp")
    if not ts:
        raise ApiError("no_item_specified")
    name = (args.text("name") or "").strip(":")
    if not name or not _EMOJI_RE.match(name):
        raise ApiError("invalid_name")
    return channel, ctx.message(channel, ts), name


def reactions_add(ctx: Ctx, args: Args) -> dict[str, Any]:
    channel, message, name = _reaction_target(ctx, args)
    if channel.is_archived:
        raise ApiError("is_archived")
    users = message.reactions.setdefault(name, [])
    if ctx.caller in users:
        raise ApiError("already_reacted")
    users.append(ctx.caller)
    event = payloads.reaction_event(
        "reaction_added",
        user_id=ctx.caller,
        reaction=name,
        channel_id=channel.id,
        ts=message.ts,
        item_user=message.user,
        event_ts=ctx.ids.ts(),
    )
    ctx.emit(event, channel)
    return {"ok": True}


def reactions_remove(ctx: Ctx, args: Args) -> dict[str, Any]:
    channel, message, name = _reaction_target(ctx, args)
    users = message.reactions.get(name, [])
    if ctx.caller not in users:
        raise ApiError("no_reaction")
    users.remove(ctx.caller)
    if not users:
        del message.reactions[name]
    event = payloads.reaction_event(
        "reaction_removed",
        user_id=ctx.caller,
        reaction=name,
        channel_id=channel.id,
        ts=message.ts,
        item_user=message.user,
        event_ts=ctx.ids.ts(),
    )
    ctx.emit(event, channel)
    return {"ok": True}


def reactions_get(ctx: Ctx, args: Args) -> dict[str, Any]:
    channel = ctx.channel(args.text("channel"))
    message = ctx.message(channel, args.text("timestamp"))
    return {"ok": True, "type": "message", "channel": channel.id, "message": payloads.message_object(ctx.identity, message)}


METHODS: dict[str, Handler] = {
    "pins.add": pins_add,
    "pins.remove": pins_remove,
    "pins.list": pins_list,
    "bookmarks.add": bookmarks_add,
    "bookmarks.edit": bookmarks_edit,
    "bookmarks.remove": bookmarks_remove,
    "bookmarks.list": bookmarks_list,
    "reactions.add": reactions_add,
    "reactions.remove": reactions_remove,
    "reactions.get": reactions_get,
}
