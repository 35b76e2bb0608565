"""Wiring by hand: the one place that knows concrete classes. Nothing here runs at import time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.admin.service import AdminService
from bot.admin.slack_lookup import SlackWebLookup
from bot.clock import Clock, SystemClock
from bot.directory import Directory
from bot.home.publisher import HomePublisher
from bot.home.queries import HomeQueries
from bot.identities import IdentityService
from bot.incidents.events import EventBus
from bot.incidents.ports import ChatPort
from bot.incidents.queries import IncidentQueries
from bot.incidents.service import IncidentService
from bot.metrics import Metrics
from bot.people import DirectoryPeople
from bot.settings import Settings
from bot.slack_chat import SlackChat
from bot.slack_client import make_slack_client
from bot.sos import SosService
from db.engine import make_engine, make_session_factory
from integrations.http.aio import make_session
from integrations.http.guard import OutboundPolicy
from integrations.outbox import Outbox
from integrations.registry import PROVIDERS, Registry
from integrations.secret_box import KeyRing
from integrations.service import IntegrationService
from integrations.worker import DeliveryWorker


class OutboundSession:
    """The one guarded HTTP session every provider shares, made on first use (inside the running loop)."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self.policy = policy
        self._session: aiohttp.ClientSession | None = None

    def __call__(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = make_session(self.policy)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


@dataclass
class Container:
    settings: Settings
    clock: Clock
    metrics: Metrics
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    slack: AsyncWebClient
    bus: EventBus
    incidents: IncidentService
    queries: IncidentQueries
    directory: Directory
    admin: AdminService
    home: HomePublisher
    sos: SosService
    identities: IdentityService
    integrations: IntegrationService
    worker: DeliveryWorker
    outbound: OutboundSession
    extras: dict[str, Any] = field(default_factory=dict)

    async def open(self) -> None:
        """Start what needs a running loop: one pooled HTTP session for Slack, so calls reuse connections."""
        if self.extras.get("slack_http") is None and isinstance(self.slack, AsyncWebClient) and self.slack.session is None:
            self.slack.session = self.extras["slack_http"] = aiohttp.ClientSession()

    async def aclose(self) -> None:
        http = self.extras.pop("slack_http", None)
        if http is not None:
            await http.close()
        await self.outbound.close()
        await self.engine.dispose()


def build_container(settings: Settings, **overrides: Any) -> Container:
    """Build every long-lived object from settings; tests pass fakes for any of them by name."""
    clock: Clock = overrides.pop("clock", None) or SystemClock()
    metrics: Metrics = overrides.pop("metrics", None) or Metrics()
    engine: AsyncEngine = overrides.pop("engine", None) or make_engine(settings.db_url)
    sessions = overrides.pop("sessions", None) or make_session_factory(engine)
    slack = overrides.pop("slack", None) or make_slack_client(
        token=settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else "",
        base_url=settings.slack_api_url,
        metrics=metrics,
    )
    bus: EventBus = overrides.pop("bus", None) or EventBus()
    chat: ChatPort = overrides.pop("chat", None) or SlackChat(slack)
    directory = Directory(sessions=sessions, slack=slack, clock=clock, bootstrap_admins=settings.admin_ids)
    incidents = IncidentService(sessions=sessions, chat=chat, clock=clock, bus=bus, people=DirectoryPeople(directory))
    admin = AdminService(sessions=sessions, directory=directory, slack=SlackWebLookup(slack), clock=clock)
    sos = SosService(directory=directory, incidents=incidents, admin=admin)
    identities = IdentityService(sessions=sessions, directory=directory, clock=clock, command=settings.command)
    providers: Registry = overrides.pop("providers", None) or dict(PROVIDERS)
    keys: KeyRing = overrides.pop("keys", None) or KeyRing.from_settings(settings)
    policy: OutboundPolicy = overrides.pop("policy", None) or OutboundPolicy.from_settings(settings)
    outbound = OutboundSession(policy)
    worker = DeliveryWorker(sessions=sessions, clock=clock, keys=keys, providers=providers, http=outbound)
    bus.subscribe(Outbox(providers=providers, clock=clock, enabled=settings.outbound_enabled, wake=worker.wake).on_event)
    integrations = IntegrationService(
        sessions=sessions,
        clock=clock,
        keys=keys,
        providers=providers,
        policy=policy,
        public_url=settings.public_url,
        worker=worker,
        outbound_enabled=settings.outbound_enabled,
        directory=directory,
    )
    # The Integrations tab reads through the integration service (it alone opens sealed secrets).
    home = HomePublisher(
        queries=HomeQueries(sessions=sessions, command=settings.command, integrations=integrations),
        directory=directory,
        slack=slack,
    )
    if overrides:
        raise TypeError(f"unknown overrides: {', '.join(sorted(overrides))}")
    return Container(
        settings=settings,
        clock=clock,
        metrics=metrics,
        engine=engine,
        sessions=sessions,
        slack=slack,
        bus=bus,
        incidents=incidents,
        queries=IncidentQueries(sessions=sessions, clock=clock),
        directory=directory,
        admin=admin,
        home=home,
        sos=sos,
        identities=identities,
        integrations=integrations,
        worker=worker,
        outbound=outbound,
    )
