"""Workspace state: what Slack would know about the team, its people, conversations and the app's surfaces."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AppIdentity:
    """Who the emulated app is and which tokens it holds."""

    team_id: str
    team_name: str
    domain: str
    bot_user_id: str
    bot_id: str
    app_id: str
    bot_token: str
    app_token: str
    bot_name: str
    scopes: tuple[str, ...]


@dataclass
class User:
    id: str
    name: str
    real_name: str
    email: str | None = None
    is_admin: bool = False
    is_owner: bool = False
    is_restricted: bool = False
    is_bot: bool = False
    deleted: bool = False
    tz: str = "UTC"
    bot_id: str | None = None
    updated: int = 0


@dataclass
class Usergroup:
    id: str
    handle: str
    name: str
    users: list[str] = field(default_factory=list)
    created: int = 0
    description: str = ""
    disabled_at: int = 0  # when disabled (0: enabled); usergroups.list leaves it out unless include_disabled


@dataclass
class Channel:
    id: str
    name: str
    is_private: bool = False
    is_archived: bool = False
    topic: str = ""
    purpose: str = ""
    members: list[str] = field(default_factory=list)
    creator: str = ""
    created: int = 0
    is_im: bool = False
    is_general: bool = False
    im_user: str | None = None
    previous_names: list[str] = field(default_factory=list)
    topic_set_by: str = ""
    topic_set_at: int = 0
    purpose_set_by: str = ""
    purpose_set_at: int = 0

    @property
    def channel_type(self) -> str:
        """The `channel_type` of message events: channel, group or im."""
        if self.is_im:
            return "im"
        return "group" if self.is_private else "channel"


@dataclass
class Edit:
    """One earlier version of a message, kept when chat.update replaces it."""

    text: str
    blocks: list[Any] | None
    edited_at: str


@dataclass
class Message:
    ts: str
    channel: str
    user: str | None
    text: str = ""
    blocks: list[Any] | None = None
    thread_ts: str | None = None
    bot_id: str | None = None
    subtype: str | None = None
    attachments: list[Any] | None = None
    metadata: dict[str, Any] | None = None
    edits: list[Edit] = field(default_factory=list)
    edited_ts: str | None = None
    reactions: dict[str, list[str]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    @property
    def in_channel(self) -> bool:
        """Shown in the channel itself: a top-level message, or a reply also sent to the channel."""
        return not self.is_reply or self.subtype == "thread_broadcast"


@dataclass
class Pin:
    channel: str
    ts: str
    created: int
    created_by: str


@dataclass
class Bookmark:
    id: str
    channel_id: str
    title: str
    link: str
    emoji: str = ""
    type: str = "link"
    created: int = 0
    updated: int = 0
    updated_by: str = ""


@dataclass
class ViewRecord:
    """A modal or Home tab view as Slack stores it; `data` is the view object served back to the app."""

    id: str
    user_id: str
    data: dict[str, Any]

    @property
    def type(self) -> str:
        return str(self.data.get("type", ""))

    @property
    def hash(self) -> str:
        return str(self.data.get("hash", ""))

    @property
    def external_id(self) -> str:
        return str(self.data.get("external_id") or "")

    @property
    def callback_id(self) -> str:
        return str(self.data.get("callback_id") or "")


@dataclass
class Ephemeral:
    """A message only `user` sees: from chat.postEphemeral or an ephemeral response_url post."""

    channel: str
    user: str
    ts: str
    text: str = ""
    blocks: list[Any] | None = None
    thread_ts: str | None = None
    source: str = "chat.postEphemeral"


@dataclass
class ResponseUrl:
    """A `response_url` handed to the app with a slash command or a message interaction."""

    id: str
    user_id: str
    channel_id: str | None
    created: float
    source: str
    message_ts: str | None = None
    is_ephemeral: bool = False
    uses: int = 0


@dataclass
class ResponsePost:
    """One JSON body the app POSTed to a response_url (Bolt's `respond()`)."""

    url_id: str
    user_id: str
    channel_id: str | None
    body: dict[str, Any]
    at: float
    source: str

    @property
    def text(self) -> str:
        return str(self.body.get("text") or "")

    @property
    def response_type(self) -> str:
        return str(self.body.get("response_type") or "ephemeral")


@dataclass
class Trigger:
    id: str
    user_id: str
    issued: float
    used: bool = False


@dataclass
class WorkspaceState:
    """Everything the emulated workspace holds; method handlers and drivers mutate it, tests read it."""

    identity: AppIdentity
    users: dict[str, User] = field(default_factory=dict)
    usergroups: dict[str, Usergroup] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)
    messages: dict[str, list[Message]] = field(default_factory=dict)
    pins: dict[str, list[Pin]] = field(default_factory=dict)
    bookmarks: dict[str, list[Bookmark]] = field(default_factory=dict)
    views: dict[str, ViewRecord] = field(default_factory=dict)
    modal_stacks: dict[str, list[str]] = field(default_factory=dict)
    home_views: dict[str, str] = field(default_factory=dict)
    ephemerals: list[Ephemeral] = field(default_factory=list)
    responses: list[ResponsePost] = field(default_factory=list)
    response_urls: dict[str, ResponseUrl] = field(default_factory=dict)
    triggers: dict[str, Trigger] = field(default_factory=dict)
    ims: dict[str, str] = field(default_factory=dict)

    # ---- lookups -------------------------------------------------------------------------------------------------
    def channel_by_name(self, name: str) -> Channel | None:
        name = name.lstrip("#")
        return next((c for c in self.channels.values() if c.name == name and not c.is_im), None)

    def history(self, channel_id: str) -> list[Message]:
        """Messages of a channel, oldest first (thread replies included)."""
        return self.messages.setdefault(channel_id, [])

    def find_message(self, channel_id: str, ts: str) -> Message | None:
        return next((m for m in self.messages.get(channel_id, []) if m.ts == ts), None)

    def reactions(self, channel_id: str, ts: str) -> dict[str, list[str]]:
        message = self.find_message(channel_id, ts)
        return dict(message.reactions) if message else {}

    def is_pinned(self, channel_id: str, ts: str) -> bool:
        return any(p.ts == ts for p in self.pins.get(channel_id, []))

    def modal_stack(self, user_id: str) -> list[ViewRecord]:
        """The user's open modals, bottom first."""
        return [self.views[v] for v in self.modal_stacks.get(user_id, [])]

    def top_modal(self, user_id: str) -> ViewRecord | None:
        stack = self.modal_stacks.get(user_id)
        return self.views[stack[-1]] if stack else None

    def home_view(self, user_id: str) -> ViewRecord | None:
        view_id = self.home_views.get(user_id)
        return self.views.get(view_id) if view_id else None

    def ephemerals_for(self, user_id: str | None = None, channel_id: str | None = None) -> list[Ephemeral]:
        return [
            e
            for e in self.ephemerals
            if (user_id is None or e.user == user_id) and (channel_id is None or e.channel == channel_id)
        ]

    def responses_for(self, user_id: str) -> list[ResponsePost]:
        return [r for r in self.responses if r.user_id == user_id]
