"""Events API over Socket Mode: subscriptions, who can see an event, and redelivery of unacked envelopes."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.emulator import payloads
from bot.emulator.asyncutil import Background
from bot.emulator.ids import Clock, Ids
from bot.emulator.records import AckResult
from bot.emulator.socket_mode import SocketHub
from bot.emulator.state import AppIdentity, Channel

MAX_RETRIES = 3


class EventBus:
    """Sends `events_api` envelopes; an unacked one is re-sent with the same event_id, up to three more times.

    An attempt fails without waiting when no socket is connected (Slack does not queue events for an app that is
    away; it retries them), and one sent into a socket that dies is not acked, so it is retried after the ack timeout
    on whatever socket the app has by then: `retry_attempt` 1, 2, 3 and `retry_reason` "timeout" each time."""

    def __init__(
        self,
        *,
        hub: SocketHub,
        identity: AppIdentity,
        ids: Ids,
        clock: Clock,
        background: Background,
        subscribed_events: set[str] | None,
        redelivery_delay: float,
    ) -> None:
        self.hub = hub
        self.identity = identity
        self.ids = ids
        self.clock = clock
        self.background = background
        self.subscribed_events = subscribed_events
        self.redelivery_delay = redelivery_delay

    def subscribed(self, event: dict[str, Any], channel: Channel | None = None) -> bool:
        """`message` events match `message` or the per-conversation names (`message.channels`, `.groups`, `.im`)."""
        if self.subscribed_events is None:
            return True
        kind = str(event.get("type", ""))
        if kind in self.subscribed_events:
            return True
        if kind == "message" and channel is not None:
            scope = {"channel": "channels", "group": "groups", "im": "im"}[channel.channel_type]
            return f"message.{scope}" in self.subscribed_events
        return False

    def visible(self, channel: Channel | None) -> bool:
        """Bots only hear about conversations they are in."""
        return channel is None or self.identity.bot_user_id in channel.members

    def emit(self, event: dict[str, Any], channel: Channel | None) -> None:
        """Queue an event caused by an API call or a simulated human; decided now, delivered in the background."""
        if self.subscribed(event, channel) and self.visible(channel):
            self.background.spawn(self.deliver(event))

    async def deliver(self, event: dict[str, Any], *, event_id: str | None = None) -> AckResult:
        """Deliver now; returns the first attempt's result while redeliveries (if any) carry on in the background."""
        wrapper = payloads.event_callback(
            self.identity, event, event_id=event_id or self.ids.event_id(), event_time=int(self.clock())
        )
        first: asyncio.Future[AckResult] = asyncio.get_running_loop().create_future()
        task = self.background.spawn(self._attempts(wrapper, first))

        # A task cancelled before it ever ran skips its `finally`; make sure the caller is still answered.
        def answer_anyway(_: asyncio.Task[None]) -> None:
            if not first.done():
                first.set_result(AckResult(acked=False, payload=None, envelope_id=""))

        task.add_done_callback(answer_anyway)
        return await first

    async def _attempts(self, wrapper: dict[str, Any], first: asyncio.Future[AckResult]) -> None:
        loop = asyncio.get_running_loop()
        try:
            for attempt in range(MAX_RETRIES + 1):
                started = loop.time()
                result = await self.hub.request(
                    "events_api",
                    wrapper,
                    accepts_response_payload=False,
                    retry_attempt=attempt,
                    retry_reason="timeout" if attempt else "",
                    wait_for_socket=False,
                )
                if not first.done():
                    first.set_result(result)
                if result.acked:
                    return
                if attempt < MAX_RETRIES:
                    await asyncio.sleep(max(0.0, self.redelivery_delay - (loop.time() - started)))
        finally:
            if not first.done():
                first.set_result(AckResult(acked=False, payload=None, envelope_id=""))
