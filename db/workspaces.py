"""Workspace rows: the team of SLACK_BOT_TOKEN, recorded from `auth.test`, and its admin-editable settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Workspace

SEVERITIES = ("P1", "P2", "P3", "P4", "P5")
DEFAULT_ARCHIVE_GRACE_DAYS = 7
DEFAULT_REMINDER_MINUTES = {"P1": 30, "P2": 60, "P3": 240}


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


async def several_workspaces(session: AsyncSession) -> bool:
    """Whether more than one workspace is recorded (a database that served another workspace before): which one
    this deployment serves is then Slack's to say (auth.test), not the database's."""
    return len((await session.scalars(select(Workspace.team_id).limit(2))).all()) > 1


@dataclass(frozen=True)
class WorkspaceSettings:
    """What admins edit from App Home: archive grace period (None = never) and reminder minutes per severity
    (a severity absent from the map gets no reminders)."""

    archive_grace_days: int | None = DEFAULT_ARCHIVE_GRACE_DAYS
    reminder_minutes: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_REMINDER_MINUTES))


async def workspace_settings(session: AsyncSession, *, team_id: str) -> WorkspaceSettings:
    ws = await session.get(Workspace, team_id)
    if ws is None:
        return WorkspaceSettings()
    minutes = {sev: int(v) for sev, v in (ws.reminder_minutes or {}).items() if sev in SEVERITIES and v}
    return WorkspaceSettings(archive_grace_days=ws.archive_grace_days, reminder_minutes=minutes)


async def save_workspace_settings(session: AsyncSession, *, team_id: str, settings: WorkspaceSettings) -> bool:
    """Store the settings; False when the workspace is not recorded (it is on every `vigil run`)."""
    ws = await session.get(Workspace, team_id)
    if ws is None:
        return False
    ws.archive_grace_days = settings.archive_grace_days
    ws.reminder_minutes = {sev: settings.reminder_minutes[sev] for sev in SEVERITIES if sev in settings.reminder_minutes}
    await session.flush()
    return True


async def lock_workspace(session: AsyncSession, *, team_id: str) -> bool:
    """Hold the workspace row until the transaction ends, so that back-office writes of one workspace (check, then
    write) run one at a time: two admins adding "Search" and "search" at once must not both pass the name check.

    `FOR NO KEY UPDATE` leaves inserts that merely reference the workspace alone. SQLite needs nothing: its
    `BEGIN IMMEDIATE` already serialises writers. False when the workspace is not recorded."""
    stmt = select(Workspace.team_id).where(Workspace.team_id == team_id).with_for_update(key_share=True)
    return (await session.scalar(stmt)) is not None
