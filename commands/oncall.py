"""`/incident oncall` and `/incident page [service]`: who is on call in PagerDuty, for everyone (no PagerDuty seat
needed), and paging from any channel — linked to the incident when typed in its channel or with its number.

Both ack at once and read or write through the PagerDuty service; its refusals (not connected, no such service)
reach the person through the app's error handler, as every domain error does.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.blocks.oncall import oncall_blocks, paged_text
from bot.directory import Directory
from bot.incidents.service import IncidentService
from commands.grammar import ParsedCommand
from commands.work import _target
from integrations.pagerduty.service import PagerDutyService


async def handle_oncall(
    *, ack: AsyncAck, respond: AsyncRespond, command: dict[str, Any], pagerduty: PagerDutyService, **_: Any
) -> None:
    await ack()
    team_id = str(command["team_id"])
    board = await pagerduty.board(team_id)
    text, blocks = oncall_blocks(
        board.oncalls, services_by_policy=board.services_by_policy, synced_at=board.synced_at, sync_ok=board.sync_ok
    )
    await respond(text=text, blocks=blocks, response_type="ephemeral")


async def handle_page(
    *,
    parsed: ParsedCommand,
    ack: AsyncAck,
    respond: AsyncRespond,
    command: dict[str, Any],
    incidents: IncidentService,
    directory: Directory,
    pagerduty: PagerDutyService,
    **_: Any,
) -> None:
    await ack()
    team_id, user_id = str(command["team_id"]), str(command["user_id"])
    channel_id = str(command.get("channel_id") or "")
    incident = None
    if parsed.incident_ref is not None or await incidents.by_channel(team_id=team_id, channel_id=channel_id):
        _actor, incident = await _target(parsed, command, incidents, directory)
    queued = await pagerduty.page(
        team_id=team_id, actor_id=user_id, incident_id=incident.id if incident is not None else None, service=parsed.service
    )
    await respond(text=paged_text(queued.target, queued.incident), response_type="ephemeral")
