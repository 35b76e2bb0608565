"""Domain events run inside the incident's transaction: what a subscriber writes commits with the change, and a
subscriber that fails undoes it (the integration outbox relies on both)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.incidents import events
from bot.incidents.states import Severity, Status
from db.models import ProcessedEvent
from tests.app.conftest import ALICE, Vigil


async def test_subscribers_write_in_the_same_transaction(vigil: Vigil) -> None:
    seen: list[str] = []

    async def outbox(event: events.DomainEvent, session: Any) -> None:
        seen.append(event.name)
        session.add(
            ProcessedEvent(team_id=event.team_id, event_id=f"{event.name}:{event.number}", expires_at=event.occurred_at)
        )

    vigil.container.bus.subscribe(outbox)
    service = vigil.container.incidents
    declared = await service.declare(team_id=vigil.team_id, reporter_id=ALICE, title="Queue backlog", severity=Severity.P3)
    incident = declared.incident
    await service.acknowledge(incident, actor_id=ALICE, source="slack")
    await service.add_timeline_entry(incident, kind="note", text="notes fire no event", actor_id=ALICE, source="slack")
    await service.move(incident, actor_id=ALICE, target=Status.RESOLVED, source="slack")
    await service.move(incident, actor_id=ALICE, target=Status.RESOLVED, source="slack")  # no-op: no event
    assert seen == [events.OPENED, events.ACKNOWLEDGED, events.RESOLVED]
    async with vigil.container.sessions() as session:
        rows = (
            await session.scalars(select(ProcessedEvent.event_id).where(ProcessedEvent.event_id.like("incident.%")))
        ).all()
    assert sorted(rows) == sorted(f"{name}:{incident.number}" for name in seen)


async def test_a_failing_subscriber_undoes_the_change(vigil: Vigil) -> None:
    async def broken(event: events.DomainEvent, session: Any) -> None:
        raise RuntimeError("outbox down")

    vigil.container.bus.subscribe(broken, events=(events.OPENED,))
    with pytest.raises(RuntimeError):
        await vigil.container.incidents.declare(
            team_id=vigil.team_id, reporter_id=ALICE, title="Never declared", severity=Severity.P3
        )
    assert await vigil.incidents() == []
    assert vigil.emu.calls_to("conversations.create") == []
