"""The integration service: the one door-independent place that adds, changes, tests and removes integrations,
rotates their secrets, and reads the delivery log. The CLI and App Home both call it.

Who may do what is checked here: `user_id=None` is the CLI (trusted: whoever runs it can read the environment);
a Slack user must be an admin, and rotating a secret needs an owner. Secrets are sealed before they reach a
session and come back only once, in the answer that created them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.directory import Directory
from bot.incidents.errors import InvalidInput, NotAllowed, NotFound
from bot.permissions import require_admin
from db.components import find_component_by_name, list_components
from db.deliveries import cancel_open, get_delivery, list_deliveries
from db.integrations import (
    count_sealed,
    find_integration,
    name_in_use,
    sealed_elsewhere,
    team_integrations,
    with_expired_previous_secret,
)
from db.models import Delivery, Incident, Integration
from db.pagerduty import components_sealed_elsewhere, count_sealed_components, routing_key_aad
from db.workspaces import lock_workspace, only_workspace, record_workspace
from integrations.base import ConfigProblem, DeliveryFailed, Provider, without_secrets
from integrations.config import SEVERITIES, check_name, parse_events, parse_secrets, parse_settings
from integrations.http.guard import OutboundPolicy
from integrations.registry import Registry
from integrations.secret_box import KeyRing, NoKeyRing, Tampered, UnknownKey, generate_id, generate_secret
from integrations.worker import DeliveryWorker, configured

log = logging.getLogger(__name__)

ROTATION_OVERLAP = timedelta(hours=24)
MASK = "••••"
FOLLOWER_ERROR = "not sent: the earlier delivery"


class Problems(InvalidInput):
    """A change refused for one or more reasons, one line each, naming the key or variable."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class IntegrationView:
    id: str
    kind: str
    name: str
    active: bool
    events: tuple[str, ...]  # empty: every event
    min_severity: str | None
    components: tuple[str, ...]  # empty: every component
    include_private: bool
    config: Mapping[str, Any]
    secret_keys: tuple[str, ...]  # names only; values are never read back
    webhook_url: str
    created_at: datetime
    previous_secret_until: datetime | None

    def as_dict(self) -> dict[str, Any]:
        """For `--json` and logs: settings in full, secrets as ••••."""
        return {
            "id": self.id,
            "kind": self.kind,
            "name": self.name,
            "active": self.active,
            "events": list(self.events) or "all",
            "min_severity": self.min_severity,
            "components": list(self.components) or "all",
            "include_private": self.include_private,
            "config": dict(self.config),
            "secrets": {key: MASK for key in self.secret_keys},
            "webhook_url": self.webhook_url,
            "created_at": self.created_at.isoformat(),
            "previous_secret_until": self.previous_secret_until.isoformat() if self.previous_secret_until else None,
        }


@dataclass(frozen=True)
class Created:
    integration: IntegrationView
    shown_once: Mapping[str, str] = field(repr=False)  # inbound_secret and any secret Vigil generated


@dataclass(frozen=True)
class Rotated:
    integration: IntegrationView
    inbound_secret: str = field(repr=False)
    previous_valid_until: datetime


@dataclass(frozen=True)
class DeliveryView:
    delivery_id: str
    integration_id: str
    integration: str
    kind: str
    incident: str | None  # INC-<n>, None for test deliveries
    event: str
    status: str
    attempts: int
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None
    http_status: int | None
    duration_ms: int | None
    external_id: str | None
    error: str | None
    payload: Mapping[str, Any] | None
    history: Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class CheckLine:
    name: str
    ok: bool
    line: str


@dataclass(frozen=True)
class IntegrationInput:
    """A wanted change. None leaves a value as it is (on add: the default)."""

    name: str | None = None
    settings: Mapping[str, str] = field(default_factory=dict)
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    events: Sequence[str] | None = None
    min_severity: str | None = None  # "" clears it
    components: Sequence[str] | None = None
    include_private: bool | None = None


AuthTest = Callable[[], Awaitable[Mapping[str, Any]]]


class IntegrationService:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        keys: KeyRing,
        providers: Registry,
        policy: OutboundPolicy,
        public_url: str,
        worker: DeliveryWorker,
        outbound_enabled: bool = True,
        directory: Directory | None = None,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.keys = keys
        self.providers = providers
        self.policy = policy
        self.public_url = public_url.rstrip("/")
        self.worker = worker
        self.outbound_enabled = outbound_enabled
        self.directory = directory

    # ---------------------------------------------------------------- plumbing

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(sorted(self.providers))

    def provider(self, kind: str) -> Provider:
        factory = self.providers.get(kind.lower())
        if factory is None:
            raise Problems([f"kind: {kind} integrations are not built yet (available: {', '.join(self.kinds)})"])
        return factory()

    async def _authorize(self, *, team_id: str, user_id: str | None, doing: str, owner: bool = False) -> None:
        if user_id is None:
            return
        if self.directory is None:
            raise NotAllowed(f"Only admins can {doing}.")
        actor = await require_admin(self.directory, team_id=team_id, user_id=user_id, doing=doing)
        if owner and not actor.is_owner:
            raise NotAllowed(f"Only workspace owners (or one of VIGIL_ADMINS) can {doing}.")

    async def workspace(self, *, auth_test: AuthTest | None = None) -> str | None:
        """The team this deployment serves: from the database, else (for writing verbs) from Slack's auth.test,
        recorded so the integration has a workspace to belong to. None when unknown and not asked to learn it."""
        async with self.sessions() as session:
            ws = await only_workspace(session)
        if ws is not None:
            return ws.team_id
        if auth_test is None:
            return None
        auth = await auth_test()
        async with self.sessions() as session, session.begin():
            await record_workspace(
                session,
                team_id=str(auth["team_id"]),
                name=str(auth.get("team", "")),
                url=str(auth.get("url", "")),
                bot_user_id=str(auth.get("user_id", "")),
            )
        return str(auth["team_id"])

    def webhook_url(self, integration: Integration) -> str:
        return f"{self.public_url}/hooks/{integration.kind}/{integration.id}"

    def _seal(self, integration_id: str, secrets: Mapping[str, str]) -> tuple[str, str]:
        try:
            return self.keys.seal(secrets, aad=integration_id), self.keys.primary_kid
        except NoKeyRing as exc:
            raise Problems([f"VIGIL_ENCRYPTION_KEYS: {exc}"]) from None

    def _open(self, integration: Integration) -> dict[str, str]:
        if not integration.secrets:
            return {}
        try:
            return self.keys.open(integration.secrets, aad=integration.id)
        except (NoKeyRing, UnknownKey) as exc:
            raise Problems([f"VIGIL_ENCRYPTION_KEYS: {exc}"]) from None
        except Tampered:
            raise Problems([f"{integration.name}: its stored secrets do not decrypt; set them again"]) from None

    async def _view(self, session: AsyncSession, integration: Integration) -> IntegrationView:
        names = {c.id: c.name for c in await list_components(session, team_id=integration.team_id)}
        return self._view_with(integration, names)

    def _view_with(self, integration: Integration, component_names: Mapping[int, str]) -> IntegrationView:
        secret_keys = self._secret_keys(integration)
        return IntegrationView(
            id=integration.id,
            kind=integration.kind,
            name=integration.name,
            active=integration.active,
            events=tuple(integration.events or ()),
            min_severity=integration.min_severity,
            components=tuple(component_names.get(i, f"#{i}") for i in integration.component_ids or ()),
            include_private=integration.include_private,
            config=dict(integration.config or {}),
            secret_keys=secret_keys,
            webhook_url=self.webhook_url(integration),
            created_at=integration.created_at,
            previous_secret_until=integration.previous_secret_until,
        )

    def _secret_keys(self, integration: Integration) -> tuple[str, ...]:
        """Which secrets are set (never their values); the ring may be missing on a read-only verb."""
        try:
            opened = self._open(integration)
        except Problems:
            return ()
        return tuple(sorted(k for k in opened if k != "previous_inbound_secret"))

    async def _find(self, session: AsyncSession, *, team_id: str, ref: str, lock: bool = False) -> Integration:
        integration = await find_integration(session, team_id=team_id, ref=ref, lock=lock)
        if integration is None:
            raise NotFound(f"No integration {ref!r} (by id or name); it may have been removed.")
        return integration

    async def _component_ids(
        self, session: AsyncSession, *, team_id: str, names: Sequence[str]
    ) -> tuple[list[int], list[str]]:
        ids, problems = [], []
        for name in (n.strip() for n in names if n.strip()):
            component = await find_component_by_name(session, team_id=team_id, name=name)
            if component is None:
                problems.append(f"components: no component named {name!r}")
            else:
                ids.append(component.id)
        return ids, problems

    # ---------------------------------------------------------------- checks a door makes before its ack

    def check_change(self, *, kind: str, change: IntegrationInput, editing: bool) -> list[str]:
        """What the typed values alone get wrong, as `key: message` lines, without the database: the checks a form
        makes before it answers. Editing, a required value left empty keeps the stored one, so only what was typed
        is checked; `add` and `update` check everything again."""
        try:
            provider = self.provider(kind)
        except Problems as exc:
            return exc.problems
        kept_settings = {f.name: MASK for f in provider.settings if f.required} if editing else None
        kept_secrets = {f.name: MASK for f in provider.secrets if f.required} if editing else None
        settings, problems = parse_settings(provider, change.settings, current=kept_settings, policy=self.policy)
        secrets, secret_problems = parse_secrets(provider, change.secrets, current=kept_secrets, policy=self.policy)
        problems += secret_problems + parse_events(change.events)[1] + self._severity_problems(change.min_severity)
        if change.name is not None or not editing:
            problems += check_name(change.name or "")
        if not editing and not problems:
            problems += provider.check(settings, secrets)
        if len(self.keys) == 0:
            problems.append(f"VIGIL_ENCRYPTION_KEYS: {NoKeyRing()}")
        return problems

    async def connect_form(self, *, team_id: str, user_id: str | None, kind: str) -> Provider:
        """The kind whose form an admin is about to fill (its fields drive the form)."""
        await self._authorize(team_id=team_id, user_id=user_id, doing="connect integrations")
        return self.provider(kind)

    async def edit_form(self, *, team_id: str, user_id: str | None, ref: str) -> tuple[Provider, IntegrationView]:
        """An integration's kind and current values for its edit form; secrets only by name."""
        await self._authorize(team_id=team_id, user_id=user_id, doing="change integrations")
        view = await self.get(team_id=team_id, ref=ref)
        return self.provider(view.kind), view

    # ---------------------------------------------------------------- reads

    async def list_integrations(self, *, team_id: str) -> list[IntegrationView]:
        async with self.sessions() as session:
            names = {c.id: c.name for c in await list_components(session, team_id=team_id)}
            return [self._view_with(i, names) for i in await team_integrations(session, team_id=team_id)]

    async def get(self, *, team_id: str, ref: str) -> IntegrationView:
        async with self.sessions() as session:
            return await self._view(session, await self._find(session, team_id=team_id, ref=ref))

    # ---------------------------------------------------------------- writes

    async def add(self, *, team_id: str, user_id: str | None, kind: str, change: IntegrationInput) -> Created:
        """Add an integration; the inbound secret (and any secret Vigil generated) is returned once, here only."""
        await self._authorize(team_id=team_id, user_id=user_id, doing="connect integrations")
        provider = self.provider(kind)
        settings, problems = parse_settings(provider, change.settings, current=None, policy=self.policy)
        vendor_secrets, secret_problems = parse_secrets(provider, change.secrets, current=None, policy=self.policy)
        events, event_problems = parse_events(change.events)
        problems += secret_problems + event_problems + check_name(change.name or "")
        problems += self._severity_problems(change.min_severity)
        if not problems:
            problems += provider.check(settings, vendor_secrets)
        if problems:
            raise Problems(problems)
        integration_id = generate_id()
        shown = {"inbound_secret": generate_secret()}
        shown |= {f.name: generate_secret() for f in provider.secrets if f.generated and not vendor_secrets.get(f.name)}
        sealed, kid = self._seal(integration_id, {**vendor_secrets, **shown})

        async def write(session: AsyncSession) -> Integration:
            assert change.name is not None
            if await name_in_use(session, team_id=team_id, name=change.name):
                raise Problems([f"name: {change.name.strip()!r} is already used by another integration"])
            component_ids, problems = await self._component_ids(session, team_id=team_id, names=change.components or ())
            if problems:
                raise Problems(problems)
            now = self.clock.now()
            integration = Integration(
                id=integration_id,
                team_id=team_id,
                kind=provider.kind,
                name=change.name.strip(),
                config=settings,
                secrets=sealed,
                key_id=kid,
                active=True,
                events=events,
                min_severity=change.min_severity or None,
                component_ids=component_ids,
                include_private=provider.include_private_default
                if change.include_private is None
                else change.include_private,
                created_by=user_id,
                created_at=now,
                updated_at=now,
            )
            session.add(integration)
            await session.flush()
            return integration

        integration = await self._write(team_id, write)
        log.info("integration %s (%s) added by %s", integration.id, integration.kind, user_id or "the CLI")
        async with self.sessions() as session:
            view = await self._view(session, integration)
        return Created(integration=view, shown_once=shown)

    async def update(self, *, team_id: str, user_id: str | None, ref: str, change: IntegrationInput) -> IntegrationView:
        await self._authorize(team_id=team_id, user_id=user_id, doing="change integrations")

        async def write(session: AsyncSession) -> Integration:
            integration = await self._find(session, team_id=team_id, ref=ref, lock=True)
            provider = self.provider(integration.kind)
            current_secrets = self._open(integration)
            settings, problems = parse_settings(provider, change.settings, current=integration.config, policy=self.policy)
            secrets, secret_problems = parse_secrets(provider, change.secrets, current=current_secrets, policy=self.policy)
            problems += secret_problems + self._severity_problems(change.min_severity)
            if change.events is not None:
                events, event_problems = parse_events(change.events)
                problems += event_problems
            if change.name is not None:
                problems += check_name(change.name)
                if not problems and await name_in_use(session, team_id=team_id, name=change.name, other_than=integration.id):
                    problems.append(f"name: {change.name.strip()!r} is already used by another integration")
            if change.components is not None:
                component_ids, component_problems = await self._component_ids(
                    session, team_id=team_id, names=change.components
                )
                problems += component_problems
            if not problems:
                problems += provider.check(settings, secrets)
            if problems:
                raise Problems(problems)
            integration.config = settings
            if secrets != current_secrets:
                integration.secrets, integration.key_id = self._seal(integration.id, secrets)
            if change.events is not None:
                integration.events = events
            if change.name is not None:
                integration.name = change.name.strip()
            if change.components is not None:
                integration.component_ids = component_ids
            if change.min_severity is not None:
                integration.min_severity = change.min_severity or None
            if change.include_private is not None:
                integration.include_private = change.include_private
            integration.updated_at = self.clock.now()
            await session.flush()
            return integration

        integration = await self._write(team_id, write)
        async with self.sessions() as session:
            return await self._view(session, integration)

    async def set_active(self, *, team_id: str, user_id: str | None, ref: str, active: bool) -> tuple[IntegrationView, int]:
        """Enable or disable; disabling cancels what was still to be sent. Returns the view and how many were
        cancelled."""
        await self._authorize(team_id=team_id, user_id=user_id, doing="enable or disable integrations")

        async def write(session: AsyncSession) -> tuple[Integration, int]:
            integration = await self._find(session, team_id=team_id, ref=ref, lock=True)
            integration.active = active
            integration.updated_at = self.clock.now()
            cancelled = (
                0 if active else await cancel_open(session, integration_id=integration.id, reason="cancelled: disabled")
            )
            await session.flush()
            return integration, cancelled

        integration, cancelled = await self._write(team_id, write)
        async with self.sessions() as session:
            return await self._view(session, integration), cancelled

    async def remove(self, *, team_id: str, user_id: str | None, ref: str) -> IntegrationView:
        """Remove an integration with its links and delivery log."""
        await self._authorize(team_id=team_id, user_id=user_id, doing="remove integrations")

        async def write(session: AsyncSession) -> IntegrationView:
            integration = await self._find(session, team_id=team_id, ref=ref, lock=True)
            view = await self._view(session, integration)
            await session.execute(delete(Integration).where(Integration.id == integration.id))
            return view

        return await self._write(team_id, write)

    async def rotate_secret(self, *, team_id: str, user_id: str | None, ref: str) -> Rotated:
        """A new inbound secret, shown once; the old one keeps verifying (and signing beside it) for 24 hours."""
        await self._authorize(team_id=team_id, user_id=user_id, doing="rotate an integration's secret", owner=True)
        new_secret = generate_secret()

        async def write(session: AsyncSession) -> Integration:
            integration = await self._find(session, team_id=team_id, ref=ref, lock=True)
            secrets = self._open(integration)
            old = secrets.get("inbound_secret")
            secrets["inbound_secret"] = new_secret
            if old:
                secrets["previous_inbound_secret"] = old
            integration.secrets, integration.key_id = self._seal(integration.id, secrets)
            integration.previous_secret_until = self.clock.now() + ROTATION_OVERLAP if old else None
            integration.updated_at = self.clock.now()
            await session.flush()
            return integration

        integration = await self._write(team_id, write)
        log.info("integration %s: inbound secret rotated by %s", integration.id, user_id or "the CLI")
        async with self.sessions() as session:
            view = await self._view(session, integration)
        return Rotated(
            integration=view,
            inbound_secret=new_secret,
            previous_valid_until=integration.previous_secret_until or self.clock.now(),
        )

    async def set_inbound_token(
        self, *, team_id: str, user_id: str | None, ref: str, enabled: bool
    ) -> tuple[IntegrationView, str | None]:
        """Turn on (with a new token, returned this once) or off the `X-Vigil-Token` an integration's webhook accepts
        from tools that cannot sign. Off by default; owners only, like a secret rotation."""
        await self._authorize(team_id=team_id, user_id=user_id, doing="change an integration's inbound token", owner=True)
        token = generate_secret() if enabled else None

        async def write(session: AsyncSession) -> Integration:
            integration = await self._find(session, team_id=team_id, ref=ref, lock=True)
            secrets = self._open(integration)
            if token is None:
                secrets.pop("inbound_token", None)
            else:
                secrets["inbound_token"] = token
            integration.secrets, integration.key_id = self._seal(integration.id, secrets)
            integration.updated_at = self.clock.now()
            await session.flush()
            return integration

        integration = await self._write(team_id, write)
        log.info(
            "integration %s: inbound token turned %s by %s", integration.id, "on" if enabled else "off", user_id or "the CLI"
        )
        async with self.sessions() as session:
            return await self._view(session, integration), token

    async def _write(self, team_id: str, work: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
        """One transaction, one integration write per workspace at a time (name checks see what was just saved)."""
        try:
            async with self.sessions() as session, session.begin():
                await lock_workspace(session, team_id=team_id)
                return await work(session)
        except IntegrityError:
            raise Problems(["name: another change saved the same name a moment ago; try again"]) from None

    def _severity_problems(self, severity: str | None) -> list[str]:
        if severity and severity.upper() not in SEVERITIES:
            return ["min-severity: one of P1 to P5"]
        return []

    # ---------------------------------------------------------------- sending

    async def test(self, *, team_id: str, user_id: str | None, ref: str) -> DeliveryView:
        """Send the `[TEST]` sample (or the kind's harmless call) now and report the other side's answer. It is
        logged like any delivery, and never retried."""
        await self._authorize(team_id=team_id, user_id=user_id, doing="test integrations")
        if not self.outbound_enabled:
            raise InvalidInput("Outbound traffic is off (VIGIL_OUTBOUND_ENABLED=false); nothing was sent.")
        now = self.clock.now()
        async with self.sessions() as session, session.begin():
            integration = await self._find(session, team_id=team_id, ref=ref)
            delivery = Delivery(
                delivery_id=str(uuid.uuid4()),
                team_id=team_id,
                integration_id=integration.id,
                incident_id=None,
                event="test",
                occurred_at=now,
                data={"actor_id": user_id, "source": "cli" if user_id is None else "slack"},
                status="pending",
                attempts=0,
                next_attempt_at=None,
                history=[],
                created_at=now,
            )
            session.add(delivery)
            await session.flush()
            pk = delivery.id
        await self.worker.deliver_now(pk, final=True)
        return await self.delivery(team_id=team_id, ref=delivery.delivery_id)

    async def deliveries(
        self, *, team_id: str, integration: str | None = None, status: str | None = None, limit: int = 50
    ) -> list[DeliveryView]:
        limit = max(1, min(limit, 500))
        async with self.sessions() as session:
            integration_id = (await self._find(session, team_id=team_id, ref=integration)).id if integration else None
            rows = await list_deliveries(session, team_id=team_id, integration_id=integration_id, status=status, limit=limit)
            return await self._delivery_views(session, rows)

    async def delivery(self, *, team_id: str, ref: str) -> DeliveryView:
        async with self.sessions() as session:
            row = await get_delivery(session, team_id=team_id, ref=ref)
            if row is None:
                raise NotFound(f"No delivery {ref!r} (by its id, or 8 or more of its first characters).")
            return (await self._delivery_views(session, [row]))[0]

    async def retry(self, *, team_id: str, user_id: str | None, ref: str) -> DeliveryView:
        """Queue a failed (or cancelled) delivery again, with the same delivery id and a fresh retry schedule; the
        later deliveries that failed with it go along, in order."""
        await self._authorize(team_id=team_id, user_id=user_id, doing="retry deliveries")
        async with self.sessions() as session, session.begin():
            row = await get_delivery(session, team_id=team_id, ref=ref)
            if row is None:
                raise NotFound(f"No delivery {ref!r} (by its id, or 8 or more of its first characters).")
            if row.status not in ("failed", "cancelled"):
                raise InvalidInput(
                    f"Delivery {row.delivery_id[:8]} is {row.status}; only failed or cancelled ones are retried."
                )
            integration = await session.get(Integration, row.integration_id)
            if integration is None or not integration.active:
                raise InvalidInput(
                    f"Its integration {integration.name if integration else ''} is disabled; enable it first."
                )
            now = self.clock.now()
            requeue = {
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "claimed_until": None,
                "claim_token": None,
            }
            await session.execute(update(Delivery).where(Delivery.id == row.id).values(**requeue))
            if row.incident_id is not None:
                await session.execute(
                    update(Delivery)
                    .where(
                        Delivery.integration_id == row.integration_id,
                        Delivery.incident_id == row.incident_id,
                        Delivery.id > row.id,
                        Delivery.status == "failed",
                        Delivery.error.startswith(FOLLOWER_ERROR),
                    )
                    .values(**requeue)
                )
            delivery_id = row.delivery_id
        self.worker.wake()
        return await self.delivery(team_id=team_id, ref=delivery_id)

    async def _delivery_views(self, session: AsyncSession, rows: Sequence[Delivery]) -> list[DeliveryView]:
        integration_ids = {r.integration_id for r in rows}
        incident_ids = {r.incident_id for r in rows if r.incident_id is not None}
        integrations = {
            i.id: i for i in await session.scalars(select(Integration).where(Integration.id.in_(integration_ids)))
        }
        numbers = dict(
            (await session.execute(select(Incident.id, Incident.number).where(Incident.id.in_(incident_ids)))).all()
        )
        views = []
        for r in rows:
            integration = integrations.get(r.integration_id)
            views.append(
                DeliveryView(
                    delivery_id=r.delivery_id,
                    integration_id=r.integration_id,
                    integration=integration.name if integration else r.integration_id,
                    kind=integration.kind if integration else "?",
                    incident=f"INC-{numbers[r.incident_id]}" if r.incident_id in numbers else None,
                    event=r.event,
                    status=r.status,
                    attempts=r.attempts,
                    created_at=r.created_at,
                    last_attempt_at=r.last_attempt_at,
                    next_attempt_at=r.next_attempt_at,
                    http_status=r.http_status,
                    duration_ms=r.duration_ms,
                    external_id=r.external_id,
                    error=r.error,
                    payload=r.payload,
                    history=list(r.history or []),
                )
            )
        return views

    # ---------------------------------------------------------------- checks and upkeep

    async def check(self, *, team_id: str) -> list[CheckLine]:
        """`vigil check`: each active integration's configuration, secrets and harmless probe; nothing is posted."""
        async with self.sessions() as session:
            rows = [i for i in await team_integrations(session, team_id=team_id) if i.active]
        lines = []
        for integration in rows:
            name = f"integration {integration.name}"
            secrets: list[str] = []  # masked out of the line: a probe's error may quote the vendor quoting a secret
            try:
                provider = self.provider(integration.kind)
                opened = configured(self.keys, integration, now=self.clock.now())
                secrets = list(opened.secrets.values())
                problems = provider.check(opened.config, opened.secrets)
                if problems:
                    raise ConfigProblem("; ".join(problems))
                if not self.outbound_enabled:
                    lines.append(CheckLine(name, True, f"{integration.kind}: configured; probe skipped (outbound is off)"))
                    continue
                result = await provider.probe(opened, self.worker.http())
                lines.append(CheckLine(name, True, f"{integration.kind}: {result}"))
            except (Problems, ConfigProblem, DeliveryFailed) as exc:
                lines.append(CheckLine(name, False, f"{integration.kind}: {without_secrets(str(exc), secrets)}"))
            except (NoKeyRing, UnknownKey) as exc:
                lines.append(CheckLine(name, False, f"{integration.kind}: VIGIL_ENCRYPTION_KEYS: {exc}"))
            except Tampered:
                lines.append(CheckLine(name, False, f"{integration.kind}: stored secrets do not decrypt; set them again"))
        return lines

    async def purge_rotated_secrets(self) -> int:
        """Drop previous inbound secrets whose 24-hour overlap is over (the `purge_rotated_secrets` job)."""
        purged = 0
        async with self.sessions() as session, session.begin():
            for integration in await with_expired_previous_secret(session, now=self.clock.now()):
                try:
                    secrets = self.keys.open(integration.secrets, aad=integration.id)
                    secrets.pop("previous_inbound_secret", None)
                    integration.secrets, integration.key_id = self._seal(integration.id, secrets)
                except (NoKeyRing, UnknownKey, Tampered, Problems) as exc:
                    # One unreadable row must not keep the others' old secrets alive; it is named for the operator.
                    log.error("integration %s: previous secret not purged (%s)", integration.id, type(exc).__name__)
                    continue
                integration.previous_secret_until = None
                purged += 1
        return purged

    async def rotate_keys(self, *, progress: Callable[[int, int], None] | None = None, batch: int = 50) -> tuple[int, int]:
        """Re-seal every stored secret under the primary key, a batch per transaction, so an interrupted run
        resumes where it stopped and a second run finds nothing to do. Returns (moved, total sealed)."""
        if len(self.keys) == 0:
            raise Problems([f"VIGIL_ENCRYPTION_KEYS: {NoKeyRing()}"])
        primary = self.keys.primary_kid
        async with self.sessions() as session:
            todo = await count_sealed(session, primary_kid=primary) + await count_sealed_components(
                session, primary_kid=primary
            )
            total = await count_sealed(session) + await count_sealed_components(session)
        moved = 0
        if progress:
            progress(0, todo)
        while True:
            async with self.sessions() as session, session.begin():
                rows = await sealed_elsewhere(session, primary_kid=primary, limit=batch)
                for integration in rows:
                    integration.secrets = self._resealed(integration.secrets, aad=integration.id)
                    integration.key_id = primary
                # Then components' own PagerDuty routing keys, sealed the same way.
                components = [] if rows else await components_sealed_elsewhere(session, primary_kid=primary, limit=batch)
                for component in components:
                    assert component.pagerduty_routing_key is not None
                    component.pagerduty_routing_key = self._resealed(
                        component.pagerduty_routing_key, aad=routing_key_aad(component.id)
                    )
                    component.pagerduty_key_id = primary
            if not rows and not components:
                break
            moved += len(rows) + len(components)
            if progress:
                progress(moved, todo)
        return moved, total

    def _resealed(self, token: str, *, aad: str) -> str:
        try:
            return self.keys.reseal(token, aad=aad)
        except UnknownKey as exc:
            raise Problems([f"VIGIL_ENCRYPTION_KEYS: {exc}"]) from None
