"""What the back-office asks Slack, as plain data: the rules in the service never see slack_sdk."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class LookupFailed(Exception):
    """Slack refused or could not answer; `code` is its error (e.g. `channel_not_found`, `missing_scope`)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class SlackUsergroup:
    id: str
    handle: str
    name: str
    user_ids: Sequence[str]
    disabled: bool


@dataclass(frozen=True)
class SlackChannel:
    id: str
    is_direct: bool  # a DM or a group DM
    is_archived: bool
    is_private: bool
    is_member: bool  # Vigil's bot is in it


class SlackLookup(Protocol):
    async def usergroup(self, *, usergroup_id: str) -> SlackUsergroup | None:
        """The group as Slack has it, None when Slack has no such group; LookupFailed when Slack refuses."""

    async def channel(self, *, conversation_id: str) -> SlackChannel:
        """The conversation as Vigil's bot sees it; LookupFailed (`channel_not_found`) when it cannot see it."""


class PagedService(Protocol):
    @property
    def pd_id(self) -> str: ...

    @property
    def name(self) -> str: ...


class ComponentPaging(Protocol):
    """What the back-office needs of PagerDuty for components: is it connected, its synced services, and setting a
    component's service and own routing key (sealed there; the back-office never holds a key)."""

    async def connected(self, team_id: str) -> bool: ...

    async def services(self, team_id: str, query: str = "") -> Sequence[PagedService]: ...

    async def set_component_target(
        self,
        *,
        team_id: str,
        actor_id: str | None,
        component_id: int,
        service_id: str | None,
        routing_key: str | None,
        keep_routing_key: bool,
    ) -> str: ...
