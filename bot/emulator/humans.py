"""Simulated people: posting, reacting, joining and leaving, with the events Slack would send the app."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from typing import Any

from bot.emulator import payloads
from bot.emulator.drivers import Driver
from bot.emulator.events import EventBus
from bot.emulator.ids import Clock, Ids
from bot.emulator.methods.base import Ctx
from bot.emulator.methods.conversations import add_member, remove_member
from bot.emulator.records import AckResult
from bot.emulator.state import Channel, Message, WorkspaceState


class Humans:
    """Changes people make in the workspace; each awaits the first delivery of the events it causes."""

    def __init__(self, *, state: WorkspaceState, ids: Ids, clock: Clock, events: EventBus, driver: Driver) -> None:
        self.state = state
        self.ids = ids
        self.clock = clock
        self.events = events
        self.driver = driver

    def _ctx(self, caller: str, emit: Callable[[dict[str, Any], Channel | None], None]) -> Ctx:
        return Ctx(
            state=self.state,
            ids=self.ids,
            clock=self.clock,
            emit=emit,
            base_url=self.driver.base_url(),
            http_method="POST",
            caller=caller,
            issue_ticket=self.driver.hub.issue_ticket,
        )

    async def _as_human(self, caller: str, change: Callable[[Ctx], Any], primary: str) -> AckResult | None:
        """Apply a state change a person made, then deliver the events it caused in order (awaiting each)."""
        queued: list[dict[str, Any]] = []

        def collect(event: dict[str, Any], channel: Channel | None) -> None:
            if self.events.subscribed(event, channel) and self.events.visible(channel):
                queued.append(event)

        change(self._ctx(caller, collect))
        result: AckResult | None = None
        for event in queued:
            ack = await self.events.deliver(event)
            if event.get("type") == primary and result is None:
                result = ack
        return result

    def _channel(self, channel_id: str) -> Channel:
        channel = self.state.channels.get(channel_id)
        if channel is None:
            raise ValueError(f"no channel {channel_id!r}")
        return channel

    async def user_posts(self, user_id: str, channel_id: str, text: str, *, thread_ts: str | None = None) -> str:
        channel = self._channel(channel_id)
        if user_id not in channel.members:
            raise ValueError(f"{user_id} is not a member of {channel_id}")
        blocks = [
            {
                "type": "rich_text",
                "block_id": secrets.token_hex(3),
                "elements": [{"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}],
            }
        ]
        message = Message(
            ts=self.ids.ts(),
            channel=channel.id,
            user=user_id,
            text=text,
            blocks=blocks,
            thread_ts=thread_ts,
            extra={"client_msg_id": str(uuid.uuid4())},
        )

        def post(ctx: Ctx) -> None:
            self.state.history(channel.id).append(message)
            ctx.emit(payloads.message_event(self.state.identity, message, channel), channel)

        await self._as_human(user_id, post, "message")
        return message.ts

    async def user_reacts(
        self, user_id: str, channel_id: str, ts: str, reaction: str, *, added: bool = True
    ) -> AckResult | None:
        channel = self._channel(channel_id)
        message = self.state.find_message(channel.id, ts)
        if message is None:
            raise ValueError(f"no message {ts} in {channel_id}")
        reaction = reaction.strip(":")
        if (user_id in message.reactions.get(reaction, [])) == added:
            return None
        users = message.reactions.setdefault(reaction, [])
        kind = "reaction_added" if added else "reaction_removed"

        def react(ctx: Ctx) -> None:
            if added:
                users.append(user_id)
            else:
                users.remove(user_id)
                if not users:
                    message.reactions.pop(reaction, None)
            event = payloads.reaction_event(
                kind,
                user_id=user_id,
                reaction=reaction,
                channel_id=channel.id,
                ts=ts,
                item_user=message.user,
                event_ts=self.ids.ts(),
            )
            ctx.emit(event, channel)

        return await self._as_human(user_id, react, kind)

    async def user_joins(self, user_id: str, channel_id: str, *, inviter: str | None = None) -> AckResult | None:
        channel = self._channel(channel_id)
        if user_id in channel.members:
            return None
        return await self._as_human(
            inviter or user_id, lambda ctx: add_member(ctx, channel, user_id, inviter=inviter), "member_joined_channel"
        )

    async def user_leaves(self, user_id: str, channel_id: str) -> AckResult | None:
        channel = self._channel(channel_id)
        if user_id not in channel.members:
            return None
        return await self._as_human(user_id, lambda ctx: remove_member(ctx, channel, user_id), "member_left_channel")
