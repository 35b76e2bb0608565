"""The opening message's warning about Slack steps that failed for good: shown only while some are missing, naming
them escaped, with a Retry button carrying the incident number, and never moving the other buttons."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from bot import slack_ids as ids
from bot.blocks.incident import opening_blocks
from bot.emulator import check_message_blocks
from bot.incidents.ports import IncidentCard

CARD = IncidentCard(
    team_id="T0TEAM",
    number=7,
    title="Checkout down",
    severity="P2",
    status="open",
    private=False,
    description="5xx on /pay",
    reporter_id="U0ALICE",
    commander_id="U0ALICE",
    component=None,
    channel_id="C0INC",
    created_at=datetime(2026, 1, 5, 9, 0, tzinfo=UTC),
)
# The buttons of a P2 by status (they follow it; test_incident_blocks.py has the whole table).
BUTTONS = {
    "open": [ids.ACTION_ACK, ids.ACTION_PAGE, ids.ACTION_UPDATE],
    "resolved": [ids.ACTION_POSTMORTEM, ids.ACTION_REOPEN],
    "postmortem": [ids.ACTION_REOPEN, ids.ACTION_CLOSE],
}


def warnings(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [b for b in blocks if ":warning:" in str(b.get("text", {}).get("text", ""))]


def retry_buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    elements = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    elements += [b["accessory"] for b in blocks if isinstance(b.get("accessory"), dict)]
    return [e for e in elements if e.get("action_id") == ids.ACTION_REPAIR]


@pytest.mark.parametrize(
    ("missing", "text"),
    [
        (
            ("pin the opening message",),
            ":warning: Vigil could not: pin the opening message. Retry, or run `vigil incidents repair 7`.",
        ),
        (
            ("set the channel topic", "pin the opening message"),
            ":warning: Vigil could not: set the channel topic, pin the opening message. "
            "Retry, or run `vigil incidents repair 7`.",
        ),
        # Labels reach Slack through the one escaping place: no broadcast, no link, markup shown as typed.
        (
            ("ping <!channel> & <https://evil.example|here>",),
            ":warning: Vigil could not: ping &lt;!channel&gt; &amp; &lt;https://evil.example|here&gt;. "
            "Retry, or run `vigil incidents repair 7`.",
        ),
    ],
)
def test_missing_steps_are_named_with_a_retry_button(missing: tuple[str, ...], text: str) -> None:
    blocks = opening_blocks(replace(CARD, missing=missing))
    [warning] = warnings(blocks)
    assert warning["type"] == "section" and warning["text"] == {"type": "mrkdwn", "text": text}
    [retry] = retry_buttons(blocks)
    assert retry["type"] == "button" and retry["text"]["text"] == "Retry" and retry["value"] == "7"
    assert check_message_blocks(blocks) == []


@pytest.mark.parametrize("status", ["open", "resolved", "postmortem"])
def test_the_warning_sits_below_the_content_and_above_the_unchanged_buttons(status: str) -> None:
    blocks = opening_blocks(replace(CARD, status=status, missing=("set the channel topic",)))
    kinds = [b["type"] for b in blocks]
    [warning] = warnings(blocks)
    where = blocks.index(warning)
    assert kinds[where - 1] == "context"  # after everything the message says about the incident
    assert kinds[where + 1 :] == ["actions"]
    assert [e["action_id"] for e in blocks[-1]["elements"]] == BUTTONS[status]


def test_a_closed_incident_still_shows_what_is_missing() -> None:
    """A rename that failed on close is missing too; Retry is the only button left."""
    blocks = opening_blocks(replace(CARD, status="closed", missing=("rename the channel",)))
    assert not [b for b in blocks if b["type"] == "actions"]
    assert blocks[-1] is warnings(blocks)[0] and len(retry_buttons(blocks)) == 1


@pytest.mark.parametrize(
    ("status", "kinds"),
    [
        ("open", ["header", "section", "section", "context", "actions"]),
        ("resolved", ["header", "section", "section", "context", "actions"]),
        ("closed", ["header", "section", "section", "context"]),
    ],
)
def test_nothing_missing_changes_nothing(status: str, kinds: list[str]) -> None:
    blocks = opening_blocks(replace(CARD, status=status))
    assert [b["type"] for b in blocks] == kinds
    assert warnings(blocks) == [] and retry_buttons(blocks) == []
    assert "repair" not in str(blocks)


def test_many_missing_steps_stay_within_slack_limits_and_keep_the_way_out() -> None:
    blocks = opening_blocks(replace(CARD, missing=tuple(f"step number {n} " * 10 for n in range(60))))
    [warning] = warnings(blocks)
    assert len(warning["text"]["text"]) <= 3000
    assert warning["text"]["text"].endswith("Retry, or run `vigil incidents repair 7`.")
    assert check_message_blocks(blocks) == []
