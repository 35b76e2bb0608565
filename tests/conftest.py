"""Test base: databases on SQLite and PostgreSQL, each test on its own fresh, migrated database.

PostgreSQL comes from VIGIL_TEST_POSTGRES_URL (default: the local server, user postgres). Without a reachable server
the PostgreSQL half skips with the reason — except under CI=true, where a missing PostgreSQL fails the run.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import traceback
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from db.engine import make_engine
from db.migrate import upgrade

pytest_plugins = ["tests.fakes.plugin"]

PG_ADMIN_URL = os.environ.get("VIGIL_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
T = TypeVar("T")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _pg_dsn(database: str) -> str:
    return make_url(PG_ADMIN_URL).set(drivername="postgresql", database=database).render_as_string(hide_password=False)


def _pg_url(database: str) -> str:
    return make_url(PG_ADMIN_URL).set(database=database).render_as_string(hide_password=False)


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(_pg_dsn(make_url(PG_ADMIN_URL).database or "postgres"), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def run_isolated(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion on its own loop in a worker thread, leaving the test's loop alone."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _migrate(url: str) -> None:
    engine = make_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    run_isolated(_migrate(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    name = f"vigil_tmpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        run_isolated(_pg_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        reason = f"PostgreSQL not reachable at {make_url(PG_ADMIN_URL).render_as_string()} ({type(exc).__name__})"
        if IN_CI:
            pytest.fail(f"{reason}; CI=true requires PostgreSQL")
        pytest.skip(reason)
    run_isolated(_migrate(_pg_url(name)))
    yield name
    run_isolated(_pg_admin(f'DROP DATABASE IF EXISTS "{name}"'))


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "vigil.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def postgresql_url(pg_template: str) -> Iterator[str]:
    name = f"vigil_t_{uuid.uuid4().hex[:12]}"
    run_isolated(_pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    yield _pg_url(name)
    run_isolated(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh, migrated database on each backend."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(db_url)
    yield eng
    await eng.dispose()


@pytest.fixture(autouse=True)
async def _tasks_end_with_the_test() -> AsyncIterator[None]:
    """Cancel what a test left running, and fail it when something ignores the cancellation: closing the loop would
    otherwise wait for that task forever, with no timer left to wake it, and hang the run without naming the test."""
    yield
    me = asyncio.current_task()
    left = [task for task in asyncio.all_tasks() if task is not me and not task.done()]
    for task in left:
        task.cancel()
    if not left:
        return
    _, stuck = await asyncio.wait(left, timeout=10)
    if stuck:
        report = "tasks ignored cancellation for 10 s:\n" + "\n".join(_where_it_waits(task) for task in stuck)
        # Written straight away as well: closing the loop may still wait on them until pytest-timeout ends the worker.
        sys.__stderr__.write(report + "\n")
        pytest.fail(report)


def _where_it_waits(task: asyncio.Task[Any]) -> str:
    """The chain of awaits a task is suspended in, outermost first."""
    lines = [repr(task)]
    awaited: Any = task.get_coro()
    while awaited is not None:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "ag_frame", None)
        if frame is not None:
            lines.extend(traceback.format_stack(frame, 1))
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "ag_await", None)
    return "".join(lines)
