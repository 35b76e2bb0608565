"""`/incident open [P1-P5] [title]`: the declare modal, pre-filled."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot.blocks.declare import declare_modal
from bot.incidents.queries import IncidentQueries
from commands.grammar import ParsedCommand


async def open_declare_modal(
    *, parsed: ParsedCommand, ack: AsyncAck, command: dict[str, Any], queries: IncidentQueries, client: Any, **_: Any
) -> None:
    await ack()
    components = await queries.components(team_id=str(command.get("team_id", "")))
    view = declare_modal(
        title=parsed.title or "",
        severity=str(parsed.severity) if parsed.severity else None,
        components=components,
        origin_channel_id=str(command.get("channel_id") or "") or None,
    )
    await client.views_open(trigger_id=command["trigger_id"], view=view)
