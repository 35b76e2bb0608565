"""`vigil integrations …` and the integration lines of `vigil check`, through the real command line.

Verbs run in-process (click's runner) in a worker thread, so the recording HTTPS fake serving on this test's loop can
answer them; the database is the real one (SQLite and PostgreSQL), set up directly by the test. Only the TTY prompt
of `remove` and `vigil check` (which the existing check tests drive that way) run as subprocesses.

Every secret Vigil shows once is checked to appear in no other output of the test.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import subprocess
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli.main import cli
from bot.emulator import SlackEmulator
from db.engine import make_engine, make_session_factory
from db.models import Integration, Workspace
from db.workspaces import record_workspace
from integrations.signing import verify_header
from tests.cli.conftest import VIGIL, avigil, clean_env, slack_env

TEAM = "T0CLI"
PUBLIC_URL = "https://vigil.example.com"
MASK = "••••"


def key_entry(kid: str) -> str:
    return f"{kid}:{base64.b64encode(os.urandom(32)).decode()}"


def fields(result: Result) -> dict[str, str]:
    """`key: value` lines of stdout as a dict (the first `: ` splits)."""
    out: dict[str, str] = {}
    for line in result.stdout.splitlines():
        key, sep, value = line.partition(": ")
        if sep:
            out[key] = value
    return out


def errors(result: Result) -> list[str]:
    return result.stderr.strip().splitlines()


@asynccontextmanager
async def database(db_url: str) -> AsyncIterator[AsyncSession]:
    """A transaction on the test's database (the test may touch it; the CLI under test never does by itself)."""
    engine = make_engine(db_url)
    try:
        async with make_session_factory(engine)() as session, session.begin():
            yield session
    finally:
        await engine.dispose()


async def record_team(db_url: str, team_id: str = TEAM) -> None:
    async with database(db_url) as session:
        await record_workspace(session, team_id=team_id, name="Acme", url="https://acme.slack.com/", bot_user_id="U0BOT")


@dataclass
class Vigil:
    """`vigil ARGS` in-process with its own environment (nothing inherited from SLACK_*/VIGIL_* of this process)."""

    env: dict[str, str]
    transcript: list[Result] = field(default_factory=list)

    def sync(self, *args: str, input: str | None = None, env: dict[str, str | None] | None = None) -> Result:
        unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith(("SLACK_", "VIGIL_"))}
        result = CliRunner().invoke(
            cli, list(args), input=input, env={**unset, **self.env, **(env or {})}, prog_name="vigil", catch_exceptions=False
        )
        assert "Traceback" not in result.output, result.output
        self.transcript.append(result)
        return result

    async def __call__(self, *args: str, input: str | None = None, env: dict[str, str | None] | None = None) -> Result:
        """Run in a thread, so servers on this test's loop (the HTTPS fake, the Slack emulator) can answer it."""
        return await asyncio.to_thread(self.sync, *args, input=input, env=env)

    async def ok(self, *args: str, input: str | None = None, env: dict[str, str | None] | None = None) -> dict[str, str]:
        result = await self(*args, input=input, env=env)
        assert result.exit_code == 0, (args, result.stdout, result.stderr)
        return fields(result)

    def assert_never_shown(self, secret: str, *, except_in: Sequence[Result] = ()) -> None:
        assert len(secret) >= 8
        for result in self.transcript:
            if not any(result is allowed for allowed in except_in):
                assert secret not in result.stdout + result.stderr, result.output


def make_env(db_url: str, ca_bundle: Path, *keys: str) -> dict[str, str]:
    env = {
        "VIGIL_DATABASE_URL": db_url,
        "VIGIL_CA_BUNDLE": str(ca_bundle),
        "VIGIL_OUTBOUND_ALLOW_PRIVATE": "true",
        "VIGIL_PUBLIC_URL": PUBLIC_URL,
    }
    if keys:
        env["VIGIL_ENCRYPTION_KEYS"] = ",".join(keys)
    return env


async def make_vigil(db_url: str, ca_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Vigil:
    """The CLI on a migrated database with the workspace recorded and a key ring; cwd without a `.env`."""
    monkeypatch.chdir(tmp_path)
    await record_team(db_url)
    return Vigil(make_env(db_url, ca_bundle, key_entry("k1")))


@pytest.fixture
async def vigil(db_url: str, ca_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Vigil:
    return await make_vigil(db_url, ca_bundle, tmp_path, monkeypatch)


async def add_webhook(
    vigil: Vigil, name: str, url: str, *extra: str, env: dict[str, str | None] | None = None
) -> dict[str, str]:
    return await vigil.ok("integrations", "add", "webhook", "--name", name, "--set", f"url={url}", *extra, env=env)


# ---- add and list -----------------------------------------------------------------------------------------------------


async def test_add_prints_id_url_and_the_secret_once_and_list_never_shows_it(vigil: Vigil) -> None:
    added = await vigil("integrations", "add", "webhook", "--name", "ops-hook", "--set", "url=https://hooks.example.com/v")
    assert added.exit_code == 0, added.stderr
    out = fields(added)
    assert list(out) == ["id", "name", "kind", "webhook_url", "inbound_secret"]
    assert re.fullmatch(r"[0-9a-f]{32}", out["id"])
    assert out["name"] == "ops-hook" and out["kind"] == "webhook"
    assert out["webhook_url"] == f"{PUBLIC_URL}/hooks/webhook/{out['id']}"
    secret = out["inbound_secret"]
    assert len(secret) >= 32
    assert errors(added) == [
        "shown once: store inbound_secret now; Vigil keeps only an encrypted copy and never prints it again"
    ]

    listed = await vigil("integrations", "list")
    assert listed.exit_code == 0
    header, *rows = listed.stdout.splitlines()
    assert header.split() == ["id", "name", "kind", "active", "events", "min_severity", "components", "include_private"]
    assert [row.split() for row in rows] == [[out["id"], "ops-hook", "webhook", "yes", "all", "-", "all", "no"]]

    as_json = json.loads((await vigil("integrations", "list", "--json")).stdout)
    assert [(i["id"], i["config"], i["secrets"]) for i in as_json] == [
        (out["id"], {"url": "https://hooks.example.com/v"}, {"inbound_secret": MASK})
    ]
    vigil.assert_never_shown(secret, except_in=[added])


async def test_add_json_shows_the_secret_once_under_shown_once(vigil: Vigil) -> None:
    added = await vigil(
        "integrations", "add", "webhook", "--name", "j", "--set", "url=https://hooks.example.com/v", "--json"
    )
    assert added.exit_code == 0 and added.stderr == ""
    data = json.loads(added.stdout)
    assert data["secrets"] == {"inbound_secret": MASK}
    assert set(data["shown_once"]) == {"inbound_secret"}
    assert data["webhook_url"] == f"{PUBLIC_URL}/hooks/webhook/{data['id']}"


async def test_add_with_filters(vigil: Vigil) -> None:
    out = await add_webhook(
        vigil,
        "filtered",
        "https://hooks.example.com/v",
        "--events",
        "incident.opened, incident.resolved",
        "--min-severity",
        "p2",
        "--include-private",
    )
    [row] = json.loads((await vigil("integrations", "list", "--json")).stdout)
    assert row["id"] == out["id"]
    assert row["events"] == ["incident.opened", "incident.resolved"]
    assert row["min_severity"] == "P2" and row["include_private"] is True


async def test_add_without_a_key_ring_is_refused_with_the_command_that_makes_one(vigil: Vigil) -> None:
    refused = await vigil(
        "integrations", "add", "webhook", "--name", "w", "--set", "url=https://hooks.example.com/v",
        env={"VIGIL_ENCRYPTION_KEYS": None},
    )  # fmt: skip
    assert refused.exit_code == 2 and refused.stdout == ""
    assert errors(refused) == [
        "error: VIGIL_ENCRYPTION_KEYS: no encryption key: run `vigil keys generate` and put its output in "
        "VIGIL_ENCRYPTION_KEYS"
    ]
    assert (await vigil("integrations", "list")).stdout.splitlines()[1:] == []


async def test_bad_settings_exit_2_with_one_line_per_problem(vigil: Vigil) -> None:
    refused = await vigil(
        "integrations", "add", "webhook", "--name", "w", "--set", "url=http://hooks.example.com/v", "--set", "colour=red",
        "--events", "incident.opened,incident.exploded",
        env={"VIGIL_OUTBOUND_ALLOW_PRIVATE": "false"},
    )  # fmt: skip
    assert refused.exit_code == 2 and refused.stdout == ""
    lines = errors(refused)
    assert "error: url: refused: http:// is allowed only with VIGIL_OUTBOUND_ALLOW_PRIVATE=true" in lines
    assert "error: colour: not a setting of webhook (settings: url)" in lines
    assert any(line.startswith("error: events: unknown incident.exploded") for line in lines)
    assert all(re.match(r"error: (url|colour|events): ", line) for line in lines), lines

    as_json = await vigil("integrations", "add", "webhook", "--name", "w", "--json")
    assert as_json.exit_code == 2
    assert json.loads(as_json.stderr) == {
        "error": "url: required for webhook",
        "problems": ["url: required for webhook"],
    }


async def test_inbound_only_kinds_and_bad_usage(vigil: Vigil) -> None:
    github = await vigil.ok("integrations", "add", "github", "--name", "g", "--set", "repos=acme/shop")
    assert github["webhook_url"] == f"{PUBLIC_URL}/hooks/github/{github['id']}"
    assert len(github["signing_secret"]) >= 32, "Vigil makes the webhook's secret and shows it once"
    unknown = await vigil("integrations", "add", "slack", "--name", "s")
    assert unknown.exit_code == 2
    twice = await vigil("integrations", "add", "webhook", "--name", "w", "--set", "url=https://a.example", "--set", "url=b")
    assert twice.exit_code == 2 and errors(twice) == ["error: --set url: given twice"]
    assert (await vigil("integrations", "add", "webhook", "--name", "w", "--set", "url")).exit_code == 2
    inbound = await vigil("integrations", "inbound", "nosuch")
    assert inbound.exit_code == 1 and errors(inbound) == ["error: No integration 'nosuch'."]
    assert (await vigil("integrations", "inbound", "g", "--limit", "0")).exit_code == 2


async def test_names_are_unique_per_workspace_whatever_the_case(vigil: Vigil) -> None:
    await add_webhook(vigil, "Ops Hook", "https://hooks.example.com/v")
    again = await vigil("integrations", "add", "webhook", "--name", "ops hook", "--set", "url=https://hooks.example.com/w")
    assert again.exit_code == 2
    assert errors(again) == ["error: name: 'ops hook' is already used by another integration"]
    other = await add_webhook(vigil, "other", "https://hooks.example.com/w")
    rename = await vigil("integrations", "update", other["id"], "--name", "OPS HOOK")
    assert rename.exit_code == 2
    assert errors(rename) == ["error: name: 'OPS HOOK' is already used by another integration"]


# ---- secrets from a file and from stdin -------------------------------------------------------------------------------


async def test_secrets_from_a_file_and_from_stdin(vigil: Vigil, https_server: Any, tmp_path: Path) -> None:
    server = await https_server()
    first_url = server.url + "/workflows/one?sig=FILESECRET123"
    (tmp_path / "teams-url").write_text(first_url + "\n")
    added = await vigil("integrations", "add", "teams", "--name", "Teams ops", "--secret", f"url=@{tmp_path / 'teams-url'}")
    assert added.exit_code == 0, added.stderr
    tested = await vigil.ok("integrations", "test", "teams ops")
    assert tested["status"] == "success"
    [request] = server.requests
    assert request.method == "POST" and request.path == "/workflows/one"
    assert request.query["sig"] == "FILESECRET123"  # the file's text, its trailing newline dropped
    assert "[TEST]" in request.text()

    second_url = server.url + "/workflows/two?sig=STDINSECRET456"
    updated = await vigil.ok("integrations", "update", "Teams ops", "--secret", "url=-", input=second_url + "\n")
    assert updated["secrets.url"] == MASK
    await vigil.ok("integrations", "test", "Teams ops")
    assert server.requests[-1].path == "/workflows/two" and server.requests[-1].query["sig"] == "STDINSECRET456"

    two = await vigil(
        "integrations", "update", "Teams ops", "--secret", "url=-", "--secret", "security_token=-", input="x\n"
    )  # fmt: skip
    assert two.exit_code == 2
    assert errors(two) == ["error: --secret: only one KEY=- can read standard input (given for url, security_token)"]
    missing = await vigil("integrations", "update", "Teams ops", "--secret", f"url=@{tmp_path / 'nope'}")
    assert missing.exit_code == 2
    assert errors(missing) == [f"error: --secret url: cannot read {tmp_path / 'nope'} (FileNotFoundError)"]

    await vigil.ok("integrations", "list")
    await vigil.ok("integrations", "list", "--json")
    for secret in ("FILESECRET123", "STDINSECRET456"):
        vigil.assert_never_shown(secret)
    vigil.assert_never_shown(fields(added)["inbound_secret"], except_in=[added])


async def test_a_secret_typed_at_a_terminal_is_asked_for_without_echo(
    sqlite_url: str, ca_bundle: Path, https_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pty

    vigil = await make_vigil(sqlite_url, ca_bundle, tmp_path, monkeypatch)
    server = await https_server()
    typed = server.url + "/workflows/typed?sig=TYPEDSECRET789"

    def add() -> tuple[subprocess.CompletedProcess[str], bytes]:
        """Run `add` on a pseudo-terminal that is its controlling terminal, typing the URL once it asks."""
        import fcntl
        import select
        import termios

        master, slave = pty.openpty()
        argv = [*VIGIL, "integrations", "add", "teams", "--name", "typed", "--secret", "url=-"]
        try:
            proc = subprocess.Popen(
                argv, stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean_env(vigil.env),
                cwd=tmp_path, start_new_session=True, preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
            )  # fmt: skip
        finally:
            os.close(slave)
        seen = b""
        deadline = time.monotonic() + 30
        while b"(not shown): " not in seen and time.monotonic() < deadline:
            if select.select([master], [], [], 0.5)[0]:
                seen += os.read(master, 4096)
        os.write(master, typed.encode() + b"\n")
        out, err = proc.communicate(timeout=60)
        try:
            while select.select([master], [], [], 0.2)[0] and (chunk := os.read(master, 4096)):
                seen += chunk
        except OSError:  # EIO: the child is gone and everything was read
            pass
        os.close(master)
        return subprocess.CompletedProcess(argv, proc.returncode, out, err), seen

    done, terminal = await asyncio.to_thread(add)
    assert done.returncode == 0, done.stderr
    assert terminal.startswith(b"url (not shown): ")
    assert "TYPEDSECRET789" not in done.stdout + done.stderr and b"TYPEDSECRET789" not in terminal  # not echoed
    await vigil.ok("integrations", "test", "typed")
    [request] = server.requests
    assert request.path == "/workflows/typed" and request.query["sig"] == "TYPEDSECRET789"


# ---- update, by id and by name ----------------------------------------------------------------------------------------


async def test_update_by_id_and_by_name(vigil: Vigil) -> None:
    added = await add_webhook(vigil, "ops-hook", "https://hooks.example.com/v", "--events", "incident.opened")
    by_id = await vigil.ok("integrations", "update", added["id"], "--set", "url=https://hooks.example.com/new")
    assert by_id["config.url"] == "https://hooks.example.com/new"
    assert by_id["id"] == added["id"] and by_id["events"] == "incident.opened"
    assert by_id["secrets.inbound_secret"] == MASK

    by_name = await vigil.ok(
        "integrations", "update", "OPS-HOOK", "--min-severity", "P3", "--events", "all", "--name", "hook2"
    )  # fmt: skip
    assert (by_name["name"], by_name["min_severity"], by_name["events"]) == ("hook2", "P3", "all")
    cleared = await vigil.ok("integrations", "update", "hook2", "--min-severity", "none", "--no-include-private")
    assert cleared["min_severity"] == "-" and cleared["include_private"] == "no"
    assert cleared["config.url"] == "https://hooks.example.com/new"  # left out: kept

    as_json = json.loads((await vigil("integrations", "update", "hook2", "--json")).stdout)
    assert as_json["id"] == added["id"] and as_json["secrets"] == {"inbound_secret": MASK}

    missing = await vigil("integrations", "update", "ops-hook", "--min-severity", "P1")
    assert missing.exit_code == 1
    assert errors(missing) == ["error: No integration 'ops-hook' (by id or name); it may have been removed."]
    vigil.assert_never_shown(added["inbound_secret"], except_in=[vigil.transcript[0]])


# ---- test -------------------------------------------------------------------------------------------------------------


async def test_test_posts_a_signed_test_sample_and_prints_the_answer(vigil: Vigil, https_server: Any) -> None:
    server = await https_server()
    added = await add_webhook(vigil, "ops-hook", server.url + "/hook")
    result = await vigil("integrations", "test", "ops-hook")
    assert result.exit_code == 0, result.stderr
    out = fields(result)
    assert list(out) == ["delivery", "integration", "status", "http_status", "duration_ms", "error"]
    assert (out["integration"], out["status"], out["http_status"], out["error"]) == ("ops-hook", "success", "200", "-")
    assert int(out["duration_ms"]) >= 0

    [request] = server.requests
    assert request.method == "POST" and request.path == "/hook"
    body = request.json()
    assert body["event"] == "test" and body["id"] == out["delivery"]
    assert body["incident"]["title"].startswith("[TEST]")
    assert request.headers["X-Vigil-Delivery"] == out["delivery"]
    signature = request.headers["X-Vigil-Signature"]
    assert verify_header(signature, request.body, [added["inbound_secret"]], now=int(time.time()))

    shown = await vigil.ok("deliveries", "show", out["delivery"][:8])
    assert (shown["event"], shown["status"], shown["incident"]) == ("test", "success", "-")
    vigil.assert_never_shown(added["inbound_secret"], except_in=[vigil.transcript[0]])


async def test_test_against_a_failing_receiver_exits_1(vigil: Vigil, https_server: Any) -> None:
    server = await https_server()
    server.default = (500, {"error": "down for maintenance"})
    await add_webhook(vigil, "ops-hook", server.url + "/hook")
    result = await vigil("integrations", "test", "ops-hook")
    assert result.exit_code == 1
    out = fields(result)
    assert (out["status"], out["http_status"]) == ("failed", "500")
    assert out["error"].startswith(f"{server.url}/hook answered 500")
    assert len(server.requests) == 1  # a test is one attempt, never retried

    as_json = await vigil("integrations", "test", "ops-hook", "--json")
    assert as_json.exit_code == 1 and json.loads(as_json.stdout)["status"] == "failed"


# ---- disable, enable, remove, rotate-secret ---------------------------------------------------------------------------


async def test_disable_cancels_pending_deliveries_and_enable_resumes(vigil: Vigil, db_url: str) -> None:
    from tests.cli.test_deliveries_cli import add_delivery, add_incident

    added = await add_webhook(vigil, "ops-hook", "https://hooks.example.com/v")
    incident_id = await add_incident(db_url, 3)
    for _ in range(2):
        await add_delivery(db_url, added["id"], incident_id, status="pending")
    await add_delivery(db_url, added["id"], incident_id, status="success")

    disabled = await vigil.ok("integrations", "disable", "ops-hook")
    assert disabled == {"id": added["id"], "name": "ops-hook", "active": "no", "cancelled": "2"}
    listed = (await vigil("integrations", "list")).stdout.splitlines()[1].split()
    assert listed[3] == "no"
    cancelled = await vigil("deliveries", "list", "--status", "cancelled")
    assert len(cancelled.stdout.splitlines()) == 3

    enabled = await vigil("integrations", "enable", added["id"], "--json")
    assert enabled.exit_code == 0
    assert json.loads(enabled.stdout) == {"id": added["id"], "name": "ops-hook", "active": True}


async def test_remove_needs_yes_without_a_terminal(vigil: Vigil) -> None:
    added = await add_webhook(vigil, "ops-hook", "https://hooks.example.com/v")
    refused = await vigil("integrations", "remove", "ops-hook")
    assert refused.exit_code == 2
    assert errors(refused) == ["error: not removed: pass --yes to remove without a confirmation prompt"]
    removed = await vigil.ok("integrations", "remove", "ops-hook", "--yes")
    assert removed == {"removed": added["id"], "name": "ops-hook", "kind": "webhook"}
    assert (await vigil("integrations", "list")).stdout.splitlines()[1:] == []
    again = await vigil("integrations", "remove", added["id"], "--yes")
    assert again.exit_code == 1 and "No integration" in again.stderr


async def test_remove_asks_on_a_terminal(
    sqlite_url: str, ca_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pty

    vigil = await make_vigil(sqlite_url, ca_bundle, tmp_path, monkeypatch)  # the prompt is the same on any database
    await add_webhook(vigil, "ops-hook", "https://hooks.example.com/v")

    def remove(answer: bytes) -> subprocess.CompletedProcess[str]:
        master, slave = pty.openpty()
        try:
            os.write(master, answer)
            return subprocess.run(
                [*VIGIL, "integrations", "remove", "ops-hook"],
                stdin=slave,
                capture_output=True,
                text=True,
                env=clean_env(vigil.env),
                cwd=tmp_path,
                timeout=60,
                check=False,
            )
        finally:
            os.close(slave)
            os.close(master)

    kept = await asyncio.to_thread(remove, b"n\n")
    assert kept.returncode == 1, kept.stderr
    assert "Remove webhook integration 'ops-hook'" in kept.stdout and "Aborted" in kept.stderr
    assert len((await vigil("integrations", "list")).stdout.splitlines()) == 2
    gone = await asyncio.to_thread(remove, b"y\n")
    assert gone.returncode == 0, gone.stderr
    assert "removed: " in gone.stdout
    assert (await vigil("integrations", "list")).stdout.splitlines()[1:] == []


async def test_rotate_secret_prints_a_new_secret_once(vigil: Vigil, https_server: Any) -> None:
    server = await https_server()
    added = await add_webhook(vigil, "ops-hook", server.url + "/hook")
    rotated = await vigil("integrations", "rotate-secret", "ops-hook")
    assert rotated.exit_code == 0, rotated.stderr
    out = fields(rotated)
    assert list(out) == ["id", "name", "inbound_secret", "previous_valid_until"]
    new, old = out["inbound_secret"], added["inbound_secret"]
    assert new != old and len(new) >= 32
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", out["previous_valid_until"])
    assert "shown once" in rotated.stderr

    await vigil.ok("integrations", "test", "ops-hook")  # signed with both while the old one is valid
    [request] = server.requests
    for secret in (new, old):
        assert verify_header(request.headers["X-Vigil-Signature"], request.body, [secret], now=int(time.time()))
    await vigil.ok("integrations", "list", "--json")
    vigil.assert_never_shown(new, except_in=[rotated])
    vigil.assert_never_shown(old, except_in=[vigil.transcript[0]])


# ---- workspace, database ----------------------------------------------------------------------------------------------


async def test_writing_verbs_learn_the_workspace_from_auth_test(
    emulator: SlackEmulator, sqlite_url: str, ca_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    vigil = Vigil(make_env(sqlite_url, ca_bundle, key_entry("k1")))
    assert (await vigil.ok("integrations", "list")) == {}  # reading: nothing recorded, nothing to list
    no_token = await vigil("integrations", "add", "webhook", "--name", "w", "--set", "url=https://hooks.example.com/v")
    assert no_token.exit_code == 2
    [line] = errors(no_token)
    assert line.startswith("error: SLACK_BOT_TOKEN: not set, and no workspace is recorded yet") and "vigil run" in line
    show = await vigil("deliveries", "show", "12345678")
    assert show.exit_code == 1
    assert errors(show) == ["error: no workspace recorded yet: `vigil run` or `vigil check` records it"]

    wrong = await vigil(
        "integrations", "add", "webhook", "--name", "w", "--set", "url=https://hooks.example.com/v",
        env={**slack_env(emulator), "SLACK_BOT_TOKEN": "xoxb-wrong-SECRET"},
    )  # fmt: skip
    assert wrong.exit_code == 1
    assert errors(wrong) == ["error: Slack auth.test answered invalid_auth; check SLACK_BOT_TOKEN"]

    env: dict[str, str | None] = {**slack_env(emulator)}
    await vigil.ok("integrations", "add", "webhook", "--name", "w", "--set", "url=https://hooks.example.com/v", env=env)
    assert [c.method for c in emulator.calls] == ["auth.test", "auth.test"]
    async with database(sqlite_url) as session:
        assert [w.team_id for w in await session.scalars(select(Workspace))] == ["T0VIGIL"]
    await vigil.ok("integrations", "disable", "w", env=env)
    assert [c.method for c in emulator.calls] == ["auth.test", "auth.test"]  # learned once, read from the database after
    assert "SECRET" not in "".join(r.output for r in vigil.transcript)


def test_an_unreachable_database_is_one_line_exit_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    url = "postgresql+asyncpg://vigil:PASSWORD@127.0.0.1:9/vigil"
    vigil = Vigil({"VIGIL_DATABASE_URL": url, "VIGIL_ENCRYPTION_KEYS": key_entry("k1")})
    for args in (["integrations", "list"], ["deliveries", "list"], ["keys", "rotate"]):
        result = vigil.sync(*args)
        assert result.exit_code == 1, (args, result.output)
        [line] = errors(result)
        assert line.startswith("error: database: ") and "VIGIL_DATABASE_URL" in line
        assert "PASSWORD" not in result.output
    as_json = vigil.sync("integrations", "list", "--json")
    assert as_json.exit_code == 1 and json.loads(as_json.stderr)["error"].startswith("database: ")


# ---- vigil check ------------------------------------------------------------------------------------------------------


async def test_check_reports_each_active_integration_and_posts_nothing(
    emulator: SlackEmulator, db_url: str, ca_bundle: Path, https_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    await record_team(db_url, "T0VIGIL")  # the emulator's team: what `vigil check` records from auth.test
    vigil = Vigil(make_env(db_url, ca_bundle, key_entry("k1")))
    server = await https_server()
    added = await add_webhook(vigil, "live", server.url + "/hook")
    await add_webhook(vigil, "dead", "https://127.0.0.1:9/hook")  # the discard port: nothing listens
    await add_webhook(vigil, "off", "https://127.0.0.1:9/off")
    await vigil.ok("integrations", "disable", "off")

    env = {**vigil.env, **slack_env(emulator)}
    out = await avigil("check", env=env, cwd=tmp_path)
    assert out.returncode == 1, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert f"integration live: ok: webhook: reachable: {server.url}/hook answered HEAD with 200" in lines
    dead = "integration dead: failed: webhook: could not reach https://127.0.0.1:9/hook"
    assert any(line.startswith(dead) for line in lines), lines
    assert not any(line.startswith("integration off") for line in lines)  # disabled: not checked
    assert [(r.method, r.path) for r in server.requests] == [("HEAD", "/hook")]  # nothing posted
    assert [c.method for c in emulator.calls] == ["auth.test", "apps.connections.open"]

    await vigil.ok("integrations", "remove", "dead", "--yes")
    ok = await avigil("check", "--json", env=env, cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout
    data = json.loads(ok.stdout)
    assert list(data)[-1] == "integration live" and data["integration live"].startswith("ok: webhook: reachable")
    assert added["inbound_secret"] not in out.stdout + out.stderr + ok.stdout + ok.stderr

    no_keys = await avigil("check", env={**env, "VIGIL_ENCRYPTION_KEYS": ""}, cwd=tmp_path)
    assert no_keys.returncode == 1
    assert "integration live: failed: webhook: VIGIL_ENCRYPTION_KEYS: " in no_keys.stdout
    assert len(server.requests) == 2  # the first check's HEAD and the second's; the keyless one sent nothing


async def test_integration_rows_are_sealed_not_plain(vigil: Vigil, db_url: str) -> None:
    added = await add_webhook(vigil, "ops-hook", "https://hooks.example.com/v")
    async with database(db_url) as session:
        row = await session.get(Integration, added["id"])
        assert row is not None
        assert row.secrets.startswith("v1:k1:") and added["inbound_secret"] not in row.secrets
