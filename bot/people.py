"""`PeoplePort` over the directory: who someone is, for rules like "a commander is a person with an active account"."""

from __future__ import annotations

from bot.directory import Directory
from bot.incidents.ports import Person


class DirectoryPeople:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    async def person(self, *, team_id: str, user_id: str) -> Person:
        row = await self.directory.user(team_id=team_id, user_id=user_id)
        return Person(user_id=user_id, is_bot=bool(row.is_bot), deactivated=bool(row.deactivated))
