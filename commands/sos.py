"""`/incident sos`: open the help-request modal for an incident. Its submission is handled in listeners/sos.py."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot.blocks.admin import sos_request_modal
from bot.sos import SosService
from commands.grammar import ParsedCommand


async def handle_sos(
    *, parsed: ParsedCommand, ack: AsyncAck, command: dict[str, Any], client: Any, sos: SosService, **_: Any
) -> None:
    await ack()
    team_id, user_id = str(command["team_id"]), str(command["user_id"])
    channel_id = str(command.get("channel_id") or "") or None
    choice = await sos.choices(team_id=team_id, user_id=user_id, number=parsed.incident_ref, channel_id=channel_id)
    view = sos_request_modal(number=choice.number, title=choice.title, targets=choice.targets, channel_id=channel_id)
    await client.views_open(trigger_id=command["trigger_id"], view=view)
