"""Slack users as last fetched (users.info / users.list)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from db.models import User


async def upsert_user(session: AsyncSession, *, team_id: str, info: dict[str, Any], at: datetime) -> User:
    """Insert or refresh a user from a Slack user object."""
    user = await session.get(User, (team_id, str(info["id"])))
    if user is None:
        user = User(team_id=team_id, id=str(info["id"]))
        session.add(user)
    profile = info.get("profile") or {}
    user.name = str(info.get("name") or "")
    user.real_name = str(info.get("real_name") or profile.get("real_name") or "")
    user.email = profile.get("email") or None
    user.tz = str(info.get("tz") or "UTC")
    user.is_admin = bool(info.get("is_admin"))
    user.is_owner = bool(info.get("is_owner") or info.get("is_primary_owner"))
    user.is_restricted = bool(info.get("is_restricted") or info.get("is_ultra_restricted"))
    user.is_bot = bool(info.get("is_bot"))
    user.deactivated = bool(info.get("deleted"))
    user.fetched_at = at
    await session.flush()
    return user
