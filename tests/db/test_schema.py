"""The migrated schema on both backends: UTC round trips, per-workspace numbering, event-id claims."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import make_session_factory
from db.events import claim_event, purge_expired_events
from db.migrate import head_revision, is_up_to_date
from db.models import Incident, TimelineEvent, Workspace
from db.workspaces import only_workspace, record_workspace


async def test_migrated_to_head(engine: AsyncEngine) -> None:
    assert await is_up_to_date(engine)
    async with engine.connect() as conn:
        assert (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one() == head_revision()


async def test_timestamps_come_back_as_aware_utc(engine: AsyncEngine) -> None:
    sessions = make_session_factory(engine)
    paris = timezone(timedelta(hours=1))
    async with sessions() as s, s.begin():
        await record_workspace(s, team_id="T1", name="Acme", url="https://acme.slack.com/", bot_user_id="UBOT")
        s.add(
            Incident(
                team_id="T1",
                number=1,
                title="db down",
                severity="P2",
                reporter_id="U1",
                created_at=datetime(2026, 3, 1, 10, 0, tzinfo=paris),
            )
        )
    async with sessions() as s:
        inc = (await s.scalars(select(Incident))).one()
        assert inc.created_at == datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
        assert inc.created_at.tzinfo is not None and inc.created_at.utcoffset() == timedelta(0)
        assert inc.ref == "INC-1" and inc.external_key == "vigil-T1-1"


async def test_naive_datetimes_are_refused(engine: AsyncEngine) -> None:
    sessions = make_session_factory(engine)
    with pytest.raises(Exception, match="naive datetime"):
        async with sessions() as s, s.begin():
            await record_workspace(s, team_id="T1", name="Acme", url="", bot_user_id="UBOT")
            s.add(
                Incident(team_id="T1", number=1, title="x", severity="P2", reporter_id="U1", created_at=datetime(2026, 1, 1))
            )


async def test_incident_numbers_are_unique_per_workspace(engine: AsyncEngine) -> None:
    sessions = make_session_factory(engine)
    async with sessions() as s, s.begin():
        for team in ("T1", "T2"):
            await record_workspace(s, team_id=team, name=team, url="", bot_user_id="UBOT")
            s.add(Incident(team_id=team, number=1, title="a", severity="P3", reporter_id="U1"))
    with pytest.raises(IntegrityError):
        async with sessions() as s, s.begin():
            s.add(Incident(team_id="T1", number=1, title="b", severity="P3", reporter_id="U1"))


async def test_pinned_message_lands_on_the_timeline_once(engine: AsyncEngine) -> None:
    sessions = make_session_factory(engine)
    async with sessions() as s, s.begin():
        await record_workspace(s, team_id="T1", name="Acme", url="", bot_user_id="UBOT")
        inc = Incident(team_id="T1", number=1, title="a", severity="P3", reporter_id="U1")
        s.add(inc)
        await s.flush()
        s.add(TimelineEvent(team_id="T1", incident_id=inc.id, kind="pin", source="slack", message_ts="1.0001"))
        s.add(TimelineEvent(team_id="T1", incident_id=inc.id, kind="note", source="slack"))
        s.add(TimelineEvent(team_id="T1", incident_id=inc.id, kind="note", source="slack"))
    with pytest.raises(IntegrityError):
        async with sessions() as s, s.begin():
            s.add(TimelineEvent(team_id="T1", incident_id=inc.id, kind="pin", source="slack", message_ts="1.0001"))


async def test_event_ids_are_claimed_once_and_purged(engine: AsyncEngine) -> None:
    sessions = make_session_factory(engine)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    async with sessions() as s, s.begin():
        assert await claim_event(s, team_id="T1", event_id="Ev1", expires_at=now + timedelta(days=1))
        assert not await claim_event(s, team_id="T1", event_id="Ev1", expires_at=now + timedelta(days=1))
        assert await claim_event(s, team_id="T2", event_id="Ev1", expires_at=now + timedelta(days=1))
    async with sessions() as s, s.begin():
        assert await purge_expired_events(s, now=now + timedelta(days=2)) == 2
        assert await claim_event(s, team_id="T1", event_id="Ev1", expires_at=now + timedelta(days=3))


async def test_record_workspace_keeps_admin_settings(engine: AsyncEngine) -> None:
    sessions = make_session_factory(engine)
    async with sessions() as s, s.begin():
        ws = await record_workspace(s, team_id="T1", name="Acme", url="", bot_user_id="UBOT")
        ws.archive_grace_days = None
    async with sessions() as s, s.begin():
        await record_workspace(s, team_id="T1", name="Acme Inc", url="", bot_user_id="UBOT")
    async with sessions() as s:
        ws2 = await only_workspace(s)
        assert isinstance(ws2, Workspace)
        assert ws2.name == "Acme Inc" and ws2.archive_grace_days is None
        assert ws2.reminder_minutes == {"P1": 30, "P2": 60, "P3": 240}


async def test_sqlite_runs_wal_with_a_busy_timeout(sqlite_url: str) -> None:
    from db.engine import make_engine

    engine = make_engine(sqlite_url)
    try:
        async with engine.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar_one() == "wal"
            assert (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar_one() >= 5000
            assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar_one() == 1
    finally:
        await engine.dispose()


def test_head_constant_matches_the_migration_files() -> None:
    from db.migrate import HEAD, script_head

    assert script_head() == HEAD, "a new migration landed: set db.migrate.HEAD to its revision"


async def test_migrations_match_the_models(engine: AsyncEngine) -> None:
    """Autogenerate finds nothing to add: the models and the migrations describe the same schema."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from db.models import Base

    def diff(conn):  # type: ignore[no-untyped-def]
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), Base.metadata)

    async with engine.connect() as conn:
        assert await conn.run_sync(diff) == []
