"""Domain events, emitted from the service in one place.

Subscribers run inside the same unit of work, before commit, with the session: the integration pipeline writes its
delivery rows in the incident's own transaction, so a change and its deliveries commit (or roll back) together.
Events fire only for the changes integrations care about — never for notes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

OPENED = "incident.opened"
ACKNOWLEDGED = "incident.acknowledged"
UPDATED = "incident.updated"
RESOLVED = "incident.resolved"
CLOSED = "incident.closed"
REOPENED = "incident.reopened"
ALL = (OPENED, ACKNOWLEDGED, UPDATED, RESOLVED, CLOSED, REOPENED)


@dataclass(frozen=True)
class DomainEvent:
    name: str
    team_id: str
    incident_id: int
    number: int
    actor_id: str | None
    source: str
    occurred_at: datetime
    changes: dict[str, Any] = field(default_factory=dict)


# A subscriber gets the event and the open transaction's session.
Subscriber = Callable[[DomainEvent, Any], Awaitable[None]]


class EventBus:
    def __init__(self) -> None:
        self._subscribers: list[tuple[frozenset[str], Subscriber]] = []

    def subscribe(self, subscriber: Subscriber, *, events: tuple[str, ...] = ALL) -> None:
        self._subscribers.append((frozenset(events), subscriber))

    async def publish(self, event: DomainEvent, session: Any) -> None:
        """Run every subscriber of `event` in order, in the caller's transaction; an error aborts the change."""
        for names, subscriber in self._subscribers:
            if event.name in names:
                await subscriber(event, session)
