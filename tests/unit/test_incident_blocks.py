"""What Vigil writes in an incident's channel and the announcement channel, as pure functions: the pinned opening
message (buttons by status, what it says at a glance, empty fields left out), the topic, the change lines, the
announcement and its thread, the declarer's confirmation. User text reaches Slack escaped: every `<` Vigil writes
opens a mention, a channel, a date or a link it made itself."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import slack_ids as ids
from bot.blocks.incident import (
    announcement_blocks,
    change_line,
    confirmation_blocks,
    duration,
    opening_blocks,
    thread_reply,
    topic,
)
from bot.emulator import check_message_blocks
from bot.incidents.ports import CardLink, CardNote, IncidentCard, Note
from tests.mrkdwn import misread, mrkdwn_texts
from tests.unit.test_opening_missing import CARD as BASE

AT = datetime(2026, 1, 5, 3, 0, tzinfo=UTC)
ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"
NAMES = {ALICE: "alice", BOB: "bob", CAROL: "carol"}
CARD = replace(
    BASE,
    severity="P1",
    description="Card payments fail with HTTP 500\nsince the 12:00 deploy",
    created_at=AT,
    last_update_at=AT,
    names=NAMES,
)


def buttons(blocks: list[dict[str, Any]]) -> list[str]:
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


def field_texts(blocks: list[dict[str, Any]]) -> list[str]:
    return [f["text"] for b in blocks for f in b.get("fields", [])]


# ---------------------------------------------------------------- the pinned opening message


@pytest.mark.parametrize(
    ("status", "severity", "expected"),
    [
        ("open", "P1", [ids.ACTION_ACK, ids.ACTION_PAGE, ids.ACTION_UPDATE]),
        ("investigating", "P1", [ids.ACTION_NOTE, ids.ACTION_RESOLVE, ids.ACTION_UPDATE]),
        ("mitigating", "P3", [ids.ACTION_NOTE, ids.ACTION_RESOLVE, ids.ACTION_UPDATE]),
        ("resolved", "P1", [ids.ACTION_POSTMORTEM, ids.ACTION_REOPEN]),  # a P1 owes its postmortem: no Close
        ("resolved", "P3", [ids.ACTION_POSTMORTEM, ids.ACTION_REOPEN, ids.ACTION_CLOSE]),
        ("postmortem", "P2", [ids.ACTION_REOPEN, ids.ACTION_CLOSE]),
        ("closed", "P1", []),
    ],
)
def test_the_buttons_follow_the_status(status: str, severity: str, expected: list[str]) -> None:
    blocks = opening_blocks(replace(CARD, status=status, severity=severity))
    assert buttons(blocks) == expected
    elements = {e["action_id"]: e for b in blocks if b["type"] == "actions" for e in b["elements"]}
    if ids.ACTION_PAGE in elements:  # red, and asks first
        assert elements[ids.ACTION_PAGE]["style"] == "danger" and elements[ids.ACTION_PAGE]["confirm"]
    if ids.ACTION_CLOSE in elements:
        assert elements[ids.ACTION_CLOSE]["confirm"]["confirm"]["text"] == "Close"
    assert all(e["value"] == "7" for e in elements.values())
    assert check_message_blocks(blocks) == []


def test_it_says_where_things_stand_at_a_glance() -> None:
    card = replace(
        CARD,
        status="mitigating",
        commander_id=BOB,
        component="Payments",
        acknowledged_at=AT + timedelta(minutes=3),
        acknowledged_by=CAROL,
        last_update_at=AT + timedelta(minutes=20),
        latest_note=CardNote(text="rolled back deploy 4411", at=AT + timedelta(minutes=20), author_id=CAROL),
        links=(CardLink("Jira OPS-12", "https://acme.atlassian.net/browse/OPS-12"),),
    )
    blocks = opening_blocks(card)
    assert blocks[0]["text"]["text"] == ":red_circle: P1 · INC-7 · Checkout down"  # severity in the header
    assert field_texts(blocks) == [
        "*Status*\n:hammer_and_wrench: Mitigating",
        "*Commander*\n@bob",
        "*Reporter*\n@alice",
        "*Component*\nPayments",
        "*Acknowledged*\n@carol after 3 m",
    ]
    texts = mrkdwn_texts(blocks)
    created, updated = int(AT.timestamp()), int((AT + timedelta(minutes=20)).timestamp())
    assert f"*Latest note* · @carol · <!date^{updated}^{{ago}}|2026-01-05 03:20 UTC>\nrolled back deploy 4411" in texts
    assert (
        f"Declared <!date^{created}^{{ago}}|2026-01-05 03:00 UTC> · acked after 3 m · "
        f"last update <!date^{updated}^{{ago}}|2026-01-05 03:20 UTC>"
    ) in texts
    assert ":link: <https://acme.atlassian.net/browse/OPS-12|Jira OPS-12>" in texts
    assert check_message_blocks(blocks) == []


def test_empty_fields_are_left_out() -> None:
    blocks = opening_blocks(replace(CARD, description="", commander_id=ALICE, reporter_id=ALICE))
    assert field_texts(blocks) == ["*Status*\n:rotating_light: Open", "*Commander*\n@alice"]  # no Reporter, no Component
    assert "—" not in str(blocks) and "Latest note" not in str(blocks) and ":link:" not in str(blocks)
    [glance] = [t for t in mrkdwn_texts(blocks) if t.startswith("Declared")]
    assert glance.endswith(" · not acknowledged yet") and "last update" not in glance  # nothing since declared


def test_people_the_directory_does_not_know_are_mentioned() -> None:
    blocks = opening_blocks(replace(CARD, names={}, commander_id=BOB))
    assert field_texts(blocks)[1:] == [f"*Commander*\n<@{BOB}>", f"*Reporter*\n<@{ALICE}>"]


def test_links_are_escaped_and_bounded() -> None:
    links = (
        CardLink("<!channel> & co", "https://ok.example/a?b=1&c=2"),
        CardLink("broken", "https://evil.example/|<!here>"),
        CardLink("javascript", "javascript:alert(1)"),
        *(CardLink(f"Ticket {n}", f"https://t.example/{'x' * 200}/{n}") for n in range(40)),
    )
    blocks = opening_blocks(replace(CARD, links=links))
    [row] = [t for t in mrkdwn_texts(blocks) if t.startswith(":link:")]
    assert row.startswith(":link: <https://ok.example/a?b=1&amp;c=2|&lt;!channel&gt; &amp; co> · broken · javascript")
    assert len(row) <= 3000 and misread(row) == []
    assert check_message_blocks(blocks) == []


# ---------------------------------------------------------------- the topic and the lines in the channel


@pytest.mark.parametrize(
    ("card", "expected"),
    [
        (replace(CARD, status="mitigating", commander_id=BOB), "🔴 P1 · Mitigating · IC @bob"),
        (replace(CARD, severity="P3", status="open"), "🟡 P3 · Open · IC @alice"),
        (replace(CARD, names={}), f"🔴 P1 · Open · IC <@{ALICE}>"),
        (replace(CARD, commander_id=None), "🔴 P1 · Open · no IC"),
        (replace(CARD, status="closed", resolution="Rolled back <!here>"), "Rolled back &lt;!here&gt;"),
        (replace(CARD, status="closed", closure_reason="duplicate"), "duplicate"),
    ],
)
def test_the_topic_is_readable(card: IncidentCard, expected: str) -> None:
    assert topic(card) == expected


@pytest.mark.parametrize(
    ("actor", "notes", "expected"),
    [
        (CAROL, [Note("note", "rolled back deploy 4411")], ":memo: @carol: rolled back deploy 4411"),
        (ALICE, [Note("ack", "Acknowledged")], ":eyes: @alice: Acknowledged"),
        (
            ALICE,
            [Note("status", "Status open → mitigating", {"from": "open", "to": "mitigating"})],
            ":hammer_and_wrench: @alice: Status open → mitigating",
        ),
        (
            ALICE,
            [Note("severity", "Severity P1 → P2", {"from": "P1", "to": "P2"}), Note("title", "Title changed to “x”")],
            ":large_orange_circle: @alice: Severity P1 → P2; Title changed to “x”",
        ),
        # A new commander someone else named hears of it; the one who acted never does.
        (
            ALICE,
            [Note("commander", "Commander changed", {"from": ALICE, "to": BOB})],
            f":bust_in_silhouette: @alice: Commander @alice → <@{BOB}>",
        ),
        (
            BOB,
            [Note("commander", "Commander changed", {"from": ALICE, "to": BOB})],
            ":bust_in_silhouette: @bob: Commander @alice → @bob",
        ),
        (None, [Note("status", "Status open → resolved", {"from": "open", "to": "resolved"})], ""),
        ("U0STRANGER", [Note("ack", "Acknowledged")], ":eyes: Acknowledged"),  # unknown: not named, not pinged
    ],
)
def test_one_change_one_line_naming_who_acted_without_pinging_them(
    actor: str | None, notes: list[Note], expected: str
) -> None:
    line = change_line(actor_id=actor, notes=notes, names=NAMES)
    if actor is None:
        assert line == ":white_check_mark: Status open → resolved"
    else:
        assert line == expected
        assert f"<@{actor}>" not in line


# ---------------------------------------------------------------- the announcement and its thread


def test_the_announcement_says_what_is_down_and_where_to_join() -> None:
    blocks = announcement_blocks(replace(CARD, status="mitigating", commander_id=BOB))
    [text] = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert text.splitlines() == [
        ":red_circle: *P1 · INC-7 · Checkout down*",
        "_Impact:_ Card payments fail with HTTP 500",
        ":hammer_and_wrench: Mitigating · IC @bob · <#C0INC>",
    ]
    assert buttons(blocks) == [ids.ACTION_JOIN]
    assert check_message_blocks(blocks) == []


@pytest.mark.parametrize("status", ["resolved", "postmortem", "closed"])
def test_a_resolved_announcement_opens_with_how_long_it_lasted(status: str) -> None:
    card = replace(CARD, status=status, resolved_at=AT + timedelta(minutes=14), resolution="Rolled back")
    blocks = announcement_blocks(card)
    [text] = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    lines = text.splitlines()
    assert lines[0] == ":white_check_mark: *Resolved after 14 m* · P1 · INC-7 · Checkout down"
    assert lines[1:3] == ["_Impact:_ Card payments fail with HTTP 500", "_Resolution:_ Rolled back"]
    assert buttons(blocks) == [ids.ACTION_JOIN]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Note("escalated", "", {"from": "P2", "to": "P1"}), ":arrow_up: INC-7 escalated to :red_circle: *P1* (was P2)"),
        (
            Note("downgraded", "", {"from": "P1", "to": "P2"}),
            ":arrow_down: INC-7 downgraded to :large_orange_circle: *P2* (was P1)",
        ),
        (
            Note("resolved", "Rolled back <!channel>", {"after": 14 * 60 + 30}),
            ":white_check_mark: INC-7 resolved after 14 m: Rolled back &lt;!channel&gt;",
        ),
        (Note("resolved", "", {"after": None}), ":white_check_mark: INC-7 resolved"),
        (Note("reopened", "errors are back", {}), ":repeat: INC-7 reopened: errors are back"),
    ],
)
def test_thread_replies(reply: Note, expected: str) -> None:
    assert thread_reply(CARD, reply) == expected


def test_the_declarers_confirmation_offers_paging_and_a_hand_off() -> None:
    blocks = confirmation_blocks(CARD)
    assert mrkdwn_texts(blocks)[0] == ":rotating_light: INC-7 declared: <#C0INC>"
    assert buttons(blocks) == [ids.ACTION_PAGE, ids.ACTION_HANDOFF]
    assert check_message_blocks(blocks) == []


@pytest.mark.parametrize(
    ("seconds", "said"),
    [(0, "1 m"), (59, "1 m"), (14 * 60 + 59, "14 m"), (3600, "1 h"), (2 * 3600 + 300, "2 h 5 m"), (3 * 86400, "3 d")],
)
def test_durations(seconds: float, said: str) -> None:
    assert duration(seconds) == said


# ---------------------------------------------------------------- no user text breaks out


PIECES = [*"<>&|!@#^*_~`:;abc \n", "<!channel>", "<!here>", "<@U0BOB>", "<#C0X>", "<http://x|y>", "&lt;", "&amp;"]
hostile = st.lists(st.sampled_from(PIECES), max_size=30).map("".join)


@given(title=hostile, description=hostile, note=hostile, resolution=hostile, name=hostile, label=hostile)
def test_no_unescaped_angle_bracket_in_anything_vigil_writes(
    title: str, description: str, note: str, resolution: str, name: str, label: str
) -> None:
    card = replace(
        CARD,
        title=title or "x",
        description=description,
        component=label,
        resolution=resolution,
        latest_note=CardNote(text=note, at=AT, author=name),
        links=(CardLink(label, "https://t.example/1"),),
        names={ALICE: name, BOB: name},
        commander_id=BOB,
    )
    texts: list[str] = []
    for status in ("open", "resolved", "closed"):
        shown = replace(card, status=status, resolved_at=AT)
        texts += mrkdwn_texts(opening_blocks(shown)) + mrkdwn_texts(announcement_blocks(shown)) + [topic(shown)]
    texts.append(change_line(actor_id=ALICE, notes=[Note("note", note)], names=card.names))
    texts.append(thread_reply(card, Note("resolved", resolution, {"after": 60})))
    for text in texts:
        assert misread(text) == [], text
        assert "<!channel>" not in text and "<!here>" not in text
