"""`/incident update` and the Update button: the update modal, and its submission."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot import slack_ids as ids
from bot.blocks.update import update_modal
from bot.container import Container
from bot.incidents.errors import VigilError
from bot.incidents.states import Severity
from bot.incidents.text import clean_line
from commands.grammar import ParsedCommand
from db.models import Incident


async def open_update_modal(
    *, parsed: ParsedCommand, ack: AsyncAck, command: dict[str, Any], container: Container, client: Any, **_: Any
) -> None:
    await ack()
    team_id, user_id = str(command["team_id"]), str(command["user_id"])
    actor = await container.directory.actor(team_id=team_id, user_id=user_id)
    incident = await container.incidents.locate(
        team_id=team_id, actor=actor, number=parsed.incident_ref, channel_id=str(command.get("channel_id") or "") or None
    )
    await client.views_open(trigger_id=command["trigger_id"], view=update_modal(incident))


async def handle_update_submission(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], container: Container, client: Any
) -> None:
    values = view.get("state", {}).get("values", {})
    title = clean_line(str((values.get(ids.BLOCK_TITLE, {}).get(ids.ACTION_TITLE) or {}).get("value") or ""))
    severity_value = (values.get(ids.BLOCK_SEVERITY, {}).get(ids.ACTION_SEVERITY) or {}).get("selected_option") or {}
    commander = (values.get(ids.BLOCK_COMMANDER, {}).get(ids.ACTION_COMMANDER) or {}).get("selected_user")
    errors: dict[str, str] = {}
    if not title:
        errors[ids.BLOCK_TITLE] = "Give the incident a title."
    elif len(title) > 150:
        errors[ids.BLOCK_TITLE] = "Keep the title under 150 characters."
    try:
        severity = Severity.parse(str(severity_value.get("value") or ""))
    except VigilError:
        errors[ids.BLOCK_SEVERITY] = "Pick a severity, P1 (critical) to P5."
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
        incident_id = int(meta["incident_id"])
    except (ValueError, KeyError, TypeError):
        errors[ids.BLOCK_TITLE] = "This form is out of date; open it again."
        incident_id = 0
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    team_id, user_id = str(view.get("team_id") or body.get("team", {}).get("id") or ""), str(body["user"]["id"])
    actor = await container.directory.actor(team_id=team_id, user_id=user_id)
    async with container.sessions() as session:
        row = await session.get(Incident, incident_id)
    if row is None or row.team_id != team_id:
        await ack(response_action="errors", errors={ids.BLOCK_TITLE: "This incident no longer exists."})
        return
    # Re-check access at submission: the form may be forged or the user may have left a private incident.
    try:
        incident = await container.incidents.locate(
            team_id=team_id, actor=actor, number=row.number, channel_id=row.channel_id
        )
    except VigilError as exc:
        await ack(response_action="errors", errors={ids.BLOCK_TITLE: exc.message})
        return
    await ack()
    service = container.incidents
    await service.set_title(incident, actor_id=user_id, title=title, source="slack")
    await service.set_severity(incident, actor_id=user_id, severity=severity, source="slack")
    if commander:
        await service.set_commander(incident, actor_id=user_id, commander_id=str(commander), source="slack")
