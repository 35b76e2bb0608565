"""The SOS request modal's submission: read it, answer what the text alone gets wrong under its field, ack, then
hand it to the SOS service (which re-checks the person may act on the incident, then posts and records)."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot import slack_ids as ids
from bot.admin.forms import FieldErrors
from bot.slack_payloads import metadata, selected_option, state_value, team_of, text_of, user_of
from bot.sos import MESSAGE, TARGET, SosRequestForm, SosService, check_sos_request

BLOCKS = {TARGET: ids.BLOCK_SOS_TARGET, MESSAGE: ids.BLOCK_SOS_MESSAGE}


def read_request(view: dict[str, Any]) -> SosRequestForm:
    meta = metadata(view)
    origin = meta.get("channel_id")
    return SosRequestForm(
        number=meta.get("number"),
        origin_channel_id=origin if isinstance(origin, str) else None,
        target=selected_option(state_value(view, ids.BLOCK_SOS_TARGET, ids.ACTION_SOS_TARGET)),
        message=text_of(state_value(view, ids.BLOCK_SOS_MESSAGE, ids.ACTION_SOS_MESSAGE)),
    )


async def submit_sos(ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], sos: SosService) -> None:
    form = read_request(view)
    try:
        check_sos_request(form)
    except FieldErrors as exc:
        await ack(response_action="errors", errors={BLOCKS[name]: message for name, message in exc.errors.items()})
        return
    await ack()
    await sos.send(team_id=team_of(body), user_id=user_of(body), form=form)


def register(registry: Any) -> None:
    registry.view(ids.VIEW_SOS)(submit_sos)
