"""A Vigil container for delivery tests: real database, real outbox and worker, a frozen clock, no Slack.

Incidents are written straight to the database and their domain events published on the container's bus inside
the same transaction, exactly as the incident service does, so the outbox under test is the real one.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.clock import FrozenClock
from bot.container import Container, build_container
from bot.incidents import events
from bot.settings import load_settings
from db.models import Delivery, Incident
from db.workspaces import record_workspace
from integrations.service import IntegrationInput
from integrations.worker import DeliveryWorker

TEAM = "T0PLATFORM"


def key_ring(*kids: str) -> str:
    return ",".join(f"{kid}:{base64.b64encode(os.urandom(32)).decode()}" for kid in kids or ("k1",))


@dataclass
class Platform:
    container: Container
    clock: FrozenClock

    @property
    def service(self) -> Any:
        return self.container.integrations

    @property
    def worker(self) -> Any:
        return self.container.worker

    def another_worker(self, **options: Any) -> DeliveryWorker:
        """A second delivery worker on the same database, as a restarted or another process runs one."""
        return DeliveryWorker(
            sessions=self.container.sessions,
            clock=self.clock,
            keys=self.container.integrations.keys,
            providers=self.container.integrations.providers,
            http=self.container.outbound,
            **options,
        )

    async def add_webhook(self, url: str, name: str = "hook", **change: Any) -> Any:
        created = await self.service.add(
            team_id=TEAM, user_id=None, kind="webhook", change=IntegrationInput(name=name, settings={"url": url}, **change)
        )
        return created

    async def open_incident(
        self,
        number: int,
        *,
        severity: str = "P2",
        private: bool = False,
        channel_id: str | None = "C0INC",
        component_id: int | None = None,
        source: str = "slack",
    ) -> Incident:
        now = self.clock.now()
        async with self.container.sessions() as session, session.begin():
            incident = Incident(
                team_id=TEAM,
                number=number,
                title=f"Incident {number}",
                severity=severity,
                status="open",
                private=private,
                reporter_id="U0ALICE",
                commander_id="U0ALICE",
                channel_id=channel_id,
                component_id=component_id,
                created_at=now,
                updated_at=now,
                last_update_at=now,
            )
            session.add(incident)
            await session.flush()
            await self.publish(session, events.OPENED, incident, source=source)
        return incident

    async def change(self, incident: Incident, name: str, *, source: str = "slack", **changes: Any) -> None:
        async with self.container.sessions() as session, session.begin():
            row = await session.get(Incident, incident.id)
            assert row is not None
            if "status" in changes:
                row.status = changes["status"]
            await self.publish(session, name, row, source=source, **changes)

    async def publish(self, session: Any, name: str, incident: Incident, *, source: str, **changes: Any) -> None:
        await self.container.bus.publish(
            events.DomainEvent(
                name=name,
                team_id=TEAM,
                incident_id=incident.id,
                number=incident.number,
                actor_id="U0ALICE",
                source=source,
                occurred_at=self.clock.now(),
                changes=changes,
            ),
            session,
        )

    async def deliveries(self) -> list[Delivery]:
        async with self.container.sessions() as session:
            return list((await session.scalars(select(Delivery).order_by(Delivery.id))).all())

    async def drain(self) -> int:
        """Run worker rounds until nothing is due now."""
        total = 0
        while done := await self.worker.run_once():
            total += done
        return total


def body_of(request: Any) -> dict[str, Any]:
    return dict(json.loads(request.body))


async def make_platform(db_url: str, ca_bundle: Path, **env: Any) -> Platform:
    settings = load_settings(
        env_file=None,
        VIGIL_DATABASE_URL=db_url,
        VIGIL_ENCRYPTION_KEYS=env.pop("VIGIL_ENCRYPTION_KEYS", key_ring()),
        VIGIL_CA_BUNDLE=str(ca_bundle),
        VIGIL_OUTBOUND_ALLOW_PRIVATE=env.pop("VIGIL_OUTBOUND_ALLOW_PRIVATE", "true"),
        **env,
    )
    clock = FrozenClock()
    container = build_container(settings, clock=clock)
    async with container.sessions() as session, session.begin():
        await record_workspace(session, team_id=TEAM, name="Acme", url="https://acme.slack.com/", bot_user_id="U0BOT")
    return Platform(container=container, clock=clock)
