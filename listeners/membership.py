"""member_joined_channel / member_left_channel: keep incident channel membership current (private incidents)."""

from __future__ import annotations

from typing import Any

from bot import slack_ids as ids
from bot.incidents.service import IncidentService


def _where(event: dict[str, Any], body: dict[str, Any]) -> dict[str, str]:
    return {
        "team_id": str(event.get("team") or body.get("team_id") or ""),
        "channel_id": str(event.get("channel", "")),
        "user_id": str(event.get("user", "")),
    }


async def on_member_joined(event: dict[str, Any], body: dict[str, Any], incidents: IncidentService) -> None:
    await incidents.member_joined(**_where(event, body))


async def on_member_left(event: dict[str, Any], body: dict[str, Any], incidents: IncidentService) -> None:
    await incidents.member_left(**_where(event, body))


def register(registry: Any) -> None:
    registry.event(ids.EVENT_MEMBER_JOINED)(on_member_joined)
    registry.event(ids.EVENT_MEMBER_LEFT)(on_member_left)
