"""`/incident open [P1-P5] [title]`: the declare modal, pre-filled."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot.home.publisher import HomePublisher
from commands.grammar import ParsedCommand


async def open_declare_modal(
    *, parsed: ParsedCommand, ack: AsyncAck, command: dict[str, Any], home: HomePublisher, **_: Any
) -> None:
    await ack()
    await home.open_declare(
        trigger_id=command["trigger_id"],
        team_id=str(command.get("team_id", "")),
        title=parsed.title or "",
        severity=str(parsed.severity) if parsed.severity else None,
        origin_channel_id=str(command.get("channel_id") or "") or None,
    )
