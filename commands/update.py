"""`/incident update`: the update modal (its submission is handled in listeners/update.py)."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot.blocks.update import update_modal
from bot.directory import Directory
from bot.incidents.service import IncidentService
from commands.grammar import ParsedCommand


async def open_update_modal(
    *,
    parsed: ParsedCommand,
    ack: AsyncAck,
    command: dict[str, Any],
    incidents: IncidentService,
    directory: Directory,
    client: Any,
    **_: Any,
) -> None:
    await ack()
    team_id, user_id = str(command["team_id"]), str(command["user_id"])
    actor = await directory.actor(team_id=team_id, user_id=user_id)
    incident = await incidents.locate(
        team_id=team_id, actor=actor, number=parsed.incident_ref, channel_id=str(command.get("channel_id") or "") or None
    )
    await client.views_open(trigger_id=command["trigger_id"], view=update_modal(incident))
