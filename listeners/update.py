"""The update modal's submission: title, severity and commander in one service call (one transaction, one refresh,
one line in the channel). Field checks run before the ack; who may act is checked after it."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot import slack_ids as ids
from bot.blocks.forms import metadata, selected_value, team_and_user, text_value, value_of
from bot.directory import Directory
from bot.incidents.errors import VigilError
from bot.incidents.fields import check_title, parse_id
from bot.incidents.service import IncidentService
from bot.incidents.states import Severity

OUTDATED = "This form is out of date; open it again."


def read_update(view: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    fields: dict[str, Any] = {}
    try:
        fields["title"] = check_title(text_value(view, ids.BLOCK_TITLE, ids.ACTION_TITLE))
    except VigilError as exc:
        errors[ids.BLOCK_TITLE] = exc.message
    try:
        fields["severity"] = Severity.parse(selected_value(view, ids.BLOCK_SEVERITY, ids.ACTION_SEVERITY))
    except VigilError:
        errors[ids.BLOCK_SEVERITY] = "Pick a severity, P1 (critical) to P5."
    commander = value_of(view, ids.BLOCK_COMMANDER, ids.ACTION_COMMANDER).get("selected_user")
    fields["commander_id"] = str(commander) if commander else None
    channel_id = metadata(view).get("channel_id")
    fields["channel_id"] = channel_id if isinstance(channel_id, str) and channel_id else None
    try:
        fields["number"] = parse_id(metadata(view).get("number"), what="The incident number")
    except VigilError:
        errors.setdefault(ids.BLOCK_TITLE, OUTDATED)
    return fields, errors


async def handle_update_submission(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], incidents: IncidentService, directory: Directory
) -> None:
    fields, errors = read_update(view)
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    await ack()
    team_id, user_id = team_and_user(body)
    actor = await directory.actor(team_id=team_id, user_id=user_id)
    # Access is checked again at submission: the form may be forged, or the user may have left a private incident.
    incident = await incidents.locate(
        team_id=team_id, actor=actor, number=fields.pop("number"), channel_id=fields.pop("channel_id")
    )
    await incidents.update(incident, actor_id=user_id, source="slack", **fields)


def register(registry: Any) -> None:
    registry.view(ids.VIEW_UPDATE)(handle_update_submission)
