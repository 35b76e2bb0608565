"""`/incident sos` (SPEC §5): pick an SOS target, write what you need; Vigil posts it there mentioning the target's
usergroup, linking back to the incident channel, and records it on the timeline."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot import slack_ids as ids
from bot.blocks.admin import MAX_SOS_MESSAGE, sos_request_modal, sos_request_text
from bot.blocks.home import SosTargetLine, esc
from bot.container import Container
from bot.directory import Directory
from bot.incidents.errors import NotFound, VigilError
from bot.incidents.service import IncidentService
from bot.incidents.text import clean_text
from commands.grammar import ParsedCommand
from db.sos import get_sos_target, list_sos_targets
from listeners.admin.common import metadata, selected_option, state_value, text_of
from listeners.home import team_of, user_of

log = logging.getLogger(__name__)


async def handle_sos(
    *,
    parsed: ParsedCommand,
    ack: AsyncAck,
    respond: AsyncRespond,
    command: dict[str, Any],
    container: Container,
    client: Any,
    **_: Any,
) -> None:
    await ack()
    team_id, user_id = str(command["team_id"]), str(command["user_id"])
    channel_id = str(command.get("channel_id") or "") or None
    actor = await container.directory.actor(team_id=team_id, user_id=user_id)
    incident = await container.incidents.locate(
        team_id=team_id, actor=actor, number=parsed.incident_ref, channel_id=channel_id
    )
    async with container.sessions() as session:
        targets = await list_sos_targets(session, team_id=team_id)
    if not targets:
        raise NotFound("There are no SOS targets yet: an admin adds them in Vigil's App Home (SOS targets tab).")
    lines = [
        SosTargetLine(id=t.id, name=t.name, conversation_id=t.conversation_id, usergroup_id=t.usergroup_id) for t in targets
    ]
    view = sos_request_modal(number=incident.number, title=incident.title, targets=lines, channel_id=channel_id)
    await client.views_open(trigger_id=command["trigger_id"], view=view)


async def submit_sos(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    container: Container,
    directory: Directory,
    incidents: IncidentService,
    client: Any,
) -> None:
    """Validate on the fields (and re-check that the person may act on the incident), then post and record."""
    team_id, user_id = team_of(body), user_of(body)
    meta = metadata(view)
    errors: dict[str, str] = {}
    number = meta.get("number")
    origin = meta.get("channel_id") if isinstance(meta.get("channel_id"), str) else None
    target = None
    incident = None
    if not isinstance(number, int) or isinstance(number, bool):
        errors[ids.BLOCK_SOS_TARGET] = "This form lost track of its incident; run the sos command again."
    else:
        try:
            actor = await directory.actor(team_id=team_id, user_id=user_id)
            incident = await incidents.locate(team_id=team_id, actor=actor, number=number, channel_id=origin)
        except VigilError as exc:
            errors[ids.BLOCK_SOS_TARGET] = exc.message
    chosen = selected_option(state_value(view, ids.BLOCK_SOS_TARGET, ids.ACTION_SOS_TARGET))
    if ids.BLOCK_SOS_TARGET not in errors:
        if not chosen or not chosen.isdigit():
            errors[ids.BLOCK_SOS_TARGET] = "Pick who should help."
        else:
            async with container.sessions() as session:
                target = await get_sos_target(session, team_id=team_id, target_id=int(chosen))
            if target is None:
                errors[ids.BLOCK_SOS_TARGET] = "That SOS target no longer exists; pick another."
    message = clean_text(text_of(state_value(view, ids.BLOCK_SOS_MESSAGE, ids.ACTION_SOS_MESSAGE)))
    if not message:
        errors[ids.BLOCK_SOS_MESSAGE] = "Say what you need help with."
    elif len(message) > MAX_SOS_MESSAGE:
        errors[ids.BLOCK_SOS_MESSAGE] = f"Keep it under {MAX_SOS_MESSAGE} characters."
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    await ack()
    assert incident is not None and target is not None

    text = sos_request_text(
        number=incident.number,
        title=incident.title,
        private=incident.private,
        channel_id=incident.channel_id,
        user_id=user_id,
        usergroup_id=target.usergroup_id,
        message=message,
    )
    await incidents.request_help(
        incident,
        actor_id=user_id,
        target_name=esc(target.name),
        conversation_id=target.conversation_id,
        usergroup_id=target.usergroup_id,
        request_text=text,
        message=message,
        source="slack",
    )


def register(registry: Any) -> None:
    registry.view(ids.VIEW_SOS)(submit_sos)
