"""Block Kit for reminders: the reminder with its Snooze buttons, and the same reminder once settled. Pure functions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot import slack_ids as ids
from bot.blocks.mrkdwn import esc, user
from bot.incidents.reminders import ReminderCard

SNOOZE_ACTIONS = {
    30: ids.ACTION_REMINDER_SNOOZE_30,
    60: ids.ACTION_REMINDER_SNOOZE_60,
    120: ids.ACTION_REMINDER_SNOOZE_120,
}


def _duration(minutes: int) -> str:
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    return f"{hours} h" + (f" {rest} min" if rest else "")


def reminder_text(card: ReminderCard) -> str:
    """The reminder's line (also its notification text)."""
    title = esc(card.title if len(card.title) <= 150 else card.title[:149] + "…")
    return (
        f":alarm_clock: *INC-{card.number}* · {title} has had no update for {_duration(card.idle_minutes)} "
        f"({card.severity}: a reminder every {_duration(card.interval_minutes)}). "
        f"{user(card.commander_id, nobody='Commander')}, post an update (`note`, a status, or the Update button)."
    )


def reminder_blocks(card: ReminderCard) -> list[dict[str, Any]]:
    buttons = [
        {
            "type": "button",
            "text": {"type": "plain_text", "text": f"Snooze {_duration(minutes)}", "emoji": True},
            "action_id": action_id,
            "value": str(card.number),
        }
        for minutes, action_id in SNOOZE_ACTIONS.items()
    ]
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": reminder_text(card)}},
        {"type": "actions", "block_id": ids.BLOCK_REMINDER, "elements": buttons},
    ]


def settled_reminder_blocks(
    card: ReminderCard, *, snoozed_by: str | None = None, until: datetime | None = None
) -> list[dict[str, Any]]:
    """The reminder without its buttons: snoozed (by whom, until when), or followed by a newer reminder."""
    if snoozed_by is not None and until is not None:
        when = f"<!date^{int(until.timestamp())}^{{time}}|{until:%H:%M} UTC>"
        outcome = f":zzz: Snoozed by {user(snoozed_by)} until {when}."
    else:
        outcome = "A newer reminder follows."
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": reminder_text(card)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": outcome}]},
    ]
