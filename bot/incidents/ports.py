"""The ports the incident domain talks through. Only the wiring knows the concrete (Slack) classes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class ChatError(Exception):
    """A chat platform call failed; `code` is the platform's error (e.g. `channel_not_found`, `http_500`)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class NameTaken(ChatError):
    def __init__(self) -> None:
        super().__init__("name_taken")


@dataclass(frozen=True)
class CardLink:
    """Somewhere else the incident lives (a ticket, a page, the announcement): a label and an http(s) address."""

    label: str
    url: str


@dataclass(frozen=True)
class CardNote:
    """The latest note on the timeline: its words, who wrote it (an id, and the name to show when known) and when."""

    text: str
    at: datetime
    author_id: str | None = None
    author: str | None = None


@dataclass(frozen=True)
class IncidentCard:
    """What the chat side renders of an incident: the opening message, the announcement, the topic.

    Beyond the incident's row, the step runner fills in what the card shows at a glance: the latest note, the links,
    and `names`, the display names (from the directory) of the people on it, so that they are named, not pinged."""

    team_id: str
    number: int
    title: str
    severity: str
    status: str
    private: bool
    description: str
    reporter_id: str
    commander_id: str | None
    component: str | None
    channel_id: str | None
    created_at: datetime
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolution: str | None = None
    closure_reason: str | None = None
    missing: tuple[str, ...] = ()  # Slack steps that failed for good, waiting for a repair
    resolved_at: datetime | None = None
    last_update_at: datetime | None = None
    latest_note: CardNote | None = None
    links: tuple[CardLink, ...] = ()
    names: Mapping[str, str] = field(default_factory=dict)  # user id → display name

    @property
    def ref(self) -> str:
        return f"INC-{self.number}"


@dataclass(frozen=True)
class Note:
    """One thing that happened, in plain words plus the ids it is about (`data`), for the chat side to render with
    its own markup: the domain never writes mentions or channel links itself."""

    kind: str
    text: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Person:
    user_id: str
    is_bot: bool = False
    deactivated: bool = False


@dataclass(frozen=True)
class FoundChannel:
    """A channel as the chat platform lists it: enough to tell whether a `name_taken` channel is one Vigil made."""

    id: str
    name: str
    creator: str
    is_archived: bool
    created: float = 0.0  # unix time


class PeoplePort(Protocol):
    async def person(self, *, team_id: str, user_id: str) -> Person:
        """Who `user_id` is; raise NotFound when the chat platform does not know them."""

    async def name(self, *, team_id: str, user_id: str) -> str | None:
        """The name `user_id` goes by, asked of the chat platform when the directory has never met them (and
        remembered there); None when unknown."""


class ChatPort(Protocol):
    async def create_channel(self, *, name: str, private: bool) -> str:
        """Create a channel and return its id; raise NameTaken when the name is in use."""

    async def invite(self, *, channel_id: str, user_ids: Sequence[str]) -> None: ...

    async def set_topic(self, *, card: IncidentCard) -> None:
        """Set the incident channel's topic from the card (its resolution once closed), unless it already reads so:
        every topic change shows people a line in the channel."""

    async def post_opening(self, *, card: IncidentCard, marker: str | None = None) -> str:
        """Post the opening message in the incident channel; return its ts. A `marker` is carried in the message's
        metadata so that a retried step can find the message with `find_marked` instead of posting it twice."""

    async def update_opening(self, *, card: IncidentCard, ts: str) -> None: ...

    async def pin(self, *, channel_id: str, ts: str) -> None: ...

    async def announce(self, *, channel_id: str, card: IncidentCard, marker: str | None = None) -> str: ...

    async def update_announcement(self, *, channel_id: str, ts: str, card: IncidentCard) -> None: ...

    async def warn_deploy(self, *, channel_id: str, card: IncidentCard, marker: str | None = None) -> str: ...

    async def usergroup_members(self, *, usergroup_id: str) -> list[str]: ...

    async def channel_members(self, *, channel_id: str) -> list[str]: ...

    async def rename_channel(self, *, channel_id: str, name: str) -> str:
        """Rename; return the name the channel has now. NameTaken when it is in use."""

    async def post_change(
        self,
        *,
        channel_id: str,
        actor_id: str | None,
        notes: Sequence[Note],
        names: Mapping[str, str] | None = None,
        marker: str | None = None,
    ) -> str:
        """One line in the incident channel saying what changed and who changed it. `names` are the display names of
        the people it is about: the one who acted is named, never mentioned (a mention would ping them)."""

    async def reply_to_announcement(
        self,
        *,
        channel_id: str,
        thread_ts: str,
        card: IncidentCard,
        reply: Note,
        broadcast: bool = False,
        marker: str | None = None,
    ) -> str:
        """A reply in the announcement's thread (an escalation, a downgrade, the resolution), also sent to the channel
        when `broadcast`; its ts."""

    async def post_message(self, *, channel_id: str, text: str, marker: str | None = None) -> str:
        """Post text the chat side already rendered (an SOS request built by the door that asked for it)."""

    async def confirm_declaration(self, *, user_id: str, channel_id: str, card: IncidentCard) -> None:
        """Tell the declarer, where they declared, that the incident is open and where to find it."""

    async def tell_skipped(self, *, user_id: str, channel_id: str | None, card: IncidentCard, steps: Sequence[str]) -> None:
        """Tell `user_id` privately which steps of the incident's set-up could not be done."""

    async def bot_user_id(self) -> str:
        """The bot's own user id (who Vigil's channels and messages are from); asked once, then remembered."""

    async def team_id(self) -> str:
        """The workspace the bot's token belongs to: the only one whose incidents this Slack may be told about; asked
        once (with the bot's user id), then remembered."""

    async def find_channel(self, *, name: str) -> FoundChannel | None:
        """The channel called `name` that the bot can see, archived or not, or None (walks the channel list; used
        only to recover from `name_taken`)."""

    async def find_marked(
        self, *, channel_id: str, marker: str, limit: int = 200, thread_ts: str | None = None
    ) -> str | None:
        """The ts of a message Vigil posted in `channel_id` (in the thread of `thread_ts`, when given) carrying
        `marker` in its metadata (among the newest `limit`), or None."""
