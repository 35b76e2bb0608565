"""The inbound log modal of App Home: what an integration's webhooks sent and what Vigil did, with Retry beside a
failed one. Pure; escaped where user or vendor text appears."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot import slack_ids as ids
from bot.blocks.integrations import button, clip, slack_date
from bot.blocks.mrkdwn import esc
from integrations.inbound.service import InboundEntry

LOG_SIZE = 20  # one section each: well inside a modal's 100 blocks
STATUS_EMOJI = {
    "pending": ":hourglass_flowing_sand:",
    "done": ":white_check_mark:",
    "ignored": ":white_circle:",
    "failed": ":x:",
    "refused": ":no_entry_sign:",
}


def entry_text(entry: InboundEntry) -> str:
    emoji = STATUS_EMOJI.get(entry.status, ":grey_question:")
    verified = "signature ok" if entry.verified else "*not verified*"
    about = f" · INC-{entry.incident_number}" if entry.incident_number else ""
    details = f"{slack_date(entry.received_at)} · HTTP {entry.http_status} · {verified}{about} · *{entry.status}*"
    return f"{emoji} {details}\n> {esc(clip(' '.join(entry.outcome.split()), 300)) or '-'}"


def entry_block(entry: InboundEntry, *, integration_id: str) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": entry_text(entry)}}
    if entry.status == "failed":
        block["accessory"] = button("Retry", ids.ACTION_ADMIN_RETRY_INBOUND, f"{integration_id}:{entry.id}")
    return block


def inbound_modal(*, name: str, integration_id: str, entries: Sequence[InboundEntry]) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"The newest {LOG_SIZE} requests to *{esc(clip(name, 60))}*'s webhook URL: whether the "
                    "signature held, what Vigil answered and what it did. Refused requests keep no body.",
                }
            ],
        },
        {"type": "divider"},
    ]
    if not entries:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "_Nothing has arrived yet._"}})
    blocks += [entry_block(e, integration_id=integration_id) for e in entries[:LOG_SIZE]]
    return {
        "type": "modal",
        "callback_id": ids.VIEW_ADMIN_INBOUND_LOG,
        "title": {"type": "plain_text", "text": "Inbound log"},
        "close": {"type": "plain_text", "text": "Close"},
        "private_metadata": integration_id,
        "blocks": blocks,
    }
