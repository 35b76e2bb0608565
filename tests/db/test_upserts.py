"""Writes that two requests can make at once for the same key: each is one `INSERT … ON CONFLICT`, so the slower
writer waits for the faster one and then updates, instead of failing on the key. Event claims are two-phase."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from db.engine import make_session_factory
from db.events import CLAIM_GRACE, claim_event, finish_event, purge_expired_events
from db.identities import EMAIL_MATCH, MANUAL, get_identity, link_identity
from db.members import add_member, members_of
from db.models import ConversationTag, Identity, Incident, User, UsergroupTag
from db.tags import set_conversation_tag, set_usergroup_tag, tagged_conversation, tagged_usergroup
from db.users import upsert_user
from db.workspaces import record_workspace

T = "T1"
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
Write = Callable[[AsyncSession, str], Awaitable[object]]


@pytest.fixture
async def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    factory = make_session_factory(engine)
    async with factory() as s, s.begin():
        await record_workspace(s, team_id=T, name="Acme", url="", bot_user_id="UBOT")
        s.add(Incident(team_id=T, number=1, title="t", severity="P2", reporter_id="U1", channel_id="C1"))
    return factory


async def _blocked_on_a_lock(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:
        waiting = await conn.scalar(
            text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")
        )
    return bool(waiting)


async def race(engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], write: Write) -> None:
    """`write` as "first", left uncommitted while `write` as "second" starts in another session, then both commit.

    On PostgreSQL the second writer is held on the first's uncommitted key (we wait until it is, so it has done any
    read it does first): a read-then-insert finds nothing and then fails on the key. SQLite runs writers one at a
    time (BEGIN IMMEDIATE), so there the race only proves nothing breaks."""

    async def second() -> None:
        async with sessions() as s, s.begin():
            await write(s, "second")

    async with sessions() as first, first.begin():
        await write(first, "first")
        task = asyncio.create_task(second())
        if engine.dialect.name == "postgresql":
            async with asyncio.timeout(10):
                # Nothing signals "another session is now waiting on my lock": poll for it, bounded.
                while not await _blocked_on_a_lock(engine):  # noqa: ASYNC110
                    await asyncio.sleep(0.02)
    await asyncio.wait_for(task, 10)


async def test_user_upsert_under_a_race(engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]) -> None:
    async def write(s: AsyncSession, who: str) -> object:
        info = {"id": "U9", "name": who, "tz": "Europe/Paris", "is_admin": who == "second", "profile": {"email": "x@y"}}
        return await upsert_user(s, team_id=T, info=info, at=NOW)

    await race(engine, sessions, write)
    async with sessions() as s:
        user = await s.get(User, (T, "U9"))
    assert user is not None and (user.name, user.is_admin, user.tz, user.email) == ("second", True, "Europe/Paris", "x@y")


async def test_user_upsert_refreshes_the_row_a_session_holds(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as s, s.begin():
        held = await upsert_user(s, team_id=T, info={"id": "U9", "name": "old", "is_admin": True}, at=NOW)
        again = await upsert_user(s, team_id=T, info={"id": "U9", "name": "new"}, at=NOW + timedelta(minutes=1))
        assert again is held
        assert (held.name, held.is_admin, held.fetched_at) == ("new", False, NOW + timedelta(minutes=1))


async def test_conversation_tag_under_a_race(engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]) -> None:
    async def write(s: AsyncSession, who: str) -> object:
        await set_conversation_tag(s, team_id=T, tag="tech_incidents", conversation_id=f"C_{who}", by=who)
        return None

    await race(engine, sessions, write)
    async with sessions() as s:
        assert await tagged_conversation(s, team_id=T, tag="tech_incidents") == "C_second"
        row = await s.get(ConversationTag, (T, "tech_incidents"))
    assert row is not None and row.set_by == "second"


async def test_usergroup_tag_under_a_race(engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]) -> None:
    async def write(s: AsyncSession, who: str) -> object:
        await set_usergroup_tag(s, team_id=T, tag="invited_for_all_public_p1", usergroup_id=f"S_{who}", by=who)
        return None

    await race(engine, sessions, write)
    async with sessions() as s:
        assert await tagged_usergroup(s, team_id=T, tag="invited_for_all_public_p1") == "S_second"
        row = await s.get(UsergroupTag, (T, "invited_for_all_public_p1"))
    assert row is not None and row.set_by == "second"


async def test_tag_set_twice_in_one_session_reads_back_the_last(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as s, s.begin():
        await set_conversation_tag(s, team_id=T, tag="it_deploy", conversation_id="C1", by=None)
        assert await tagged_conversation(s, team_id=T, tag="it_deploy") == "C1"
        await set_conversation_tag(s, team_id=T, tag="it_deploy", conversation_id="C2", by="U1")
        assert await tagged_conversation(s, team_id=T, tag="it_deploy") == "C2"


async def test_identity_link_under_a_race(engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]) -> None:
    async def write(s: AsyncSession, who: str) -> object:
        return await link_identity(
            s, team_id=T, user_id="U9", kind="github", external_id=who, source=MANUAL, by="U9", at=NOW
        )

    await race(engine, sessions, write)
    async with sessions() as s:
        rows = list(await s.scalars(select(Identity).where(Identity.user_id == "U9")))
    assert [(r.kind, r.external_id, r.source) for r in rows] == [("github", "second", MANUAL)]


async def test_identity_rules_hold_in_the_upsert(sessions: async_sessionmaker[AsyncSession]) -> None:
    """An email match fills a gap and refreshes an earlier match; it never overwrites a manual link, which always
    replaces what was there."""

    async def link(external_id: str, source: str, at: datetime) -> Identity | None:
        async with sessions() as s, s.begin():
            return await link_identity(
                s, team_id=T, user_id="U9", kind="jira", external_id=external_id, source=source, by=None, at=at
            )

    first = await link("match-1", EMAIL_MATCH, NOW)
    assert first is not None and (first.external_id, first.source) == ("match-1", EMAIL_MATCH)
    refreshed = await link("match-2", EMAIL_MATCH, NOW + timedelta(minutes=1))
    assert refreshed is not None and refreshed.external_id == "match-2" and refreshed.id == first.id
    manual = await link("manual-1", MANUAL, NOW + timedelta(minutes=2))
    assert manual is not None and (manual.external_id, manual.source) == ("manual-1", MANUAL)
    assert await link("match-3", EMAIL_MATCH, NOW + timedelta(minutes=3)) is None
    async with sessions() as s:
        row = await get_identity(s, team_id=T, user_id="U9", kind="jira")
    assert row is not None and (row.external_id, row.source, row.updated_at) == (
        "manual-1",
        MANUAL,
        NOW + timedelta(minutes=2),
    )


async def test_member_added_twice_at_once_is_recorded_once(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as s:
        incident_id = (await s.scalars(select(Incident.id))).one()
    added: list[bool] = []

    async def write(s: AsyncSession, who: str) -> object:
        added.append(await add_member(s, team_id=T, incident_id=incident_id, user_id="U9", at=NOW))
        return None

    await race(engine, sessions, write)
    assert sorted(added) == [False, True]
    async with sessions() as s:
        assert await members_of(s, team_id=T, incident_id=incident_id) == {"U9"}


async def test_event_claims_are_two_phase(sessions: async_sessionmaker[AsyncSession]) -> None:
    expires = NOW + timedelta(days=1)

    async def claim(at: datetime, event_id: str = "Ev1") -> bool:
        async with sessions() as s, s.begin():
            return await claim_event(s, team_id=T, event_id=event_id, expires_at=expires, now=at)

    assert await claim(NOW)
    assert not await claim(NOW + CLAIM_GRACE - timedelta(seconds=1))  # someone is on it
    assert await claim(NOW + CLAIM_GRACE)  # they died: take it again
    assert not await claim(NOW + CLAIM_GRACE + timedelta(seconds=1))  # and now we are on it
    async with sessions() as s, s.begin():
        assert await finish_event(s, team_id=T, event_id="Ev1", now=NOW + CLAIM_GRACE)
    assert not await claim(NOW + timedelta(hours=1))  # handled: never again
    async with sessions() as s, s.begin():
        assert await purge_expired_events(s, now=expires + timedelta(seconds=1)) == 1
    assert await claim(expires + timedelta(seconds=2))


async def test_a_stale_claim_is_taken_by_one_of_two_racing_replicas(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with sessions() as s, s.begin():
        assert await claim_event(s, team_id=T, event_id="Ev2", expires_at=NOW + timedelta(days=1), now=NOW)
    later = NOW + CLAIM_GRACE * 2
    won: list[bool] = []

    async def write(s: AsyncSession, who: str) -> object:
        won.append(await claim_event(s, team_id=T, event_id="Ev2", expires_at=later + timedelta(days=1), now=later))
        return None

    await race(engine, sessions, write)
    assert sorted(won) == [False, True]
