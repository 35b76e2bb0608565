"""When Slack fails a step of an incident: a final error is named on the pinned opening message with Retry (admins
and the commander), a passing one is retried by the step worker with backoff until it is done."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from sqlalchemy import select

from bot import slack_ids as ids
from bot.clock import FrozenClock
from bot.incidents.steps import PIN_OPENING, SET_TOPIC, retryable
from db.models import Incident, SurfaceStep
from tests.app.conftest import ALICE, BOB, DAVE, GENERAL, StartVigil, Vigil
from tests.app.test_declare import calls, declare

BUTTONS = [ids.ACTION_ACK, ids.ACTION_PAGE, ids.ACTION_UPDATE]  # an open incident's
FINAL = "not_in_channel"


def opening(vigil: Vigil, incident: Incident) -> list[dict[str, Any]]:
    """The opening message's blocks as Slack holds them now."""
    message = vigil.emu.state.find_message(incident.channel_id or "", incident.opening_message_ts or "")
    assert message is not None
    return list(message.blocks or [])


def warning_of(blocks: list[dict[str, Any]]) -> str | None:
    texts = [str(b.get("text", {}).get("text", "")) for b in blocks if b["type"] == "section"]
    return next((t for t in texts if t.startswith(":warning:")), None)


def retry_values(blocks: list[dict[str, Any]]) -> list[str]:
    elements = [b["accessory"] for b in blocks if isinstance(b.get("accessory"), dict)]
    elements += [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    return [str(e.get("value")) for e in elements if e.get("action_id") == ids.ACTION_REPAIR]


async def press_retry(vigil: Vigil, incident: Incident, user: str) -> list[str]:
    """`user` presses Retry on the opening message; what they were told."""
    before = len(vigil.emu.responses_for(user))
    ack = await vigil.emu.send_block_action(
        user_id=user,
        action_id=ids.ACTION_REPAIR,
        channel_id=incident.channel_id,
        message_ts=incident.opening_message_ts,
    )
    assert ack.acked
    await vigil.settle()
    return [r.text for r in vigil.emu.responses_for(user)[before:]]


async def steps_of(vigil: Vigil, incident: Incident, kind: str) -> list[tuple[str, int, str | None]]:
    async with vigil.container.sessions() as session:
        rows = await session.scalars(
            select(SurfaceStep)
            .where(SurfaceStep.incident_id == incident.id, SurfaceStep.kind == kind)
            .order_by(SurfaceStep.id)
        )
        return [(s.status, s.attempts, s.error) for s in rows]


async def declare_with_a_failed_pin(vigil: Vigil, *, user: str) -> Incident:
    assert not retryable(FINAL)  # Slack would answer the same again: the step fails at once
    vigil.emu.fail_next("pins.add", error=FINAL)
    incident = await declare(vigil, "Checkout down", "P2", user=user)
    assert incident.channel_id and incident.opening_message_ts
    assert not vigil.emu.state.is_pinned(incident.channel_id, incident.opening_message_ts)
    assert await steps_of(vigil, incident, PIN_OPENING) == [("failed", 1, FINAL)]
    return incident


@pytest.mark.parametrize(
    ("declarer", "presser"),
    [
        pytest.param(ALICE, ALICE, id="the commander, an admin"),
        pytest.param(DAVE, DAVE, id="the commander, not an admin"),
        pytest.param(DAVE, ALICE, id="an admin, not the commander"),
    ],
)
async def test_a_failed_pin_is_shown_with_retry_and_retry_pins_it(vigil: Vigil, declarer: str, presser: str) -> None:
    incident = await declare_with_a_failed_pin(vigil, user=declarer)
    channel, ts = incident.channel_id or "", incident.opening_message_ts or ""

    blocks = opening(vigil, incident)
    assert warning_of(blocks) == (
        f":warning: Vigil could not: pin the opening message. Retry, or run `vigil incidents repair {incident.number}`."
    )
    assert retry_values(blocks) == [str(incident.number)]
    actions = next(b for b in blocks if b["type"] == "actions")
    assert [e["action_id"] for e in actions["elements"]] == BUTTONS
    told = [e.text for e in vigil.emu.state.ephemerals_for(declarer, GENERAL)]
    assert any("pin the opening message" in text for text in told), told

    # Neither an admin nor the commander: refused by the app's one error handler, and nothing happens.
    refused = await press_retry(vigil, incident, BOB)
    assert refused == [f":warning: Only admins and INC-{incident.number}'s commander can retry its Slack steps."]
    assert len(calls(vigil.emu, "pins.add")) == 1
    assert not vigil.emu.state.is_pinned(channel, ts)
    assert warning_of(opening(vigil, incident)) is not None
    assert await steps_of(vigil, incident, PIN_OPENING) == [("failed", 1, FINAL)]

    told = await press_retry(vigil, incident, presser)
    assert told == [f":white_check_mark: All of INC-{incident.number}'s Slack steps are done now."]
    [_, pin] = calls(vigil.emu, "pins.add")
    assert (pin.args["channel"], pin.args["timestamp"]) == (channel, ts)
    assert vigil.emu.state.is_pinned(channel, ts)
    blocks = opening(vigil, incident)
    assert warning_of(blocks) is None and retry_values(blocks) == []
    assert [e["action_id"] for e in next(b for b in blocks if b["type"] == "actions")["elements"]] == BUTTONS
    assert [status for status, _, _ in await steps_of(vigil, incident, PIN_OPENING)] == ["done"]


async def test_a_retry_that_fails_again_says_so_and_keeps_the_warning(vigil: Vigil) -> None:
    incident = await declare_with_a_failed_pin(vigil, user=ALICE)
    vigil.emu.fail_next("pins.add", error=FINAL)

    told = await press_retry(vigil, incident, ALICE)
    assert told == [
        f":warning: INC-{incident.number}: still failing: pin the opening message ({FINAL}). "
        f"Retry later, or ask an operator to run `vigil incidents repair {incident.number}`."
    ]
    assert len(calls(vigil.emu, "pins.add")) == 2
    assert not vigil.emu.state.is_pinned(incident.channel_id or "", incident.opening_message_ts or "")
    blocks = opening(vigil, incident)
    assert "pin the opening message" in (warning_of(blocks) or "")
    assert retry_values(blocks) == [str(incident.number)]
    assert await steps_of(vigil, incident, PIN_OPENING) == [("failed", 1, FINAL)]


async def test_a_retry_of_an_unknown_incident_is_not_found(vigil: Vigil) -> None:
    incident = await declare_with_a_failed_pin(vigil, user=ALICE)
    before = len(vigil.emu.responses_for(ALICE))
    ack = await vigil.emu.send_block_action(
        user_id=ALICE,
        action_id=ids.ACTION_REPAIR,
        value="99",
        channel_id=incident.channel_id,
        message_ts=incident.opening_message_ts,
    )
    assert ack.acked
    await vigil.settle()
    assert [r.text for r in vigil.emu.responses_for(ALICE)[before:]] == [":warning: INC-99 not found."]
    assert len(calls(vigil.emu, "pins.add")) == 1


async def by_hand(vigil: Vigil) -> None:
    """Stop the background step worker, so the test alone decides when a round runs (its clock never moves)."""
    task = vigil.runtime.steps_task
    assert task is not None
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    vigil.runtime.steps_task = None


async def test_a_topic_slack_refuses_for_a_while_is_retried_with_backoff_until_set(start_vigil: StartVigil) -> None:
    clock = FrozenClock()
    vigil = await start_vigil(clock=clock)
    await by_hand(vigil)
    resume = vigil.container.incidents.steps.resume_once
    assert retryable("internal_error")
    # Each attempt of the step is three tries by the Slack adapter; two attempts fail, the third gets through.
    vigil.emu.fail_next("conversations.setTopic", error="internal_error", status=500, times=6)

    incident = await declare(vigil, "Search slow", "P3")
    channel = vigil.emu.state.channels[incident.channel_id or ""]
    expected = "🟡 P3 · Open · IC @alice"
    assert channel.topic != expected
    assert len(calls(vigil.emu, "conversations.setTopic")) == 3
    assert await steps_of(vigil, incident, SET_TOPIC) == [("pending", 1, "internal_error")]

    assert await resume() == 0  # the first retry waits 1 s
    clock.advance(seconds=1)
    assert await resume() == 1
    assert len(calls(vigil.emu, "conversations.setTopic")) == 6 and channel.topic != expected
    assert await steps_of(vigil, incident, SET_TOPIC) == [("pending", 2, "internal_error")]

    clock.advance(seconds=4)
    assert await resume() == 0  # the second waits 5 s
    clock.advance(seconds=1)
    assert await resume() == 1
    assert len(calls(vigil.emu, "conversations.setTopic")) == 7
    assert channel.topic == expected
    assert await steps_of(vigil, incident, SET_TOPIC) == [("done", 2, None)]

    assert warning_of(opening(vigil, incident)) is None and retry_values(opening(vigil, incident)) == []
    assert not any("could not" in e.text for e in vigil.emu.state.ephemerals_for(ALICE))
    assert await resume() == 0
