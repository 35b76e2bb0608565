"""`response_url` endpoint: what Bolt's `respond()` posts after a slash command or a message interaction."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from bot.emulator.asyncutil import Signal
from bot.emulator.drivers import Driver
from bot.emulator.ids import Clock
from bot.emulator.limits import check_message_blocks
from bot.emulator.state import Ephemeral, ResponsePost, ResponseUrl, WorkspaceState

MAX_USES = 5
TTL_SECONDS = 30 * 60


class ResponseUrls:
    """Records every post (up to 5 per URL within 30 minutes) and applies it to the conversation."""

    def __init__(self, *, state: WorkspaceState, clock: Clock, signal: Signal, driver: Callable[[], Driver]) -> None:
        self.state = state
        self.clock = clock
        self.signal = signal
        self.driver = driver

    async def handle(self, request: web.Request) -> web.Response:
        record = self.state.response_urls.get(request.match_info["id"])
        if record is None:
            return web.Response(status=404, text="no_such_url")
        if self.clock() - record.created > TTL_SECONDS:
            return web.Response(status=404, text="expired_url")
        if record.uses >= MAX_USES:
            return web.Response(status=404, text="used_url")
        try:
            body = json.loads(await request.text())
        except json.JSONDecodeError:
            return web.Response(status=400, text="invalid_payload")
        if not isinstance(body, dict):
            return web.Response(status=400, text="invalid_payload")
        record.uses += 1
        if body.get("blocks") is not None and check_message_blocks(body["blocks"]):
            return web.Response(status=400, text="invalid_blocks")
        self._apply(record, body)
        self.state.responses.append(
            ResponsePost(
                url_id=record.id,
                user_id=record.user_id,
                channel_id=record.channel_id,
                body=body,
                at=self.clock(),
                source=record.source,
            )
        )
        self.signal.notify()
        return web.Response(text="ok")

    def _apply(self, record: ResponseUrl, body: dict[str, Any]) -> None:
        channel_id = record.channel_id or ""
        if record.message_ts and (body.get("delete_original") or body.get("replace_original")):
            if record.is_ephemeral:
                ephemeral = next(
                    (e for e in self.state.ephemerals_for(record.user_id, channel_id) if e.ts == record.message_ts), None
                )
                if ephemeral is not None:
                    self._edit_ephemeral(ephemeral, body)
                return
            message = self.state.find_message(channel_id, record.message_ts)
            if message is not None:
                if body.get("delete_original"):
                    self.state.history(channel_id).remove(message)
                else:
                    message.text = str(body.get("text") or "")
                    message.blocks = body.get("blocks")
                return
        self.driver().show_reply(body, user_id=record.user_id, channel_id=channel_id, source="response_url")

    def _edit_ephemeral(self, ephemeral: Ephemeral, body: dict[str, Any]) -> None:
        if body.get("delete_original"):
            self.state.ephemerals.remove(ephemeral)
        else:
            ephemeral.text = str(body.get("text") or "")
            ephemeral.blocks = body.get("blocks")
