"""A person's accounts in other tools (PagerDuty, GitHub, Jira, Linear, email), as `/incident link` sets them.

Anyone links (and lists) their own; admins may link and list someone else's. A manual link replaces an email match
and is never overwritten by one (the repository keeps that rule for every writer, syncs included).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.blocks.home import IdentityLine
from bot.clock import Clock
from bot.directory import Directory
from bot.incidents.errors import InvalidInput, NotAllowed
from db.identities import EMAIL_MATCH, KINDS, MANUAL, get_identity, identities_of, link_identity

__all__ = ["EMAIL_MATCH", "KINDS", "MANUAL", "IdentityService", "Linked", "normalise_id"]

# What an id looks like in each tool; a typo is answered at once rather than discovered at the next page or sync.
ID_FORMATS: dict[str, tuple[re.Pattern[str], str]] = {
    "pagerduty": (re.compile(r"P[A-Z0-9]{5,13}", re.ASCII), "a PagerDuty user id such as PXPGF42"),
    "github": (
        re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}", re.ASCII),
        "a GitHub login such as octocat",
    ),
    "jira": (re.compile(r"[A-Za-z0-9][A-Za-z0-9:_.-]{0,127}", re.ASCII), "a Jira account id"),
    "linear": (re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}", re.ASCII), "a Linear user id"),
    "email": (re.compile(r"[^@\s<>`]{1,64}@[^@\s<>`]+\.[^@\s<>`]{2,}", re.ASCII), "an email address"),
}


def normalise_id(kind: str, raw: str) -> str:
    """The id as stored (PagerDuty ids upper-cased, logins without `@`, emails lower-cased), or InvalidInput."""
    if kind not in ID_FORMATS:
        raise InvalidInput(f"Vigil links {', '.join(KINDS)} accounts, not {kind[:40]}.")
    value = raw.strip()
    if kind == "pagerduty":
        value = value.upper()
    elif kind == "github":
        value = value.removeprefix("@")
    elif kind == "email":
        value = value.lower()
    pattern, what = ID_FORMATS[kind]
    if len(value) > 255 or not pattern.fullmatch(value):
        raise InvalidInput(f"`{value[:40].replace('`', '')}` doesn't look like {what}.")
    return value


@dataclass(frozen=True)
class Linked:
    external_id: str
    # What the link replaced, when it was something else: (id, source).
    replaced: IdentityLine | None = None


class IdentityService:
    def __init__(
        self, *, sessions: async_sessionmaker[AsyncSession], directory: Directory, clock: Clock, command: str
    ) -> None:
        self.sessions = sessions
        self.directory = directory
        self.clock = clock
        self.command = command

    async def _check_subject(self, *, team_id: str, user_id: str, subject: str) -> None:
        """Someone else's accounts are for admins only, and only active people have any."""
        if subject == user_id:
            return
        actor = await self.directory.actor(team_id=team_id, user_id=user_id)
        if not actor.is_admin:
            raise NotAllowed(
                "Only workspace admins can link or look at someone else's accounts. "
                f"Link your own with `{self.command} link github <login>`."
            )
        person = await self.directory.user(team_id=team_id, user_id=subject)
        if person.is_bot or person.deactivated:
            raise InvalidInput(f"<@{subject}> is a bot or deactivated; only active people have linked accounts.")

    async def linked(self, *, team_id: str, user_id: str, subject: str) -> list[IdentityLine]:
        """`subject`'s linked accounts, as `user_id` asked for them."""
        await self._check_subject(team_id=team_id, user_id=user_id, subject=subject)
        async with self.sessions() as session:
            rows = await identities_of(session, team_id=team_id, user_id=subject)
        return [IdentityLine(kind=r.kind, external_id=r.external_id, source=r.source) for r in rows]

    async def link(self, *, team_id: str, user_id: str, subject: str, kind: str, external_id: str) -> Linked:
        """Link `subject`'s `kind` account by hand (it wins over any email match)."""
        external_id = normalise_id(kind, external_id)
        await self._check_subject(team_id=team_id, user_id=user_id, subject=subject)
        try:
            return await self._link(team_id=team_id, user_id=user_id, subject=subject, kind=kind, external_id=external_id)
        except IntegrityError:
            # The same account linked at the same moment from elsewhere: the second write now updates that row.
            return await self._link(team_id=team_id, user_id=user_id, subject=subject, kind=kind, external_id=external_id)

    async def _link(self, *, team_id: str, user_id: str, subject: str, kind: str, external_id: str) -> Linked:
        async with self.sessions() as session, session.begin():
            before = await get_identity(session, team_id=team_id, user_id=subject, kind=kind)
            replaced = (
                IdentityLine(kind=kind, external_id=before.external_id, source=before.source)
                if before is not None and (before.external_id, before.source) != (external_id, MANUAL)
                else None
            )
            await link_identity(
                session,
                team_id=team_id,
                user_id=subject,
                kind=kind,
                external_id=external_id,
                source=MANUAL,
                by=user_id,
                at=self.clock.now(),
            )
        return Linked(external_id=external_id, replaced=replaced)
