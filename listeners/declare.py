"""The declare modal's submission: check the fields (pure, before the ack, answered under the field), ack, declare.

The ack waits on nothing: the declarer's confirmation is posted with the incident's other surfaces, and a refusal
found later (a component deleted meanwhile) reaches the declarer as a private message. A commander who is a bot or a
deactivated account is refused under the field when Vigil already knows it: picking someone in the form tells Vigil
(the select dispatches an action), which looks them up while the declarer fills in the rest. Not known by then, the
incident is declared with the declarer leading, and they are told why.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.errors import SlackApiError

from bot import slack_ids as ids
from bot.blocks.forms import metadata, selected_value, team_and_user, text_value, value_of
from bot.blocks.mrkdwn import esc, user
from bot.directory import Directory
from bot.incidents.errors import NotFound, VigilError
from bot.incidents.fields import check_description, check_title, parse_id
from bot.incidents.service import IncidentService
from bot.incidents.states import Severity
from bot.people import commander_refusal
from bot.settings import Settings

log = logging.getLogger(__name__)


def read_declaration(view: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The submitted fields, and errors keyed by block_id (Slack shows them under the field)."""
    errors: dict[str, str] = {}
    fields: dict[str, Any] = {}
    checks = {
        ids.BLOCK_TITLE: ("title", lambda: check_title(text_value(view, ids.BLOCK_TITLE, ids.ACTION_TITLE))),
        ids.BLOCK_SEVERITY: (
            "severity",
            lambda: Severity.parse(selected_value(view, ids.BLOCK_SEVERITY, ids.ACTION_SEVERITY)),
        ),
        ids.BLOCK_DESCRIPTION: (
            "description",
            lambda: check_description(text_value(view, ids.BLOCK_DESCRIPTION, ids.ACTION_DESCRIPTION)),
        ),
        ids.BLOCK_COMPONENT: ("component_id", lambda: _component(view)),
    }
    for block, (name, check) in checks.items():
        try:
            fields[name] = check()
        except VigilError as exc:
            errors[block] = exc.message
    if ids.BLOCK_SEVERITY in errors:
        errors[ids.BLOCK_SEVERITY] = "Pick a severity, P1 (critical) to P5."
    commander = value_of(view, ids.BLOCK_COMMANDER, ids.ACTION_COMMANDER).get("selected_user")
    fields["commander_id"] = commander if isinstance(commander, str) and commander else None
    private_opts = value_of(view, ids.BLOCK_PRIVATE, ids.ACTION_PRIVATE).get("selected_options")
    fields["private"] = isinstance(private_opts, list) and any(
        isinstance(o, dict) and o.get("value") == "private" for o in private_opts
    )
    origin = metadata(view).get("channel_id")
    fields["origin_channel_id"] = origin if isinstance(origin, str) and origin else None
    return fields, errors


def _component(view: dict[str, Any]) -> int | None:
    chosen = selected_value(view, ids.BLOCK_COMPONENT, ids.ACTION_COMPONENT)
    return parse_id(chosen, what="The component") if chosen else None


async def _can_lead(directory: Directory, *, team_id: str, user_id: str) -> bool:
    """Whether Slack says `user_id` may lead; when Slack cannot say, the declarer's pick stands."""
    try:
        return commander_refusal(await directory.person(team_id=team_id, user_id=user_id)) is None
    except NotFound:
        return False
    except (SlackApiError, aiohttp.ClientError, TimeoutError) as exc:
        log.warning("could not look up %s as a commander (%s); keeping the pick", user_id, type(exc).__name__)
        return True


async def on_commander_picked(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], directory: Directory) -> None:
    """Someone was picked as commander in the declare form: look them up now, so that the submission knows."""
    await ack()
    picked = action.get("selected_user")
    if isinstance(picked, str) and picked:
        await _can_lead(directory, team_id=team_and_user(body)[0], user_id=picked)


async def handle_declare_submission(
    ack: AsyncAck,
    body: dict[str, Any],
    view: dict[str, Any],
    incidents: IncidentService,
    directory: Directory,
    settings: Settings,
    client: Any,
) -> None:
    fields, errors = read_declaration(view)
    team_id, user_id = team_and_user(body)
    commander = fields["commander_id"] if fields.get("commander_id") != user_id else None
    if commander is not None:
        refusal = commander_refusal(directory.known_person(team_id=team_id, user_id=commander))
        if refusal:
            errors[ids.BLOCK_COMMANDER] = refusal
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    await ack()
    view_id = str(view.get("id") or "")
    if commander is not None and not await _can_lead(directory, team_id=team_id, user_id=commander):
        fields["commander_id"] = None
    declaration = await incidents.declare(
        team_id=team_id, reporter_id=user_id, source="slack", request_key=view_id[:64] or None, **fields
    )
    if declaration.created and commander is not None and fields["commander_id"] is None:
        await client.chat_postMessage(
            channel=user_id,
            text=f":warning: {user(commander)} cannot lead INC-{declaration.incident.number}: a bot or a deactivated "
            f"account cannot. You lead it for now; hand it over with `{esc(settings.command)} lead @someone` there.",
        )


def register(registry: Any) -> None:
    registry.view(ids.VIEW_DECLARE)(handle_declare_submission)
    registry.action(ids.ACTION_COMMANDER)(on_commander_picked)
