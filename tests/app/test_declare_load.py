"""Declarations under load and under a Slack 429/500 storm: unique numbers, one channel each, nothing inconsistent."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot import slack_ids as ids
from bot.clock import FrozenClock
from db.models import SurfaceStep
from db.tags import TECH_INCIDENTS
from tests.app.conftest import ALICE, BOB, DAVE, INCIDENTS_CHANNEL, StartVigil, Vigil
from tests.app.test_declare import declare_values


async def test_fifty_simultaneous_declarations_get_fifty_numbers_and_channels(vigil: Vigil) -> None:
    acks = await asyncio.gather(
        *(
            vigil.emu.send_view_submission(
                user_id=(ALICE, BOB, DAVE)[n % 3], callback_id=ids.VIEW_DECLARE, values=declare_values(f"Outage {n}", "P3")
            )
            for n in range(50)
        )
    )
    assert all(a.acked and a.payload is None for a in acks)
    await vigil.settle(timeout=60)
    incidents = await vigil.incidents()
    assert sorted(i.number for i in incidents) == list(range(1, 51))
    channel_ids = {i.channel_id for i in incidents}
    assert None not in channel_ids and len(channel_ids) == 50
    assert len(vigil.emu.calls_to("conversations.create")) == 50
    names = {vigil.emu.state.channels[c].name for c in channel_ids if c}
    assert names == {f"inc-{i.number}-outage-{i.title.split()[-1]}" for i in incidents}
    assert all(
        i.opening_message_ts and vigil.emu.state.is_pinned(i.channel_id or "", i.opening_message_ts) for i in incidents
    )
    assert len(vigil.emu.state.history("C0INCIDENTS")) == 50


async def test_a_429_and_500_storm_ends_with_every_incident_complete(start_vigil: StartVigil) -> None:
    """Hard 500s on channel creation, posts and topics: the steps are retried (the clock moved by hand) until
    every incident has exactly one channel, its opening message posted once and pinned, its topic and its
    announcement; nothing is duplicated and no channel is orphaned."""
    clock = FrozenClock()
    vigil = await start_vigil(clock=clock)
    await vigil.tag(TECH_INCIDENTS, INCIDENTS_CHANNEL)
    emu = vigil.emu
    for method in ("conversations.create", "conversations.invite", "chat.postMessage", "pins.add", "conversations.setTopic"):
        emu.fail_next(method, error="ratelimited", retry_after=0, times=6)
    emu.fail_next("conversations.create", status=500, error="internal_error", times=2)
    emu.fail_next("chat.postMessage", status=500, error="internal_error", times=3)
    emu.fail_next("conversations.setTopic", status=500, error="internal_error", times=9)
    acks = await asyncio.gather(
        *(
            emu.send_view_submission(user_id=ALICE, callback_id=ids.VIEW_DECLARE, values=declare_values(f"Storm {n}", "P2"))
            for n in range(10)
        )
    )
    assert all(a.acked and a.payload is None for a in acks)
    await vigil.settle(timeout=60)
    for _ in range(10):  # the worker's rounds, each after the longest backoff so far
        clock.advance(minutes=6)
        await vigil.container.incidents.steps.resume_once()
    async with vigil.container.sessions() as session:
        assert (await session.scalars(select(SurfaceStep).where(SurfaceStep.status != "done"))).all() == []

    incidents = await vigil.incidents()
    assert sorted(i.number for i in incidents) == list(range(1, 11))
    created = {c.response["channel"]["id"] for c in emu.calls_to("conversations.create") if c.response.get("ok")}
    assert created == {i.channel_id for i in incidents} and None not in created, "one channel each, no orphan"
    announcements = emu.state.history(INCIDENTS_CHANNEL)
    for inc in incidents:
        channel_id = inc.channel_id or ""
        assert emu.state.channels[channel_id].topic.startswith("🟠 P2 · Open")
        openings = [m for m in emu.state.history(channel_id) if m.metadata and "opening" in str(m.metadata)]
        assert [m.ts for m in openings] == [inc.opening_message_ts], "the opening message posted once"
        assert emu.state.is_pinned(channel_id, inc.opening_message_ts or "")
        assert [m.ts for m in announcements if f"INC-{inc.number} " in m.text] == [inc.announcement_ts]
    # The 500s really happened, so the test exercised the failure paths.
    assert any(c.status == 500 for c in emu.calls_to("conversations.setTopic"))
    assert any(c.status == 500 for c in emu.calls_to("conversations.create"))
