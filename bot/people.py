"""`PeoplePort` over the directory: who someone is, for rules like "a commander is a person with an active account"."""

from __future__ import annotations

from bot.directory import Directory
from bot.incidents.ports import Person

COMMANDER_REFUSAL = "That account cannot lead an incident (a bot or a deactivated account); pick a person."


def commander_refusal(person: Person | None) -> str | None:
    """Why `person` cannot lead an incident, or None when they can (or are not known yet)."""
    if person is not None and (person.is_bot or person.deactivated):
        return COMMANDER_REFUSAL
    return None


class DirectoryPeople:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    async def person(self, *, team_id: str, user_id: str) -> Person:
        return await self.directory.person(team_id=team_id, user_id=user_id)

    async def name(self, *, team_id: str, user_id: str) -> str | None:
        row = await self.directory.user(team_id=team_id, user_id=user_id)
        return row.name or row.real_name or None
