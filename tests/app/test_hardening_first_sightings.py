"""People Vigil has never seen, acting several times at once: every request is answered (the user row is an upsert,
not a read then an insert that fails the slower request on the primary key)."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from db.models import User
from tests.app.conftest import GENERAL, StartVigil

NEWCOMERS = ("U0NEW1", "U0NEW2", "U0NEW3", "U0NEW4")
AT_ONCE = 3
NOTHING_OPEN = "No open incidents you can see. :sunny:"


async def test_simultaneous_first_sightings_are_all_answered(start_vigil: StartVigil) -> None:
    vigil = await start_vigil()
    for n, user_id in enumerate(NEWCOMERS):
        vigil.emu.add_user(user_id, f"newcomer{n}", tz="Asia/Tokyo")
    vigil.emu.latency = 0.05  # the users.info answers land together, so the upserts race

    acks = await asyncio.gather(
        *(vigil.command("list", user=user_id, channel=GENERAL) for user_id in NEWCOMERS for _ in range(AT_ONCE))
    )
    assert all(ack.acked for ack in acks)
    for user_id in NEWCOMERS:
        await vigil.emu.wait_for_response(user_id, count=AT_ONCE, timeout=10)
    await vigil.settle()

    for user_id in NEWCOMERS:
        texts = [str(post.body.get("text")) for post in vigil.emu.responses_for(user_id)]
        assert texts == [NOTHING_OPEN] * AT_ONCE, texts
    async with vigil.container.sessions() as session:
        rows = list(await session.scalars(select(User).where(User.id.in_(NEWCOMERS))))
    assert sorted(row.id for row in rows) == sorted(NEWCOMERS)
    assert {row.tz for row in rows} == {"Asia/Tokyo"}
