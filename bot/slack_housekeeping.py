"""`HousekeepingChat` over the Slack Web API: reminders (rendered by bot/blocks/reminders.py) and archiving.

Errors come back as `ChatError` with Slack's code, through the same call helper as the incident chat port.
"""

from __future__ import annotations

from datetime import datetime

from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.reminders import reminder_blocks, reminder_text, settled_reminder_blocks
from bot.incidents.ports import ChatError
from bot.incidents.reminders import ReminderCard
from bot.slack_chat import IDEMPOTENT_ATTEMPTS, _call, _step_metadata


class SlackHousekeeping:
    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def post_reminder(self, *, card: ReminderCard, marker: str) -> str:
        resp = await _call(
            lambda: self.client.chat_postMessage(
                channel=card.channel_id,
                text=reminder_text(card),
                blocks=reminder_blocks(card),
                metadata=_step_metadata(marker),
            )
        )
        return str(resp["ts"])

    async def settle_reminder(
        self, *, card: ReminderCard, ts: str, snoozed_by: str | None = None, until: datetime | None = None
    ) -> None:
        blocks = settled_reminder_blocks(card, snoozed_by=snoozed_by, until=until)
        await _call(
            lambda: self.client.chat_update(channel=card.channel_id, ts=ts, text=reminder_text(card), blocks=blocks),
            attempts=IDEMPOTENT_ATTEMPTS,
        )

    async def archive_channel(self, *, channel_id: str) -> None:
        """Archive; when Vigil is no longer in the (public) channel, join it first: only a member may archive."""
        try:
            await _call(lambda: self.client.conversations_archive(channel=channel_id), attempts=IDEMPOTENT_ATTEMPTS)
            return
        except ChatError as exc:
            if exc.code != "not_in_channel":
                raise
        await _call(lambda: self.client.conversations_join(channel=channel_id), attempts=IDEMPOTENT_ATTEMPTS)
        await _call(lambda: self.client.conversations_archive(channel=channel_id), attempts=IDEMPOTENT_ATTEMPTS)
