"""Working an incident from `/incident`: status moves, severity, ack, lead, note, timeline, list, status.

Each handler acks at once (Slack wants an answer within 3 s, and refreshing the incident's messages can take
longer), then finds the incident for this user and asks the service. A change made from inside the incident's
channel is answered by its one line there, which everyone sees; only a command typed elsewhere, one that changed
nothing, or one whose Slack steps failed gets a private answer. Domain errors travel to the one error handler of the
app; the rules (which moves are allowed, who may lead) live in the domain.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.blocks.incident import list_line, status_text
from bot.blocks.mrkdwn import channel, render_notes, user
from bot.blocks.timeline import timeline_blocks, timeline_text
from bot.directory import Directory
from bot.incidents.access import Actor
from bot.incidents.outcomes import Change
from bot.incidents.ports import Note
from bot.incidents.queries import IncidentQueries
from bot.incidents.service import IncidentService
from bot.incidents.states import Severity, Status, allowed_next, can_reopen
from bot.incidents.surfaces import card_of
from commands.grammar import ParsedCommand

MOVES = {
    "investigating": Status.INVESTIGATING,
    "mitigating": Status.MITIGATING,
    "resolve": Status.RESOLVED,
    "postmortem": Status.POSTMORTEM,
    "close": Status.CLOSED,
}
LIST_LIMIT = 25


async def _target(
    parsed: ParsedCommand, command: dict[str, Any], incidents: IncidentService, directory: Directory
) -> tuple[Actor, Any]:
    team_id, user_id = str(command["team_id"]), str(command["user_id"])
    actor = await directory.actor(team_id=team_id, user_id=user_id)
    incident = await incidents.locate(
        team_id=team_id, actor=actor, number=parsed.incident_ref, channel_id=str(command.get("channel_id") or "") or None
    )
    return actor, incident


def _reply(change: Change, *, unchanged: str) -> str:
    ref = f"INC-{change.incident.number}"
    if not change.changed:
        return f"{ref}: {unchanged} Nothing changed."
    text = f"{ref}: {render_notes(change.notes)}."
    if change.skipped:
        text += "\n:warning: Vigil could not " + "; ".join(change.skipped) + "."
    return text


def _in_its_channel(command: dict[str, Any], incident: Any) -> bool:
    return bool(incident.channel_id) and str(command.get("channel_id") or "") == incident.channel_id


async def _answer(respond: AsyncRespond, command: dict[str, Any], change: Change, *, unchanged: str) -> None:
    """No echo of a change made in the incident's channel: its line there says it, once, for everyone."""
    if change.changed and not change.skipped and _in_its_channel(command, change.incident):
        return
    await respond(text=_reply(change, unchanged=unchanged), response_type="ephemeral")


async def handle_move(
    *,
    parsed: ParsedCommand,
    ack: AsyncAck,
    respond: AsyncRespond,
    command: dict[str, Any],
    incidents: IncidentService,
    directory: Directory,
    **_: Any,
) -> None:
    await ack()
    actor, incident = await _target(parsed, command, incidents, directory)
    target = MOVES[parsed.name]
    change = await incidents.move(
        incident,
        actor_id=actor.user_id,
        target=target,
        source="slack",
        closure_reason=parsed.closure_reason,
        note=parsed.text,
    )
    await _answer(respond, command, change, unchanged=f"already {target}.")


async def handle_reopen(
    *,
    parsed: ParsedCommand,
    ack: AsyncAck,
    respond: AsyncRespond,
    command: dict[str, Any],
    incidents: IncidentService,
    directory: Directory,
    **_: Any,
) -> None:
    await ack()
    actor, incident = await _target(parsed, command, incidents, directory)
    change = await incidents.move(
        incident, actor_id=actor.user_id, target=Status.INVESTIGATING, source="slack", note=parsed.text, reopen=True
    )
    await _answer(respond, command, change, unchanged="not reopened.")


async def handle_severity(
    *,
    parsed: ParsedCommand,
    ack: AsyncAck,
    respond: AsyncRespond,
    command: dict[str, Any],
    incidents: IncidentService,
    directory: Directory,
    **_: Any,
) -> None:
    await ack()
    actor, incident = await _target(parsed, command, incidents, directory)
    assert parsed.severity is not None
    change = await incidents.update(incident, actor_id=actor.user_id, source="slack", severity=parsed.severity)
    await _answer(respond, command, change, unchanged=f"already {parsed.severity}.")


async def handle_ack(
    *,
    parsed: ParsedCommand,
    ack: AsyncAck,
    respond: AsyncRespond,
    command: dict[str, Any],
    incidents: IncidentService,
    directory: Directory,
    **_: Any,
) -> None:
    await ack()
    actor, incident = await _target(parsed, command, incidents, directory)
    change = await incidents.acknowledge(incident, actor_id=actor.user_id, source="slack")
    by = user(change.incident.acknowledged_by)
    await _answer(respond, command, change, unchanged=f"already acknowledged by {by}.")


async def handle_lead(
    *,
    parsed: ParsedCommand,
    ack: AsyncAck,
    respond: AsyncRespond,
    command: dict[str, Any],
    incidents: IncidentService,
    directory: Directory,
    **_: Any,
) -> None:
    await ack()
    actor, incident = await _target(parsed, command, incidents, directory)
    assert parsed.user_id is not None
    change = await incidents.update(incident, actor_id=actor.user_id, source="slack", commander_id=parsed.user_id)
    await _answer(respond, command, change, unchanged=f"{user(parsed.user_id)} already leads it.")


async def handle_note(
    *,
    parsed: ParsedCommand,
    ack: AsyncAck,
    respond: AsyncRespond,
    command: dict[str, Any],
    incidents: IncidentService,
    directory: Directory,
    **_: Any,
) -> None:
    await ack()
    actor, incident = await _target(parsed, command, incidents, directory)
    text = parsed.text or ""
    await incidents.add_timeline_entry(
        incident, kind="note", text=text, actor_id=actor.user_id, source="slack", post=Note("note", text)
    )
    if not _in_its_channel(command, incident):
        where = channel(incident.channel_id, none="its channel")
        await respond(
            text=f"INC-{incident.number}: note added to the timeline and posted in {where}.", response_type="ephemeral"
        )


async def handle_status(
    *,
    parsed: ParsedCommand,
    ack: AsyncAck,
    respond: AsyncRespond,
    command: dict[str, Any],
    incidents: IncidentService,
    directory: Directory,
    **_: Any,
) -> None:
    await ack()
    _actor, incident = await _target(parsed, command, incidents, directory)
    allowed = [str(s) for s in allowed_next(Status(incident.status), Severity(incident.severity))]
    if can_reopen(Status(incident.status)):
        allowed.append("reopen <reason>")
    await respond(text=status_text(card_of(incident), allowed=allowed), response_type="ephemeral")


async def handle_timeline(
    *,
    parsed: ParsedCommand,
    ack: AsyncAck,
    respond: AsyncRespond,
    command: dict[str, Any],
    incidents: IncidentService,
    queries: IncidentQueries,
    directory: Directory,
    **_: Any,
) -> None:
    await ack()
    actor, incident = await _target(parsed, command, incidents, directory)
    tz = await directory.timezone(team_id=incident.team_id, user_id=actor.user_id)
    events = await queries.timeline(incident)
    await respond(
        text=timeline_text(incident, events, tz_name=tz)[:3000],
        blocks=timeline_blocks(incident, events, tz_name=tz),
        response_type="ephemeral",
    )


async def handle_list(
    *,
    ack: AsyncAck,
    respond: AsyncRespond,
    command: dict[str, Any],
    queries: IncidentQueries,
    directory: Directory,
    **_: Any,
) -> None:
    await ack()
    team_id, user_id = str(command["team_id"]), str(command["user_id"])
    actor = await directory.actor(team_id=team_id, user_id=user_id)
    incidents = await queries.visible(team_id=team_id, actor=actor)
    if not incidents:
        await respond(text="No open incidents you can see. :sunny:", response_type="ephemeral")
        return
    lines = [list_line(card_of(i)) for i in incidents[:LIST_LIMIT]]
    more = f"\n…and {len(incidents) - LIST_LIMIT} more." if len(incidents) > LIST_LIMIT else ""
    await respond(text="*Incidents*\n" + "\n".join(lines) + more, response_type="ephemeral")
