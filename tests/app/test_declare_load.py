"""Declarations under load and under a Slack 429/500 storm: unique numbers, one channel each, nothing inconsistent."""

from __future__ import annotations

import asyncio

from bot import slack_ids as ids
from db.incidents import timeline_of
from db.models import Incident
from tests.app.conftest import ALICE, BOB, DAVE, Vigil
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


async def test_a_429_and_500_storm_leaves_every_incident_consistent(vigil: Vigil) -> None:
    emu = vigil.emu
    # Rate limits everywhere (retried after Retry-After), plus hard 500s on some steps.
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

    incidents = await vigil.incidents()
    assert sorted(i.number for i in incidents) == list(range(1, 11))
    created = {c.response["channel"]["id"] for c in emu.calls_to("conversations.create") if c.response.get("ok")}
    # Every channel Slack created belongs to exactly one incident, and no incident has a channel Slack lacks.
    assert created == {i.channel_id for i in incidents if i.channel_id}
    with_failures = 0
    async with vigil.container.sessions() as session:
        for inc in incidents:
            row = await session.get(Incident, inc.id)
            assert row is not None
            failures = [e.text for e in await timeline_of(session, row) if e.kind == "step_failed"]
            if inc.channel_id is None:
                assert any("create the incident channel" in f for f in failures), failures
                continue
            channel = emu.state.channels[inc.channel_id]
            topic_ok = channel.topic.startswith("P2 | open")
            assert topic_ok or any("set the channel topic" in f for f in failures), (inc.number, failures)
            posted = inc.opening_message_ts is not None
            assert posted == (emu.state.find_message(inc.channel_id, inc.opening_message_ts or "") is not None)
            assert posted or any("post the opening message" in f for f in failures)
            if posted:
                assert emu.state.is_pinned(inc.channel_id, inc.opening_message_ts or "") or any("pin" in f for f in failures)
            announced = inc.announcement_ts is not None
            assert announced or any("announce" in f for f in failures)
            if failures:
                with_failures += 1
                told = [e.text for e in emu.state.ephemerals_for(ALICE)] + [
                    m.text for ch in emu.state.channels.values() if ch.is_im for m in emu.state.history(ch.id)
                ]
                assert any(f"INC-{inc.number} is declared, but Vigil could not" in t for t in told), inc.number
    assert with_failures >= 1
    # The 500s really happened, so the test exercised the failure paths.
    assert any(c.status == 500 for c in emu.calls_to("conversations.setTopic"))
    assert any(c.status == 429 for c in emu.calls_to("conversations.create"))
