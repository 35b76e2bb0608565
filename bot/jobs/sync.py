"""The Slack directory syncs: users, the usergroups Vigil knows, and the members of incident and tagged channels.

Pages are streamed and written one at a time (a 20,000-person workspace never sits in memory at once), each in one
bulk statement. A 429 is waited out for as long as Slack's `Retry-After` says, as often as it comes: these calls are
reads, and a sync that gives up after five 429s on a big workspace would never finish.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.jobs.service import JobContext
from db.members import (
    incident_channels,
    replace_conversation_members,
    replace_members,
    upsert_conversation,
)
from db.tags import CONVERSATION_TAGS, tagged_conversation
from db.usergroups import SlackGroup, list_usergroups, refresh_usergroups
from db.users import deactivate_unseen, upsert_users

log = logging.getLogger(__name__)

USERS_PAGE = 200  # Slack's advice for users.list
MEMBERS_PAGE = 1000  # conversations.members' maximum
MAX_RATE_LIMITED = 50  # 429s in a row on one call before the run gives up
DEFAULT_RETRY_AFTER = 30  # seconds, when a 429 names none
# A channel Vigil cannot read (deleted, or a private one it was removed from) is counted and skipped, not fatal.
UNREADABLE = frozenset({"channel_not_found", "not_in_channel", "missing_scope", "is_archived"})


def _own_rate_limits(client: AsyncWebClient) -> AsyncWebClient:
    """The shared client without its 429 handler (which gives up after a few tries and sleeps on the wall clock):
    the sync waits itself, through the job's sleep."""
    mine = copy.copy(client)
    mine.retry_handlers = [h for h in client.retry_handlers if not isinstance(h, AsyncRateLimitErrorRetryHandler)]
    return mine


def _retry_after(exc: SlackApiError) -> float | None:
    """Seconds to wait when Slack answered 429, else None."""
    if exc.response.status_code != 429:
        return None
    value: Any = (exc.response.headers or {}).get("Retry-After") or (exc.response.headers or {}).get("retry-after")
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    try:
        return max(0.0, float(value))
    except (TypeError, ValueError):
        return float(DEFAULT_RETRY_AFTER)


async def call(ctx: JobContext, client: AsyncWebClient, method: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """One read, waiting out 429s for as long as `Retry-After` asks."""
    waited = 0
    while True:
        try:
            resp = await client.api_call(method, http_verb="GET", params=dict(params))
        except SlackApiError as exc:
            delay = _retry_after(exc)
            if delay is None or waited >= MAX_RATE_LIMITED:
                raise
            waited += 1
            ctx.count("rate_limited")
            log.info("%s rate limited; waiting %.0f s as Slack asks", method, delay)
            await ctx.sleep(delay)
            continue
        data = resp.data
        assert isinstance(data, dict)
        return data


async def pages(ctx: JobContext, method: str, **params: Any) -> AsyncIterator[dict[str, Any]]:
    """Every page of a cursor-paginated read, one at a time."""
    client = _own_rate_limits(ctx.container.slack)
    cursor = ""
    while True:
        page = await call(ctx, client, method, {**params, **({"cursor": cursor} if cursor else {})})
        yield page
        cursor = str((page.get("response_metadata") or {}).get("next_cursor") or "")
        if not cursor:
            return


# ---------------------------------------------------------------- users


async def sync_slack_users(ctx: JobContext) -> None:
    """Every user of the workspace: names, emails, time zones, admin/owner/guest flags. Users Slack lists as deleted
    are marked deactivated, and so, once the whole list was read, are users it no longer lists at all."""
    sessions = ctx.container.sessions
    started = ctx.clock.now()
    for key in ("users", "deactivated", "admins", "pages"):
        ctx.counts.setdefault(key, 0)
    async for page in pages(ctx, "users.list", limit=USERS_PAGE):
        members = [m for m in page.get("members") or [] if isinstance(m, dict) and m.get("id")]
        async with sessions() as session, session.begin():
            ctx.count("users", await upsert_users(session, team_id=ctx.team_id, infos=members, at=started))
        ctx.count("deactivated", sum(1 for m in members if m.get("deleted")))
        ctx.count("admins", sum(1 for m in members if m.get("is_admin") or m.get("is_owner")))
        ctx.count("pages")
        ctx.report()
    async with sessions() as session, session.begin():
        gone = await deactivate_unseen(session, team_id=ctx.team_id, seen_since=started)
    ctx.count("gone", gone)
    ctx.report()


# ---------------------------------------------------------------- usergroups


async def sync_slack_usergroups(ctx: JobContext) -> None:
    """The usergroups admins imported, with their members: one `usergroups.list` with users; a group whose members
    did not come with it (or came cut short) is asked for with `usergroups.users.list`."""
    sessions = ctx.container.sessions
    async with sessions() as session:
        imported = {g.id for g in await list_usergroups(session, team_id=ctx.team_id)}
    ctx.counts.update({"usergroups": 0, "disabled": 0, "members": 0})
    if not imported:
        ctx.report()
        return
    client = _own_rate_limits(ctx.container.slack)
    listing = await call(ctx, client, "usergroups.list", {"include_users": True, "include_disabled": True})
    found: dict[str, SlackGroup] = {}
    for group in listing.get("usergroups") or []:
        group_id = str(group.get("id") or "") if isinstance(group, dict) else ""
        if group_id not in imported:
            continue
        users = group.get("users")
        if not isinstance(users, list) or len(users) < int(group.get("user_count") or 0):
            members = await call(ctx, client, "usergroups.users.list", {"usergroup": group_id, "include_disabled": True})
            users = members.get("users") or []
            ctx.count("member_lookups")
        found[group_id] = SlackGroup(
            handle=str(group.get("handle") or ""),
            name=str(group.get("name") or ""),
            user_ids=tuple(str(u) for u in users),
            disabled=bool(group.get("date_delete")),
        )
        ctx.count("members", len(users))
    async with sessions() as session, session.begin():
        refreshed, disabled = await refresh_usergroups(session, team_id=ctx.team_id, found=found, at=ctx.clock.now())
    ctx.counts.update({"usergroups": refreshed, "disabled": disabled})
    ctx.report()


# ---------------------------------------------------------------- conversations


async def _members(ctx: JobContext, channel_id: str) -> list[str]:
    members: list[str] = []
    async for page in pages(ctx, "conversations.members", channel=channel_id, limit=MEMBERS_PAGE):
        members.extend(str(m) for m in page.get("members") or [])
    return members


async def _read(ctx: JobContext, client: AsyncWebClient, channel_id: str) -> tuple[dict[str, Any], list[str]] | None:
    """The channel and its members, or None when Vigil cannot read it (counted as unreadable)."""
    try:
        info = (await call(ctx, client, "conversations.info", {"channel": channel_id})).get("channel") or {}
        members = [] if info.get("is_archived") else await _members(ctx, channel_id)
    except SlackApiError as exc:
        code = exc.response.get("error") if isinstance(exc.response.data, dict) else None
        if code not in UNREADABLE:
            raise
        log.info("sync_slack_conversations: cannot read %s (%s)", channel_id, code)
        ctx.count("unreadable")
        return None
    async with ctx.container.sessions() as session, session.begin():
        await upsert_conversation(session, team_id=ctx.team_id, conversation_id=channel_id, info=info, at=ctx.clock.now())
    return info, members


async def sync_slack_conversations(ctx: JobContext) -> None:
    """Members of incident channels (not archived yet) and of tagged channels; never every channel of the workspace.
    For incident channels the stored membership (what private incidents are shown by) is made exactly Slack's,
    which repairs a join or a leave whose event was lost."""
    sessions = ctx.container.sessions
    client = _own_rate_limits(ctx.container.slack)
    async with sessions() as session:
        channels = await incident_channels(session, team_id=ctx.team_id)
        tagged = {
            conversation_id
            for tag in CONVERSATION_TAGS
            if (conversation_id := await tagged_conversation(session, team_id=ctx.team_id, tag=tag))
        }
    ctx.counts.update({"channels": 0, "joins_repaired": 0, "leaves_repaired": 0})
    for incident_id, channel_id, private in channels:
        read = await _read(ctx, client, channel_id)
        if read is None:
            continue
        info, members = read
        if info.get("is_archived"):
            continue
        async with sessions() as session, session.begin():
            added, removed = await replace_members(
                session, team_id=ctx.team_id, incident_id=incident_id, user_ids=members, at=ctx.clock.now()
            )
        if added or removed:
            log.info(
                "incident channel %s%s: %d join(s) and %d leave(s) repaired",
                channel_id,
                " (private)" if private else "",
                added,
                removed,
            )
        ctx.count("channels")
        ctx.count("joins_repaired", added)
        ctx.count("leaves_repaired", removed)
        ctx.report()
    for channel_id in sorted(tagged):
        read = await _read(ctx, client, channel_id)
        if read is None:
            continue
        async with sessions() as session, session.begin():
            await replace_conversation_members(session, team_id=ctx.team_id, conversation_id=channel_id, user_ids=read[1])
        ctx.count("channels")
        ctx.report()
