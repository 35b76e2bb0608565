"""A database that does not answer never hangs the bot: bounded statements, a bounded /readyz, and a "try again" reply
instead of an apology for a bug (or silence)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bot.container import build_container
from bot.settings import load_settings
from bot.sidecar import build_sidecar
from bot.slack_app import DATABASE_UNAVAILABLE, DATABASE_UNAVAILABLE_FORM
from db.engine import make_engine
from tests.app.conftest import ALICE, BOB, GENERAL, StartVigil

NOTHING_OPEN = "No open incidents you can see. :sunny:"


@asynccontextmanager
async def silent_server() -> AsyncIterator[int]:
    """A TCP listener that accepts connections and never says a word: a database host that hangs."""
    held: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for writer in held:
            writer.close()
        await server.wait_closed()


@asynccontextmanager
async def pg_table_locked(db_url: str, table: str) -> AsyncIterator[None]:
    """Another session holds an ACCESS EXCLUSIVE lock on `table` (a long migration, a stuck admin session)."""
    dsn = make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        async with conn.transaction():
            await conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
            yield
    finally:
        await conn.close()


@asynccontextmanager
async def sqlite_write_locked(db_url: str) -> AsyncIterator[None]:
    """Another process holds SQLite's write lock (every Vigil transaction begins IMMEDIATE, so it waits for it).

    Taken in a thread, as another process would: waiting for the lock on the loop would stall Vigil's own open
    transaction (the delivery worker's poll, say) and with it the lock this waits for."""
    conn = sqlite3.connect(make_url(db_url).database or "", isolation_level=None, check_same_thread=False)
    try:
        await asyncio.to_thread(conn.execute, "BEGIN IMMEDIATE")
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()


@asynccontextmanager
async def database_stuck(db_url: str, table: str = "slack_user") -> AsyncIterator[None]:
    """On PostgreSQL `table` is locked; on SQLite the whole file is (for writers, and every Vigil transaction is one)."""
    if make_url(db_url).get_backend_name() == "postgresql":
        async with pg_table_locked(db_url, table):
            yield
    else:
        async with sqlite_write_locked(db_url):
            yield


async def test_a_stuck_database_gets_a_try_again_reply_and_the_bot_keeps_serving(
    start_vigil: StartVigil, db_url: str
) -> None:
    vigil = await start_vigil(engine=make_engine(db_url, statement_timeout=1.0))
    async with database_stuck(db_url):
        ack = await vigil.command("list", user=BOB, channel=GENERAL)
        assert ack.acked
        reply = await vigil.emu.wait_for_response(BOB, timeout=15)
        await vigil.settle(timeout=15)  # nothing left in flight
    assert reply.body.get("text") == DATABASE_UNAVAILABLE
    assert reply.body.get("response_type") == "ephemeral"

    ack = await vigil.command("list", user=BOB, channel=GENERAL)
    assert ack.acked
    again = await vigil.emu.wait_for_response(BOB, count=2, timeout=15)
    assert again.body.get("text") == NOTHING_OPEN


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # a table lock: PostgreSQL only
async def test_a_statement_stuck_on_a_lock_times_out_with_a_try_again_reply(start_vigil: StartVigil, db_url: str) -> None:
    vigil = await start_vigil(engine=make_engine(db_url, statement_timeout=1.0))
    await vigil.command("list", user=ALICE, channel=GENERAL)  # Alice is known: the lock below stops the incident query
    await vigil.emu.wait_for_response(ALICE)
    async with pg_table_locked(db_url, "incident"):
        assert (await vigil.command("list", user=ALICE, channel=GENERAL)).acked
        reply = await vigil.emu.wait_for_response(ALICE, count=2, timeout=15)
        await vigil.settle(timeout=15)
    assert reply.body.get("text") == DATABASE_UNAVAILABLE


FORM = "hardening_check_form"
FORM_VIEW = {
    "type": "modal",
    "callback_id": FORM,
    "title": {"type": "plain_text", "text": "Check"},
    "submit": {"type": "plain_text", "text": "Save"},
    "blocks": [
        {"type": "section", "text": {"type": "mrkdwn", "text": "A form that reads the database before it acks."}},
        {
            "type": "input",
            "block_id": "reason",
            "label": {"type": "plain_text", "text": "Reason"},
            "element": {"type": "plain_text_input", "action_id": "reason_input"},
        },
    ],
}


async def test_a_form_whose_check_needs_a_stuck_database_stays_open(start_vigil: StartVigil, db_url: str) -> None:
    vigil = await start_vigil(engine=make_engine(db_url, statement_timeout=1.0))
    assert vigil.runtime.slack_app is not None
    sessions = vigil.container.sessions

    async def check_then_ack(ack: Any) -> None:
        async with sessions() as session:
            await session.execute(text("SELECT count(*) FROM slack_user"))
        await ack()

    vigil.runtime.slack_app.registry.view(FORM)(check_then_ack)
    await vigil.container.slack.views_open(trigger_id=vigil.emu.new_trigger_id(ALICE), view=FORM_VIEW)
    modal = vigil.emu.state.top_modal(ALICE)
    assert modal is not None and modal.callback_id == FORM
    values = vigil.emu.form_values(ALICE, {"Reason": "typed with care"}, view_id=modal.id)

    async with database_stuck(db_url):
        ack = await vigil.emu.send_view_submission(user_id=ALICE, view_id=modal.id, values=values)
        await vigil.settle(timeout=15)
    assert ack.acked and not ack.limit_errors, ack.limit_errors
    assert ack.payload == {"response_action": "errors", "errors": {"reason": DATABASE_UNAVAILABLE_FORM}}
    assert vigil.emu.state.top_modal(ALICE) is not None  # still open, with what Alice typed

    again = await vigil.emu.send_view_submission(user_id=ALICE, view_id=modal.id, values=values)
    assert again.acked and again.payload is None, again.payload
    assert vigil.emu.state.top_modal(ALICE) is None


async def test_readyz_answers_503_when_the_database_host_hangs() -> None:
    async with silent_server() as port:
        settings = load_settings(
            env_file=None, VIGIL_DATABASE_URL=f"postgresql+asyncpg://vigil@127.0.0.1:{port}/vigil", VIGIL_HTTP_PORT=0
        )
        container = build_container(settings)

        async def connected() -> bool:
            return True

        runner = web.AppRunner(build_sidecar(container, socket_connected=connected))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        bound = runner.addresses[0][1]
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http,
                http.get(f"http://127.0.0.1:{bound}/readyz") as resp,
            ):
                assert resp.status == 503
                body = await resp.json()
        finally:
            await runner.cleanup()
            await container.aclose()
    assert body == {"status": "not ready", "database": "unreachable (TimeoutError)", "socket_mode": "ok"}


async def test_connecting_to_a_database_host_that_hangs_times_out() -> None:
    async with silent_server() as port:
        engine = make_engine(f"postgresql+asyncpg://vigil@127.0.0.1:{port}/vigil", connect_timeout=0.5)
        try:
            async with asyncio.timeout(15):
                with pytest.raises(TimeoutError):
                    async with engine.connect() as conn:
                        await conn.execute(text("SELECT 1"))
        finally:
            await engine.dispose()
