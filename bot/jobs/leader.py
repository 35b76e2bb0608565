"""Which replica runs the scheduler: the one holding a PostgreSQL advisory lock.

The lock is taken on a dedicated connection outside the pool (a pooled one could be handed back, taking the lock
with it). A heartbeat query on it every few seconds notices a dead connection; then the lock is gone with the
session, and the jobs stop at once. The server is told to probe an idle leader connection (TCP keepalive) and to
give up on unacknowledged data (`tcp_user_timeout`), so when a leader's host dies without closing its socket, the
server ends its session, freeing the lock, within about half a minute instead of the kernel's two hours. A killed
process frees it at once (its kernel closes the socket). Another replica tries the lock every few seconds.

On SQLite there is one `vigil run` per database file (the run lock), and it leads.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import asyncpg
from sqlalchemy.engine import URL

from bot.jobs.service import JobTiming

log = logging.getLogger(__name__)

# The advisory lock's key: a fixed 63-bit number from a name, the same in every replica of every version.
LOCK_KEY = int.from_bytes(hashlib.sha256(b"vigil:scheduler").digest()[:8], "big") & 0x7FFF_FFFF_FFFF_FFFF
APPLICATION_NAME = "vigil-leader"
# Server side: probe an idle connection after 10 s, every 5 s, 3 times; drop it when sent data stays unacknowledged
# for 15 s. Client side the same keepalive, so a leader cut off from the server notices on its own too.
KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, KEEPALIVE_COUNT, USER_TIMEOUT_MS = 10, 5, 3, 15_000
CONNECT_TIMEOUT = 5.0

Callback = Callable[[], Awaitable[None]]


class Leadership(Protocol):
    leading: bool

    async def run(self) -> None:
        """Try for the leadership until stopped; call back when it is won and when it is lost."""

    def stop(self) -> None: ...


class LocalLeader:
    """SQLite: this process is the only `vigil run` on its database, so it leads from the start."""

    def __init__(self, *, on_elected: Callback, on_lost: Callback) -> None:
        self.on_elected, self.on_lost = on_elected, on_lost
        self.leading = False
        self._stop = asyncio.Event()

    async def run(self) -> None:
        self.leading = True
        try:
            await self.on_elected()
            await self._stop.wait()
        finally:
            self.leading = False
            await self.on_lost()

    def stop(self) -> None:
        self._stop.set()


def _keepalive(conn: asyncpg.Connection) -> None:
    """TCP keepalive and a user timeout on the lock connection's own socket (Linux names; others are skipped)."""
    transport = getattr(conn, "_transport", None)
    sock: Any = transport.get_extra_info("socket") if transport is not None else None
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for name, value in (
            ("TCP_KEEPIDLE", KEEPALIVE_IDLE),
            ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL),
            ("TCP_KEEPCNT", KEEPALIVE_COUNT),
            ("TCP_USER_TIMEOUT", USER_TIMEOUT_MS),
        ):
            option = getattr(socket, name, None)
            if option is not None:
                sock.setsockopt(socket.IPPROTO_TCP, option, value)


class PostgresLeader:
    def __init__(
        self,
        *,
        url: URL,
        timing: JobTiming,
        on_elected: Callback,
        on_lost: Callback,
        key: int = LOCK_KEY,
    ) -> None:
        self.dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.timing = timing
        self.on_elected, self.on_lost = on_elected, on_lost
        self.key = key
        self.leading = False
        self.tries = 0  # lock attempts so far (what tests wait on)
        self._stop = asyncio.Event()
        self._conn: asyncpg.Connection | None = None

    def stop(self) -> None:
        self._stop.set()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    async def _connect(self) -> asyncpg.Connection:
        conn = await asyncpg.connect(
            self.dsn,
            timeout=CONNECT_TIMEOUT,
            command_timeout=self.timing.heartbeat_timeout,
            server_settings={
                "application_name": f"{APPLICATION_NAME} {socket.gethostname()}:{os.getpid()}",
                "tcp_keepalives_idle": str(KEEPALIVE_IDLE),
                "tcp_keepalives_interval": str(KEEPALIVE_INTERVAL),
                "tcp_keepalives_count": str(KEEPALIVE_COUNT),
                "tcp_user_timeout": str(USER_TIMEOUT_MS),
            },
        )
        _keepalive(conn)
        return conn

    async def run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    if self._conn is None or self._conn.is_closed():
                        self._conn = await self._connect()
                    self.tries += 1
                    if await self._conn.fetchval("SELECT pg_try_advisory_lock($1)", self.key):
                        await self._lead(self._conn)
                        continue
                except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    log.warning("scheduler leadership: database connection failed (%s); retrying", type(exc).__name__)
                    self._drop()
                except Exception:
                    # Starting the jobs failed: give the lock up (with its connection) so another replica can lead.
                    log.exception("scheduler leadership: could not start the jobs; giving the lock up")
                    self._drop()
                await self._pause(self.timing.leader_poll)
        finally:
            await self._release()

    async def _lead(self, conn: asyncpg.Connection) -> None:
        """Lead until the heartbeat fails or the replica stops; the jobs run only in between."""
        self.leading = True
        log.info("this replica now leads the scheduled jobs")
        try:
            await self.on_elected()
            while True:
                await self._pause(self.timing.heartbeat)
                if self._stop.is_set():
                    return
                await conn.fetchval("SELECT 1", timeout=self.timing.heartbeat_timeout)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
            log.error("scheduler leadership lost: the lock connection stopped answering; stopping the jobs")
            self._drop()
            raise
        finally:
            self.leading = False
            await self.on_lost()

    def _drop(self) -> None:
        """Forget a broken connection without waiting on it (the server ends its session, and the lock, on its own)."""
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.terminate()
        self._conn = None

    async def _release(self) -> None:
        """Hand the lock back on the way out, so another replica takes over at its next try, not after a timeout."""
        conn, self._conn = self._conn, None
        if conn is None or conn.is_closed():
            return
        try:
            await conn.execute("SELECT pg_advisory_unlock_all()", timeout=self.timing.heartbeat_timeout)
            await asyncio.wait_for(conn.close(), self.timing.heartbeat_timeout)
        except Exception:
            conn.terminate()
