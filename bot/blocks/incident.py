"""Block Kit for incidents: the opening message, the announcement, the deploy warning. Pure functions."""

from __future__ import annotations

from typing import Any

from bot import slack_ids as ids
from bot.blocks.mrkdwn import channel, esc, user
from bot.incidents.ports import IncidentCard

SEVERITY_EMOJI = {
    "P1": ":red_circle:",
    "P2": ":large_orange_circle:",
    "P3": ":large_yellow_circle:",
    "P4": ":large_blue_circle:",
    "P5": ":white_circle:",
}
STATUS_EMOJI = {
    "open": ":rotating_light:",
    "investigating": ":mag:",
    "mitigating": ":hammer_and_wrench:",
    "resolved": ":white_check_mark:",
    "postmortem": ":memo:",
    "closed": ":lock:",
}


def _date(card: IncidentCard) -> str:
    ts = int(card.created_at.timestamp())
    return f"<!date^{ts}^{{date_short_pretty}} {{time}}|{card.created_at:%Y-%m-%d %H:%M} UTC>"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def headline(card: IncidentCard) -> str:
    """The one-line text that goes with every message (notifications, screen readers)."""
    return f"{card.ref} [{card.severity}] {esc(card.title)} ({card.status})"


def opening_blocks(card: IncidentCard) -> list[dict[str, Any]]:
    value = str(card.number)
    ack = (
        f"<@{card.acknowledged_by}> <!date^{int(card.acknowledged_at.timestamp())}^{{time}}|"
        f"{card.acknowledged_at:%H:%M} UTC>"
        if card.acknowledged_at and card.acknowledged_by
        else "not yet"
    )
    fields = [
        f"*Severity*\n{SEVERITY_EMOJI.get(card.severity, '')} {card.severity}",
        f"*Status*\n{STATUS_EMOJI.get(card.status, '')} {card.status}",
        f"*Commander*\n{user(card.commander_id)}",
        f"*Reporter*\n{user(card.reporter_id)}",
        f"*Component*\n{esc(card.component) if card.component else '—'}",
        f"*Acknowledged*\n{ack}",
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(f"{card.ref} · {card.title}", 150)}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
    ]
    if card.description:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _clip(esc(card.description), 3000)}})
    if card.resolution:
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": _clip(f"*Resolution*\n{esc(card.resolution)}", 3000)}}
        )
    context = f"Declared {_date(card)}" + (" · :lock: private" if card.private else "")
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    if card.missing:
        blocks.append(missing_block(card))
    if card.status != "closed":
        blocks.append(
            {
                "type": "actions",
                "block_id": "incident_actions",
                "elements": [
                    _button("Acknowledge", ids.ACTION_ACK, value, style="primary" if not card.acknowledged_at else None),
                    _button("Update", ids.ACTION_UPDATE, value),
                    _button("Resolve", ids.ACTION_RESOLVE, value),
                    _button("Page on-call", ids.ACTION_PAGE, value, style="danger") | {"confirm": PAGE_CONFIRM},
                ],
            }
        )
    return blocks


def missing_block(card: IncidentCard) -> dict[str, Any]:
    """The warning naming the Slack steps that failed for good, with Retry: people in the channel see what is missing
    and can have it done again without an operator (the CLI's `vigil incidents repair` does the same)."""
    steps = _clip(", ".join(esc(label) for label in card.missing), 2800)  # the way out stays whole
    text = f":warning: Vigil could not: {steps}. Retry, or run `vigil incidents repair {card.number}`."
    return {
        "type": "section",
        "block_id": "incident_missing",
        "text": {"type": "mrkdwn", "text": text},
        "accessory": _button("Retry", ids.ACTION_REPAIR, str(card.number)),
    }


PAGE_CONFIRM = {
    "title": {"type": "plain_text", "text": "Page on-call?"},
    "text": {
        "type": "mrkdwn",
        "text": "PagerDuty notifies whoever is on call for this incident's service, by their own notification rules.",
    },
    "confirm": {"type": "plain_text", "text": "Page"},
    "deny": {"type": "plain_text", "text": "Cancel"},
}


def _button(text: str, action_id: str, value: str, *, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


def announcement_blocks(card: IncidentCard) -> list[dict[str, Any]]:
    text = (
        f"{SEVERITY_EMOJI.get(card.severity, '')} *{card.severity} {card.ref}: {esc(card.title)}*\n"
        f"{STATUS_EMOJI.get(card.status, '')} {card.status} · commander {user(card.commander_id)} · "
        f"join {channel(card.channel_id)}"
    )
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, 3000)}},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"Declared {_date(card)} by {user(card.reporter_id)}"}],
        },
    ]


def deploy_warning_blocks(card: IncidentCard) -> list[dict[str, Any]]:
    text = (
        f":no_entry: *Deploy freeze*: P1 {card.ref} ({esc(card.title)}) is being worked in "
        f"{channel(card.channel_id, none=card.ref)}. "
        "Hold deploys until it is resolved."
    )
    return [{"type": "section", "text": {"type": "mrkdwn", "text": _clip(text, 3000)}}]


def status_text(card: IncidentCard, *, allowed: list[str]) -> str:
    ack = f"acknowledged by <@{card.acknowledged_by}>" if card.acknowledged_by else "not acknowledged"
    where = f" · {channel(card.channel_id)}" if card.channel_id else ""
    moves = ", ".join(allowed) if allowed else "none (closed)"
    lines = [
        f"*{card.ref} · {esc(card.title)}*{where}",
        f"{SEVERITY_EMOJI.get(card.severity, '')} {card.severity} · {STATUS_EMOJI.get(card.status, '')} {card.status} · "
        f"commander {user(card.commander_id)} · {ack}",
        f"Next: {moves}",
    ]
    if card.resolution:
        lines.append(f"Resolution: {esc(card.resolution)}")
    return _clip("\n".join(lines), 3000)


def list_line(card: IncidentCard) -> str:
    lock = " :lock:" if card.private else ""
    where = f" {channel(card.channel_id)}" if card.channel_id else ""
    return (
        f"{SEVERITY_EMOJI.get(card.severity, '')} *{card.ref}* {card.severity} · {card.status} · "
        f"{esc(card.title)}{lock}{where}"
    )


def topic(card: IncidentCard) -> str:
    """The channel topic: where things stand, or once closed, how it ended."""
    if card.status == "closed":
        return esc(card.resolution or card.closure_reason or "closed")
    return f"{card.severity} | {card.status} | {user(card.commander_id, nobody='no commander')}"
