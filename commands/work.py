"""Working an incident from `/incident`: status moves, severity, ack, lead, note, timeline, list, status.

Each handler acks at once (Slack wants an answer within 3 s, and refreshing the incident's messages can take
longer), then finds the incident for this user, asks the service, and answers ephemerally. Domain errors travel to
the one error handler in bot/slack_app.py.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.blocks.incident import list_line, status_text
from bot.blocks.timeline import timeline_blocks, timeline_text
from bot.container import Container
from bot.incidents.access import Actor
from bot.incidents.errors import InvalidInput
from bot.incidents.outcomes import Change
from bot.incidents.states import Severity, Status, allowed_next, can_reopen
from bot.incidents.surfaces import card_of
from commands.grammar import ParsedCommand
from db.incidents import ACTIVE_STATUSES, timeline_of, visible_incidents
from db.models import Incident

MOVES = {
    "investigating": Status.INVESTIGATING,
    "mitigating": Status.MITIGATING,
    "resolve": Status.RESOLVED,
    "postmortem": Status.POSTMORTEM,
    "close": Status.CLOSED,
}


async def _target(parsed: ParsedCommand, command: dict[str, Any], container: Container) -> tuple[Actor, Incident]:
    team_id, user_id = str(command["team_id"]), str(command["user_id"])
    actor = await container.directory.actor(team_id=team_id, user_id=user_id)
    incident = await container.incidents.locate(
        team_id=team_id, actor=actor, number=parsed.incident_ref, channel_id=str(command.get("channel_id") or "") or None
    )
    return actor, incident


def _reply(change: Change, *, unchanged: str) -> str:
    ref = f"INC-{change.incident.number}"
    if not change.changed:
        return f"{ref}: {unchanged} Nothing changed."
    text = f"{ref}: {change.summary}."
    if change.skipped:
        text += "\n:warning: Vigil could not " + "; ".join(change.skipped) + "."
    return text


async def handle_move(
    *, parsed: ParsedCommand, ack: AsyncAck, respond: AsyncRespond, command: dict[str, Any], container: Container, **_: Any
) -> None:
    await ack()
    actor, incident = await _target(parsed, command, container)
    target = MOVES[parsed.name]
    if target in (Status.INVESTIGATING, Status.MITIGATING) and can_reopen(Status(incident.status)):
        raise InvalidInput(
            f"INC-{incident.number} is {incident.status}; to work on it again, use "
            f"`{container.settings.command} reopen <reason>` (at least 10 characters)."
        )
    change = await container.incidents.move(
        incident,
        actor_id=actor.user_id,
        target=target,
        source="slack",
        closure_reason=parsed.closure_reason,
        note=parsed.text,
    )
    await respond(text=_reply(change, unchanged=f"already {target}."), response_type="ephemeral")


async def handle_reopen(
    *, parsed: ParsedCommand, ack: AsyncAck, respond: AsyncRespond, command: dict[str, Any], container: Container, **_: Any
) -> None:
    await ack()
    actor, incident = await _target(parsed, command, container)
    change = await container.incidents.move(
        incident, actor_id=actor.user_id, target=Status.INVESTIGATING, source="slack", note=parsed.text, reopen=True
    )
    await respond(text=_reply(change, unchanged="not reopened."), response_type="ephemeral")


async def handle_severity(
    *, parsed: ParsedCommand, ack: AsyncAck, respond: AsyncRespond, command: dict[str, Any], container: Container, **_: Any
) -> None:
    await ack()
    actor, incident = await _target(parsed, command, container)
    assert parsed.severity is not None
    change = await container.incidents.set_severity(
        incident, actor_id=actor.user_id, severity=parsed.severity, source="slack"
    )
    await respond(text=_reply(change, unchanged=f"already {parsed.severity}."), response_type="ephemeral")


async def handle_ack(
    *, parsed: ParsedCommand, ack: AsyncAck, respond: AsyncRespond, command: dict[str, Any], container: Container, **_: Any
) -> None:
    await ack()
    actor, incident = await _target(parsed, command, container)
    change = await container.incidents.acknowledge(incident, actor_id=actor.user_id, source="slack")
    by = change.incident.acknowledged_by
    await respond(text=_reply(change, unchanged=f"already acknowledged by <@{by}>."), response_type="ephemeral")


async def handle_lead(
    *, parsed: ParsedCommand, ack: AsyncAck, respond: AsyncRespond, command: dict[str, Any], container: Container, **_: Any
) -> None:
    await ack()
    actor, incident = await _target(parsed, command, container)
    assert parsed.user_id is not None
    lead = await container.directory.user(team_id=incident.team_id, user_id=parsed.user_id)
    if lead.is_bot or lead.deactivated:
        raise InvalidInput(f"<@{parsed.user_id}> cannot lead an incident (a bot or a deactivated account).")
    change = await container.incidents.set_commander(
        incident, actor_id=actor.user_id, commander_id=parsed.user_id, source="slack"
    )
    await respond(text=_reply(change, unchanged=f"<@{parsed.user_id}> already leads it."), response_type="ephemeral")


async def handle_note(
    *, parsed: ParsedCommand, ack: AsyncAck, respond: AsyncRespond, command: dict[str, Any], container: Container, **_: Any
) -> None:
    await ack()
    actor, incident = await _target(parsed, command, container)
    await container.incidents.add_timeline_entry(
        incident, kind="note", text=parsed.text or "", actor_id=actor.user_id, source="slack"
    )
    await respond(text=f"INC-{incident.number}: note added to the timeline.", response_type="ephemeral")


async def handle_status(
    *, parsed: ParsedCommand, ack: AsyncAck, respond: AsyncRespond, command: dict[str, Any], container: Container, **_: Any
) -> None:
    await ack()
    _actor, incident = await _target(parsed, command, container)
    allowed = [str(s) for s in allowed_next(Status(incident.status), Severity(incident.severity))]
    if can_reopen(Status(incident.status)):
        allowed.append("reopen <reason>")
    await respond(text=status_text(card_of(incident), allowed=allowed), response_type="ephemeral")


async def handle_timeline(
    *, parsed: ParsedCommand, ack: AsyncAck, respond: AsyncRespond, command: dict[str, Any], container: Container, **_: Any
) -> None:
    await ack()
    actor, incident = await _target(parsed, command, container)
    tz = await container.directory.timezone(team_id=incident.team_id, user_id=actor.user_id)
    async with container.sessions() as session:
        events = await timeline_of(session, incident)
    await respond(
        text=timeline_text(incident, events, tz_name=tz)[:3000],
        blocks=timeline_blocks(incident, events, tz_name=tz),
        response_type="ephemeral",
    )


async def handle_list(
    *, parsed: ParsedCommand, ack: AsyncAck, respond: AsyncRespond, command: dict[str, Any], container: Container, **_: Any
) -> None:
    await ack()
    team_id, user_id = str(command["team_id"]), str(command["user_id"])
    actor = await container.directory.actor(team_id=team_id, user_id=user_id)
    async with container.sessions() as session:
        incidents = await visible_incidents(
            session,
            team_id=team_id,
            user_id=user_id,
            is_admin=actor.is_admin,
            is_guest=actor.is_guest,
            statuses=(*ACTIVE_STATUSES, "resolved", "postmortem"),
        )
    if not incidents:
        await respond(text="No open incidents you can see. :sunny:", response_type="ephemeral")
        return
    lines = [list_line(card_of(i)) for i in incidents[:25]]
    more = f"\n…and {len(incidents) - 25} more." if len(incidents) > 25 else ""
    await respond(text="*Incidents*\n" + "\n".join(lines) + more, response_type="ephemeral")
