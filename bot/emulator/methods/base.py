"""What a Web API method handler gets: the workspace, id factories, the clock and a way to emit events."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.emulator.args import ApiError, Args
from bot.emulator.ids import Clock, Ids
from bot.emulator.state import AppIdentity, Channel, Message, WorkspaceState

EmitEvent = Callable[[dict[str, Any], "Channel | None"], None]
Handler = Callable[["Ctx", Args], dict[str, Any]]

CHANNEL_NAME_MAX = 80
_NAME_RE = re.compile(r"^[a-z0-9_-]+$")
_PUNCTUATION_RE = re.compile(r"^[-_]+$")


@dataclass
class Ctx:
    """Per-call context; `caller` is the user id behind the token (the bot user for xoxb tokens)."""

    state: WorkspaceState
    ids: Ids
    clock: Clock
    emit: EmitEvent
    base_url: str
    http_method: str
    caller: str
    issue_ticket: Callable[[], str]

    @property
    def identity(self) -> AppIdentity:
        return self.state.identity

    def now(self) -> int:
        return int(self.clock())

    def has_scope(self, scope: str) -> bool:
        return scope in self.identity.scopes

    def channel(self, channel_id: str | None, *, error: str = "channel_not_found") -> Channel:
        """A conversation the caller can see; private ones and DMs only when the caller is a member."""
        channel = self.state.channels.get(channel_id or "")
        if channel is None or ((channel.is_private or channel.is_im) and self.caller not in channel.members):
            raise ApiError(error)
        return channel

    def writable_channel(self, target: str | None) -> Channel:
        """The `channel` of chat.* methods: an id, a `#name`, or a user id (the app's DM with that user)."""
        if not target:
            raise ApiError("channel_not_found")
        if target.startswith(("U", "W")) and target in self.state.users:
            return self.im_with(target)
        named = self.state.channel_by_name(target) if not target.startswith(("C", "G", "D")) else None
        channel = self.channel(named.id if named else target)
        if channel.is_archived:
            raise ApiError("is_archived")
        if self.caller not in channel.members and (channel.is_private or not self.has_scope("chat:write.public")):
            raise ApiError("not_in_channel")
        return channel

    def im_with(self, user_id: str) -> Channel:
        return ensure_im(self.state, self.ids, user_id, created=self.now())

    def message(self, channel: Channel, ts: str | None, *, error: str = "message_not_found") -> Message:
        message = self.state.find_message(channel.id, ts or "")
        if message is None:
            raise ApiError(error)
        return message


def ensure_im(state: WorkspaceState, ids: Ids, user_id: str, *, created: int) -> Channel:
    """The DM between the app and `user_id`, created on first use."""
    channel_id = state.ims.get(user_id)
    if channel_id is None:
        channel_id = ids.sequential("D")
        state.channels[channel_id] = Channel(
            id=channel_id,
            name=user_id,
            is_im=True,
            im_user=user_id,
            members=[state.identity.bot_user_id, user_id],
            created=created,
        )
        state.messages[channel_id] = []
        state.ims[user_id] = channel_id
    return state.channels[channel_id]


def check_channel_name(name: str | None) -> str:
    """Slack's naming rules for conversations.create/rename."""
    if not name:
        raise ApiError("invalid_name_required")
    if len(name) > CHANNEL_NAME_MAX:
        raise ApiError("invalid_name_maxlength")
    if not _NAME_RE.match(name):
        raise ApiError("invalid_name_specials")
    if _PUNCTUATION_RE.match(name):
        raise ApiError("invalid_name_punctuation")
    return name


def paginate(items: list[Any], args: Args, *, default_limit: int, max_limit: int = 1000) -> tuple[list[Any], str]:
    """Cut one page by `cursor`/`limit`; returns the page and the next cursor (`""` on the last page)."""
    limit = args.integer("limit", 0) or default_limit
    limit = max(1, min(limit, max_limit))
    offset = decode_cursor(args.text("cursor"))
    page = items[offset : offset + limit]
    next_offset = offset + limit
    return page, encode_cursor(next_offset) if next_offset < len(items) else ""


def encode_cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        kind, _, value = base64.b64decode(cursor.encode(), validate=True).decode().partition(":")
        if kind != "offset":
            raise ValueError(kind)
        return max(0, int(value))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ApiError("invalid_cursor") from None
