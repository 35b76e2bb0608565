"""conversations.*: create, rename, invite, kick, join, leave, open, archive, unarchive, setTopic, setPurpose, info,
members, list, history, replies."""

from __future__ import annotations

from typing import Any

from bot.emulator import payloads
from bot.emulator.args import ApiError, Args, invalid_arguments
from bot.emulator.methods.base import Ctx, Handler, check_channel_name, paginate
from bot.emulator.state import Channel, Message

TOPIC_MAX = 250
PURPOSE_MAX = 250
INVITE_MAX = 1000
UNPINNABLE_SUBTYPES = frozenset({"channel_join", "channel_leave", "channel_topic", "channel_purpose", "channel_name"})


def _info(ctx: Ctx, channel: Channel, **kwargs: Any) -> dict[str, Any]:
    return payloads.channel_object(ctx.identity, channel, **kwargs)


def _name_taken(ctx: Ctx, name: str, *, except_id: str | None = None) -> bool:
    return any(c.name == name and c.id != except_id and not c.is_im for c in ctx.state.channels.values())


def _system_message(ctx: Ctx, channel: Channel, *, user: str, subtype: str, text: str, **extra: Any) -> Message:
    """Messages Slack itself adds to history (joins, topic changes); subscribers get them as `message` events."""
    message = Message(ts=ctx.ids.ts(), channel=channel.id, user=user, text=text, subtype=subtype, extra=dict(extra))
    ctx.state.history(channel.id).append(message)
    ctx.emit(payloads.message_event(ctx.identity, message, channel), channel)
    return message


def _user_label(ctx: Ctx, user_id: str) -> str:
    user = ctx.state.users.get(user_id)
    return f"<@{user_id}|{user.name if user else user_id}>"


def add_member(ctx: Ctx, channel: Channel, user_id: str, *, inviter: str | None) -> None:
    """Join a user to a channel: membership, the `channel_join` message and `member_joined_channel`."""
    channel.members.append(user_id)
    extra: dict[str, Any] = {"inviter": inviter} if inviter else {}
    _system_message(
        ctx,
        channel,
        user=user_id,
        subtype="channel_join",
        text=f"{_user_label(ctx, user_id)} has joined the channel",
        **extra,
    )
    event = payloads.member_event(
        "member_joined_channel", ctx.identity, user_id=user_id, channel=channel, inviter=inviter, event_ts=ctx.ids.ts()
    )
    ctx.emit(event, channel)


def remove_member(ctx: Ctx, channel: Channel, user_id: str) -> None:
    event = payloads.member_event(
        "member_left_channel", ctx.identity, user_id=user_id, channel=channel, inviter=None, event_ts=ctx.ids.ts()
    )
    # Emitted before the membership changes so the app still counts as "in the channel" when it is the one leaving.
    ctx.emit(event, channel)
    channel.members.remove(user_id)


def create(ctx: Ctx, args: Args) -> dict[str, Any]:
    name = check_channel_name(args.text("name"))
    if _name_taken(ctx, name):
        raise ApiError("name_taken")
    channel = Channel(
        id=ctx.ids.sequential("C"),
        name=name,
        is_private=args.flag("is_private"),
        creator=ctx.caller,
        created=ctx.now(),
        members=[ctx.caller],
    )
    ctx.state.channels[channel.id] = channel
    ctx.state.messages[channel.id] = []
    if not channel.is_private:
        created = {"id": channel.id, "name": channel.name, "created": channel.created, "creator": channel.creator}
        ctx.emit({"type": "channel_created", "channel": created, "event_ts": ctx.ids.ts()}, None)
    event = payloads.member_event(
        "member_joined_channel", ctx.identity, user_id=ctx.caller, channel=channel, inviter=None, event_ts=ctx.ids.ts()
    )
    ctx.emit(event, channel)
    return {"ok": True, "channel": _info(ctx, channel)}


def rename(ctx: Ctx, args: Args) -> dict[str, Any]:
    channel = ctx.channel(args.text("channel"))
    name = check_channel_name(args.text("name"))
    if channel.is_archived:
        raise ApiError("is_archived")
    if ctx.caller not in channel.members:
        raise ApiError("not_in_channel")
    if name != channel.name:
        if _name_taken(ctx, name, except_id=channel.id):
            raise ApiError("name_taken")
        channel.previous_names.insert(0, channel.name)
        channel.name = name
        renamed = {"id": channel.id, "name": name, "created": channel.created}
        ctx.emit({"type": "channel_rename", "channel": renamed, "event_ts": ctx.ids.ts()}, channel)
    return {"ok": True, "channel": _info(ctx, channel)}


def invite(ctx: Ctx, args: Args) -> dict[str, Any]:
    channel = ctx.channel(args.text("channel"))
    if channel.is_im:
        raise ApiError("method_not_supported_for_channel_type")
    users = args.items("users")
    if not users:
        raise ApiError("no_user")
    if len(users) > INVITE_MAX:
        raise invalid_arguments(f"no more than {INVITE_MAX} items allowed [json-pointer:/users]")
    if channel.is_archived:
        raise ApiError("is_archived")
    if ctx.caller not in channel.members:
        raise ApiError("not_in_channel")
    failures: list[dict[str, Any]] = []
    valid: list[str] = []
    for user_id in dict.fromkeys(users):
        user = ctx.state.users.get(user_id)
        error = None
        if user is None or user.deleted:
            error = "user_not_found"
        elif user_id == ctx.caller:
            error = "cant_invite_self"
        elif user_id in channel.members:
            error = "already_in_channel"
        if error:
            failures.append({"user": user_id, "ok": False, "error": error})
        else:
            valid.append(user_id)
    force = args.flag("force")
    if failures and (not force or not valid):
        extra: dict[str, Any] = {"errors": failures} if len(users) > 1 else {}
        raise ApiError(failures[0]["error"], **extra)
    for user_id in valid:
        add_member(ctx, channel, user_id, inviter=ctx.caller)
    reply: dict[str, Any] = {"ok": True, "channel": _info(ctx, channel)}
    if failures:
        reply["errors"] = failures
    return reply


def kick(ctx: Ctx, args: Args) -> dict[str, Any]:
    channel = ctx.channel(args.text("channel"))
    user_id = args.required("user", error="user_not_found")
    if user_id not in ctx.state.users:
        raise ApiError("user_not_found")
    if user_id == ctx.caller:
        raise ApiError("cant_kick_self")
    if channel.is_general:
        raise ApiError("cant_kick_from_general")
    if ctx.caller not in channel.members:
        raise ApiError("not_in_channel")
    if user_id not in channel.members:
        raise ApiError("not_in_channel")
    remove_member(ctx, channel, user_id)
    return {"ok": True, "errors": {}}


def join(ctx: Ctx, args: Args) -> dict[str, Any]:
    if not ctx.has_scope("channels:join"):
        raise ApiError("missing_scope", needed="channels:join", provided=",".join(ctx.identity.scopes))
    channel = ctx.channel(args.text("channel"))
    if channel.is_private or channel.is_im:
        raise ApiError("method_not_supported_for_channel_type")
    if channel.is_archived:
        raise ApiError("is_archived")
    if ctx.caller in channel.members:
        return {"ok": True, "channel": _info(ctx, channel), "warning": "already_in_channel"}
    add_member(ctx, channel, ctx.caller, inviter=None)
    return {"ok": True, "channel": _info(ctx, channel)}


def leave(ctx: Ctx, args: Args) -> dict[str, Any]:
    channel = ctx.channel(args.text("channel"))
    if channel.is_general:
        raise ApiError("cant_leave_general")
    if channel.is_archived:
        raise ApiError("is_archived")
    if ctx.caller not in channel.members:
        return {"ok": True, "not_in_channel": True}
    remove_member(ctx, channel, ctx.caller)
    return {"ok": True}


def open_conversation(ctx: Ctx, args: Args) -> dict[str, Any]:
    users = args.items("users")
    if len(users) != 1:
        raise ApiError("users_list_not_supplied" if not users else "not_enabled")
    if users[0] not in ctx.state.users:
        raise ApiError("user_not_found")
    channel = ctx.im_with(users[0])
    return {"ok": True, "channel": {"id": channel.id} if not args.flag("return_im") else _info(ctx, channel)}


def archive(ctx: Ctx, args: Args) -> dict[str, Any]:
    channel = ctx.channel(args.text("channel"))
    if channel.is_im:
        raise ApiError("method_not_supported_for_channel_type")
    if channel.is_general:
        raise ApiError("cant_archive_general")
    if channel.is_archived:
        raise ApiError("already_archived")
    if ctx.caller not in channel.members:
        raise ApiError("not_in_channel")
    channel.is_archived = True
    ctx.emit({"type": "channel_archive", "channel": channel.id, "user": ctx.caller, "event_ts": ctx.ids.ts()}, channel)
    return {"ok": True}


def unarchive(ctx: Ctx, args: Args) -> dict[str, Any]:
    channel = ctx.channel(args.text("channel"))
    if not channel.is_archived:
        raise ApiError("not_archived")
    channel.is_archived = False
    ctx.emit({"type": "channel_unarchive", "channel": channel.id, "user": ctx.caller, "event_ts": ctx.ids.ts()}, channel)
    return {"ok": True}


def _set_text(ctx: Ctx, args: Args, *, field: str, limit: int) -> dict[str, Any]:
    channel = ctx.channel(args.text("channel"))
    value = args.text(field) or ""
    if len(value) > limit:
        raise ApiError("too_long")
    if channel.is_archived:
        raise ApiError("is_archived")
    if ctx.caller not in channel.members:
        raise ApiError("not_in_channel")
    setattr(channel, field, value)
    setattr(channel, f"{field}_set_by", ctx.caller)
    setattr(channel, f"{field}_set_at", ctx.now())
    verb = f"set the channel {field}: {value}" if value else f"cleared the channel {field}"
    _system_message(
        ctx,
        channel,
        user=ctx.caller,
        subtype=f"channel_{field}",
        text=f"{_user_label(ctx, ctx.caller)} {verb}",
        **{field: value},
    )
    return {"ok": True, "channel": _info(ctx, channel)}


def set_topic(ctx: Ctx, args: Args) -> dict[str, Any]:
    return _set_text(ctx, args, field="topic", limit=TOPIC_MAX)


def set_purpose(ctx: Ctx, args: Args) -> dict[str, Any]:
    return _set_text(ctx, args, field="purpose", limit=PURPOSE_MAX)


def info(ctx: Ctx, args: Args) -> dict[str, Any]:
    channel = ctx.channel(args.text("channel"))
    return {"ok": True, "channel": _info(ctx, channel, include_num_members=args.flag("include_num_members"))}


def members(ctx: Ctx, args: Args) -> dict[str, Any]:
    channel = ctx.channel(args.text("channel"))
    page, cursor = paginate(list(channel.members), args, default_limit=100)
    return {"ok": True, "members": page, "response_metadata": {"next_cursor": cursor}}


def list_conversations(ctx: Ctx, args: Args) -> dict[str, Any]:
    types = set(args.items("types") or ["public_channel"])
    unknown = types - {"public_channel", "private_channel", "mpim", "im"}
    if unknown:
        raise ApiError("invalid_types")

    def wanted(channel: Channel) -> bool:
        if channel.is_im:
            return "im" in types
        if channel.is_private:
            return "private_channel" in types and ctx.caller in channel.members
        return "public_channel" in types

    candidates = [c for c in ctx.state.channels.values() if wanted(c)]
    page, cursor = paginate(candidates, args, default_limit=100)
    if args.flag("exclude_archived"):
        # Slack filters after cutting the page, so a page may come back short with a cursor still set.
        page = [c for c in page if not c.is_archived]
    return {"ok": True, "channels": [_info(ctx, c) for c in page], "response_metadata": {"next_cursor": cursor}}


def _readable(ctx: Ctx, args: Args) -> Channel:
    channel = ctx.channel(args.text("channel"))
    if ctx.caller not in channel.members:
        raise ApiError("not_in_channel")
    return channel


def _ts_arg(args: Args, name: str, default: float) -> float:
    value = args.text(name)
    if not value:
        return default
    try:
        return float(value)
    except ValueError:
        raise invalid_arguments(f"invalid timestamp for field: {name}") from None


def history(ctx: Ctx, args: Args) -> dict[str, Any]:
    channel = _readable(ctx, args)
    latest = _ts_arg(args, "latest", float("inf"))
    oldest = _ts_arg(args, "oldest", 0.0)
    inclusive = args.flag("inclusive")

    def in_range(message: Message) -> bool:
        ts = float(message.ts)
        if inclusive:
            return oldest <= ts <= latest
        return oldest < ts < latest

    top_level = [m for m in reversed(ctx.state.history(channel.id)) if m.in_channel and in_range(m)]
    page, cursor = paginate(top_level, args, default_limit=100, max_limit=999)
    with_metadata = args.flag("include_all_metadata")
    return {
        "ok": True,
        "messages": [_with_thread_info(ctx, m, include_metadata=with_metadata) for m in page],
        "has_more": bool(cursor),
        "pin_count": len(ctx.state.pins.get(channel.id, [])),
        "response_metadata": {"next_cursor": cursor},
    }


def _with_thread_info(ctx: Ctx, message: Message, *, include_metadata: bool) -> dict[str, Any]:
    data = payloads.message_object(ctx.identity, message, include_metadata=include_metadata)
    replies = [m for m in ctx.state.history(message.channel) if m.thread_ts == message.ts and m.is_reply]
    if replies:
        data["thread_ts"] = message.ts
        data["reply_count"] = len(replies)
        data["latest_reply"] = replies[-1].ts
        data["reply_users"] = list(dict.fromkeys(m.user for m in replies if m.user))
    return data


def replies(ctx: Ctx, args: Args) -> dict[str, Any]:
    channel = _readable(ctx, args)
    parent = ctx.message(channel, args.text("ts"), error="thread_not_found")
    thread = [parent] + [m for m in ctx.state.history(channel.id) if m.thread_ts == parent.ts and m.is_reply]
    page, cursor = paginate(thread, args, default_limit=1000)
    with_metadata = args.flag("include_all_metadata")
    return {
        "ok": True,
        "messages": [_with_thread_info(ctx, m, include_metadata=with_metadata) for m in page],
        "has_more": bool(cursor),
        "response_metadata": {"next_cursor": cursor},
    }


METHODS: dict[str, Handler] = {
    "conversations.create": create,
    "conversations.rename": rename,
    "conversations.invite": invite,
    "conversations.kick": kick,
    "conversations.join": join,
    "conversations.leave": leave,
    "conversations.open": open_conversation,
    "conversations.archive": archive,
    "conversations.unarchive": unarchive,
    "conversations.setTopic": set_topic,
    "conversations.setPurpose": set_purpose,
    "conversations.info": info,
    "conversations.members": members,
    "conversations.list": list_conversations,
    "conversations.history": history,
    "conversations.replies": replies,
}
