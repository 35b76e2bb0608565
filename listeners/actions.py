"""Buttons on the opening message that act at once: Acknowledge, Update (the update modal), Page on-call, Start
postmortem, Close; Retry on the warning that names the Slack steps Vigil could not do; Join channel on the
announcement. The buttons that open a one-field modal (Add note, Resolve, Reopen, Hand off) are in prompts.py.

Slack never re-sends an interaction, but people double-click: each action is idempotent in the service, so the
second press changes nothing. A change answers with its line in the incident's channel; a press that changed nothing
is answered privately.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot import slack_ids as ids
from bot.blocks.mrkdwn import channel, esc, user
from bot.blocks.oncall import paged_text
from bot.blocks.update import update_modal
from bot.directory import Directory
from bot.incidents.fields import parse_id
from bot.incidents.service import IncidentService
from bot.incidents.states import Status
from bot.slack_reply import reply_privately
from integrations.pagerduty.service import PagerDutyService


async def incident_of(body: dict[str, Any], incidents: IncidentService, directory: Directory) -> tuple[str, Any]:
    """Who pressed, and the incident the button's value names, if they may act on it from where they pressed."""
    team_id = str((body.get("team") or {}).get("id") or "")
    user_id = str(body["user"]["id"])
    action = body["actions"][0]
    number = parse_id(action.get("value"), what="This button's incident number")
    actor = await directory.actor(team_id=team_id, user_id=user_id)
    channel_id = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    incident = await incidents.locate(team_id=team_id, actor=actor, number=number, channel_id=channel_id)
    return user_id, incident


async def on_ack(
    ack: AsyncAck,
    body: dict[str, Any],
    respond: AsyncRespond,
    incidents: IncidentService,
    directory: Directory,
    client: Any,
) -> None:
    await ack()
    user_id, incident = await incident_of(body, incidents, directory)
    change = await incidents.acknowledge(incident, actor_id=user_id, source="slack")
    if not change.changed:
        by = user(change.incident.acknowledged_by)
        await reply_privately(body, respond, client, f"INC-{incident.number} was already acknowledged by {by}.")


# Buttons that move the incident at once (Resolve and Reopen ask something first: prompts.py).
MOVES = {ids.ACTION_POSTMORTEM: Status.POSTMORTEM, ids.ACTION_CLOSE: Status.CLOSED}


async def on_move(
    ack: AsyncAck,
    body: dict[str, Any],
    respond: AsyncRespond,
    incidents: IncidentService,
    directory: Directory,
    client: Any,
) -> None:
    await ack()
    user_id, incident = await incident_of(body, incidents, directory)
    target = MOVES[str(body["actions"][0]["action_id"])]
    change = await incidents.move(incident, actor_id=user_id, target=target, source="slack")
    if not change.changed:
        await reply_privately(body, respond, client, f"INC-{incident.number} is already {target}.")


async def on_join(
    ack: AsyncAck,
    body: dict[str, Any],
    respond: AsyncRespond,
    incidents: IncidentService,
    directory: Directory,
    client: Any,
) -> None:
    """Join channel, on the announcement: Vigil invites whoever pressed it."""
    await ack()
    user_id, incident = await incident_of(body, incidents, directory)
    await incidents.join(incident, user_id=user_id)
    await reply_privately(body, respond, client, f"You are in {channel(incident.channel_id)}.")


async def on_update(
    ack: AsyncAck, body: dict[str, Any], incidents: IncidentService, directory: Directory, client: Any
) -> None:
    await ack()
    _user_id, incident = await incident_of(body, incidents, directory)
    await client.views_open(trigger_id=body["trigger_id"], view=update_modal(incident))


async def on_page(
    ack: AsyncAck,
    body: dict[str, Any],
    respond: AsyncRespond,
    incidents: IncidentService,
    directory: Directory,
    pagerduty: PagerDutyService,
    client: Any,
) -> None:
    """Page on-call for the incident: its component's PagerDuty target, else the integration's routing key."""
    await ack()
    user_id, incident = await incident_of(body, incidents, directory)
    queued = await pagerduty.page(team_id=incident.team_id, actor_id=user_id, incident_id=incident.id, service=None)
    await reply_privately(body, respond, client, paged_text(queued.target, queued.incident))


async def on_repair(
    ack: AsyncAck,
    body: dict[str, Any],
    respond: AsyncRespond,
    incidents: IncidentService,
    directory: Directory,
    client: Any,
) -> None:
    """Retry: run the incident's failed Slack steps again (admins and the commander; the service decides), then say
    what is still missing. The service edits the opening message itself, so the warning goes once all are done."""
    number = parse_id(body["actions"][0].get("value"), what="This button's incident number")
    await ack()  # now: the steps are Slack calls of their own and may take longer than Slack's 3 s
    team_id = str((body.get("team") or {}).get("id") or "")
    user_id = str(body["user"]["id"])
    actor = await directory.actor(team_id=team_id, user_id=user_id)
    repairs = await incidents.repair(team_id=team_id, number=number, actor=actor)
    still = [label for repair in repairs for label in repair.still_failing]
    if still:
        text = (
            f":warning: INC-{number}: still failing: {esc(', '.join(still))}. "
            f"Retry later, or ask an operator to run `vigil incidents repair {number}`."
        )
    else:
        text = f":white_check_mark: All of INC-{number}'s Slack steps are done now."
    await reply_privately(body, respond, client, text)


def register(registry: Any) -> None:
    registry.action(ids.ACTION_ACK)(on_ack)
    for action_id in MOVES:
        registry.action(action_id)(on_move)
    registry.action(ids.ACTION_JOIN)(on_join)
    registry.action(ids.ACTION_UPDATE)(on_update)
    registry.action(ids.ACTION_PAGE)(on_page)
    registry.action(ids.ACTION_REPAIR)(on_repair)
