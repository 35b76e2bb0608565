"""Filling modals by label and finding buttons by text."""

from __future__ import annotations

from typing import Any

import pytest

from bot.emulator import forms

SEVERITY = {
    "type": "static_select",
    "action_id": "sev_a",
    "options": [
        {"text": {"type": "plain_text", "text": "P1 - critical"}, "value": "P1"},
        {"text": {"type": "plain_text", "text": "P2 - major"}, "value": "P2"},
    ],
}
BLOCKS: list[dict[str, Any]] = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "Declare"}},
    {
        "type": "input",
        "block_id": "title_b",
        "label": {"type": "plain_text", "text": "Title"},
        "element": {"type": "plain_text_input", "action_id": "title_a"},
    },
    {"type": "input", "block_id": "sev_b", "label": {"type": "plain_text", "text": "Severity"}, "element": SEVERITY},
    {
        "type": "input",
        "block_id": "lead_b",
        "label": {"type": "plain_text", "text": "Commander"},
        "element": {"type": "users_select", "action_id": "lead_a"},
    },
    {
        "type": "input",
        "block_id": "notes_b",
        "optional": True,
        "label": {"type": "plain_text", "text": "Notes"},
        "element": {"type": "plain_text_input", "action_id": "notes_a", "initial_value": "none"},
    },
    {
        "type": "actions",
        "block_id": "act",
        "elements": [{"type": "button", "action_id": "resolve", "text": {"type": "plain_text", "text": "Resolve"}}],
    },
]


def test_state_values_by_label_or_block_id() -> None:
    values = forms.state_values(BLOCKS, {"title": "Checkout down", "Severity": "P2 - major", "lead_b": "U0BOB"})
    assert values == {
        "title_b": {"title_a": {"type": "plain_text_input", "value": "Checkout down"}},
        "sev_b": {"sev_a": {"type": "static_select", "selected_option": SEVERITY["options"][1]}},
        "lead_b": {"lead_a": {"type": "users_select", "selected_user": "U0BOB"}},
        "notes_b": {"notes_a": {"type": "plain_text_input", "value": "none"}},
    }
    assert forms.state_values(BLOCKS, {})["sev_b"]["sev_a"]["selected_option"] is None


@pytest.mark.parametrize(
    ("answers", "message"), [({"Titel": "x"}, "no input labelled Titel"), ({"Severity": "P9"}, "no option")]
)
def test_state_values_refuses_typos(answers: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        forms.state_values(BLOCKS, answers)


def test_find_button_by_text_or_action_id() -> None:
    found = forms.find_button(BLOCKS, "resolve")
    assert found is not None and found[0] == "act" and found[1]["action_id"] == "resolve"
    assert forms.find_button(BLOCKS, "Acknowledge") is None


def test_untouched_inputs_submit_their_initial_values() -> None:
    from bot.emulator.forms import state_values

    blocks = [
        {
            "type": "input",
            "block_id": "c",
            "label": {"type": "plain_text", "text": "Channel"},
            "element": {"type": "conversations_select", "action_id": "ca", "initial_conversation": "C1"},
        },
        {
            "type": "input",
            "block_id": "s",
            "label": {"type": "plain_text", "text": "Severity"},
            "element": {
                "type": "static_select",
                "action_id": "sa",
                "initial_option": {"text": {"type": "plain_text", "text": "P2"}, "value": "P2"},
                "options": [{"text": {"type": "plain_text", "text": "P2"}, "value": "P2"}],
            },
        },
        {
            "type": "input",
            "block_id": "u",
            "label": {"type": "plain_text", "text": "Lead"},
            "element": {"type": "users_select", "action_id": "ua", "initial_user": "U1"},
        },
    ]
    values = state_values(blocks, {})
    assert values["c"]["ca"]["selected_conversation"] == "C1"
    assert values["s"]["sa"]["selected_option"]["value"] == "P2"
    assert values["u"]["ua"]["selected_user"] == "U1"
