"""People: who a Slack user is (admin, owner, guest, time zone), from the database when fresh, else `users.info`.

Admin rights are checked when they matter and cached briefly; `VIGIL_ADMINS` count as owners.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.incidents.access import Actor
from bot.incidents.errors import NotFound
from bot.incidents.ports import Person
from db.models import User
from db.users import upsert_user

log = logging.getLogger(__name__)

FRESH_FOR = timedelta(minutes=5)
# users.info errors that mean the person does not exist for us; anything else is Slack failing, not an answer.
UNKNOWN_USER_ERRORS = frozenset({"user_not_found", "user_not_visible"})


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
        self._people: dict[tuple[str, str], Person] = {}

    async def user(self, *, team_id: str, user_id: str, refresh: bool = False) -> User:
        """The user row, fetched with users.info when missing or older than a few minutes."""
        return (await self._lookup(team_id=team_id, user_id=user_id, refresh=refresh))[0]

    async def _lookup(self, *, team_id: str, user_id: str, refresh: bool = False) -> tuple[User, bool]:
        """The user row and whether it is fresh (fetched within FRESH_FOR, or just now).

        When Slack cannot answer, a stale row is still returned (a slightly old time zone or name beats refusing the
        person), flagged stale so that rights are not granted from it.
        """
        now = self.clock.now()
        async with self.sessions() as session:
            user = await session.get(User, (team_id, user_id))
        if user is not None and not refresh and now - user.fetched_at < FRESH_FOR:
            self._remember(user)
            return user, True
        try:
            resp = await self.slack.users_info(user=user_id)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or "")
            if user is not None:
                log.warning("users.info failed for %s (%s); using the row from %s", user_id, error, user.fetched_at)
                return user, False
            if error in UNKNOWN_USER_ERRORS:
                raise NotFound(f"Slack does not know user <@{user_id}> ({error}).") from None
            raise
        except (aiohttp.ClientError, TimeoutError):
            if user is None:
                raise
            log.warning("users.info unreachable for %s; using the row from %s", user_id, user.fetched_at)
            return user, False
        async with self.sessions() as session, session.begin():
            user = await upsert_user(session, team_id=team_id, info=dict(resp["user"]), at=now)
        self._remember(user)
        return user, True

    def _remember(self, user: User) -> Person:
        person = Person(user_id=user.id, is_bot=bool(user.is_bot), deactivated=bool(user.deactivated))
        self._people[(user.team_id, user.id)] = person
        return person

    async def person(self, *, team_id: str, user_id: str) -> Person:
        """Whether someone is a person with an active account (fresh within a few minutes, as `user`)."""
        return self._remember(await self.user(team_id=team_id, user_id=user_id))

    def known_person(self, *, team_id: str, user_id: str) -> Person | None:
        """The same, from memory only (None: not read lately by this process): for a check an ack cannot wait for."""
        return self._people.get((team_id, user_id))

    async def actor(self, *, team_id: str, user_id: str) -> Actor:
        """Who is acting. Admin rights fail closed: from a stale row (Slack could not confirm them) they count as
        none for this call, since the person may have been demoted meanwhile; a deactivated account has none, whatever
        role Slack still lists for it. VIGIL_ADMINS are not looked up."""
        if user_id in self.bootstrap_admins:
            return Actor(user_id=user_id, is_admin=True, is_owner=True)
        user, fresh = await self._lookup(team_id=team_id, user_id=user_id)
        trusted = fresh and not user.deactivated
        return Actor(
            user_id=user_id,
            is_admin=trusted and (user.is_admin or user.is_owner),
            is_owner=trusted and user.is_owner,
            is_guest=user.is_restricted,
        )

    async def timezone(self, *, team_id: str, user_id: str) -> str:
        try:
            return (await self.user(team_id=team_id, user_id=user_id)).tz or "UTC"
        except NotFound:
            return "UTC"
