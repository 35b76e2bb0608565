"""App Home's read side: what one user may see on one tab, as the `HomeData` the Block Kit builders render.

Reads only; admin tabs load nothing for non-admins (they get the overview), so a forged tab name shows nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.blocks.home import (
    ADMIN_TABS,
    COMPONENTS,
    INCIDENTS_PAGE_SIZE,
    INTEGRATIONS,
    INTEGRATIONS_PAGE_SIZE,
    LIST_PAGE_SIZE,
    OVERVIEW,
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
    SosTargetLine,
    UsergroupLine,
)
from bot.blocks.integrations import DELIVERY_LOG_SIZE, IntegrationsTab
from bot.clock import Clock, SystemClock
from bot.incidents.access import Actor
from bot.incidents.states import Status
from db.components import list_components
from db.identities import identities_of
from db.incidents import visible_incidents
from db.integrations import active_integrations
from db.models import Component, Identity, Incident, SosTarget, Usergroup
from db.pagerduty import shifts_of
from db.sos import list_sos_targets
from db.tags import CONVERSATION_TAGS, DEV_FIREFIGHTER, USERGROUP_TAGS, tagged_conversation, tagged_usergroup
from db.usergroups import list_usergroups
from db.workspaces import WorkspaceSettings, workspace_settings

if TYPE_CHECKING:
    from integrations.service import IntegrationService

NOT_CLOSED = tuple(str(s) for s in Status if s is not Status.CLOSED)
T = TypeVar("T")


def incident_line(row: Incident) -> IncidentLine:
    return IncidentLine(
        number=row.number,
        title=row.title,
        severity=row.severity,
        status=row.status,
        channel_id=row.channel_id,
        private=row.private,
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
            if tab == OVERVIEW:
                base |= await self._overview(session, actor, team_id=team_id, page=page)
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

    async def _overview(self, session: AsyncSession, actor: Actor, *, team_id: str, page: int) -> dict[str, Any]:
        # One row past the page says whether there is a next one.
        rows = await visible_incidents(
            session,
            team_id=team_id,
            user_id=actor.user_id,
            is_admin=actor.is_admin,
            is_guest=actor.is_guest,
            statuses=NOT_CLOSED,
            limit=(page + 1) * INCIDENTS_PAGE_SIZE + 1,
        )
        shown = rows[page * INCIDENTS_PAGE_SIZE : (page + 1) * INCIDENTS_PAGE_SIZE]
        return {
            "incidents": [incident_line(i) for i in shown],
            "has_more_incidents": len(rows) > (page + 1) * INCIDENTS_PAGE_SIZE,
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
