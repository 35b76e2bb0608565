"""The declare modal's submission: check the fields (pure, before the ack, answered under the field), ack, declare.

The ack waits on nothing: the declarer's confirmation is posted with the incident's other surfaces, and a refusal
found later (a component deleted meanwhile) reaches the declarer as a private message.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot import slack_ids as ids
from bot.blocks.forms import metadata, selected_value, team_and_user, text_value, value_of
from bot.incidents.errors import VigilError
from bot.incidents.fields import check_description, check_title, parse_id
from bot.incidents.service import IncidentService
from bot.incidents.states import Severity


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
    private_opts = value_of(view, ids.BLOCK_PRIVATE, ids.ACTION_PRIVATE).get("selected_options") or []
    fields["private"] = any(isinstance(o, dict) and o.get("value") == "private" for o in private_opts)
    origin = metadata(view).get("channel_id")
    fields["origin_channel_id"] = origin if isinstance(origin, str) and origin else None
    return fields, errors


def _component(view: dict[str, Any]) -> int | None:
    chosen = selected_value(view, ids.BLOCK_COMPONENT, ids.ACTION_COMPONENT)
    return parse_id(chosen, what="The component") if chosen else None


async def handle_declare_submission(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], incidents: IncidentService
) -> None:
    fields, errors = read_declaration(view)
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    await ack()
    team_id, user_id = team_and_user(body)
    view_id = str(view.get("id") or "")
    await incidents.declare(team_id=team_id, reporter_id=user_id, source="slack", request_key=view_id[:64] or None, **fields)


def register(registry: Any) -> None:
    registry.view(ids.VIEW_DECLARE)(handle_declare_submission)
