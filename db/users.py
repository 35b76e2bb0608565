"""Slack users as last fetched (users.info / users.list)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import User

# The columns a Slack user object fills (all but the key).
USER_COLUMNS = ("name", "real_name", "email", "tz", "is_admin", "is_owner", "is_restricted", "is_bot", "deactivated")


def user_values(info: Mapping[str, Any], *, at: datetime) -> dict[str, Any]:
    """The row of a Slack user object (users.info / an item of users.list), `fetched_at` = `at`."""
    profile = info.get("profile") or {}
    return {
        "name": str(info.get("name") or ""),
        "real_name": str(info.get("real_name") or profile.get("real_name") or ""),
        "email": profile.get("email") or None,
        "tz": str(info.get("tz") or "UTC"),
        "is_admin": bool(info.get("is_admin")),
        "is_owner": bool(info.get("is_owner") or info.get("is_primary_owner")),
        "is_restricted": bool(info.get("is_restricted") or info.get("is_ultra_restricted")),
        "is_bot": bool(info.get("is_bot")),
        "deactivated": bool(info.get("deleted")),
        "fetched_at": at,
    }


async def upsert_user(session: AsyncSession, *, team_id: str, info: dict[str, Any], at: datetime) -> User:
    """Insert or refresh a user from a Slack user object.

    One `INSERT … ON CONFLICT DO UPDATE`: two listeners meeting the same new person at once both succeed (a read
    then an insert would fail the slower one on the primary key).
    """
    values = user_values(info, at=at)
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(User).values(team_id=team_id, id=str(info["id"]), **values)
    stmt = stmt.on_conflict_do_update(index_elements=["team_id", "id"], set_=values)
    # RETURNING the entity with populate_existing refreshes a copy this session may already hold.
    return (await session.scalars(stmt.returning(User), execution_options={"populate_existing": True})).one()


async def upsert_users(session: AsyncSession, *, team_id: str, infos: Iterable[Mapping[str, Any]], at: datetime) -> int:
    """Insert or refresh a page of users in one statement (executemany of one upsert); how many rows were written.

    A user listed twice in the page is written once (the last copy wins), since one statement may not touch a row twice.
    """
    rows = {str(info["id"]): {"team_id": team_id, "id": str(info["id"]), **user_values(info, at=at)} for info in infos}
    if not rows:
        return 0
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(User)
    stmt = stmt.on_conflict_do_update(
        index_elements=["team_id", "id"],
        set_={column: stmt.excluded[column] for column in (*USER_COLUMNS, "fetched_at")},
    )
    await session.execute(stmt, list(rows.values()))
    return len(rows)


async def deactivate_unseen(session: AsyncSession, *, team_id: str, seen_since: datetime) -> int:
    """After a complete listing: users not in it (not fetched since `seen_since`) are gone from the workspace."""
    stmt = (
        update(User)
        .where(User.team_id == team_id, User.fetched_at < seen_since, User.deactivated.is_(False))
        .values(deactivated=True)
    )
    return int((await session.execute(stmt)).rowcount)  # type: ignore[attr-defined]
