"""App Home (SPEC §5): published for the user who opened it or acted, never for everyone.

Everyone gets the overview (Declare, the incidents they may see, on-call, identities, help channel, integrations);
admins also get the back-office tabs, whose buttons and modals live in listeners/admin/.
"""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot import slack_ids as ids
from bot.blocks.declare import declare_modal
from bot.blocks.home import (
    ADMIN_TABS,
    COMPONENTS,
    INCIDENTS_PAGE_SIZE,
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
    home_view,
    read_home_metadata,
)
from bot.container import Container
from bot.directory import Directory
from bot.incidents.access import Actor
from bot.incidents.errors import NotAllowed
from bot.incidents.states import Status
from bot.permissions import admin_refusal
from db.components import list_components
from db.identities import identities_of
from db.incidents import visible_incidents
from db.models import Usergroup
from db.sos import list_sos_targets
from db.tags import CONVERSATION_TAGS, DEV_FIREFIGHTER, USERGROUP_TAGS, tagged_conversation, tagged_usergroup
from db.usergroups import list_usergroups
from db.workspaces import workspace_settings

NOT_CLOSED = tuple(str(s) for s in Status if s is not Status.CLOSED)


def team_of(body: dict[str, Any]) -> str:
    return str((body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id") or body.get("team_id") or "")


def user_of(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("id") or body.get("user_id") or "")


def usergroup_line(group: Usergroup) -> UsergroupLine:
    return UsergroupLine(
        id=group.id, handle=group.handle, name=group.name, members=len(group.user_ids or []), disabled=group.disabled
    )


async def load_usergroups(container: Container, team_id: str) -> list[UsergroupLine]:
    async with container.sessions() as session:
        return [usergroup_line(g) for g in await list_usergroups(session, team_id=team_id)]


def _page(rows: list[Any], page: int) -> list[Any]:
    return rows[page * LIST_PAGE_SIZE : (page + 1) * LIST_PAGE_SIZE]


async def load_home(
    container: Container, actor: Actor, *, team_id: str, tab: str, page: int, notice: str | None = None
) -> HomeData:
    """What `actor` may see on `tab`; admin tabs load nothing for non-admins (they get the overview)."""
    if tab not in TABS or (tab in ADMIN_TABS and not actor.is_admin):
        tab, page = OVERVIEW, 0
    base: dict[str, Any] = {
        "user_id": actor.user_id,
        "command": container.settings.command,
        "is_admin": actor.is_admin,
        "tab": tab,
        "page": page,
        "notice": notice,
    }
    async with container.sessions() as session:
        if tab == OVERVIEW:
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
            base["incidents"] = [
                IncidentLine(
                    number=i.number,
                    title=i.title,
                    severity=i.severity,
                    status=i.status,
                    channel_id=i.channel_id,
                    private=i.private,
                )
                for i in shown
            ]
            base["has_more_incidents"] = len(rows) > (page + 1) * INCIDENTS_PAGE_SIZE
            base["identities"] = [
                IdentityLine(kind=row.kind, external_id=row.external_id, source=row.source)
                for row in await identities_of(session, team_id=team_id, user_id=actor.user_id)
            ]
            base["help_channel_id"] = await tagged_conversation(session, team_id=team_id, tag=DEV_FIREFIGHTER)
        elif tab == TAGS:
            base["conversation_tags"] = {
                tag: await tagged_conversation(session, team_id=team_id, tag=tag) for tag in CONVERSATION_TAGS
            }
            base["usergroup_tags"] = {
                tag: await tagged_usergroup(session, team_id=team_id, tag=tag) for tag in USERGROUP_TAGS
            }
        elif tab == SOS:
            targets = await list_sos_targets(session, team_id=team_id)
            base["total"] = len(targets)
            base["sos_targets"] = [
                SosTargetLine(id=t.id, name=t.name, conversation_id=t.conversation_id, usergroup_id=t.usergroup_id)
                for t in _page(targets, page)
            ]
        elif tab == COMPONENTS:
            components = await list_components(session, team_id=team_id)
            base["total"] = len(components)
            base["components"] = [
                ComponentLine(id=c.id, name=c.name, usergroup_ids=tuple(c.usergroup_ids or ()))
                for c in _page(components, page)
            ]
        elif tab == USERGROUPS:
            groups = await list_usergroups(session, team_id=team_id)
            base["total"] = len(groups)
            base["usergroups"] = [usergroup_line(g) for g in _page(groups, page)]
        elif tab == SETTINGS:
            settings = await workspace_settings(session, team_id=team_id)
            base["settings"] = SettingsLine(
                archive_grace_days=settings.archive_grace_days, reminder_minutes=dict(settings.reminder_minutes)
            )
    return HomeData(**base)


async def publish_home(
    container: Container,
    client: Any,
    *,
    team_id: str,
    user_id: str,
    tab: str = OVERVIEW,
    page: int = 0,
    notice: str | None = None,
    actor: Actor | None = None,
) -> None:
    """Publish the Home tab of one user: the one who opened it or acted."""
    actor = actor or await container.directory.actor(team_id=team_id, user_id=user_id)
    data = await load_home(container, actor, team_id=team_id, tab=tab, page=page, notice=notice)
    await client.views_publish(user_id=user_id, view=home_view(data))


async def on_app_home_opened(event: dict[str, Any], body: dict[str, Any], container: Container, client: Any) -> None:
    if event.get("tab", "home") != "home":
        return
    user_id = str(event.get("user") or "")
    tab, page = read_home_metadata((event.get("view") or {}).get("private_metadata"))
    await publish_home(container, client, team_id=str(body.get("team_id") or ""), user_id=user_id, tab=tab, page=page)


async def _actor_for(directory: Directory, *, team_id: str, user_id: str, tab: str) -> Actor:
    """Who is asking for `tab`; the admin tabs are refused to anyone else (checked on every press)."""
    actor = await directory.actor(team_id=team_id, user_id=user_id)
    if tab in ADMIN_TABS and not actor.is_admin:
        raise NotAllowed(admin_refusal("open the admin tabs of App Home"))
    return actor


async def on_tab(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], container: Container, directory: Directory, client: Any
) -> None:
    await ack()
    team_id, user_id = team_of(body), user_of(body)
    tab = str(action.get("value") or OVERVIEW)
    tab = tab if tab in TABS else OVERVIEW
    actor = await _actor_for(directory, team_id=team_id, user_id=user_id, tab=tab)
    await publish_home(container, client, team_id=team_id, user_id=user_id, tab=tab, actor=actor)


async def on_page(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], container: Container, directory: Directory, client: Any
) -> None:
    await ack()
    team_id, user_id = team_of(body), user_of(body)
    try:
        wanted = json.loads(str(action.get("value") or "{}"))
    except ValueError:
        wanted = {}
    tab, page = read_home_metadata(json.dumps(wanted) if isinstance(wanted, dict) else None)
    actor = await _actor_for(directory, team_id=team_id, user_id=user_id, tab=tab)
    await publish_home(container, client, team_id=team_id, user_id=user_id, tab=tab, page=page, actor=actor)


async def on_declare(ack: AsyncAck, body: dict[str, Any], container: Container, client: Any) -> None:
    """The Home's Declare button opens the same modal as `/incident open`; its submission is handled there."""
    await ack()
    async with container.sessions() as session:
        components = [(c.id, c.name) for c in await list_components(session, team_id=team_of(body))]
    await client.views_open(trigger_id=body["trigger_id"], view=declare_modal(components=components))


def register(registry: Any) -> None:
    registry.event(ids.EVENT_APP_HOME_OPENED)(on_app_home_opened)
    registry.action(ids.ACTION_HOME_DECLARE)(on_declare)
    for action_id in (
        ids.ACTION_HOME_TAB_OVERVIEW,
        ids.ACTION_HOME_TAB_TAGS,
        ids.ACTION_HOME_TAB_SOS,
        ids.ACTION_HOME_TAB_COMPONENTS,
        ids.ACTION_HOME_TAB_USERGROUPS,
        ids.ACTION_HOME_TAB_SETTINGS,
    ):
        registry.action(action_id)(on_tab)
    registry.action(ids.ACTION_HOME_PAGE_PREV)(on_page)
    registry.action(ids.ACTION_HOME_PAGE_NEXT)(on_page)
