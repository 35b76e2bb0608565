"""The Slack door's rules, through Socket Mode: user text never becomes a Slack control sequence, numbers from
payloads are bounded, one form opens one incident, the update modal is one change, a commander is a person, a member
who left loses access even when Slack's event was lost, and a usage reply never waits on the database."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from bot import slack_ids as ids
from bot.clock import FrozenClock
from bot.incidents.states import Severity, Status
from db.models import Incident
from db.tags import DEV_FIREFIGHTER, IT_DEPLOY
from tests.app.conftest import ALICE, BOB, DAVE, GENERAL, INCIDENTS_CHANNEL, StartVigil, Vigil
from tests.app.test_declare import declare
from tests.app.test_work import say

HOSTILE_TITLE = "<!channel> db down <https://evil.example|status page>"
HOSTILE_TEXT = "<!everyone> all hands <!subteam^S0SRE> now"
CONTROL = ("<!channel>", "<!everyone>", "<!here>", "<https://evil", "<!subteam")


def _parsed_text(value: Any) -> Any:
    """The call's arguments without plain_text objects (Slack never parses mentions or links in those)."""
    if isinstance(value, dict):
        if value.get("type") == "plain_text":
            return None
        return {k: _parsed_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_parsed_text(v) for v in value]
    return value


def _said(vigil: Vigil, *methods: str) -> list[str]:
    return [json.dumps(_parsed_text(c.args)) for m in methods for c in vigil.emu.calls_to(m)]


async def test_user_text_goes_out_escaped_everywhere(vigil: Vigil) -> None:
    await vigil.tag(IT_DEPLOY, GENERAL)
    incident = await declare(vigil, HOSTILE_TITLE, "P1", description=HOSTILE_TEXT)
    await say(vigil, f"{incident.number} note {HOSTILE_TEXT}")
    await say(vigil, f"{incident.number} resolve <!here> fixed it")
    await say(vigil, f"{incident.number} postmortem")
    await say(vigil, f"{incident.number} close")

    out = _said(vigil, "chat.postMessage", "chat.update", "chat.postEphemeral", "conversations.setTopic")
    leaks = [text for text in out if any(seq in text for seq in CONTROL)]
    assert leaks == []
    # Posted verbatim: the reader sees what was typed.
    opening = next(c for c in vigil.emu.calls_to("chat.postMessage") if c.args.get("channel") == incident.channel_id)
    assert "&lt;!channel&gt; db down &lt;https://evil.example|status page&gt;" in opening.args["text"]
    assert "&lt;!everyone&gt;" in json.dumps(opening.args["blocks"])
    posts = vigil.emu.calls_to("chat.postMessage")
    announced = [c for c in posts if c.args.get("channel") == INCIDENTS_CHANNEL and not c.args.get("thread_ts")]
    warned = [c for c in posts if c.args.get("channel") == GENERAL and c.args.get("blocks")]
    assert announced and warned
    assert all("&lt;!channel&gt;" in json.dumps(c.args["blocks"]) for c in [*announced, *warned])
    [resolved] = [c for c in posts if c.args.get("thread_ts") == incident.announcement_ts]  # in its thread
    assert "&lt;!here&gt; fixed it" in resolved.args["text"]
    topics = [c.args["topic"] for c in vigil.emu.calls_to("conversations.setTopic")]
    assert "&lt;!here&gt; fixed it" in topics[-1]
    timeline = await say(vigil, f"{incident.number} timeline")
    assert "<!everyone>" not in timeline and "&lt;!everyone&gt;" in timeline


@pytest.mark.parametrize("value", ["²", "2147483648", "99999999999999999999", "-1", "1e3", ""])
async def test_numbers_in_payloads_are_bounded(vigil: Vigil, value: str) -> None:
    incident = await declare(vigil, "Bounded", "P3")
    before = len(vigil.emu.responses_for(ALICE))
    ack = await vigil.emu.send_block_action(
        user_id=ALICE, action_id=ids.ACTION_ACK, value=value, channel_id=incident.channel_id
    )
    assert ack.acked
    await vigil.settle()
    replies = " ".join(r.text for r in vigil.emu.responses_for(ALICE)[before:])
    assert "must be a whole number" in replies and "Something went wrong" not in replies
    [row] = await vigil.incidents()
    assert row.acknowledged_at is None


async def test_update_form_with_a_forged_number_is_answered_under_a_field(vigil: Vigil) -> None:
    incident = await declare(vigil, "Forged form", "P3")
    await vigil.command("update", user=ALICE, channel=incident.channel_id or "")
    modal = await vigil.emu.wait_until(lambda: vigil.emu.state.top_modal(ALICE), what="the update modal")
    values = vigil.emu.form_values(ALICE, {"Title": "Renamed"}, view_id=modal.id)
    meta = json.dumps({"incident_id": incident.id, "number": "²", "channel_id": incident.channel_id})
    ack = await vigil.emu.send_view_submission(user_id=ALICE, view_id=modal.id, values=values, private_metadata=meta)
    assert ack.payload == {
        "response_action": "errors",
        "errors": {ids.BLOCK_TITLE: "This form is out of date; open it again."},
    }
    assert (await vigil.incidents())[0].title == "Forged form"


async def test_the_same_form_submitted_twice_at_once_opens_one_incident(vigil: Vigil) -> None:
    await vigil.command("open P2", user=BOB, channel=GENERAL)
    modal = await vigil.emu.wait_until(lambda: vigil.emu.state.top_modal(BOB), what="the declare modal")
    values = vigil.emu.form_values(BOB, {"Title": "Double click"}, view_id=modal.id)
    acks = await asyncio.gather(
        *(vigil.emu.send_view_submission(user_id=BOB, view_id=modal.id, values=values) for _ in range(2))
    )
    assert all(a.acked and a.payload is None for a in acks)
    await vigil.settle()
    assert [i.title for i in await vigil.incidents()] == ["Double click"]
    assert len(vigil.emu.calls_to("conversations.create")) == 1


async def _submit_update(vigil: Vigil, incident: Incident, answers: dict[str, Any]) -> None:
    await vigil.command("update", user=ALICE, channel=incident.channel_id or "")
    modal = await vigil.emu.wait_until(lambda: vigil.emu.state.top_modal(ALICE), what="the update modal")
    values = vigil.emu.form_values(ALICE, answers, view_id=modal.id)
    ack = await vigil.emu.send_view_submission(user_id=ALICE, view_id=modal.id, values=values)
    assert ack.acked and not ack.limit_errors
    await vigil.settle()


async def test_the_update_modal_is_one_change(vigil: Vigil) -> None:
    incident = await declare(vigil, "Slow checkout", "P3")
    channel = incident.channel_id
    posts_before = len([c for c in vigil.emu.calls_to("chat.postMessage") if c.args.get("channel") == channel])
    updates_before = len(vigil.emu.calls_to("chat.update"))
    topics_before = len(vigil.emu.calls_to("conversations.setTopic"))

    await _submit_update(vigil, incident, {"Title": "Checkout down", "Severity": "P2", "Commander": DAVE})

    [row] = await vigil.incidents()
    assert (row.title, row.severity, row.commander_id) == ("Checkout down", "P2", DAVE)
    lines = [c for c in vigil.emu.calls_to("chat.postMessage") if c.args.get("channel") == channel][posts_before:]
    assert len(lines) == 1
    assert "Checkout down" in lines[0].args["text"] and "P3 → P2" in lines[0].args["text"]
    assert f"<@{DAVE}>" in lines[0].args["text"]
    opening_updates = [c for c in vigil.emu.calls_to("chat.update")[updates_before:] if c.args.get("channel") == channel]
    assert len(opening_updates) == 1
    assert len(vigil.emu.calls_to("conversations.setTopic")) == topics_before + 1


@pytest.mark.parametrize("kind", ["bot", "deactivated"])
async def test_the_update_modal_refuses_a_commander_who_is_not_a_person(vigil: Vigil, kind: str) -> None:
    vigil.emu.add_user("U0NOTAPERSON", "robo", is_bot=kind == "bot", deleted=kind == "deactivated")
    incident = await declare(vigil, "Who leads", "P3")
    await _submit_update(vigil, incident, {"Title": "Who leads now", "Commander": "U0NOTAPERSON"})
    [row] = await vigil.incidents()
    assert (row.title, row.commander_id) == ("Who leads", ALICE)
    told = [c.args["text"] for c in vigil.emu.calls_to("chat.postMessage") if c.args.get("channel") == ALICE]
    assert any("cannot lead an incident" in t for t in told)


async def test_a_member_who_left_loses_access_when_the_event_was_lost(start_vigil: StartVigil) -> None:
    clock = FrozenClock()
    vigil = await start_vigil(clock=clock)
    declaration = await vigil.container.incidents.declare(
        team_id=vigil.team_id, reporter_id=DAVE, title="Leaked key", severity=Severity.P2, private=True
    )
    incident = declaration.incident
    assert incident.channel_id
    await vigil.emu.user_joins(BOB, incident.channel_id, inviter=DAVE)
    await vigil.settle()
    assert "Leaked key" in await say(vigil, f"{incident.number} status", user=BOB)

    # Bob leaves, and Slack's member_left_channel event never reaches Vigil.
    vigil.emu.state.channels[incident.channel_id].members.remove(BOB)
    clock.advance(minutes=2)
    answer = await say(vigil, f"{incident.number} status", user=BOB)
    assert "not found" in answer and "Leaked key" not in answer


async def test_usage_replies_do_not_wait_on_the_database(vigil: Vigil) -> None:
    await vigil.tag(DEV_FIREFIGHTER, INCIDENTS_CHANNEL)
    first = await say(vigil, "help")  # the first one may look the help channel up, after the ack
    assert f"<#{INCIDENTS_CHANNEL}>" in first

    def broken() -> Any:
        raise ConnectionError("database unreachable")

    vigil.container.queries.sessions = broken  # type: ignore[assignment]
    ack = await vigil.command("frobnicate", user=BOB)
    assert "frobnicate" in ack.text and f"<#{INCIDENTS_CHANNEL}>" in ack.text
    ack = await vigil.command("help", user=BOB)
    assert "/incident" in ack.text and f"<#{INCIDENTS_CHANNEL}>" in ack.text
    await vigil.settle()


async def test_moves_refused_by_the_state_table_name_reopen(vigil: Vigil) -> None:
    incident = await declare(vigil, "Resolved already", "P3")
    await vigil.container.incidents.move(incident, actor_id=ALICE, target=Status.RESOLVED, source="slack")
    answer = await say(vigil, f"{incident.number} investigating")
    assert "reopen" in answer
    assert (await vigil.incidents())[0].status == "resolved"
