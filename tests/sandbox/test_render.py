"""Block Kit to text: one row per block type and element Vigil emits, plus mrkdwn's ids, dates and links."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.blocks.declare import declare_modal
from bot.blocks.home import HomeData, IncidentLine, home_view
from bot.sandbox import render
from bot.sandbox.render import ANSI, PLAIN, Names

NAMES = Names(
    users={"U0ALICE": "alice", "U0BOB": "bob"},
    channels={"C0INC": "inc-1-checkout-down"},
    usergroups={"S0SRE": "sre"},
)
TS = 1_763_805_600  # 2025-11-22 10:00:00 UTC


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def md(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def button(text: str, style: str | None = None) -> dict[str, Any]:
    el: dict[str, Any] = {"type": "button", "text": plain(text), "action_id": text.lower(), "value": "1"}
    if style:
        el["style"] = style
    return el


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<@U0ALICE> acked", "@alice acked"),
        ("<@U0NOBODY|zed> and <@U0NOBODY>", "@zed and @U0NOBODY"),
        ("join <#C0INC>", "join #inc-1-checkout-down"),
        ("join <#C0GONE|old-name>", "join #old-name"),
        ("<!subteam^S0SRE> and <!subteam^S0X|@ops>", "@sre and @ops"),
        ("<!here> <!channel|channel>", "@here @channel"),
        (f"<!date^{TS}^{{date_short_pretty}} {{time}}|fallback>", "Nov 22, 2025 10:00 UTC"),
        (f"<!date^{TS}^{{date_num}}|x>", "2025-11-22"),
        (f"<!date^{TS}^{{date}} at {{time_secs}}|x>", "November 22nd, 2025 at 10:00:00 UTC"),
        (f"<!date^{TS}^{{date_long}}|x>", "Saturday, November 22nd, 2025"),
        (f"<!date^{TS}^{{nonsense}}|the fallback>", "the fallback"),
        ("<!date^notanumber^{date}|fb>", "fb"),
        ("<https://status.example|status page>", "status page (https://status.example)"),
        ("<https://status.example>", "https://status.example"),
        ("<mailto:sre@acme.example|SRE>", "SRE"),
        ("a &lt;b&gt; &amp; c", "a <b> & c"),
        ("*bold* stays marked when plain", "*bold* stays marked when plain"),
    ],
)
def test_mrkdwn(text: str, expected: str) -> None:
    assert render.mrkdwn(text, NAMES) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [(-5, "in the future"), (0, "just now"), (59, "just now"), (60, "1 minute ago"), (3 * 3600 + 5, "3 hours ago")],
)
def test_ago_counts_from_now(seconds: int, expected: str) -> None:
    now = datetime.fromtimestamp(TS + seconds, UTC)
    assert render.format_date(TS, "{ago}", "fallback", now=now) == expected


def test_mrkdwn_bold_in_colour() -> None:
    assert render.mrkdwn("*Severity* P1", NAMES, ANSI) == "\x1b[1mSeverity\x1b[0m P1"


BLOCK_TABLE: list[tuple[str, dict[str, Any], list[str]]] = [
    ("header", {"type": "header", "text": plain("INC-1 · Checkout down")}, ["INC-1 · Checkout down"]),
    ("section text", {"type": "section", "text": md("Owner <@U0BOB>\nsecond line")}, ["Owner @bob", "second line"]),
    (
        "section fields",
        {"type": "section", "fields": [md("*Severity*\n:red_circle: P1"), md("*Commander*\n<@U0ALICE>"), plain("free")]},
        ["Severity: :red_circle: P1", "Commander: @alice", "free"],
    ),
    (
        "section with a button",
        {"type": "section", "text": md("*Tags*"), "accessory": button("Edit tags")},
        ["*Tags*  [Edit tags]"],
    ),
    (
        "section with an overflow menu",
        {
            "type": "section",
            "text": md("*@sre*"),
            "accessory": {
                "type": "overflow",
                "action_id": "menu",
                "options": [{"text": plain("Refresh"), "value": "r"}, {"text": plain("Remove"), "value": "x"}],
            },
        },
        ["*@sre*  [⋯ Refresh | Remove]"],
    ),
    (
        "section with an image",
        {"type": "section", "text": md("graph"), "accessory": {"type": "image", "image_url": "u", "alt_text": "p99"}},
        ["graph  [image: p99]"],
    ),
    (
        "context",
        {"type": "context", "elements": [md("Declared by <@U0ALICE>"), plain("UTC"), {"type": "image", "alt_text": "a"}]},
        ["Declared by @alice · UTC · [image: a]"],
    ),
    ("divider", {"type": "divider"}, ["-" * 24]),
    (
        "actions with buttons",
        {"type": "actions", "elements": [button("Acknowledge", "primary"), button("Page on-call", "danger")]},
        ["[Acknowledge]  [Page on-call]"],
    ),
    (
        "actions with a select",
        {
            "type": "actions",
            "elements": [
                {
                    "type": "static_select",
                    "action_id": "s",
                    "placeholder": plain("Pick one"),
                    "options": [{"text": plain("P1"), "value": "P1"}],
                },
                {"type": "users_select", "action_id": "u", "initial_user": "U0BOB"},
            ],
        },
        ["[Pick one ▾]  [@bob ▾]"],
    ),
    (
        "image",
        {"type": "image", "image_url": "u", "alt_text": "error rate", "title": plain("5xx")},
        ["[image: error rate] 5xx"],
    ),
    (
        "rich_text",
        {
            "type": "rich_text",
            "elements": [
                {
                    "type": "rich_text_section",
                    "elements": [
                        {"type": "text", "text": "ping "},
                        {"type": "user", "user_id": "U0BOB"},
                        {"type": "text", "text": " in "},
                        {"type": "channel", "channel_id": "C0INC"},
                        {"type": "text", "text": " "},
                        {"type": "usergroup", "usergroup_id": "S0SRE"},
                        {"type": "emoji", "name": "eyes"},
                        {"type": "link", "url": "https://x.example", "text": "dash"},
                    ],
                },
                {
                    "type": "rich_text_list",
                    "style": "bullet",
                    "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": "one"}]}],
                },
                {"type": "rich_text_quote", "elements": [{"type": "text", "text": "quoted"}]},
                {"type": "rich_text_preformatted", "elements": [{"type": "text", "text": "code"}]},
            ],
        },
        ["ping @bob in #inc-1-checkout-down @sre:eyes:dash (https://x.example)", "• one", "> quoted", "    code"],
    ),
    (
        "input",
        {
            "type": "input",
            "block_id": "t",
            "label": plain("Title"),
            "element": {"type": "plain_text_input", "action_id": "a", "initial_value": "Checkout down"},
        },
        ["Title: Checkout down"],
    ),
    ("unknown", {"type": "table"}, ["[table block]"]),
]


@pytest.mark.parametrize(("blk", "expected"), [(b, e) for _, b, e in BLOCK_TABLE], ids=[n for n, _, _ in BLOCK_TABLE])
def test_block(blk: dict[str, Any], expected: list[str]) -> None:
    assert render.block(blk, NAMES) == expected


def test_buttons_are_coloured_by_style_on_a_terminal() -> None:
    [line] = render.block({"type": "actions", "elements": [button("Acknowledge", "primary"), button("Update")]}, NAMES, ANSI)
    assert line == "\x1b[1;32m[Acknowledge]\x1b[0m  \x1b[1;34m[Update]\x1b[0m"


def test_message_prefers_blocks_and_falls_back_to_text_and_attachments() -> None:
    assert render.message("fallback", [{"type": "header", "text": plain("H")}], NAMES) == ["H"]
    assert render.message("hi <@U0BOB>", None, NAMES) == ["hi @bob"]
    assert render.message("", None, NAMES, attachments=[{"text": "att <#C0INC>"}]) == ["| att #inc-1-checkout-down"]
    assert render.message("", None, NAMES) == ["(empty message)"]


INPUT_TABLE: list[tuple[str, dict[str, Any], dict[str, Any] | None, list[str]]] = [
    ("text, empty", {"type": "plain_text_input", "action_id": "a"}, None, ["L: —"]),
    (
        "text, placeholder",
        {"type": "plain_text_input", "action_id": "a", "placeholder": plain("e.g. x")},
        None,
        ["L: (e.g. x)"],
    ),
    (
        "text, typed",
        {"type": "plain_text_input", "action_id": "a"},
        {"type": "plain_text_input", "value": "a\nb"},
        ["L: a / b"],
    ),
    (
        "static select",
        {
            "type": "static_select",
            "action_id": "a",
            "options": [{"text": plain("P1 · critical"), "value": "P1"}, {"text": plain("P2"), "value": "P2"}],
            "initial_option": {"text": plain("P1 · critical"), "value": "P1"},
        },
        None,
        ["L: P1 · critical ▾", "  choices: P1 · critical | P2"],
    ),
    (
        "multi select, chosen in state",
        {
            "type": "multi_static_select",
            "action_id": "a",
            "options": [{"text": plain("@sre"), "value": "S1"}, {"text": plain("@ops"), "value": "S2"}],
        },
        {"type": "multi_static_select", "selected_options": [{"text": plain("@ops"), "value": "S2"}]},
        ["L: @ops ▾", "  choices: @sre | @ops"],
    ),
    (
        "checkboxes",
        {"type": "checkboxes", "action_id": "a", "options": [{"text": plain("Private incident"), "value": "private"}]},
        None,
        ["L: [ ] Private incident"],
    ),
    (
        "checkboxes, ticked",
        {"type": "checkboxes", "action_id": "a", "options": [{"text": plain("Remove"), "value": "remove"}]},
        {"type": "checkboxes", "selected_options": [{"text": plain("Remove"), "value": "remove"}]},
        ["L: [x] Remove"],
    ),
    (
        "radio buttons",
        {
            "type": "radio_buttons",
            "action_id": "a",
            "options": [{"text": plain("yes"), "value": "y"}, {"text": plain("no"), "value": "n"}],
            "initial_option": {"text": plain("no"), "value": "n"},
        },
        None,
        ["L: ( ) yes  (o) no"],
    ),
    ("users select", {"type": "users_select", "action_id": "a", "initial_user": "U0ALICE"}, None, ["L: @alice ▾"]),
    (
        "conversations select",
        {"type": "conversations_select", "action_id": "a"},
        {"type": "conversations_select", "selected_conversation": "C0INC"},
        ["L: #inc-1-checkout-down ▾"],
    ),
    ("datepicker", {"type": "datepicker", "action_id": "a", "initial_date": "2025-11-22"}, None, ["L: 2025-11-22"]),
]


@pytest.mark.parametrize(
    ("element", "state", "expected"), [(e, s, x) for _, e, s, x in INPUT_TABLE], ids=[n for n, *_ in INPUT_TABLE]
)
def test_input(element: dict[str, Any], state: dict[str, Any] | None, expected: list[str]) -> None:
    blk = {"type": "input", "block_id": "b", "label": plain("L"), "element": element}
    assert render.input_lines(blk, NAMES, PLAIN, state, None) == expected


def test_input_shows_optional_hint_and_error() -> None:
    blk = {
        "type": "input",
        "block_id": "b",
        "optional": True,
        "label": plain("Days"),
        "hint": plain("0 to 365"),
        "element": {"type": "plain_text_input", "action_id": "a"},
    }
    assert render.input_lines(blk, NAMES, PLAIN, None, "Use a number.") == [
        "Days (optional): —",
        "  0 to 365",
        "  ! Use a number.",
    ]


def test_declare_modal_as_vigil_builds_it() -> None:
    view = declare_modal(title="Checkout down", severity="P1", origin_channel_id="C0INC")
    lines = render.view(view, NAMES, errors={"description": "Too long."})
    assert lines[0] == "Declare an incident"
    assert "Title: Checkout down" in lines
    assert "Severity: P1 · critical, customers down ▾" in lines
    assert "  ! Too long." in lines
    assert "Visibility (optional): [ ] Private incident" in lines
    assert lines[-1] == "[Declare]  [Cancel]"


def test_home_view_as_vigil_builds_it() -> None:
    data = HomeData(
        user_id="U0ALICE",
        is_admin=True,
        incidents=[IncidentLine(1, "Checkout down", "P1", "open", "C0INC", False)],
    )
    lines = render.view(home_view(data), NAMES)
    assert lines[0] == "Vigil incident response"
    assert "[:rotating_light: Declare an incident]" in lines
    assert any(line.startswith("[Overview]  [Tags]") for line in lines)
    assert "P1 · open · #inc-1-checkout-down" in lines
    assert not any(line.startswith("[Declare]") for line in lines)  # no submit row on a Home tab
