"""App Home: published for the user who opened it or acted, never for everyone.

Everyone gets Declare, the active incidents they may see (each with an Open link to its channel), and the overview
(resolved incidents, on-call, linked accounts, help channel, connected tools); admins also get a setup checklist until
the basics are set, and the back-office tabs, whose buttons and modals live in listeners/admin/.
"""

from __future__ import annotations

import json
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot import slack_ids as ids
from bot.blocks.home import OVERVIEW, TABS, read_home_metadata
from bot.home.publisher import HomePublisher
from bot.slack_payloads import team_of, user_of

TAB_ACTIONS = tuple(action_id for _, action_id in TABS.values())


async def on_app_home_opened(event: dict[str, Any], body: dict[str, Any], home: HomePublisher) -> None:
    if event.get("tab", "home") != "home":
        return
    tab, page = read_home_metadata((event.get("view") or {}).get("private_metadata"))
    await home.publish(team_id=str(body.get("team_id") or ""), user_id=str(event.get("user") or ""), tab=tab, page=page)


async def on_tab(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], home: HomePublisher) -> None:
    tab = str(action.get("value") or OVERVIEW)
    await ack()
    await home.show(team_id=team_of(body), user_id=user_of(body), tab=tab if tab in TABS else OVERVIEW)


async def on_page(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], home: HomePublisher) -> None:
    try:
        wanted = json.loads(str(action.get("value") or "{}"))
    except ValueError:
        wanted = {}
    tab, page = read_home_metadata(json.dumps(wanted) if isinstance(wanted, dict) else None)
    await ack()
    await home.show(team_id=team_of(body), user_id=user_of(body), tab=tab, page=page)


async def on_declare(ack: AsyncAck, body: dict[str, Any], home: HomePublisher) -> None:
    """The Home's Declare button opens the same modal as `/incident open`; its submission is handled there."""
    await ack()
    await home.open_declare(trigger_id=body["trigger_id"], team_id=team_of(body))


async def on_open_incident(ack: AsyncAck) -> None:
    """The Open button is a link to the incident's channel: Slack follows it; the press only needs an ack."""
    await ack()


def register(registry: Any) -> None:
    registry.event(ids.EVENT_APP_HOME_OPENED)(on_app_home_opened)
    registry.action(ids.ACTION_HOME_DECLARE)(on_declare)
    registry.action(ids.ACTION_HOME_OPEN_INCIDENT)(on_open_incident)
    for action_id in TAB_ACTIONS:
        registry.action(action_id)(on_tab)
    registry.action(ids.ACTION_HOME_PAGE_PREV)(on_page)
    registry.action(ids.ACTION_HOME_PAGE_NEXT)(on_page)
