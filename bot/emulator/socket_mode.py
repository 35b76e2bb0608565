"""Socket Mode: the `/link/` websocket, envelopes out, acks back."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from bot.emulator.asyncutil import Signal
from bot.emulator.ids import Clock, Ids
from bot.emulator.records import AckResult, EnvelopeRecord
from bot.emulator.state import AppIdentity

logger = logging.getLogger(__name__)

MAX_CONNECTIONS = 10


@dataclass
class Connection:
    """One accepted `/link/` socket. `loses_envelopes` / `loses_acks` model a network that died under it without
    either end noticing yet: what Slack writes never arrives, what the app acks never comes back."""

    id: int
    ws: web.WebSocketResponse
    draining: bool = False
    loses_envelopes: bool = False
    loses_acks: bool = False

    @property
    def usable(self) -> bool:
        return not self.draining and not self.ws.closed


class SocketHub:
    """Holds the app's websocket connections; delivers each envelope to one of them and matches the ack."""

    def __init__(self, *, identity: AppIdentity, ids: Ids, clock: Clock, ack_timeout: float, signal: Signal) -> None:
        self.identity = identity
        self.ids = ids
        self.clock = clock
        self.ack_timeout = ack_timeout
        self.signal = signal
        self.connections: list[Connection] = []
        self.envelopes: list[EnvelopeRecord] = []
        self.connections_opened = 0
        self._tickets: set[str] = set()
        self._pending: dict[str, tuple[asyncio.Future[dict[str, Any] | None], EnvelopeRecord]] = {}
        self._round_robin = itertools.count()
        self._closing = False

    # ---- connections ----------------------------------------------------------------------------------------------
    def issue_ticket(self) -> str:
        ticket = self.ids.ticket()
        self._tickets.add(ticket)
        return ticket

    @property
    def active(self) -> list[Connection]:
        return [c for c in self.connections if c.usable]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """`GET /link/?ticket=…`: tickets from apps.connections.open are single-use, as Slack's are."""
        ticket = request.query.get("ticket", "")
        if self._closing or ticket not in self._tickets:
            return web.Response(status=401 if not self._closing else 503, text="invalid ticket")
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.connections_opened += 1
        connection = Connection(id=self.connections_opened, ws=ws)
        self.connections.append(connection)
        self.signal.notify()
        try:
            await ws.send_json(self._hello())
            if len(self.active) > MAX_CONNECTIONS:
                await self._send_disconnect(connection, "too_many_websockets")
            async for frame in ws:
                if frame.type == WSMsgType.TEXT:
                    self._on_text(connection, frame.data)
                elif frame.type == WSMsgType.ERROR:
                    break
        finally:
            self.connections.remove(connection)
            self.signal.notify()
        return ws

    def _hello(self) -> dict[str, Any]:
        return {
            "type": "hello",
            "num_connections": len(self.active) or 1,
            "connection_info": {"app_id": self.identity.app_id},
            "debug_info": {"host": "emulator-1", "build_number": 1, "approximate_connection_time": 18060},
        }

    async def _send_disconnect(self, connection: Connection, reason: str) -> None:
        """No more envelopes go to this socket; the client is told to reconnect (unless the socket is dead)."""
        connection.draining = True
        message: dict[str, Any] = {"type": "disconnect", "reason": reason, "debug_info": {"host": "emulator-1"}}
        if reason == "too_many_websockets":
            message["num_connections"] = len(self.active) + 1
            message["connection_info"] = {"app_id": self.identity.app_id}
        if not connection.loses_envelopes:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await connection.ws.send_json(message)
        self.signal.notify()

    async def disconnect_all(self, reason: str = "refresh_requested") -> None:
        """Ask every client to reconnect; the old sockets get no more envelopes and are closed by the client."""
        for connection in list(self.connections):
            if not connection.draining:
                await self._send_disconnect(connection, reason)

    def sever_all(self) -> None:
        """The sockets open now die silently: envelopes sent on them and acks from them are lost, while Slack still
        counts them as connected and keeps choosing them. Only closing them (`close_all`) lets the client notice."""
        for connection in self.connections:
            connection.loses_envelopes = connection.loses_acks = True
        self.signal.notify()

    def lose_acks(self) -> None:
        """Acks arriving on the sockets open now are lost, as acks in flight are when a socket dies: Slack never sees
        them and re-sends the events. Sockets opened later are healthy."""
        for connection in self.connections:
            connection.loses_acks = True
        self.signal.notify()

    async def close_all(self, *, code: int = 1001) -> None:
        """Drop every socket with a CLOSE frame (the SDK reconnects on its own)."""
        for connection in list(self.connections):
            connection.draining = True
            with contextlib.suppress(ConnectionError, RuntimeError):
                await connection.ws.close(code=code, message=b"going away")

    async def shutdown(self) -> None:
        self._closing = True
        for future, _ in self._pending.values():
            if not future.done():
                future.set_exception(ConnectionError("emulator stopped"))
        await self.close_all()

    async def wait_for_connection(self, timeout: float) -> Connection | None:  # noqa: ASYNC109
        try:
            return await self.signal.wait_for(self._pick, timeout, "a Socket Mode connection")
        except TimeoutError:
            return None

    def _pick(self) -> Connection | None:
        active = self.active
        if not active:
            return None
        return active[next(self._round_robin) % len(active)]

    # ---- envelopes ------------------------------------------------------------------------------------------------
    @property
    def awaiting_acks(self) -> int:
        """Envelopes sent whose ack has not come back yet (one acked but not yet collected counts as answered)."""
        return sum(1 for future, _ in self._pending.values() if not future.done())

    async def request(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool,
        retry_attempt: int | None = None,
        retry_reason: str | None = None,
        wait_for_socket: bool = True,
    ) -> AckResult:
        """Send one envelope and wait up to `ack_timeout` for its ack (after up to `ack_timeout` for a socket, or
        none with `wait_for_socket=False`: Slack fails an event delivery at once when no socket is connected and
        retries it later, so the retry is the app's first sight of it)."""
        envelope_id = self.ids.envelope_id()
        record = EnvelopeRecord(envelope_id=envelope_id, type=kind, payload=payload, retry_attempt=retry_attempt)
        self.envelopes.append(record)
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": accepts_response_payload,
        }
        if retry_attempt is not None:
            envelope["retry_attempt"] = retry_attempt
            envelope["retry_reason"] = retry_reason or ""
        connection = await self.wait_for_connection(self.ack_timeout) if wait_for_socket else self._pick()
        if connection is None:
            self.signal.notify()
            return AckResult(acked=False, payload=None, envelope_id=envelope_id)
        future: asyncio.Future[dict[str, Any] | None] = asyncio.get_running_loop().create_future()
        self._pending[envelope_id] = (future, record)
        try:
            await self._transmit(connection, envelope, record)
            async with asyncio.timeout(self.ack_timeout):
                ack = await future
        except (TimeoutError, ConnectionError, RuntimeError):
            return AckResult(acked=False, payload=None, envelope_id=envelope_id)
        finally:
            self._pending.pop(envelope_id, None)
        return AckResult(acked=True, payload=ack, envelope_id=envelope_id)

    async def _transmit(self, connection: Connection, envelope: dict[str, Any], record: EnvelopeRecord) -> None:
        """Write the envelope on the socket; on a dead one it goes nowhere, though Slack counts it as sent."""
        if connection.loses_envelopes:
            record.lost = True
        else:
            await connection.ws.send_str(json.dumps(envelope))
        record.sent_at = self.clock()
        record.connection_id = connection.id
        self.signal.notify()

    def _on_text(self, connection: Connection, data: str) -> None:
        try:
            frame = json.loads(data)
        except json.JSONDecodeError:
            logger.warning("emulator: ignoring a non-JSON frame from the app: %r", data[:200])
            return
        envelope_id = frame.get("envelope_id") if isinstance(frame, dict) else None
        if not envelope_id:
            return
        if connection.loses_acks:
            self._ack_lost(envelope_id)
            return
        payload = frame.get("payload")
        pending = self._pending.get(envelope_id)
        if pending is None:
            for record in self.envelopes:
                if record.envelope_id == envelope_id:
                    record.late_ack = True
            return
        future, record = pending
        record.acked = True
        record.ack_payload = payload if isinstance(payload, dict) else None
        if not future.done():
            future.set_result(record.ack_payload)
        self.signal.notify()

    def _ack_lost(self, envelope_id: str) -> None:
        for record in self.envelopes:
            if record.envelope_id == envelope_id:
                record.ack_lost = True
        self.signal.notify()
