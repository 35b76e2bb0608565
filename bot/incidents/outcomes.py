"""What a declaration or a change returns to its door."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.incidents.ports import Note
from db.models import Incident


@dataclass
class Change:
    """The outcome of a change: the incident as it is now, whether anything changed, and Slack steps that failed."""

    incident: Incident
    changed: bool
    notes: list[Note] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        """The notes in plain words (logs, the CLI); Slack renders `notes` with mentions instead."""
        return "; ".join(note.text for note in self.notes)


@dataclass
class Declaration:
    """The outcome of a declaration: the incident, whether it is new, and the steps that could not be done."""

    incident: Incident
    created: bool
    skipped: list[str] = field(default_factory=list)


@dataclass
class Repair:
    """What a repair of an incident's Slack steps left: the labels of steps that still fail (empty: all done)."""

    number: int
    still_failing: list[str] = field(default_factory=list)
