"""The outbox: a subscriber of the incident's domain events that writes one delivery row per interested integration,
inside the incident's own transaction, so a change and its deliveries commit (or roll back) together.

Nothing here talks to a vendor or to Slack: the declaration path only pays for one indexed read of the workspace's
active integrations (and the inserts when there are some). The worker is woken after the commit.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.incidents.events import ACKNOWLEDGED, CLOSED, RESOLVED, DomainEvent
from db.integrations import active_integrations
from db.models import Delivery, Incident, Integration
from db.pagerduty import paged_by
from integrations.base import PAGED_EVENT
from integrations.registry import Registry

log = logging.getLogger(__name__)

SEVERITY_RANK = {"P1": 1, "P2": 2, "P3": 3, "P4": 4, "P5": 5}
PAGE_FOLLOW_UPS = frozenset({ACKNOWLEDGED, RESOLVED, CLOSED})
ORIGIN_PREFIX = "integration:"  # the `source` of a change an integration's inbound webhook made


def origin_of(source: str) -> str | None:
    """The integration a change came from, if it came from one: it is never sent back there (loop protection)."""
    return source.removeprefix(ORIGIN_PREFIX) if source.startswith(ORIGIN_PREFIX) else None


def wants(integration: Integration, *, event: str, incident: Incident, source: str, handles: Callable[[str], bool]) -> bool:
    """Whether `integration` gets `event` about `incident`: its events, minimum severity (which gates every event),
    components, private incidents, and never the integration the change came from."""
    if origin_of(source) == integration.id or not handles(event):
        return False
    if integration.events and event not in integration.events:
        return False
    minimum = SEVERITY_RANK.get(integration.min_severity or "")
    if minimum is not None and SEVERITY_RANK.get(incident.severity, 99) > minimum:
        return False
    if integration.component_ids and incident.component_id not in integration.component_ids:
        return False
    return not (incident.private and not integration.include_private)


def delivery_row(
    *,
    team_id: str,
    integration_id: str,
    incident_id: int | None,
    event: str,
    occurred_at: datetime,
    data: Mapping[str, Any],
    now: datetime,
) -> Delivery:
    """A new pending delivery, due now: what the outbox writes for a domain event, and what a pager's `page` writes
    for itself (events no admin selects: only the pager's own service enqueues them)."""
    return Delivery(
        delivery_id=str(uuid.uuid4()),
        team_id=team_id,
        integration_id=integration_id,
        incident_id=incident_id,
        event=event,
        occurred_at=occurred_at,
        data=dict(data),
        status="pending",
        attempts=0,
        next_attempt_at=now,
        history=[],
        created_at=now,
    )


class Outbox:
    def __init__(self, *, providers: Registry, clock: Clock, enabled: bool, wake: Callable[[], None]) -> None:
        self.providers = {kind: factory() for kind, factory in providers.items()}
        self.clock = clock
        self.enabled = enabled
        self.wake = wake

    async def on_event(self, event: DomainEvent, session: AsyncSession) -> None:
        integrations = await active_integrations(session, team_id=event.team_id)
        if not integrations:
            return
        incident = await session.get(Incident, event.incident_id)
        if incident is None:
            return
        targets, filtered = [], []
        for integration in integrations:
            provider = self.providers.get(integration.kind)
            if provider is None:
                continue
            if wants(integration, event=event.name, incident=incident, source=event.source, handles=provider.handles):
                targets.append(integration)
            elif (
                getattr(provider, "pager", False)
                and event.name in PAGE_FOLLOW_UPS
                and origin_of(event.source) != integration.id
            ):
                filtered.append(integration.id)
        if filtered:
            # A page someone asked for (`page`) is made whatever the filters; its acknowledge and resolve follow it.
            paged = await paged_by(session, incident_id=incident.id, integration_ids=filtered, event=PAGED_EVENT)
            targets += [i for i in integrations if i.id in paged]
        if not targets:
            return
        if not self.enabled:
            log.info(
                "outbound suppressed (VIGIL_OUTBOUND_ENABLED=false): %s of INC-%s not sent to %d integration(s)",
                event.name,
                event.number,
                len(targets),
            )
            return
        now = self.clock.now()
        data: Mapping[str, Any] = {"actor_id": event.actor_id, "source": event.source, **event.changes}
        for integration in targets:
            session.add(
                delivery_row(
                    team_id=event.team_id,
                    integration_id=integration.id,
                    incident_id=incident.id,
                    event=event.name,
                    occurred_at=event.occurred_at,
                    data=data,
                    now=now,
                )
            )
        sa_event.listen(session.sync_session, "after_commit", self._committed, once=True)

    def _committed(self, session: Any) -> None:
        self.wake()
