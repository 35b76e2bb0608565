"""The declare modal's submission: validate on the fields, ack within 3 s, then declare."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot import slack_ids as ids
from bot.container import Container
from bot.incidents.errors import VigilError
from bot.incidents.service import MAX_DESCRIPTION, MAX_TITLE, IncidentService
from bot.incidents.states import Severity
from bot.incidents.text import clean_line
from db.models import Component

log = logging.getLogger(__name__)


def _value(values: dict[str, Any], block: str, action: str) -> dict[str, Any]:
    v = values.get(block, {}).get(action)
    return v if isinstance(v, dict) else {}


def read_declaration(view: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The submitted fields, and errors keyed by block_id (Slack shows them under the field)."""
    values = view.get("state", {}).get("values", {})
    errors: dict[str, str] = {}
    title = clean_line(str(_value(values, ids.BLOCK_TITLE, ids.ACTION_TITLE).get("value") or ""))
    if not title:
        errors[ids.BLOCK_TITLE] = "Give the incident a title."
    elif len(title) > MAX_TITLE:
        errors[ids.BLOCK_TITLE] = f"Keep the title under {MAX_TITLE} characters."
    selected = _value(values, ids.BLOCK_SEVERITY, ids.ACTION_SEVERITY).get("selected_option") or {}
    severity: Severity | None = None
    try:
        severity = Severity.parse(str(selected.get("value") or ""))
    except VigilError:
        errors[ids.BLOCK_SEVERITY] = "Pick a severity, P1 (critical) to P5."
    description = str(_value(values, ids.BLOCK_DESCRIPTION, ids.ACTION_DESCRIPTION).get("value") or "").strip()
    if len(description) > MAX_DESCRIPTION:
        errors[ids.BLOCK_DESCRIPTION] = f"Keep the description under {MAX_DESCRIPTION} characters."
    component_option = _value(values, ids.BLOCK_COMPONENT, ids.ACTION_COMPONENT).get("selected_option") or {}
    component_id: int | None = None
    if component_option.get("value"):
        try:
            component_id = int(component_option["value"])
        except ValueError:
            errors[ids.BLOCK_COMPONENT] = "Pick a component from the list."
    private_opts = _value(values, ids.BLOCK_PRIVATE, ids.ACTION_PRIVATE).get("selected_options") or []
    private = any(isinstance(o, dict) and o.get("value") == "private" for o in private_opts)
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        meta = {}
    origin = meta.get("channel_id") if isinstance(meta, dict) else None
    fields = {
        "title": title,
        "severity": severity,
        "description": description,
        "component_id": component_id,
        "private": private,
        "origin_channel_id": origin if isinstance(origin, str) else None,
    }
    return fields, errors


async def handle_declare_submission(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], container: Container, incidents: IncidentService, client: Any
) -> None:
    team_id = str(view.get("team_id") or body.get("team", {}).get("id") or "")
    user_id = str(body.get("user", {}).get("id") or "")
    fields, errors = read_declaration(view)
    if not errors and fields["component_id"] is not None:
        async with container.sessions() as session:
            component = await session.get(Component, fields["component_id"])
        if component is None or component.team_id != team_id:
            errors[ids.BLOCK_COMPONENT] = "That component no longer exists; pick another."
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    await ack()
    declaration = await incidents.declare(team_id=team_id, reporter_id=user_id, source="slack", **fields)
    incident = declaration.incident
    where = f"<#{incident.channel_id}>" if incident.channel_id else "no channel yet"
    if fields["origin_channel_id"] and not declaration.skipped:
        try:
            await client.chat_postEphemeral(
                channel=fields["origin_channel_id"],
                user=user_id,
                text=f":rotating_light: INC-{incident.number} declared: {where}",
            )
        except Exception:
            log.info("could not confirm INC-%s to the declarer in the origin channel", incident.number)


def register(registry: Any) -> None:
    registry.view(ids.VIEW_DECLARE)(handle_declare_submission)
