"""`/incident …`: parse, ack within 3 s, hand the work to a subcommand handler, answer ephemerally."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.container import Container
from bot.incidents.errors import InvalidInput
from commands import work
from commands.grammar import ParsedCommand, help_text, parse
from commands.link import handle_link
from commands.open import open_declare_modal
from commands.sos import handle_sos
from commands.update import open_update_modal
from db.tags import DEV_FIREFIGHTER, tagged_conversation

SubcommandHandler = Callable[..., Awaitable[None]]

# Subcommand name → handler(parsed=, ack=, respond=, command=, container=, client=); more land with their features.
SUBCOMMANDS: dict[str, SubcommandHandler] = {
    "open": open_declare_modal,
    "status": work.handle_status,
    "list": work.handle_list,
    "update": open_update_modal,
    "severity": work.handle_severity,
    "investigating": work.handle_move,
    "mitigating": work.handle_move,
    "resolve": work.handle_move,
    "postmortem": work.handle_move,
    "close": work.handle_move,
    "reopen": work.handle_reopen,
    "ack": work.handle_ack,
    "lead": work.handle_lead,
    "note": work.handle_note,
    "timeline": work.handle_timeline,
    "sos": handle_sos,
    "link": handle_link,
}


async def help_channel_line(container: Container, team_id: str) -> str:
    async with container.sessions() as session:
        channel = await tagged_conversation(session, team_id=team_id, tag=DEV_FIREFIGHTER)
    if channel:
        return f"Need a hand? Ask in <#{channel}>."
    return "Need a hand? Ask your Slack admin (no help channel is tagged yet)."


async def handle_incident_command(
    ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, container: Container, client: Any
) -> None:
    settings = container.settings
    team_id = str(command.get("team_id", ""))
    try:
        parsed = parse(str(command.get("text", "")), command=settings.command)
    except InvalidInput as exc:
        await ack(text=f"{exc.message}\n{await help_channel_line(container, team_id)}")
        return
    if parsed.name == "help":
        await ack(text=f"{help_text(settings.command)}\n{await help_channel_line(container, team_id)}")
        return
    handler = SUBCOMMANDS.get(parsed.name)
    if handler is None:
        await ack(
            text=f"`{settings.command} {parsed.name}` is not available in this version of Vigil yet. "
            f"See `{settings.command} help`.\n{await help_channel_line(container, team_id)}"
        )
        return
    await handler(parsed=parsed, ack=ack, respond=respond, command=command, container=container, client=client)


__all__ = ["SUBCOMMANDS", "ParsedCommand", "handle_incident_command"]
