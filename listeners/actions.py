"""Buttons on the opening message: Acknowledge, Update, Resolve, Page on-call.

Slack never re-sends an interaction, but people double-click: each action is idempotent in the service, so the
second press changes nothing.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot import slack_ids as ids
from bot.blocks.update import update_modal
from bot.container import Container
from bot.incidents.errors import InvalidInput
from bot.incidents.states import Status
from commands.update import handle_update_submission
from db.models import Incident


async def _incident(body: dict[str, Any], container: Container) -> tuple[str, Incident]:
    team_id = str((body.get("team") or {}).get("id") or "")
    user_id = str(body["user"]["id"])
    action = body["actions"][0]
    try:
        number = int(action.get("value") or "")
    except ValueError:
        raise InvalidInput("This button belongs to no incident.") from None
    actor = await container.directory.actor(team_id=team_id, user_id=user_id)
    channel_id = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    incident = await container.incidents.locate(team_id=team_id, actor=actor, number=number, channel_id=channel_id)
    return user_id, incident


def _say(text: str) -> dict[str, Any]:
    return {"text": text, "response_type": "ephemeral", "replace_original": False}


async def on_ack(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, container: Container) -> None:
    await ack()
    user_id, incident = await _incident(body, container)
    change = await container.incidents.acknowledge(incident, actor_id=user_id, source="slack")
    if not change.changed:
        await respond(**_say(f"INC-{incident.number} was already acknowledged by <@{change.incident.acknowledged_by}>."))


async def on_resolve(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, container: Container) -> None:
    await ack()
    user_id, incident = await _incident(body, container)
    change = await container.incidents.move(incident, actor_id=user_id, target=Status.RESOLVED, source="slack")
    if not change.changed:
        await respond(**_say(f"INC-{incident.number} is already resolved."))


async def on_update(ack: AsyncAck, body: dict[str, Any], container: Container, client: Any) -> None:
    await ack()
    _user_id, incident = await _incident(body, container)
    await client.views_open(trigger_id=body["trigger_id"], view=update_modal(incident))


async def on_page(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond, container: Container) -> None:
    await ack()
    _user_id, incident = await _incident(body, container)
    await respond(
        **_say(
            f"Paging for INC-{incident.number} needs the PagerDuty integration, which is not set up yet. "
            "Ask an admin to add it (`vigil integrations add pagerduty`)."
        )
    )


def register(registry: Any) -> None:
    registry.action(ids.ACTION_ACK)(on_ack)
    registry.action(ids.ACTION_RESOLVE)(on_resolve)
    registry.action(ids.ACTION_UPDATE)(on_update)
    registry.action(ids.ACTION_PAGE)(on_page)
    registry.view(ids.VIEW_UPDATE)(handle_update_submission)
