"""Logs keep secrets out: every Slack token family and response URLs are masked, Socket Mode frames (response_url,
user text) are not logged even at the most verbose level, errors carry no bound parameters, and the SQLite file is
readable by its owner only."""

from __future__ import annotations

import io
import json
import logging
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bot.cli.main import cli
from bot.logs import JsonFormatter, RedactingFormatter, redact, setup_logging
from db.engine import make_engine
from tests.app.conftest import ALICE, GENERAL, StartVigil
from tests.app.test_declare import declare_values

TOKENS = [
    "xoxb-1234-5678-AbCdEf",
    "xoxp-1234-5678-AbCdEf",
    "xapp-1-A0VIGIL-1234-abcdef",
    "xoxe-1-AbCdEf123",
    "xoxa-2-AbCdEf123",
    "xoxr-AbCdEf123",
    "xoxs-1234-AbCdEf",
    "xoxe.xoxp-1-AbCdEf123",
    "xoxe.xoxb-1-AbCdEf123",
]
HOOK = "https://hooks.slack.com/commands/T0VIGIL/123/AbCdEf"


class ListHandler(logging.Handler):
    """Every record any logger let through, raw (before any formatter masks it)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        return "\n".join(f"{r.name} {r.getMessage()}" for r in self.records)


@contextmanager
def vigil_logging_at(level: int, capture: logging.Handler) -> Iterator[io.StringIO]:
    """Vigil's own logging setup at `level`, its output in the yielded buffer and every record also in `capture`;
    the process-wide logging state is put back afterwards."""
    root = logging.getLogger()
    handlers, root_level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in list(logging.root.manager.loggerDict)}
    stream = io.StringIO()
    try:
        setup_logging("text", level)
        vigil_handler = root.handlers[0]
        assert isinstance(vigil_handler, logging.StreamHandler)
        vigil_handler.setStream(stream)
        root.addHandler(capture)
        yield stream
    finally:
        root.handlers[:] = handlers
        root.setLevel(root_level)
        for name in list(logging.root.manager.loggerDict):
            logger = logging.getLogger(name)
            logger.setLevel(levels.get(name, logging.NOTSET))


def record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("vigil", logging.INFO, __file__, 1, message, args, None)


@pytest.mark.parametrize("token", TOKENS)
def test_every_slack_token_family_is_redacted(token: str) -> None:
    for formatter in (RedactingFormatter("%(message)s"), JsonFormatter()):
        out = formatter.format(record("calling with %s and Bearer %s", token, token))
        assert token not in out and "[redacted]" in out


def test_response_urls_are_redacted() -> None:
    for formatter in (RedactingFormatter("%(message)s"), JsonFormatter()):
        out = formatter.format(record("posting to %s", HOOK))
        assert HOOK not in out and "hooks.slack.com/commands" not in out
    body = {"response_url": "http://127.0.0.1:9/response/abc123", "text": "hi"}
    assert "abc123" not in redact(repr(body)) and "abc123" not in redact(str(body).replace("'", '"'))


async def test_socket_mode_frames_are_not_logged_at_the_most_verbose_level(start_vigil: StartVigil) -> None:
    captured = ListHandler()
    title = "Payroll export leaked 7731"
    with vigil_logging_at(logging.DEBUG, captured) as stream:
        vigil = await start_vigil()
        ack = await vigil.emu.send_slash_command(f"open p2 {title}", user_id=ALICE, channel_id=GENERAL)
        assert ack.acked
        await vigil.emu.wait_for_call("views.open")
        await vigil.settle()
        modal = vigil.emu.state.top_modal(ALICE)
        assert modal is not None and title in json.dumps(modal.data)  # the text really went through Vigil
        values = declare_values(title, description=f"{title}, details")
        assert (await vigil.emu.send_view_submission(user_id=ALICE, view_id=modal.id, values=values)).acked
        await vigil.settle()
        ack = await vigil.emu.send_slash_command("list", user_id=ALICE, channel_id=GENERAL)
        await vigil.emu.wait_for_response(ALICE)
        await vigil.settle()
    assert [i.title for i in await vigil.incidents()] == [title]  # stored, listed, and none of it logged
    assert captured.records, "nothing was logged at all: the capture is broken"
    logged = captured.text() + stream.getvalue()
    assert title not in logged
    assert "/response/" not in logged and "response_url" not in logged
    assert vigil.emu.bot_token not in stream.getvalue() and vigil.emu.app_token not in stream.getvalue()


async def test_database_errors_do_not_carry_bound_parameters(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with pytest.raises(DBAPIError) as raised:
            async with engine.begin() as conn:
                await conn.execute(
                    text("INSERT INTO slack_user (team_id, id, name) VALUES (:team, :id, :name)"),
                    {"team": "T-missing", "id": "U1", "name": "secret-name-4411"},
                )
    finally:
        await engine.dispose()
    assert "secret-name-4411" not in str(raised.value)


def modes_in(directory: Path) -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in directory.iterdir()}


def test_vigil_migrate_creates_the_sqlite_file_owner_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "vigil.db"
    monkeypatch.setenv("VIGIL_DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    old_umask = os.umask(0o022)  # a usual umask: files come out 0644 unless Vigil says otherwise
    try:
        result = CliRunner().invoke(cli, ["migrate"], prog_name="vigil")
    finally:
        os.umask(old_umask)
    assert result.exit_code == 0, result.output
    modes = {name: mode for name, mode in modes_in(tmp_path).items() if name.startswith("vigil.db")}
    assert "vigil.db" in modes
    assert modes == dict.fromkeys(modes, 0o600), modes


async def test_the_engine_creates_the_sqlite_file_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    old_umask = os.umask(0o022)
    try:
        engine = make_engine(f"sqlite+aiosqlite:///{path}")
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x INTEGER)"))
            await conn.execute(text("INSERT INTO t VALUES (1)"))
            modes = modes_in(tmp_path)
        await engine.dispose()
    finally:
        os.umask(old_umask)
    assert set(modes) >= {"fresh.db", "fresh.db-wal"}
    assert modes == dict.fromkeys(modes, 0o600), modes
