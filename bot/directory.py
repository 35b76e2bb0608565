"""People: who a Slack user is (admin, owner, guest, time zone), from the database when fresh, else `users.info`.

Admin rights are checked when they matter and cached briefly (SPEC §5); `VIGIL_ADMINS` count as owners.
"""

from __future__ import annotations

from datetime import timedelta

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.incidents.access import Actor
from bot.incidents.errors import NotFound
from db.models import User
from db.users import upsert_user

FRESH_FOR = timedelta(minutes=5)


class Directory:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        slack: AsyncWebClient,
        clock: Clock,
        bootstrap_admins: frozenset[str] = frozenset(),
    ) -> None:
        self.sessions = sessions
        self.slack = slack
        self.clock = clock
        self.bootstrap_admins = bootstrap_admins

    async def user(self, *, team_id: str, user_id: str, refresh: bool = False) -> User:
        """The user row, fetched with users.info when missing or older than a few minutes."""
        now = self.clock.now()
        async with self.sessions() as session:
            user = await session.get(User, (team_id, user_id))
        if user is not None and not refresh and now - user.fetched_at < FRESH_FOR:
            return user
        try:
            resp = await self.slack.users_info(user=user_id)
        except SlackApiError as exc:
            if user is not None:
                return user  # Slack is unhappy; a slightly stale row beats refusing the user
            raise NotFound(f"Slack does not know user <@{user_id}> ({exc.response.get('error')}).") from None
        async with self.sessions() as session, session.begin():
            return await upsert_user(session, team_id=team_id, info=dict(resp["user"]), at=now)

    async def actor(self, *, team_id: str, user_id: str) -> Actor:
        if user_id in self.bootstrap_admins:
            return Actor(user_id=user_id, is_admin=True, is_owner=True)
        user = await self.user(team_id=team_id, user_id=user_id)
        return Actor(
            user_id=user_id,
            is_admin=user.is_admin or user.is_owner,
            is_owner=user.is_owner,
            is_guest=user.is_restricted,
        )

    async def timezone(self, *, team_id: str, user_id: str) -> str:
        try:
            return (await self.user(team_id=team_id, user_id=user_id)).tz or "UTC"
        except NotFound:
            return "UTC"
