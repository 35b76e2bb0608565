"""The aiohttp sidecar: health, readiness, metrics, and the inbound webhooks of integrations."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy import text

from bot.container import Container

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
# An orchestrator probing /readyz wants an answer, not a hang: a database that does not answer within this is "not
# ready" (its own connect timeout is longer, and a probe that times out tells the operator nothing).
READY_DB_TIMEOUT = 2.0

CONTAINER = web.AppKey("container", Container)
SocketProbe = Callable[[], Awaitable[bool]]
SOCKET_CONNECTED: web.AppKey[SocketProbe] = web.AppKey("socket_connected")


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    container = request.app[CONTAINER]
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(READY_DB_TIMEOUT), container.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable ({type(exc).__name__})"
    checks["socket_mode"] = "ok" if await request.app[SOCKET_CONNECTED]() else "disconnected"
    ready = all(v == "ok" for v in checks.values())
    return web.json_response({"status": "ready" if ready else "not ready", **checks}, status=200 if ready else 503)


async def metrics(request: web.Request) -> web.Response:
    container = request.app[CONTAINER]
    body = container.metrics.render()
    return web.Response(body=body, headers={"Content-Type": container.metrics.content_type})


async def hook(request: web.Request) -> web.Response:
    """`POST /hooks/{kind}/{integration_id}`: the body read raw (signatures are over the bytes), at most 1 MiB — a
    declared length over it is refused before a byte is read — then handed to the inbound service."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        return _too_large()
    body = await request.content.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        return _too_large()
    inbound = request.app[CONTAINER].inbound
    try:
        reply = await inbound.receive(
            kind=request.match_info["kind"],
            integration_id=request.match_info["integration_id"],
            headers=request.headers,
            body=body,
        )
    except Exception:
        # The database or the key ring failing is not the sender's fault: 503 asks it to send again later.
        log.exception("inbound webhook could not be handled")
        return web.json_response({"ok": False, "outcome": "Vigil is unavailable; try again later"}, status=503)
    return web.json_response(dict(reply.body), status=reply.status)


def _too_large() -> web.Response:
    return web.json_response({"ok": False, "outcome": f"body over {MAX_BODY} bytes"}, status=413)


def build_sidecar(container: Container, *, socket_connected: Callable[[], Awaitable[bool]]) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY)
    app[CONTAINER] = container
    app[SOCKET_CONNECTED] = socket_connected
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/hooks/{kind}/{integration_id}", hook)
    return app
