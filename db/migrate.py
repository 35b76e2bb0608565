"""Alembic, driven from code: `vigil migrate`, the un-migrated check of `vigil run`, and the test fixtures.

`vigil run` only needs to compare revisions, so that path avoids importing Alembic (a fifth of start-up time):
`HEAD` names the newest migration, and a test keeps it equal to what Alembic finds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from alembic.config import Config

HEAD = "0008"


def alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", "db:migrations")
    return cfg


def head_revision() -> str:
    return HEAD


def script_head() -> str | None:
    """The head as Alembic computes it from the migration files."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _upgrade(conn: Connection, revision: str) -> None:
    from alembic import command

    cfg = alembic_config()
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)


def _current(conn: Connection) -> str | None:
    if not inspect(conn).has_table("alembic_version"):
        return None
    rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return rows[0] if len(rows) == 1 else None


async def upgrade(engine: AsyncEngine, revision: str = "head") -> tuple[str | None, str]:
    """Migrate to `revision`; returns (revision before, revision after)."""
    async with engine.connect() as conn:
        before = await conn.run_sync(_current)
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade, revision)
    async with engine.connect() as conn:
        after = await conn.run_sync(_current)
    return before, after or ""


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(_current)


async def is_up_to_date(engine: AsyncEngine) -> bool:
    return await current_revision(engine) == head_revision()
