"""The Page controls of `/incident oncall`: a button for a policy's only service, a menu for several. Paging is
linked to the incident when the message was in its channel."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot import slack_ids as ids
from bot.blocks.oncall import paged_text
from bot.incidents.errors import InvalidInput
from bot.incidents.service import IncidentService
from bot.slack_payloads import action_value, team_of, user_of
from bot.slack_reply import reply_privately
from integrations.pagerduty.service import PagerDutyService

SERVICE_ID = re.compile(r"P[A-Z0-9]{1,31}", re.ASCII)


def chosen_service(action: dict[str, Any]) -> str:
    value = (action_value(action) or "").strip()
    if not SERVICE_ID.fullmatch(value):
        raise InvalidInput("That control does not name a PagerDuty service; run `oncall` again.")
    return value


async def on_page_service(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    respond: AsyncRespond,
    incidents: IncidentService,
    pagerduty: PagerDutyService,
    client: Any,
) -> None:
    service = chosen_service(action)
    await ack()
    team_id, user_id = team_of(body), user_of(body)
    channel_id = str((body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id") or "")
    incident = await incidents.by_channel(team_id=team_id, channel_id=channel_id) if channel_id else None
    queued = await pagerduty.page(
        team_id=team_id, actor_id=user_id, incident_id=incident.id if incident is not None else None, service=service
    )
    await reply_privately(body, respond, client, paged_text(queued.target, queued.incident))


def register(registry: Any) -> None:
    registry.action(ids.ACTION_ONCALL_PAGE)(on_page_service)
    registry.action(ids.ACTION_ONCALL_PAGE_MENU)(on_page_service)
