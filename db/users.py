"""Slack users as last fetched (users.info / users.list)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import User


async def upsert_user(session: AsyncSession, *, team_id: str, info: dict[str, Any], at: datetime) -> User:
    """Insert or refresh a user from a Slack user object.

    One `INSERT … ON CONFLICT DO UPDATE`: two listeners meeting the same new person at once both succeed (a read
    then an insert would fail the slower one on the primary key).
    """
    profile = info.get("profile") or {}
    values: dict[str, Any] = {
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
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(User).values(team_id=team_id, id=str(info["id"]), **values)
    stmt = stmt.on_conflict_do_update(index_elements=["team_id", "id"], set_=values)
    # RETURNING the entity with populate_existing refreshes a copy this session may already hold.
    return (await session.scalars(stmt.returning(User), execution_options={"populate_existing": True})).one()
