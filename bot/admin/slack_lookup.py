"""`SlackLookup` over the Web API: usergroups with their members, and conversations as the bot sees them."""

from __future__ import annotations

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.admin.ports import LookupFailed, SlackChannel, SlackUsergroup


def _code(exc: SlackApiError) -> str:
    data = exc.response.data if isinstance(exc.response.data, dict) else {}
    return str(data.get("error") or f"http_{exc.response.status_code}")


class SlackWebLookup:
    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def usergroup(self, *, usergroup_id: str) -> SlackUsergroup | None:
        """`usergroups.list` is not paginated; members come with `include_users`, else from `usergroups.users.list`."""
        try:
            resp = await self.client.usergroups_list(include_users=True, include_disabled=True)
        except SlackApiError as exc:
            raise LookupFailed(_code(exc)) from None
        groups = resp.get("usergroups") or []
        group = next((g for g in groups if isinstance(g, dict) and g.get("id") == usergroup_id), None)
        if group is None:
            return None
        users = group.get("users")
        if not isinstance(users, list):
            try:
                users = list((await self.client.usergroups_users_list(usergroup=usergroup_id)).get("users") or [])
            except SlackApiError:
                users = []
        return SlackUsergroup(
            id=usergroup_id,
            handle=str(group.get("handle") or ""),
            name=str(group.get("name") or ""),
            user_ids=[str(u) for u in users],
            disabled=bool(group.get("date_delete")),
        )

    async def channel(self, *, conversation_id: str) -> SlackChannel:
        try:
            resp = await self.client.conversations_info(channel=conversation_id)
        except SlackApiError as exc:
            raise LookupFailed(_code(exc)) from None
        channel = resp.get("channel") or {}
        return SlackChannel(
            id=conversation_id,
            is_direct=bool(channel.get("is_im") or channel.get("is_mpim")),
            is_archived=bool(channel.get("is_archived")),
            is_private=bool(channel.get("is_private")),
            is_member=bool(channel.get("is_member")),
        )
