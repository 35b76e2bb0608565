"""member_joined_channel / member_left_channel: keep incident channel membership current (SPEC §4, private incidents)."""

from __future__ import annotations

from typing import Any

from bot import slack_ids as ids
from bot.container import Container
from db.incidents import get_by_channel
from db.members import add_member, remove_member


def _team(event: dict[str, Any], body: dict[str, Any]) -> str:
    return str(event.get("team") or body.get("team_id") or "")


async def on_member_joined(event: dict[str, Any], body: dict[str, Any], container: Container) -> None:
    team_id = _team(event, body)
    async with container.sessions() as session, session.begin():
        incident = await get_by_channel(session, team_id=team_id, channel_id=str(event.get("channel", "")))
        if incident is not None:
            await add_member(
                session,
                team_id=team_id,
                incident_id=incident.id,
                user_id=str(event.get("user", "")),
                at=container.clock.now(),
            )


async def on_member_left(event: dict[str, Any], body: dict[str, Any], container: Container) -> None:
    team_id = _team(event, body)
    async with container.sessions() as session, session.begin():
        incident = await get_by_channel(session, team_id=team_id, channel_id=str(event.get("channel", "")))
        if incident is not None:
            await remove_member(session, team_id=team_id, incident_id=incident.id, user_id=str(event.get("user", "")))


def register(registry: Any) -> None:
    registry.event(ids.EVENT_MEMBER_JOINED)(on_member_joined)
    registry.event(ids.EVENT_MEMBER_LEFT)(on_member_left)
