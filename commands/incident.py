"""`/incident …`: parse, ack at once, hand the work to a subcommand handler, answer ephemerally.

The ack never waits on the database or Slack: a usage or help reply rides on the ack when the help channel is known
from memory, and otherwise follows through `respond()` a moment later.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.incidents.errors import InvalidInput
from bot.incidents.queries import IncidentQueries
from bot.settings import Settings
from commands import work
from commands.grammar import ParsedCommand, parse
from commands.help import Reply, help_channel_line, help_reply, topic_reply, usage_reply
from commands.link import handle_link
from commands.oncall import handle_oncall, handle_page
from commands.open import open_declare_modal
from commands.sos import handle_sos
from commands.update import open_update_modal

SubcommandHandler = Callable[..., Awaitable[None]]

# Subcommand name → handler(parsed=, ack=, respond=, command=, client=, <services by name>…).
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
    "oncall": handle_oncall,
    "page": handle_page,
}

# The services subcommand handlers take, by name, from Bolt's context.
SERVICES = ("incidents", "queries", "directory", "settings", "admin", "home", "sos", "identities", "pagerduty")


async def _answer(
    ack: AsyncAck,
    respond: AsyncRespond,
    queries: IncidentQueries,
    settings: Settings,
    team_id: str,
    reply: Callable[[str], Reply],
) -> None:
    """Ack with the reply and the help channel when that is known from memory; else ack now and answer right after."""
    known, help_channel = queries.help_channel_cached(team_id=team_id)
    if known:
        await ack(**reply(help_channel_line(help_channel, command=settings.command, admins=settings.admin_ids)))
        return
    await ack()
    help_channel = await queries.help_channel(team_id=team_id)
    answer = reply(help_channel_line(help_channel, command=settings.command, admins=settings.admin_ids))
    await respond(**answer, response_type="ephemeral")


async def handle_incident_command(
    ack: AsyncAck,
    command: dict[str, Any],
    respond: AsyncRespond,
    client: Any,
    context: dict[str, Any],
    settings: Settings,
    queries: IncidentQueries,
) -> None:
    team_id = str(command.get("team_id", ""))
    slash = settings.command
    try:
        parsed = parse(str(command.get("text", "")), command=slash)
    except InvalidInput as exc:
        await _answer(ack, respond, queries, settings, team_id, partial(usage_reply, exc.message))
        return
    if parsed.name == "help":
        topic = parsed.text
        reply = partial(topic_reply, topic, slash) if topic else partial(help_reply, slash)
        await _answer(ack, respond, queries, settings, team_id, reply)
        return
    handler = SUBCOMMANDS.get(parsed.name)
    if handler is None:
        missing = f"`{slash} {parsed.name}` is not available in this version of Vigil yet. See `{slash} help`."
        await _answer(ack, respond, queries, settings, team_id, partial(usage_reply, missing))
        return
    services = {name: context[name] for name in SERVICES if name in context}
    await handler(parsed=parsed, ack=ack, respond=respond, command=command, client=client, **services)


__all__ = ["SUBCOMMANDS", "ParsedCommand", "handle_incident_command"]
