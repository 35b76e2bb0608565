"""The buttons that ask one thing first (Resolve: the resolution; Reopen: why; Add note: the note; Hand off: the new
commander) and the modal they open. One skeleton for the four (bot/blocks/prompts.py has them as data): the field
is checked before the ack, with the domain's own checks, and who may act after it."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot import slack_ids as ids
from bot.blocks.forms import metadata, team_and_user, text_value, value_of
from bot.blocks.prompts import PROMPTS, prompt_modal
from bot.directory import Directory
from bot.incidents.errors import VigilError
from bot.incidents.fields import check_note, parse_id
from bot.incidents.ports import Note
from bot.incidents.service import IncidentService
from bot.incidents.states import Status, check_reopen_reason
from listeners.actions import incident_of

OPENS = {
    ids.ACTION_RESOLVE: ids.VIEW_RESOLVE,
    ids.ACTION_REOPEN: ids.VIEW_REOPEN,
    ids.ACTION_NOTE: ids.VIEW_NOTE,
    ids.ACTION_HANDOFF: ids.VIEW_HANDOFF,
}
OUTDATED = "This form is out of date; open it again."


async def open_prompt(
    ack: AsyncAck, body: dict[str, Any], incidents: IncidentService, directory: Directory, client: Any
) -> None:
    await ack()
    _user_id, incident = await incident_of(body, incidents, directory)
    callback_id = OPENS[str(body["actions"][0]["action_id"])]
    # Where the button was pressed goes with the form: whether a guest may act is decided from there again.
    pressed_in = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
    view = prompt_modal(callback_id, number=incident.number, channel_id=pressed_in, commander_id=incident.commander_id)
    await client.views_open(trigger_id=body["trigger_id"], view=view)


def read_prompt(view: dict[str, Any]) -> tuple[str, str | None]:
    """The answer (text, or the person picked) and the error to show under the field, if any."""
    callback_id = str(view.get("callback_id") or "")
    try:
        parse_id(metadata(view).get("number"))
    except VigilError:
        return "", OUTDATED
    if PROMPTS[callback_id].person:
        picked = value_of(view, ids.BLOCK_PROMPT, ids.ACTION_PROMPT).get("selected_user")
        return (str(picked), None) if picked else ("", "Pick who takes over.")
    text = text_value(view, ids.BLOCK_PROMPT, ids.ACTION_PROMPT)
    try:
        if callback_id == ids.VIEW_REOPEN:
            return check_reopen_reason(text), None
        return check_note(text, required=not PROMPTS[callback_id].optional), None
    except VigilError as exc:
        return "", exc.message


async def submit_prompt(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], incidents: IncidentService, directory: Directory
) -> None:
    answer, error = read_prompt(view)
    if error:
        await ack(response_action="errors", errors={ids.BLOCK_PROMPT: error})
        return
    await ack()
    team_id, user_id = team_and_user(body)
    meta = metadata(view)
    actor = await directory.actor(team_id=team_id, user_id=user_id)
    channel_id = meta.get("channel_id") if isinstance(meta.get("channel_id"), str) else None
    incident = await incidents.locate(
        team_id=team_id, actor=actor, number=parse_id(meta.get("number")), channel_id=channel_id
    )
    callback_id = str(view.get("callback_id") or "")
    if callback_id == ids.VIEW_RESOLVE:
        await incidents.move(incident, actor_id=user_id, target=Status.RESOLVED, source="slack", note=answer or None)
    elif callback_id == ids.VIEW_REOPEN:
        await incidents.move(
            incident, actor_id=user_id, target=Status.INVESTIGATING, source="slack", note=answer, reopen=True
        )
    elif callback_id == ids.VIEW_NOTE:
        await incidents.add_timeline_entry(
            incident, kind="note", text=answer, actor_id=user_id, source="slack", post=Note("note", answer)
        )
    elif callback_id == ids.VIEW_HANDOFF:
        await incidents.update(incident, actor_id=user_id, source="slack", commander_id=answer)


def register(registry: Any) -> None:
    for action_id in OPENS:
        registry.action(action_id)(open_prompt)
    for callback_id in PROMPTS:
        registry.view(callback_id)(submit_prompt)
