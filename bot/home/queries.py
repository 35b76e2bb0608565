"""App Home's read side: what one user may see on one tab, as the `HomeData` the Block Kit builders render.

Reads only; admin tabs load nothing for non-admins (they get the overview), so a forged tab name shows nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.blocks.declare import DeclareContext
from bot.blocks.home import (
    ADMIN_TABS,
    COMPONENTS,
    INCIDENTS_PAGE_SIZE,
    INTEGRATIONS,
    INTEGRATIONS_PAGE_SIZE,
    LIST_PAGE_SIZE,
    OVERVIEW,
    RESOLVED_SHOWN,
    SETTINGS,
    SOS,
    TABS,
    TAGS,
    USERGROUPS,
    ComponentLine,
    HomeData,
    IdentityLine,
    IncidentLine,
    SettingsLine,
    Setup,
    SosTargetLine,
    UsergroupLine,
)
from bot.blocks.integrations import DELIVERY_LOG_SIZE, IntegrationsTab
from bot.clock import Clock, SystemClock
from bot.incidents.access import Actor
from bot.incidents.events import OPENED
from bot.incidents.states import Status
from db.components import list_components
from db.identities import identities_of
from db.incidents import ACTIVE_STATUSES, visible_incidents
from db.integrations import active_integrations
from db.models import Component, Identity, Incident, Integration, SosTarget, Usergroup
from db.pagerduty import shifts_of
from db.sos import list_sos_targets
from db.tags import (
    CONVERSATION_TAGS,
    DEV_FIREFIGHTER,
    INVITED_FOR_ALL_PUBLIC_P1,
    IT_DEPLOY,
    TECH_INCIDENTS,
    USERGROUP_TAGS,
    tagged_conversation,
    tagged_usergroup,
)
from db.usergroups import list_usergroups
from db.workspaces import WorkspaceSettings, workspace_settings
from integrations.pagerduty.provider import RANK, PagerDutyProvider

if TYPE_CHECKING:
    from integrations.service import IntegrationService

AWAITING_CLOSE = (str(Status.RESOLVED), str(Status.POSTMORTEM))
RESOLVED_LIMIT = 200  # counted for "and N more"; the Home shows RESOLVED_SHOWN
T = TypeVar("T")


def incident_line(row: Incident) -> IncidentLine:
    return IncidentLine(
        number=row.number,
        title=row.title,
        severity=row.severity,
        status=row.status,
        channel_id=row.channel_id,
        private=row.private,
        commander_id=row.commander_id,
        declared_at=row.created_at,
    )


def identity_line(row: Identity) -> IdentityLine:
    return IdentityLine(kind=row.kind, external_id=row.external_id, source=row.source)


def sos_target_line(row: SosTarget) -> SosTargetLine:
    return SosTargetLine(id=row.id, name=row.name, conversation_id=row.conversation_id, usergroup_id=row.usergroup_id)


def component_line(row: Component) -> ComponentLine:
    return ComponentLine(
        id=row.id,
        name=row.name,
        usergroup_ids=tuple(row.usergroup_ids or ()),
        pagerduty_service_id=row.pagerduty_service_id,
        has_routing_key=row.pagerduty_routing_key is not None,
    )


def usergroup_line(row: Usergroup) -> UsergroupLine:
    return UsergroupLine(id=row.id, handle=row.handle, name=row.name, members=len(row.user_ids or []), disabled=row.disabled)


def settings_line(settings: WorkspaceSettings) -> SettingsLine:
    return SettingsLine(archive_grace_days=settings.archive_grace_days, reminder_minutes=dict(settings.reminder_minutes))


def _page(rows: Sequence[T], page: int) -> list[T]:
    return list(rows[page * LIST_PAGE_SIZE : (page + 1) * LIST_PAGE_SIZE])


async def tag_values(session: AsyncSession, *, team_id: str) -> tuple[dict[str, str | None], dict[str, str | None]]:
    """Where each conversation tag and each usergroup tag is now (None: not set)."""
    conversations = {tag: await tagged_conversation(session, team_id=team_id, tag=tag) for tag in CONVERSATION_TAGS}
    usergroups = {tag: await tagged_usergroup(session, team_id=team_id, tag=tag) for tag in USERGROUP_TAGS}
    return conversations, usergroups


PAGERDUTY_THRESHOLD = next(f.default for f in PagerDutyProvider.settings if f.name == "severity_threshold")


def pages_up_to(integrations: Sequence[Integration]) -> str | None:
    """The least severe severity at which declaring pages someone through an active PagerDuty integration (its
    severity threshold, narrowed by its minimum severity; one that skips `incident.opened` pages nobody then)."""
    ranks = []
    for row in integrations:
        if row.kind != PagerDutyProvider.kind or (row.events and OPENED not in row.events):
            continue
        threshold = str((row.config or {}).get("severity_threshold") or PAGERDUTY_THRESHOLD)
        ranks.append(min(RANK.get(threshold, 0), RANK.get(row.min_severity or "P5", 0)))
    worst = max(ranks, default=0)
    return f"P{worst}" if worst else None


SHIFTS_AHEAD = timedelta(days=7)
SHIFTS_SHOWN = 5


class HomeQueries:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        command: str,
        integrations: IntegrationService | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.sessions = sessions
        self.command = command
        self.integrations = integrations
        self.clock = clock or SystemClock()

    async def home(
        self, *, actor: Actor, team_id: str, tab: str, page: int = 0, notice: str | None = None, alert: bool = False
    ) -> HomeData:
        """What `actor` may see on `tab` (page `page`)."""
        if tab not in TABS or (tab in ADMIN_TABS and not actor.is_admin):
            tab, page = OVERVIEW, 0
        base: dict[str, Any] = {
            "user_id": actor.user_id,
            "team_id": team_id,
            "now": self.clock.now(),
            "command": self.command,
            "is_admin": actor.is_admin,
            "tab": tab,
            "page": page,
            "notice": notice,
            "alert": alert,
        }
        if tab in (OVERVIEW, SETTINGS):
            base["integrations"] = await self._active_integrations(team_id=team_id)
        elif tab == INTEGRATIONS:
            base |= await self._integrations_tab(actor, team_id=team_id, page=page)
        async with self.sessions() as session:
            base |= await self._active(session, actor, team_id=team_id, page=page if tab == OVERVIEW else 0)
            if actor.is_admin:
                base["setup"] = await self._setup(session, team_id=team_id)
            if tab == OVERVIEW:
                base |= await self._overview(session, actor, team_id=team_id)
            elif tab == TAGS:
                conversations, usergroups = await tag_values(session, team_id=team_id)
                base |= {"conversation_tags": conversations, "usergroup_tags": usergroups}
            elif tab == SOS:
                targets = await list_sos_targets(session, team_id=team_id)
                base |= {"total": len(targets), "sos_targets": [sos_target_line(t) for t in _page(targets, page)]}
            elif tab == COMPONENTS:
                components = await list_components(session, team_id=team_id)
                base |= {"total": len(components), "components": [component_line(c) for c in _page(components, page)]}
            elif tab == USERGROUPS:
                groups = await list_usergroups(session, team_id=team_id)
                base |= {"total": len(groups), "usergroups": [usergroup_line(g) for g in _page(groups, page)]}
            elif tab == SETTINGS:
                base["settings"] = settings_line(await workspace_settings(session, team_id=team_id))
        return HomeData(**base)

    async def declare_context(self, *, team_id: str) -> DeclareContext:
        """What the declare form says will happen, and the components to pick from."""
        async with self.sessions() as session:
            integrations = await active_integrations(session, team_id=team_id)
            return DeclareContext(
                components=[(c.id, c.name) for c in await list_components(session, team_id=team_id)],
                announce_channel_id=await tagged_conversation(session, team_id=team_id, tag=TECH_INCIDENTS),
                deploy_channel_id=await tagged_conversation(session, team_id=team_id, tag=IT_DEPLOY),
                p1_usergroup_id=await tagged_usergroup(session, team_id=team_id, tag=INVITED_FOR_ALL_PUBLIC_P1),
                pages_up_to=pages_up_to(integrations),
                oncall_invited=any(i.kind == PagerDutyProvider.kind for i in integrations),
            )

    async def _active_integrations(self, *, team_id: str) -> list[str]:
        """Names only: everyone may know which integrations are on, never how they are configured."""
        if self.integrations is None:
            return []
        return [i.name for i in await self.integrations.list_integrations(team_id=team_id) if i.active]

    async def _integrations_tab(self, actor: Actor, *, team_id: str, page: int) -> dict[str, Any]:
        """Through the integration service, which alone opens sealed secrets (the views carry their names only)."""
        if self.integrations is None:
            return {"integrations_tab": IntegrationsTab()}
        views = await self.integrations.list_integrations(team_id=team_id)
        deliveries = await self.integrations.deliveries(team_id=team_id, limit=DELIVERY_LOG_SIZE)
        shown = views[page * INTEGRATIONS_PAGE_SIZE : (page + 1) * INTEGRATIONS_PAGE_SIZE]
        tab = IntegrationsTab(
            kinds=self.integrations.kinds, integrations=shown, deliveries=deliveries, can_rotate=actor.is_owner
        )
        return {"total": len(views), "integrations_tab": tab}

    async def _visible(
        self, session: AsyncSession, actor: Actor, *, team_id: str, statuses: tuple[str, ...], limit: int
    ) -> list[Incident]:
        return await visible_incidents(
            session,
            team_id=team_id,
            user_id=actor.user_id,
            is_admin=actor.is_admin,
            is_guest=actor.is_guest,
            statuses=statuses,
            limit=limit,
        )

    async def _active(self, session: AsyncSession, actor: Actor, *, team_id: str, page: int) -> dict[str, Any]:
        # One row past the page says whether there is a next one.
        rows = await self._visible(
            session, actor, team_id=team_id, statuses=ACTIVE_STATUSES, limit=(page + 1) * INCIDENTS_PAGE_SIZE + 1
        )
        shown = rows[page * INCIDENTS_PAGE_SIZE : (page + 1) * INCIDENTS_PAGE_SIZE]
        return {
            "incidents": [incident_line(i) for i in shown],
            "has_more_incidents": len(rows) > (page + 1) * INCIDENTS_PAGE_SIZE,
        }

    async def _setup(self, session: AsyncSession, *, team_id: str) -> Setup:
        return Setup(
            announce_channel=await tagged_conversation(session, team_id=team_id, tag=TECH_INCIDENTS) is not None,
            help_channel=await tagged_conversation(session, team_id=team_id, tag=DEV_FIREFIGHTER) is not None,
            components=bool(await list_components(session, team_id=team_id)),
            pagerduty=any(i.kind == PagerDutyProvider.kind for i in await active_integrations(session, team_id=team_id)),
        )

    async def _overview(self, session: AsyncSession, actor: Actor, *, team_id: str) -> dict[str, Any]:
        resolved = await self._visible(session, actor, team_id=team_id, statuses=AWAITING_CLOSE, limit=RESOLVED_LIMIT)
        return {
            "resolved": [incident_line(i) for i in resolved[:RESOLVED_SHOWN]],
            "more_resolved": max(0, len(resolved) - RESOLVED_SHOWN),
            "identities": [
                identity_line(row) for row in await identities_of(session, team_id=team_id, user_id=actor.user_id)
            ],
            "help_channel_id": await tagged_conversation(session, team_id=team_id, tag=DEV_FIREFIGHTER),
            **await self._shifts(session, actor, team_id=team_id),
        }

    async def _shifts(self, session: AsyncSession, actor: Actor, *, team_id: str) -> dict[str, Any]:
        """The viewer's PagerDuty shifts now and over the next days, as the last sync saw them."""
        connected = any(i.kind == "pagerduty" for i in await active_integrations(session, team_id=team_id))
        if not connected:
            return {"pagerduty": False}
        now = self.clock.now()
        shifts = await shifts_of(session, team_id=team_id, slack_user_id=actor.user_id, now=now, until=now + SHIFTS_AHEAD)
        return {"pagerduty": True, "shifts": shifts[:SHIFTS_SHOWN], "now": now}
