"""Snooze buttons on a reminder: put the incident's next reminder off by 30, 60 or 120 minutes.

Anyone who may act on the incident may snooze it; the reminder is edited to say who snoozed it and until when.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot import slack_ids as ids
from bot.directory import Directory
from bot.incidents.reminders import Housekeeping
from bot.incidents.service import IncidentService
from listeners.actions import incident_of

SNOOZE_MINUTES = {
    ids.ACTION_REMINDER_SNOOZE_30: 30,
    ids.ACTION_REMINDER_SNOOZE_60: 60,
    ids.ACTION_REMINDER_SNOOZE_120: 120,
}


async def on_snooze(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    incidents: IncidentService,
    directory: Directory,
    housekeeping: Housekeeping,
) -> None:
    await ack()
    user_id, incident = await incident_of(body, incidents, directory)
    await housekeeping.snooze(incident, actor_id=user_id, minutes=SNOOZE_MINUTES[str(action.get("action_id"))])


def register(registry: Any) -> None:
    for action_id in SNOOZE_MINUTES:
        registry.action(action_id)(on_snooze)
