"""The Web API door: `/api/<method>`; merges arguments, checks tokens, injects failures, records every call."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.emulator.args import ApiError, Args
from bot.emulator.asyncutil import Signal
from bot.emulator.ids import Clock, Ids
from bot.emulator.methods import ALL_METHODS, APP_TOKEN_METHODS, Ctx
from bot.emulator.methods.base import EmitEvent
from bot.emulator.records import RecordedCall
from bot.emulator.state import WorkspaceState

logger = logging.getLogger(__name__)


@dataclass
class Failure:
    """An injected failure for the next call to one method."""

    error: str
    status: int | None
    retry_after: int


# What a storm never touches: the calls that keep the app connected (its Socket Mode link and Bolt's identity).
CALM_METHODS = frozenset({"auth.test", *APP_TOKEN_METHODS})


@dataclass
class Storm:
    """A share of calls failing at random, as Slack does on a bad day: half HTTP 429 (`Retry-After`), half HTTP 500.

    The draws come from one generator seeded by the test, so a run's sequence of faults is the same each time (which
    call meets which fault still depends on the order concurrent calls arrive in)."""

    rate: float
    rng: random.Random
    methods: frozenset[str] | None
    retry_after: int

    def strikes(self, method: str) -> Failure | None:
        if method in CALM_METHODS or (self.methods is not None and method not in self.methods):
            return None
        if self.rng.random() >= self.rate:
            return None
        if self.rng.random() < 0.5:
            return Failure(error="ratelimited", status=429, retry_after=self.retry_after)
        return Failure(error="internal_error", status=500, retry_after=0)


async def read_arguments(request: web.Request) -> dict[str, Any]:
    """Query string, then form body, then JSON body, merged as Slack does."""
    args: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        content_type = request.content_type
        if content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            args.update({k: v for k, v in form.items() if isinstance(v, str)})
        elif content_type == "application/json":
            raw = await request.text()
            if raw.strip():
                try:
                    body = json.loads(raw)
                except json.JSONDecodeError:
                    raise ApiError("invalid_json") from None
                if not isinstance(body, dict):
                    raise ApiError("invalid_json")
                args.update(body)
    return args


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


class WebApi:
    """Serves every Web API method registered in `bot.emulator.methods`."""

    def __init__(
        self,
        *,
        state: WorkspaceState,
        ids: Ids,
        clock: Clock,
        emit: EmitEvent,
        signal: Signal,
        issue_ticket: Callable[[], str],
    ) -> None:
        self.state = state
        self.ids = ids
        self.clock = clock
        self.emit = emit
        self.signal = signal
        self.issue_ticket = issue_ticket
        self.calls: list[RecordedCall] = []
        self.listeners: list[Callable[[RecordedCall], None]] = []
        self.latency = 0.0
        self.base_url = ""
        self.record_responses = True
        self._failures: dict[str, deque[Failure]] = {}
        self._storm: Storm | None = None
        self._holds: dict[str, asyncio.Event] = {}
        self.waiting: list[str] = []

    def fail_next(self, method: str, *, error: str, status: int | None, retry_after: int, times: int) -> None:
        queue = self._failures.setdefault(method, deque())
        queue.extend(Failure(error=error, status=status, retry_after=retry_after) for _ in range(times))

    def storm(self, *, rate: float, seed: int, methods: set[str] | None, retry_after: int) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be between 0 and 1, not {rate}")
        calm = CALM_METHODS & (methods or set())
        if calm:
            raise ValueError(f"{sorted(calm)} keep the app connected: a storm never touches them")
        self._storm = Storm(
            rate=rate,
            rng=random.Random(seed),
            methods=frozenset(methods) if methods is not None else None,
            retry_after=retry_after,
        )

    def calm(self) -> None:
        self._storm = None

    def hold(self, method: str) -> None:
        self._holds.setdefault(method, asyncio.Event())

    def release(self, method: str) -> None:
        gate = self._holds.pop(method, None)
        if gate is not None:
            gate.set()

    def held(self, method: str) -> int:
        """Calls to `method` waiting at its gate."""
        return sum(1 for c in self.waiting if c == method)

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        at = self.clock()
        if self.latency:
            await asyncio.sleep(self.latency)
        gate = self._holds.get(method)
        if gate is not None:
            self.waiting.append(method)
            self.signal.notify()
            try:
                await gate.wait()
            finally:
                self.waiting.remove(method)
        token = bearer_token(request)
        try:
            args = await read_arguments(request)
        except ApiError as e:
            args, status, body, headers = {}, e.status, e.body(), self._headers()
        else:
            if token is None and method not in APP_TOKEN_METHODS and isinstance(args.get("token"), str):
                token = args["token"]
            status, body, headers = self._dispatch(method, request.method, args, token)
        recorded = body if self.record_responses else {"ok": body.get("ok"), "error": body.get("error")}
        call = RecordedCall(
            method=method, http_method=request.method, args=args, token=token, at=at, status=status, response=recorded
        )
        self.calls.append(call)
        self.signal.notify()
        for listener in self.listeners:
            try:
                listener(call)
            except Exception:
                logger.exception("emulator: call listener failed")
        return web.json_response(body, status=status, headers=headers)

    def _headers(self) -> dict[str, str]:
        return {"x-oauth-scopes": ",".join(self.state.identity.scopes)}

    def _dispatch(
        self, method: str, http_method: str, args: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        headers = self._headers()
        queue = self._failures.get(method)
        failure = queue.popleft() if queue else self._storm.strikes(method) if self._storm else None
        if failure is not None:
            if failure.error == "ratelimited" and failure.status in (None, 429):
                headers["Retry-After"] = str(failure.retry_after)
                return 429, {"ok": False, "error": "ratelimited"}, headers
            if failure.status and failure.status >= 500 and failure.error == "ratelimited":
                return failure.status, {"ok": False, "error": "internal_error"}, headers
            return failure.status or 200, {"ok": False, "error": failure.error}, headers
        handler = ALL_METHODS.get(method)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method", "req_method": method}, headers
        identity = self.state.identity
        if not token:
            return 200, {"ok": False, "error": "not_authed"}, headers
        if token not in (identity.bot_token, identity.app_token):
            return 200, {"ok": False, "error": "invalid_auth"}, headers
        if (token == identity.app_token) != (method in APP_TOKEN_METHODS):
            return 200, {"ok": False, "error": "not_allowed_token_type"}, headers
        ctx = Ctx(
            state=self.state,
            ids=self.ids,
            clock=self.clock,
            emit=self.emit,
            base_url=self.base_url,
            http_method=http_method,
            caller=identity.bot_user_id,
            issue_ticket=self.issue_ticket,
        )
        try:
            return 200, handler(ctx, Args(args)), headers
        except ApiError as e:
            return e.status, e.body(), headers
        except Exception:
            logger.exception("emulator: %s failed", method)
            return 500, {"ok": False, "error": "internal_error"}, headers
