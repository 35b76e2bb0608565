"""Usergroups from App Home (SPEC §5): imported by id alone (handle, name and members fetched from Slack),
refreshed, or removed when nothing uses them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.errors import SlackApiError

from bot import slack_ids as ids
from bot.blocks.admin import usergroup_import_modal
from bot.blocks.home import USERGROUPS
from bot.container import Container
from bot.directory import Directory
from bot.incidents.errors import InvalidInput, NotFound
from db.components import components_using_usergroup
from db.sos import usergroup_in_sos_targets
from db.tags import USERGROUP_TAGS, tagged_usergroup
from db.usergroups import delete_usergroup, get_usergroup, upsert_usergroup
from listeners.admin.common import admin_for_button, admin_for_submission, state_value, text_of
from listeners.home import publish_home, team_of, user_of

DOING = "manage usergroups"
USERGROUP_ID = re.compile(r"S[A-Z0-9]{2,31}", re.ASCII)


@dataclass(frozen=True)
class FetchedGroup:
    id: str
    handle: str
    name: str
    user_ids: list[str]
    disabled: bool


class SlackRefused(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


async def fetch_usergroup(client: Any, usergroup_id: str) -> FetchedGroup | None:
    """The group as Slack has it (None when Slack has no such group). `usergroups.list` is not paginated; members
    come with `include_users`, else from `usergroups.users.list`."""
    try:
        resp = await client.usergroups_list(include_users=True, include_disabled=True)
    except SlackApiError as exc:
        raise SlackRefused(str(exc.response.get("error"))) from None
    group = next((g for g in resp.get("usergroups") or [] if isinstance(g, dict) and g.get("id") == usergroup_id), None)
    if group is None:
        return None
    users = group.get("users")
    if not isinstance(users, list):
        try:
            users = list((await client.usergroups_users_list(usergroup=usergroup_id)).get("users") or [])
        except SlackApiError:
            users = []
    return FetchedGroup(
        id=usergroup_id,
        handle=str(group.get("handle") or ""),
        name=str(group.get("name") or ""),
        user_ids=[str(u) for u in users],
        disabled=bool(group.get("date_delete")),
    )


async def open_import(ack: AsyncAck, body: dict[str, Any], directory: Directory, client: Any) -> None:
    await admin_for_button(ack, directory=directory, body=body, doing=DOING)
    await client.views_open(trigger_id=body["trigger_id"], view=usergroup_import_modal())


async def submit_import(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], container: Container, directory: Directory, client: Any
) -> None:
    actor = await admin_for_submission(
        ack, directory=directory, body=body, view=view, default_block=ids.BLOCK_USERGROUP_ID, doing=DOING
    )
    if actor is None:
        return
    team_id, user_id = team_of(body), user_of(body)
    raw = text_of(state_value(view, ids.BLOCK_USERGROUP_ID, ids.ACTION_USERGROUP_ID)).strip().upper()
    if not USERGROUP_ID.fullmatch(raw):
        await ack(
            response_action="errors",
            errors={ids.BLOCK_USERGROUP_ID: "Usergroup IDs start with S, like S0123ABCD (not the @handle)."},
        )
        return
    try:
        group = await fetch_usergroup(client, raw)
    except SlackRefused as exc:
        await ack(
            response_action="errors",
            errors={ids.BLOCK_USERGROUP_ID: f"Slack would not list usergroups ({exc.code}); check Vigil's scopes."},
        )
        return
    if group is None:
        await ack(response_action="errors", errors={ids.BLOCK_USERGROUP_ID: f"Slack has no usergroup {raw}."})
        return
    if group.disabled:
        await ack(response_action="errors", errors={ids.BLOCK_USERGROUP_ID: f"@{group.handle} is disabled in Slack."})
        return
    await ack()
    async with container.sessions() as session, session.begin():
        await upsert_usergroup(
            session,
            team_id=team_id,
            usergroup_id=group.id,
            handle=group.handle,
            name=group.name,
            user_ids=group.user_ids,
            disabled=False,
            at=container.clock.now(),
        )
    notice = f"Imported @{group.handle} ({len(group.user_ids)} members)."
    await publish_home(container, client, team_id=team_id, user_id=user_id, tab=USERGROUPS, notice=notice, actor=actor)


async def _users_of(container: Container, team_id: str, usergroup_id: str) -> list[str]:
    """What still uses a usergroup, named for the admin."""
    async with container.sessions() as session:
        uses = [
            f"component {name}"
            for name in await components_using_usergroup(session, team_id=team_id, usergroup_id=usergroup_id)
        ]
        uses += [
            f"SOS target {name}"
            for name in await usergroup_in_sos_targets(session, team_id=team_id, usergroup_id=usergroup_id)
        ]
        for tag in USERGROUP_TAGS:
            if await tagged_usergroup(session, team_id=team_id, tag=tag) == usergroup_id:
                uses.append(f"the {tag} tag")
    return uses


async def on_menu(
    ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], container: Container, directory: Directory, client: Any
) -> None:
    actor = await admin_for_button(ack, directory=directory, body=body, doing=DOING)
    team_id, user_id = team_of(body), user_of(body)
    choice = str((action.get("selected_option") or {}).get("value") or "")
    verb, _, usergroup_id = choice.partition(":")
    async with container.sessions() as session:
        row = await get_usergroup(session, team_id=team_id, usergroup_id=usergroup_id)
    if verb not in ("refresh", "remove") or row is None:
        raise NotFound("That usergroup is not imported (any more); reopen App Home to see the current ones.")
    if verb == "remove":
        uses = await _users_of(container, team_id, usergroup_id)
        if uses:
            raise InvalidInput(f"@{row.handle} is still used by {', '.join(uses)}; change those first, then remove it.")
        async with container.sessions() as session, session.begin():
            await delete_usergroup(session, team_id=team_id, usergroup_id=usergroup_id)
        notice = f"Removed @{row.handle} from Vigil (it stays in Slack)."
    else:
        try:
            group = await fetch_usergroup(client, usergroup_id)
        except SlackRefused as exc:
            raise InvalidInput(f"Slack would not list usergroups ({exc.code}); check Vigil's scopes.") from None
        async with container.sessions() as session, session.begin():
            await upsert_usergroup(
                session,
                team_id=team_id,
                usergroup_id=usergroup_id,
                handle=group.handle if group else row.handle,
                name=group.name if group else row.name,
                user_ids=group.user_ids if group else [],
                disabled=group is None or group.disabled,
                at=container.clock.now(),
            )
        notice = (
            f"Refreshed @{group.handle} ({len(group.user_ids)} members)."
            if group and not group.disabled
            else f"@{row.handle} is gone or disabled in Slack; marked disabled."
        )
    await publish_home(container, client, team_id=team_id, user_id=user_id, tab=USERGROUPS, notice=notice, actor=actor)


def register(registry: Any) -> None:
    registry.action(ids.ACTION_ADMIN_IMPORT_USERGROUP)(open_import)
    registry.view(ids.VIEW_ADMIN_USERGROUP)(submit_import)
    registry.action(ids.ACTION_ADMIN_USERGROUP_MENU)(on_menu)
