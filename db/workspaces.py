"""Workspace rows: the team of SLACK_BOT_TOKEN, recorded from `auth.test`."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Workspace


async def record_workspace(session: AsyncSession, *, team_id: str, name: str, url: str, bot_user_id: str) -> Workspace:
    """Insert or refresh the workspace row; settings an admin changed are kept."""
    ws = await session.get(Workspace, team_id)
    if ws is None:
        ws = Workspace(team_id=team_id)
        session.add(ws)
    ws.name, ws.url, ws.bot_user_id = name, url, bot_user_id
    await session.flush()
    return ws


async def only_workspace(session: AsyncSession) -> Workspace | None:
    """The one workspace this deployment serves, if recorded (CLI verbs learn the team from here)."""
    rows = (await session.scalars(select(Workspace).limit(2))).all()
    return rows[0] if len(rows) == 1 else None
