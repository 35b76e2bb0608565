"""Slow load and fault tests (`pytest -m slow`, their own CI step)."""

from __future__ import annotations

import asyncio

import pytest

from bot import slack_ids as ids
from tests.app.conftest import ALICE, BOB, DAVE, Vigil
from tests.app.test_declare import declare_values
from tests.app.test_durable_steps import poll

pytestmark = pytest.mark.slow


async def test_two_hundred_declarations_under_rate_limits(vigil: Vigil) -> None:
    """200 at once while Slack rate-limits channel creation and posting: every one gets its number and channel."""
    for method in ("conversations.create", "chat.postMessage", "conversations.invite"):
        vigil.emu.fail_next(method, error="ratelimited", retry_after=0, times=40)
    acks = await asyncio.gather(
        *(
            vigil.emu.send_view_submission(
                user_id=(ALICE, BOB, DAVE)[n % 3], callback_id=ids.VIEW_DECLARE, values=declare_values(f"Load {n}", "P3")
            )
            for n in range(200)
        )
    )
    assert all(a.acked and a.payload is None for a in acks)
    await vigil.settle(timeout=240)
    incidents = await vigil.incidents()
    assert sorted(i.number for i in incidents) == list(range(1, 201))

    async def surfaced() -> bool:
        # On a busy machine some runs find the connection pool exhausted by the burst; their steps are left to the
        # worker, which takes them up when their lease (20 s) ends: late, never lost.
        incidents[:] = await vigil.incidents()
        return all(i.channel_id and i.opening_message_ts for i in incidents)

    await poll(surfaced, timeout=90, interval=0.5, what="every incident's channel and opening message")
    assert len({i.channel_id for i in incidents}) == 200


async def test_unacked_events_are_redelivered_and_handled_once(vigil: Vigil) -> None:
    """Vigil's socket drops mid-stream; Slack's redelivery of the same event_id is handled once."""
    event = {
        "type": "member_joined_channel",
        "user": BOB,
        "channel": "C0GENERAL",
        "channel_type": "C",
        "team": vigil.team_id,
    }
    assert vigil.runtime.slack_app is not None
    vigil.runtime.slack_app.in_flight.draining = True  # refuses (does not ack) events, like a replica shutting down
    first = await vigil.emu.send_event(event, event_id="Ev0REDELIVER")
    assert not first.acked
    vigil.runtime.slack_app.in_flight.draining = False
    await vigil.emu.wait_until(lambda: len(vigil.emu.deliveries_of("Ev0REDELIVER")) >= 2, timeout=15, what="redelivery")
    await vigil.wait_handled("event", "member_joined_channel", timeout=15)
    await vigil.settle()
    assert vigil.handled("event", "member_joined_channel") == 1
