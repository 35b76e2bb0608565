"""Finding what a line names: form fields by label, choices by text, buttons by their words."""

from __future__ import annotations

from typing import Any

import pytest

from bot import slack_ids as ids
from bot.blocks.declare import declare_modal
from bot.blocks.update import update_modal
from bot.emulator import SlackEmulator
from bot.sandbox import targets
from bot.sandbox.grammar import SandboxError
from bot.sandbox.workspace import BOB, seed


@pytest.fixture
def state() -> Any:
    emu = SlackEmulator()
    seed(emu)
    return emu.state


def value(values: dict[str, Any], block: str, action: str) -> Any:
    return values[block][action]


def test_fields_by_label_any_case_and_choices_by_value_or_text(state: Any) -> None:
    view = declare_modal(title="Prefilled")
    values = targets.form_values(state, view, (("SEVERITY", "p1"), ("description", "5xx"), ("visibility", "yes")))
    assert value(values, ids.BLOCK_TITLE, ids.ACTION_TITLE)["value"] == "Prefilled"  # untouched: its initial value
    assert value(values, ids.BLOCK_SEVERITY, ids.ACTION_SEVERITY)["selected_option"]["value"] == "P1"
    assert value(values, ids.BLOCK_DESCRIPTION, ids.ACTION_DESCRIPTION)["value"] == "5xx"
    assert [o["value"] for o in value(values, ids.BLOCK_PRIVATE, ids.ACTION_PRIVATE)["selected_options"]] == ["private"]

    by_text = targets.form_values(state, view, (("Severity", "P3 · minor"), ("Visibility", "Private incident")))
    assert value(by_text, ids.BLOCK_SEVERITY, ids.ACTION_SEVERITY)["selected_option"]["value"] == "P3"
    assert value(by_text, ids.BLOCK_PRIVATE, ids.ACTION_PRIVATE)["selected_options"]


def test_people_by_name_and_cleared_fields(state: Any) -> None:
    class Row:
        id, number, title, severity, commander_id, channel_id = 1, 1, "Checkout down", "P2", "U0ALICE", "C1"

    row: Any = Row()
    values = targets.form_values(state, update_modal(row), (("commander", "@bob"), ("Title", "")))
    assert value(values, ids.BLOCK_COMMANDER, ids.ACTION_COMMANDER)["selected_user"] == BOB
    assert value(values, ids.BLOCK_TITLE, ids.ACTION_TITLE)["value"] == ""


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ((("Colour", "red"),), "no field 'Colour'; there is 'Title', 'Severity', 'Commander', 'Description', 'Visibility'"),
        ((("Severity", "P9"),), "no choice for Severity 'P9'"),
        ((("Severity", "P"),), "could be"),
    ],
)
def test_what_is_not_there_is_named_with_what_is(state: Any, fields: tuple[tuple[str, str], ...], message: str) -> None:
    with pytest.raises(SandboxError) as info:
        targets.form_values(state, declare_modal(), fields)
    assert message in info.value.message


@pytest.mark.parametrize("typed", ["Page on-call", "page", "[page on-call]", "PAGE ON CALL", "incident_page"])
def test_buttons_by_their_words(typed: str) -> None:
    blocks = [
        {
            "type": "actions",
            "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": t}, "action_id": a, "value": "1"}
                for t, a in (("Acknowledge", "incident_ack"), ("Page on-call", "incident_page"))
            ],
        }
    ]
    found = targets.find_clickable(blocks, typed.strip("[]"))
    assert found is not None and found.action_id == "incident_page"


def test_emoji_in_button_text_does_not_matter() -> None:
    blocks = [
        {
            "type": "actions",
            "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": ":rotating_light: Declare"}, "action_id": "d"}
            ],
        }
    ]
    found = targets.find_clickable(blocks, "declare")
    assert found is not None and found.action_id == "d"
    assert targets.find_clickable(blocks, "resolve") is None


def test_channels_by_prefix_or_former_name(state: Any) -> None:
    assert targets.find_channel(state, "#gen").name == "general"
    state.channels["C0INCIDENTS"].previous_names.append("ops")
    assert targets.find_channel(state, "ops").name == "incidents"
    with pytest.raises(SandboxError, match="no channel #random; channels are #general, #incidents"):
        targets.find_channel(state, "random")
