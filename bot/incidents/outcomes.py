"""What a declaration or a change returns to its door."""

from __future__ import annotations

from dataclasses import dataclass, field

from db.models import Incident


@dataclass
class Change:
    """The outcome of a change: the incident as it is now, whether anything changed, and Slack steps that failed."""

    incident: Incident
    changed: bool
    summary: str = ""
    skipped: list[str] = field(default_factory=list)


@dataclass
class Declaration:
    """The outcome of a declaration: the incident, whether it is new, and the steps that could not be done."""

    incident: Incident
    created: bool
    skipped: list[str] = field(default_factory=list)
