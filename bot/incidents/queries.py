"""The read side the doors need: incidents someone may see, a timeline, the help channel, the components to pick
from. Reads only; every change goes through `IncidentService`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.incidents.access import Actor
from bot.incidents.states import Status
from db.components import list_components
from db.incidents import ACTIVE_STATUSES, timeline_of, visible_incidents
from db.models import Incident, TimelineEvent
from db.tags import DEV_FIREFIGHTER, tagged_conversation

log = logging.getLogger(__name__)

# The help channel is named in every usage reply, which must not wait on the database: it is served from memory
# and refreshed in the background once older than this, so a change made from the CLI shows within seconds.
HELP_CHANNEL_FRESH_FOR = timedelta(seconds=5)
LISTED_STATUSES = (*ACTIVE_STATUSES, str(Status.RESOLVED), str(Status.POSTMORTEM))


@dataclass(frozen=True)
class _Cached:
    at: datetime
    value: str | None


class IncidentQueries:
    def __init__(self, *, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self.sessions = sessions
        self.clock = clock
        self._help: dict[str, _Cached] = {}
        self._refreshing: dict[str, asyncio.Task[str | None]] = {}

    async def visible(
        self, *, team_id: str, actor: Actor, statuses: Sequence[str] = LISTED_STATUSES, limit: int = 50
    ) -> list[Incident]:
        async with self.sessions() as session:
            return await visible_incidents(
                session,
                team_id=team_id,
                user_id=actor.user_id,
                is_admin=actor.is_admin,
                is_guest=actor.is_guest,
                statuses=tuple(statuses),
                limit=limit,
            )

    async def timeline(self, incident: Incident) -> list[TimelineEvent]:
        async with self.sessions() as session:
            return await timeline_of(session, incident)

    async def components(self, *, team_id: str) -> list[tuple[int, str]]:
        async with self.sessions() as session:
            return [(c.id, c.name) for c in await list_components(session, team_id=team_id)]

    def help_channel_cached(self, *, team_id: str) -> tuple[bool, str | None]:
        """(known, channel id) from memory without waiting; a stale or missing entry starts a refresh."""
        cached = self._help.get(team_id)
        if cached is None or self.clock.now() - cached.at >= HELP_CHANNEL_FRESH_FOR:
            self._refresh_help(team_id)
        return (cached is not None, cached.value if cached else None)

    async def help_channel(self, *, team_id: str) -> str | None:
        """The help channel, waiting for the database only when nothing is known yet."""
        known, value = self.help_channel_cached(team_id=team_id)
        if known:
            return value
        return await self._refresh_help(team_id)

    def _refresh_help(self, team_id: str) -> asyncio.Task[str | None]:
        task = self._refreshing.get(team_id)
        if task is None or task.done():
            task = asyncio.get_running_loop().create_task(self._load_help(team_id))
            self._refreshing[team_id] = task
        return task

    async def _load_help(self, team_id: str) -> str | None:
        try:
            async with self.sessions() as session:
                value = await tagged_conversation(session, team_id=team_id, tag=DEV_FIREFIGHTER)
        except Exception:
            # A usage reply without the help channel beats no reply; the next request tries again.
            log.warning("could not read the help channel", exc_info=True)
            cached = self._help.get(team_id)
            return cached.value if cached else None
        self._help[team_id] = _Cached(at=self.clock.now(), value=value)
        return value
