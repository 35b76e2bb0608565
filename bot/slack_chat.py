"""`ChatPort` (and `PeoplePort`) over the Slack Web API: renders cards and notes with `bot.blocks` — where user text
is escaped — and maps Slack errors to `ChatError`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks.incident import (
    announcement_blocks,
    change_line,
    confirmation_blocks,
    deploy_warning_blocks,
    headline,
    opening_blocks,
    thread_reply,
    topic,
)
from bot.blocks.mrkdwn import channel, esc
from bot.incidents.ports import ChatError, FoundChannel, IncidentCard, NameTaken, Note

log = logging.getLogger(__name__)

T = TypeVar("T")

INVITE_BATCH = 1000
BENIGN_INVITE_ERRORS = frozenset({"already_in_channel", "cant_invite_self"})
IDEMPOTENT_ATTEMPTS = 3
# The metadata event_type of every message Vigil marks for a durable step; `find_marked` looks for it alone.
STEP_EVENT_TYPE = "vigil_step"
LIST_PAGE_SIZE = 1000  # conversations.list's maximum
HISTORY_PAGE_MAX = 200  # Slack allows 999 but advises 200 or fewer
UNREADABLE_HISTORY = frozenset({"not_in_channel", "channel_not_found"})


def _code(exc: SlackApiError) -> str:
    error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
    return str(error or f"http_{exc.response.status_code}")


async def _call(func: Callable[[], Awaitable[T]], *, attempts: int = 1) -> T:
    """One Slack call as a ChatError on failure; idempotent calls try again on a 5xx or a dropped connection."""
    for attempt in range(1, attempts + 1):
        try:
            return await func()
        except SlackApiError as exc:
            code = _code(exc)
            if attempt < attempts and exc.response.status_code >= 500:
                await asyncio.sleep(0.05 * attempt)
                continue
            if code == "name_taken":
                raise NameTaken() from None
            raise ChatError(code) from None
        except (aiohttp.ClientError, TimeoutError) as exc:
            if attempt < attempts:
                await asyncio.sleep(0.05 * attempt)
                continue
            raise ChatError(f"unreachable ({type(exc).__name__})") from None
    raise AssertionError("unreachable")


def _step_metadata(marker: str | None) -> dict[str, Any] | None:
    """Message metadata naming the step that posted the message, so a retried step finds it instead of reposting."""
    if marker is None:
        return None
    return {"event_type": STEP_EVENT_TYPE, "event_payload": {"marker": marker}}


def _carries(message: Any, marker: str) -> bool:
    metadata = message.get("metadata") if isinstance(message, dict) else None
    if not isinstance(metadata, dict) or metadata.get("event_type") != STEP_EVENT_TYPE:
        return False
    payload = metadata.get("event_payload")
    return isinstance(payload, dict) and payload.get("marker") == marker


class SlackChat:
    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self._identity: tuple[str, str] | None = None  # (bot user id, team id), from auth.test
        self._identity_lock = asyncio.Lock()

    async def _auth(self) -> tuple[str, str]:
        # Locked so that concurrent first callers share one auth.test; it never changes for a token.
        async with self._identity_lock:
            if self._identity is None:
                resp = await _call(self.client.auth_test, attempts=IDEMPOTENT_ATTEMPTS)
                self._identity = (str(resp["user_id"]), str(resp["team_id"]))
            return self._identity

    async def bot_user_id(self) -> str:
        return (await self._auth())[0]

    async def team_id(self) -> str:
        return (await self._auth())[1]

    async def find_channel(self, *, name: str) -> FoundChannel | None:
        # Slack has no lookup by name: walk every channel the bot can see (private ones only where it is a member).
        cursor = None
        while True:
            resp = await _call(
                lambda cursor=cursor: self.client.conversations_list(  # type: ignore[misc]
                    types="public_channel,private_channel", exclude_archived=False, limit=LIST_PAGE_SIZE, cursor=cursor
                ),
                attempts=IDEMPOTENT_ATTEMPTS,
            )
            for found in resp.get("channels") or []:
                if found.get("name") == name:
                    return FoundChannel(
                        id=str(found["id"]),
                        name=str(found["name"]),
                        creator=str(found.get("creator") or ""),
                        is_archived=bool(found.get("is_archived")),
                        created=float(found.get("created") or 0),
                    )
            cursor = (resp.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None

    async def find_marked(
        self, *, channel_id: str, marker: str, limit: int = 200, thread_ts: str | None = None
    ) -> str | None:
        me = await self.bot_user_id()
        size = max(1, min(limit, HISTORY_PAGE_MAX))
        try:
            if thread_ts:  # replies are not in the channel's history (only those also sent to the channel)
                resp = await _call(
                    lambda: self.client.conversations_replies(
                        channel=channel_id, ts=thread_ts, limit=size, include_all_metadata=True
                    ),
                    attempts=IDEMPOTENT_ATTEMPTS,
                )
            else:
                resp = await _call(
                    lambda: self.client.conversations_history(channel=channel_id, limit=size, include_all_metadata=True),
                    attempts=IDEMPOTENT_ATTEMPTS,
                )
        except ChatError as exc:
            if exc.code in UNREADABLE_HISTORY:
                return None  # nothing Vigil posted can be there for it to find
            raise
        for message in resp.get("messages") or []:
            # Only apps can attach metadata, but another app could use the same event_type: check the author too.
            if message.get("user") == me and _carries(message, marker):
                return str(message["ts"])
        return None

    async def create_channel(self, *, name: str, private: bool) -> str:
        # Not retried on 5xx: the channel may exist already, and a retry would meet name_taken and make a second one.
        resp = await _call(lambda: self.client.conversations_create(name=name, is_private=private))
        return str(resp["channel"]["id"])

    async def invite(self, *, channel_id: str, user_ids: Sequence[str]) -> None:
        for start in range(0, len(user_ids), INVITE_BATCH):
            batch = list(user_ids[start : start + INVITE_BATCH])
            try:
                await _call(
                    lambda batch=batch: self.client.conversations_invite(channel=channel_id, users=batch, force=True),  # type: ignore[misc]
                    attempts=IDEMPOTENT_ATTEMPTS,
                )
            except ChatError as exc:
                if exc.code in BENIGN_INVITE_ERRORS:
                    continue
                if exc.code in ("user_not_found", "cant_invite", "user_is_restricted", "ura_max_channels"):
                    # With force=true Slack invites the valid ids and reports the rest; those are not a failed step.
                    log.warning("some users could not be invited to %s (%s)", channel_id, exc.code)
                    continue
                raise

    async def set_topic(self, *, card: IncidentCard) -> None:
        text = topic(card)[:250]
        info = await _call(
            lambda: self.client.conversations_info(channel=card.channel_id or ""), attempts=IDEMPOTENT_ATTEMPTS
        )
        if ((info.get("channel") or {}).get("topic") or {}).get("value") == text:
            return  # each topic change shows people a line in the channel: none for nothing
        await _call(
            lambda: self.client.conversations_setTopic(channel=card.channel_id or "", topic=text),
            attempts=IDEMPOTENT_ATTEMPTS,
        )

    async def post_opening(self, *, card: IncidentCard, marker: str | None = None) -> str:
        assert card.channel_id is not None
        resp = await _call(
            lambda: self.client.chat_postMessage(
                channel=card.channel_id or "",
                text=headline(card),
                blocks=opening_blocks(card),
                metadata=_step_metadata(marker),
            )
        )
        return str(resp["ts"])

    async def update_opening(self, *, card: IncidentCard, ts: str) -> None:
        await _call(
            lambda: self.client.chat_update(
                channel=card.channel_id or "", ts=ts, text=headline(card), blocks=opening_blocks(card)
            ),
            attempts=IDEMPOTENT_ATTEMPTS,
        )

    async def pin(self, *, channel_id: str, ts: str) -> None:
        try:
            await _call(lambda: self.client.pins_add(channel=channel_id, timestamp=ts), attempts=IDEMPOTENT_ATTEMPTS)
        except ChatError as exc:
            if exc.code != "already_pinned":
                raise

    async def announce(self, *, channel_id: str, card: IncidentCard, marker: str | None = None) -> str:
        resp = await _call(
            lambda: self.client.chat_postMessage(
                channel=channel_id, text=headline(card), blocks=announcement_blocks(card), metadata=_step_metadata(marker)
            )
        )
        return str(resp["ts"])

    async def update_announcement(self, *, channel_id: str, ts: str, card: IncidentCard) -> None:
        await _call(
            lambda: self.client.chat_update(
                channel=channel_id, ts=ts, text=headline(card), blocks=announcement_blocks(card)
            ),
            attempts=IDEMPOTENT_ATTEMPTS,
        )

    async def warn_deploy(self, *, channel_id: str, card: IncidentCard, marker: str | None = None) -> str:
        resp = await _call(
            lambda: self.client.chat_postMessage(
                channel=channel_id, text=headline(card), blocks=deploy_warning_blocks(card), metadata=_step_metadata(marker)
            )
        )
        return str(resp["ts"])

    async def usergroup_members(self, *, usergroup_id: str) -> list[str]:
        resp = await _call(lambda: self.client.usergroups_users_list(usergroup=usergroup_id), attempts=IDEMPOTENT_ATTEMPTS)
        users: list[object] = list(resp.get("users") or [])
        return [str(u) for u in users]

    async def channel_members(self, *, channel_id: str) -> list[str]:
        members: list[str] = []
        cursor = None
        while True:
            resp = await _call(
                lambda cursor=cursor: self.client.conversations_members(channel=channel_id, limit=1000, cursor=cursor),  # type: ignore[misc]
                attempts=IDEMPOTENT_ATTEMPTS,
            )
            members.extend(str(m) for m in resp.get("members") or [])
            cursor = (resp.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return members

    async def rename_channel(self, *, channel_id: str, name: str) -> str:
        resp = await _call(
            lambda: self.client.conversations_rename(channel=channel_id, name=name), attempts=IDEMPOTENT_ATTEMPTS
        )
        return str(resp["channel"]["name"])

    async def post_change(
        self,
        *,
        channel_id: str,
        actor_id: str | None,
        notes: Sequence[Note],
        names: Mapping[str, str] | None = None,
        marker: str | None = None,
    ) -> str:
        text = change_line(actor_id=actor_id, notes=notes, names=names)
        return await self.post_message(channel_id=channel_id, text=text, marker=marker)

    async def reply_to_announcement(
        self,
        *,
        channel_id: str,
        thread_ts: str,
        card: IncidentCard,
        reply: Note,
        broadcast: bool = False,
        marker: str | None = None,
    ) -> str:
        resp = await _call(
            lambda: self.client.chat_postMessage(
                channel=channel_id,
                thread_ts=thread_ts,
                reply_broadcast=broadcast,
                text=thread_reply(card, reply),
                metadata=_step_metadata(marker),
            )
        )
        return str(resp["ts"])

    async def post_message(self, *, channel_id: str, text: str, marker: str | None = None) -> str:
        resp = await _call(
            lambda: self.client.chat_postMessage(channel=channel_id, text=text, metadata=_step_metadata(marker))
        )
        return str(resp["ts"])

    async def confirm_declaration(self, *, user_id: str, channel_id: str, card: IncidentCard) -> None:
        where = channel(card.channel_id, none="no channel yet")
        text = f":rotating_light: {card.ref} declared: {where}"
        blocks = confirmation_blocks(card)
        await _call(lambda: self.client.chat_postEphemeral(channel=channel_id, user=user_id, text=text, blocks=blocks))

    async def tell_skipped(self, *, user_id: str, channel_id: str | None, card: IncidentCard, steps: Sequence[str]) -> None:
        lines = "\n".join(f"• {esc(step)}" for step in steps)
        text = (
            f":warning: {card.ref} is declared, but Vigil could not:\n{lines}\n"
            "It is on the incident's timeline; the rest of the incident works."
        )
        await self.tell(user_id=user_id, channel_id=channel_id, text=text)

    async def tell(self, *, user_id: str, channel_id: str | None, text: str) -> None:
        if channel_id:
            try:
                await _call(lambda: self.client.chat_postEphemeral(channel=channel_id, user=user_id, text=text))
                return
            except ChatError as exc:
                log.info("ephemeral to %s in %s failed (%s); sending a direct message", user_id, channel_id, exc.code)
        await _call(lambda: self.client.chat_postMessage(channel=user_id, text=text))
