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
from bot.incidents.reminders import Housekeeping, HousekeepingChat
from bot.incidents.service import IncidentService
from bot.jobs.service import JobService, JobTiming, Sleep
from bot.metrics import Metrics
from bot.people import DirectoryPeople
from bot.settings import Settings
from bot.slack_chat import SlackChat
from bot.slack_client import make_slack_client
from bot.slack_housekeeping import SlackHousekeeping
from bot.sos import SosService
from db.engine import make_engine, make_session_factory
from integrations.http.aio import make_session
from integrations.http.guard import OutboundPolicy
from integrations.inbound.service import InboundService
from integrations.outbox import Outbox
from integrations.pagerduty.service import PagerDutyService
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
    inbound: InboundService
    outbound: OutboundSession
    pagerduty: PagerDutyService
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def jobs(self) -> JobService:
        """Scheduled jobs (in `extras`, so listeners receive it by name as `jobs`)."""
        jobs: JobService = self.extras["jobs"]
        return jobs

    @property
    def housekeeping(self) -> Housekeeping:
        """Reminders and archiving (in `extras`, so listeners receive it by name as `housekeeping`)."""
        housekeeping: Housekeeping = self.extras["housekeeping"]
        return housekeeping

    async def open(self) -> None:
        """Start what needs a running loop: one pooled HTTP session for Slack, so calls reuse connections."""
        if self.extras.get("slack_http") is None and isinstance(self.slack, AsyncWebClient) and self.slack.session is None:
            self.slack.session = self.extras["slack_http"] = aiohttp.ClientSession()

    async def aclose(self) -> None:
        http = self.extras.pop("slack_http", None)
        if http is not None:
            await http.close()
        await self.outbound.close()
        self.pagerduty.close()
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
    worker = DeliveryWorker(
        sessions=sessions, clock=clock, keys=keys, providers=providers, http=outbound, enabled=settings.outbound_enabled
    )
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
    pagerduty = PagerDutyService(
        sessions=sessions,
        clock=clock,
        keys=keys,
        policy=policy,
        worker=worker,
        outbound_enabled=settings.outbound_enabled,
        directory=directory,
    )
    admin.pagerduty = pagerduty
    # The Integrations tab reads through the integration service (it alone opens sealed secrets).
    home = HomePublisher(
        queries=HomeQueries(sessions=sessions, command=settings.command, integrations=integrations, clock=clock),
        directory=directory,
        slack=slack,
    )
    housekeeping_chat: HousekeepingChat = overrides.pop("housekeeping_chat", None) or SlackHousekeeping(slack)
    housekeeping = Housekeeping(sessions=sessions, chat=housekeeping_chat, clock=clock)
    job_timing: JobTiming | None = overrides.pop("job_timing", None)
    job_sleep: Sleep | None = overrides.pop("job_sleep", None)
    inbound = InboundService(
        sessions=sessions, clock=clock, keys=keys, incidents=incidents, metrics=metrics, directory=directory
    )
    inbound.extra_actions["record_page"] = pagerduty.record_from_webhook
    if overrides:
        raise TypeError(f"unknown overrides: {', '.join(sorted(overrides))}")
    container = Container(
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
        inbound=inbound,
        pagerduty=pagerduty,
        extras={"housekeeping": housekeeping},
    )
    container.extras["jobs"] = JobService(container, timing=job_timing, sleep=job_sleep)
    return container
