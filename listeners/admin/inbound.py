"""App Home → Integrations → "Inbound log": a modal with what an integration's webhooks sent, and Retry beside a
failed one (admins only; the inbound service checks the presser)."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot import slack_ids as ids
from bot.blocks.inbound import LOG_SIZE, inbound_modal
from bot.incidents.errors import InvalidInput
from bot.slack_payloads import team_of, user_of
from integrations.inbound.service import InboundService
from listeners.admin.integrations import button_ref


async def on_inbound_log(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], inbound: InboundService, client: Any
) -> None:
    ref = button_ref(action, "an integration")
    await ack()
    team_id, user_id = team_of(body), user_of(body)
    entries = await inbound.log(team_id=team_id, ref=ref, limit=LOG_SIZE, user_id=user_id)
    name = await inbound.name_of(team_id=team_id, ref=ref)
    await client.views_open(
        trigger_id=body["trigger_id"], view=inbound_modal(name=name, integration_id=ref, entries=entries)
    )


async def on_retry_inbound(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], inbound: InboundService, client: Any
) -> None:
    ref, _, raw_id = button_ref(action, "an inbound delivery").rpartition(":")
    if not ref or not raw_id.isdigit() or len(raw_id) > 10:
        raise InvalidInput("That button does not name an inbound delivery; reopen App Home.")
    await ack()
    team_id, user_id = team_of(body), user_of(body)
    await inbound.retry(team_id=team_id, ref=ref, entry_id=int(raw_id), user_id=user_id)
    entries = await inbound.log(team_id=team_id, ref=ref, limit=LOG_SIZE, user_id=user_id)
    name = await inbound.name_of(team_id=team_id, ref=ref)
    view_id = str((body.get("view") or {}).get("id") or "")
    if view_id:
        await client.views_update(view_id=view_id, view=inbound_modal(name=name, integration_id=ref, entries=entries))


def register(registry: Any) -> None:
    registry.action(ids.ACTION_ADMIN_INBOUND_LOG)(on_inbound_log)
    registry.action(ids.ACTION_ADMIN_RETRY_INBOUND)(on_retry_inbound)
