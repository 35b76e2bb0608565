"""Engine and session factory for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

# A database that does not answer must not hang a listener (and the person waiting on it): every wait is bounded.
CONNECT_TIMEOUT = 5.0  # opening a connection
STATEMENT_TIMEOUT = 10.0  # one statement (asyncpg `command_timeout`; SQLite's busy timeout on a locked file)
POOL_TIMEOUT = 10.0  # waiting for a free pooled connection
SQLITE_BUSY_TIMEOUT_MS = int(STATEMENT_TIMEOUT * 1000)
SQLITE_FILE_MODE = 0o600  # the database holds people's names, emails and incident text: its owner only

# Database failures a retry can cure (unreachable, timed out, locked, deadlocked, restarting). Integrity, programming
# and data errors are bugs or bad input, so they are not.
_PERMANENT_DB_ERRORS = (sa_exc.IntegrityError, sa_exc.ProgrammingError, sa_exc.DataError, sa_exc.NotSupportedError)
_TRANSIENT_DRIVER_ERRORS = (
    asyncpg.PostgresConnectionError,
    asyncpg.QueryCanceledError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
)
_DATABASE_MODULES = ("sqlalchemy", "asyncpg", "aiosqlite", "sqlite3")


def make_engine(
    url: str | URL,
    *,
    connect_timeout: float | None = CONNECT_TIMEOUT,
    statement_timeout: float | None = STATEMENT_TIMEOUT,
    pool_timeout: float | None = POOL_TIMEOUT,
    **kwargs: Any,
) -> AsyncEngine:
    """Create the async engine with bounded waits (None lifts a bound, e.g. for a long migration on PostgreSQL;
    SQLite always keeps a busy timeout); SQLite gets WAL, an owner-only file and `BEGIN IMMEDIATE` transactions.

    `BEGIN IMMEDIATE` takes the write lock up front: a deferred transaction that reads and then writes can fail at
    once with "database is locked" (SQLite does not wait on a read→write upgrade), which would lose a declaration.
    Bound parameters stay out of error messages (`hide_parameters`): they carry user text and ids into the logs.
    """
    url = make_url(url)
    kwargs.setdefault("hide_parameters", True)
    if pool_timeout is not None and "poolclass" not in kwargs and not _is_memory_sqlite(url):
        kwargs.setdefault("pool_timeout", pool_timeout)
    connect_args = dict(kwargs.pop("connect_args", None) or {})
    if url.get_backend_name() == "sqlite":
        busy_ms = SQLITE_BUSY_TIMEOUT_MS if statement_timeout is None else int(statement_timeout * 1000)
        connect_args.setdefault("timeout", busy_ms / 1000)
        engine = create_async_engine(url, connect_args=connect_args, **kwargs)
        _configure_sqlite(engine, busy_ms=busy_ms, path=_sqlite_file(url))
        return engine
    if url.get_driver_name() == "asyncpg":
        if connect_timeout is not None:
            connect_args.setdefault("timeout", connect_timeout)
        if statement_timeout is not None:
            connect_args.setdefault("command_timeout", statement_timeout)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, connect_args=connect_args, **kwargs)


def _is_memory_sqlite(url: URL) -> bool:
    return url.get_backend_name() == "sqlite" and _sqlite_file(url) is None


def _sqlite_file(url: URL) -> Path | None:
    """The database file of a SQLite URL; None for an in-memory database."""
    database = url.database or ""
    if not database or database == ":memory:" or database.startswith("file:") or url.query.get("mode") == "memory":
        return None
    return Path(database)


def _create_private(path: Path) -> None:
    """Create the database file owner-only before SQLite does (SQLite would honour the umask, usually 0644); its
    -wal and -shm files take the main file's mode."""
    with contextlib.suppress(FileExistsError, FileNotFoundError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SQLITE_FILE_MODE))


def _tighten(path: Path) -> None:
    """The -wal/-shm files no wider than the database file (SQLite copies its mode when it creates them; this covers
    files an older Vigil left behind). Not narrower either: a reader the file admits must be able to open -shm."""
    with contextlib.suppress(OSError):
        allowed = stat.S_IMODE(path.stat().st_mode)
        for suffix in ("-wal", "-shm"):
            side = path.with_name(path.name + suffix)
            with contextlib.suppress(OSError):
                mode = stat.S_IMODE(side.stat().st_mode)
                if mode & ~allowed:
                    side.chmod(mode & allowed)


def _configure_sqlite(engine: AsyncEngine, *, busy_ms: int, path: Path | None) -> None:
    @event.listens_for(engine.sync_engine, "do_connect")
    def _before_connect(*_args: Any) -> None:
        if path is not None:
            _create_private(path)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when a transaction begins.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={busy_ms}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()
        if path is not None:
            _tighten(path)

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def _raised_in_database_code(error: BaseException) -> bool:
    tb = error.__traceback__
    while tb is not None:
        module = str(tb.tb_frame.f_globals.get("__name__", ""))
        if module.split(".")[0] in _DATABASE_MODULES:
            return True
        tb = tb.tb_next
    return False


def database_unavailable(error: BaseException) -> bool:
    """True when `error` (or what caused it) is the database failing to answer: worth "try again", not a bug.

    asyncpg's `command_timeout` and a refused connection surface as a bare TimeoutError/OSError, which Slack calls
    raise too; those count only when raised inside the database driver.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, sa_exc.DBAPIError) and not isinstance(current, _PERMANENT_DB_ERRORS):
            return True
        if isinstance(current, (sa_exc.TimeoutError, sa_exc.DisconnectionError, *_TRANSIENT_DRIVER_ERRORS)):
            return True
        if isinstance(current, OSError) and _raised_in_database_code(current):  # TimeoutError is an OSError
            return True
        current = current.__cause__ or current.__context__
    return False


def outage_summary(error: BaseException) -> str:
    """One line saying why the database did not answer: the driver's own exception, the first line of its message
    (without the statement SQLAlchemy appends). What a log needs when the cause is known, instead of a traceback."""
    cause = error
    while isinstance(cause.__cause__, Exception):  # not a CancelledError under a timeout: that says nothing
        cause = cause.__cause__
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0]}" if lines else type(cause).__name__


def log_failure(log: logging.Logger, error: BaseException, message: str, *args: Any) -> None:
    """Log a failed database operation: a one-line warning when the database is not answering (an outage is expected
    and reported as such), the full traceback at ERROR for anything else (a bug)."""
    if database_unavailable(error):
        log.warning(message + " (database unavailable: %s)", *args, outage_summary(error), stacklevel=2)
    else:
        log.error(message, *args, exc_info=error, stacklevel=2)


class OutageNotice:
    """For a loop that polls the database: says once that the database stopped answering, and once that it answers
    again, instead of a traceback every round of the outage. Anything else that fails is logged with its traceback.

    `failed(exc)` after a failed round, `succeeded()` after a good one.
    """

    def __init__(self, log: logging.Logger, what: str) -> None:
        self.log = log
        self.what = what
        self.down = False

    def failed(self, error: BaseException) -> None:
        if not database_unavailable(error):
            self.log.error("%s round failed; trying again", self.what, exc_info=error, stacklevel=2)
        elif not self.down:
            self.down = True
            self.log.warning(
                "%s paused: database unavailable (%s); retrying", self.what, outage_summary(error), stacklevel=2
            )

    def succeeded(self) -> None:
        if self.down:
            self.down = False
            self.log.info("%s resumed: the database answers again", self.what, stacklevel=2)
