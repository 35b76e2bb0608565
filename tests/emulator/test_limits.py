"""Block Kit limit checks: pure functions, table-tested."""

from __future__ import annotations

from typing import Any

import pytest

from bot.emulator import check_message_blocks, check_view


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def button(text: str, action_id: str = "a") -> dict[str, Any]:
    return {"type": "button", "text": {"type": "plain_text", "text": text}, "action_id": action_id}


def modal(**overrides: Any) -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": "declare",
        "title": {"type": "plain_text", "text": "Declare"},
        "submit": {"type": "plain_text", "text": "Go"},
        "blocks": [
            {
                "type": "input",
                "block_id": "title_b",
                "label": {"type": "plain_text", "text": "Title"},
                "element": {"type": "plain_text_input", "action_id": "title_a", "max_length": 150},
            }
        ],
    }
    view.update(overrides)
    return view


def select(option_text: str, n: int = 1) -> dict[str, Any]:
    options = [{"text": {"type": "plain_text", "text": option_text}, "value": f"v{i}"} for i in range(n)]
    return {"type": "static_select", "action_id": "sev", "options": options}


@pytest.mark.parametrize(
    ("blocks", "expected"),
    [
        ([section("x" * 3000)], None),
        ([section("x")] * 50, None),
        ([section("x")] * 51, "no more than 50 items allowed [json-pointer:/blocks]"),
        ([section("x" * 3001)], "must be less than 3001 characters [json-pointer:/blocks/0/text/text]"),
        ([section("")], "must be more than 0 characters [json-pointer:/blocks/0/text/text]"),
        ([{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}], "must be less than 151 characters"),
        ([{"type": "header", "text": {"type": "mrkdwn", "text": "h"}}], "must be one of plain_text"),
        ([{"type": "actions", "elements": [button("b" * 76)]}], "[json-pointer:/blocks/0/elements/0/text/text]"),
        ([{"type": "actions", "elements": [button("ok", "a"), button("ok", "a")]}], "action_id 'a' already exists"),
        ([{"type": "actions", "elements": [button("b")] * 26}], "no more than 25 items allowed"),
        ([{"type": "actions", "elements": [select("o" * 76)]}], "must be less than 76 characters"),
        ([{"type": "actions", "elements": [select("o", 101)]}], "no more than 100 items allowed"),
        ([{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}], "no more than 10 items allowed"),
        ([{"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}], "no more than 10 items allowed"),
        ([section("a") | {"block_id": "b1"}, section("b") | {"block_id": "b1"}], "block_id 'b1' already exists"),
        ([{"type": "carousel"}], "unknown block type"),
        ("not a list", "must provide an array"),
    ],
)
def test_message_blocks(blocks: Any, expected: str | None) -> None:
    errors = check_message_blocks(blocks)
    if expected is None:
        assert errors == []
    else:
        assert any(expected in e for e in errors), errors


@pytest.mark.parametrize(
    ("view", "expected"),
    [
        (modal(), None),
        (modal(title={"type": "plain_text", "text": "t" * 24}), None),
        (modal(title={"type": "plain_text", "text": "t" * 25}), "[json-pointer:/view/title/text]"),
        (modal(submit={"type": "plain_text", "text": "s" * 25}), "[json-pointer:/view/submit/text]"),
        (modal(close={"type": "plain_text", "text": "c" * 25}), "[json-pointer:/view/close/text]"),
        (modal(submit=None), "must provide submit when the view has input blocks"),
        (modal(private_metadata="m" * 3000), None),
        (modal(private_metadata="m" * 3001), "must be less than 3001 characters [json-pointer:/view/private_metadata]"),
        (modal(blocks=[section("x")] * 100), None),
        (modal(blocks=[section("x")] * 101), "no more than 100 items allowed [json-pointer:/view/blocks]"),
        ({"type": "home", "blocks": [section("x")] * 100}, None),
        ({"type": "home", "blocks": [section("x")] * 101}, "no more than 100 items allowed"),
        ({"type": "sheet", "blocks": []}, "must be one of modal, home"),
        (
            modal(
                blocks=[
                    {
                        "type": "input",
                        "label": {"type": "plain_text", "text": "Notes"},
                        "element": {"type": "plain_text_input", "action_id": "n", "max_length": 3001},
                    }
                ]
            ),
            "must be between 1 and 3000 [json-pointer:/view/blocks/0/element/max_length]",
        ),
        (
            modal(blocks=[{"type": "input", "label": {"type": "plain_text", "text": "x"}, "element": button("b")}]),
            "is not allowed in input",
        ),
    ],
)
def test_views(view: Any, expected: str | None) -> None:
    errors = check_view(view)
    if expected is None:
        assert errors == []
    else:
        assert any(expected in e for e in errors), errors
