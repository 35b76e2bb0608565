"""Publishing one user's Home tab: always for the user who opened it or acted, never for everyone; and opening the
declare form, from the Home's Declare button and from `/incident open`."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.declare import declare_modal
from bot.blocks.home import ADMIN_TABS, OVERVIEW, home_view
from bot.directory import Directory
from bot.home.queries import HomeQueries
from bot.incidents.errors import NotAllowed
from bot.permissions import admin_refusal


class HomePublisher:
    def __init__(self, *, queries: HomeQueries, directory: Directory, slack: AsyncWebClient) -> None:
        self.queries = queries
        self.directory = directory
        self.slack = slack

    async def publish(
        self,
        *,
        team_id: str,
        user_id: str,
        tab: str = OVERVIEW,
        page: int = 0,
        notice: str | None = None,
        alert: bool = False,
    ) -> None:
        """Render `tab` for `user_id` and publish it; an admin tab shows a non-admin the overview instead (a Home
        reopened after losing admin rights still opens). The notice (`alert`: it reports a failure) is shown on this
        publish only, which is what lets a secret be shown once."""
        actor = await self.directory.actor(team_id=team_id, user_id=user_id)
        data = await self.queries.home(actor=actor, team_id=team_id, tab=tab, page=page, notice=notice, alert=alert)
        await self.slack.views_publish(user_id=user_id, view=home_view(data))

    async def show(self, *, team_id: str, user_id: str, tab: str, page: int = 0) -> None:
        """A tab someone pressed for: the admin tabs are refused to anyone else (checked on every press, since a
        payload can be forged), and nothing is published for them."""
        actor = await self.directory.actor(team_id=team_id, user_id=user_id)
        if tab in ADMIN_TABS and not actor.is_admin:
            raise NotAllowed(admin_refusal("open the admin tabs of App Home"))
        data = await self.queries.home(actor=actor, team_id=team_id, tab=tab, page=page)
        await self.slack.views_publish(user_id=user_id, view=home_view(data))

    async def open_declare(
        self,
        *,
        trigger_id: str,
        team_id: str,
        title: str = "",
        severity: str | None = None,
        origin_channel_id: str | None = None,
    ) -> None:
        """The declare form, pre-filled, saying what declaring will do in this workspace."""
        context = await self.queries.declare_context(team_id=team_id)
        view = declare_modal(title=title, severity=severity, context=context, origin_channel_id=origin_channel_id)
        await self.slack.views_open(trigger_id=trigger_id, view=view)
