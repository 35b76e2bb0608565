"""The `vigil` command line through its real door: a subprocess with an environment, as an operator runs it.

Help texts are walked in-process (click's test runner) because there are many of them; everything that touches
configuration, the database or Slack runs as a subprocess against the bundled Slack emulator.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from bot.cli.main import cli
from bot.emulator import SlackEmulator
from db.migrate import head_revision
from tests.cli.conftest import avigil, slack_env, vigil

# Verbs that are not built yet, each with arguments it accepts: its help says so and running it exits 1.
NOT_BUILT: dict[str, list[str]] = {}


def walk(group: click.Group, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    """Every command under `group`, groups included, as ("integrations add", command)."""
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}".strip()
        yield path, command
        if isinstance(command, click.Group):
            yield from walk(command, path)


def leaf_verbs() -> dict[str, click.Command]:
    return {path: cmd for path, cmd in walk(cli) if not isinstance(cmd, click.Group)}


def help_of(path: str) -> str:
    result = CliRunner().invoke(cli, [*path.split(), "--help"], prog_name="vigil")
    assert result.exit_code == 0, (path, result.output)
    return result.output


def test_help_everywhere() -> None:
    assert "Usage: vigil [OPTIONS] COMMAND" in help_of("")
    for path, _ in walk(cli):
        assert f"Usage: vigil {path}" in help_of(path), path
    # and once through the installed door, -h included
    out = vigil("integrations", "add", "-h")
    assert out.returncode == 0 and "Usage: vigil integrations add [OPTIONS] KIND" in out.stdout


def test_no_help_mentions_an_option_its_verb_rejects() -> None:
    for path, command in leaf_verbs().items():
        accepted = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)} | {"-h", "--help"}
        mentioned = set(re.findall(r"(?<![\w-])--?[a-z][a-z-]*", help_of(path)))
        assert mentioned <= accepted, (path, mentioned - accepted)


def test_not_built_verbs_say_so_in_help_and_exit_1() -> None:
    runner = CliRunner()
    assert set(NOT_BUILT) <= set(leaf_verbs())
    for path, args in NOT_BUILT.items():
        assert "Not built yet" in help_of(path), path
        result = runner.invoke(cli, [*path.split(), *args], prog_name="vigil")
        assert result.exit_code == 1, (path, result.output)
        assert result.stderr.strip() == f"error: vigil {path} is not built yet"
    for path in set(leaf_verbs()) - set(NOT_BUILT):
        assert "not built yet" not in help_of(path).lower(), path


def test_not_built_verbs_still_refuse_bad_usage() -> None:
    runner = CliRunner()
    for args in (
        ["integrations", "add", "jira"],  # --name is required
        ["integrations", "add", "carrier-pigeon", "--name", "x"],
        ["integrations", "add", "jira", "--name", "x", "--set", "no-equals-sign"],
        ["integrations", "add", "jira", "--name", "x", "--min-severity", "P9"],
        ["jobs", "run", "no_such_job"],
        ["deliveries", "show"],
    ):
        result = runner.invoke(cli, args, prog_name="vigil")
        assert result.exit_code == 2, (args, result.output)


def test_not_built_json_error(tmp_path: Path) -> None:
    if not NOT_BUILT:
        pytest.skip("every verb is built")
    path, args = next(iter(NOT_BUILT.items()))
    out = vigil(*path.split(), *args, "--json", cwd=tmp_path)
    assert out.returncode == 1
    assert json.loads(out.stderr) == {"error": f"vigil {path} is not built yet"}


async def test_migrate_then_check_on_sqlite(emulator: SlackEmulator, tmp_path: Path) -> None:
    env = {**slack_env(emulator), "VIGIL_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'v.db'}"}
    before = await avigil("check", env=env, cwd=tmp_path)
    assert before.returncode == 1
    assert "database: failed: sqlite at revision empty; run `vigil migrate`" in before.stdout
    mig = await avigil("migrate", "--json", env=env, cwd=tmp_path)
    assert mig.returncode == 0, mig.stderr
    assert json.loads(mig.stdout)["from"] == "empty"
    again = await avigil("migrate", env=env, cwd=tmp_path)
    assert again.returncode == 0 and f"from: {head_revision()}" in again.stdout
    after = await avigil("check", env=env, cwd=tmp_path)
    assert after.returncode == 0, after.stdout
    assert "database: ok: sqlite, revision" in after.stdout
    assert "public_url: warning:" in after.stdout and "not HTTPS" in after.stdout


@pytest.mark.postgres
async def test_migrate_then_check_on_postgres(emulator: SlackEmulator, pg_template: str, tmp_path: Path) -> None:
    from tests.conftest import _pg_admin, _pg_url, run_isolated

    name = f"{pg_template}_cli"
    run_isolated(_pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        env = {**slack_env(emulator), "VIGIL_DATABASE_URL": _pg_url(name), "VIGIL_PUBLIC_URL": "https://vigil.example.com"}
        assert (await avigil("check", env=env, cwd=tmp_path)).returncode == 1
        assert (await avigil("migrate", env=env, cwd=tmp_path)).returncode == 0
        out = await avigil("check", "--json", env=env, cwd=tmp_path)
        assert out.returncode == 0, out.stdout
        data = json.loads(out.stdout)
        assert data["database"].startswith("ok: postgresql") and data["public_url"].startswith("ok")
    finally:
        run_isolated(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def test_check_asks_slack_with_both_tokens_and_posts_nothing(
    emulator: SlackEmulator, sqlite_url: str, tmp_path: Path
) -> None:
    env = {**slack_env(emulator), "VIGIL_DATABASE_URL": sqlite_url}
    out = await avigil("check", env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "slack: ok: team T0VIGIL (Acme), bot U0VIGILBOT" in out.stdout
    assert "socket_mode: ok: SLACK_APP_TOKEN can open Socket Mode connections" in out.stdout
    assert [c.method for c in emulator.calls] == ["auth.test", "apps.connections.open"]
    assert emulator.connections_opened == 0  # the websocket URL is never used
    assert "SECRET" not in out.stdout + out.stderr
    assert "ticket=" not in out.stdout  # nor is it shown

    # like `vigil run`, check records the workspace the bot token belongs to (CLI verbs learn it from there)
    from db.engine import make_engine, make_session_factory
    from db.workspaces import only_workspace

    engine = make_engine(sqlite_url)
    async with make_session_factory(engine)() as session:
        workspace = await only_workspace(session)
    await engine.dispose()
    assert workspace is not None and workspace.team_id == "T0VIGIL" and workspace.bot_user_id == "U0VIGILBOT"

    as_json = json.loads((await avigil("check", "--json", env=env, cwd=tmp_path)).stdout)
    assert list(as_json) == ["config", "public_url", "encryption_keys", "database", "slack", "socket_mode"]


async def test_check_reports_a_token_slack_refuses(emulator: SlackEmulator, sqlite_url: str, tmp_path: Path) -> None:
    env = {**slack_env(emulator), "VIGIL_DATABASE_URL": sqlite_url}
    wrong_app = await avigil("check", env={**env, "SLACK_APP_TOKEN": "xapp-wrong-SECRET"}, cwd=tmp_path)
    assert wrong_app.returncode == 1
    assert "slack: ok" in wrong_app.stdout
    assert "socket_mode: failed: apps.connections.open answered invalid_auth; check SLACK_APP_TOKEN" in wrong_app.stdout
    wrong_bot = await avigil("check", env={**env, "SLACK_BOT_TOKEN": "xoxb-wrong-SECRET"}, cwd=tmp_path)
    assert wrong_bot.returncode == 1
    assert "slack: failed: auth.test answered invalid_auth; check SLACK_BOT_TOKEN" in wrong_bot.stdout
    assert "socket_mode: ok" in wrong_bot.stdout
    assert "SECRET" not in wrong_app.stdout + wrong_app.stderr + wrong_bot.stdout + wrong_bot.stderr


async def test_check_reports_slack_unreachable(sqlite_url: str, tmp_path: Path) -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-1-SECRET",
        "SLACK_APP_TOKEN": "xapp-1-SECRET",
        "SLACK_API_URL": "http://127.0.0.1:9/api/",  # discard port: nothing listens
        "VIGIL_DATABASE_URL": sqlite_url,
    }
    out = await avigil("check", env=env, cwd=tmp_path)
    assert out.returncode == 1
    assert "slack: failed: auth.test unreachable at http://127.0.0.1:9/api/" in out.stdout
    assert "socket_mode: failed: apps.connections.open unreachable at http://127.0.0.1:9/api/" in out.stdout
    assert "SECRET" not in out.stdout + out.stderr and "Traceback" not in out.stderr


MISSING_BOT = (
    "config error: SLACK_BOT_TOKEN: required: the bot token (xoxb-...) Slack shows when the app is installed; "
    "see docs/setup-slack.md to connect a workspace, or try `vigil sandbox` (no Slack needed)"
)
MISSING_APP = (
    "config error: SLACK_APP_TOKEN: required: an app-level token (xapp-...) with connections:write; "
    "see docs/setup-slack.md to connect a workspace, or try `vigil sandbox` (no Slack needed)"
)


@pytest.mark.parametrize("verb", ["run", "check"])
def test_missing_tokens_exit_2_with_one_line_each_pointing_to_setup_and_sandbox(verb: str, tmp_path: Path) -> None:
    out = vigil(verb, env={"VIGIL_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'v.db'}"}, cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [MISSING_BOT, MISSING_APP]
    assert out.stdout == "" and "Traceback" not in out.stderr
    assert not (tmp_path / "v.db").exists()  # nothing was touched


def test_check_reports_every_token_problem_at_once_without_values(tmp_path: Path) -> None:
    only_bot = vigil("check", env={"SLACK_BOT_TOKEN": "xoxb-1-SECRET", "VIGIL_HTTP_PORT": "http"}, cwd=tmp_path)
    assert only_bot.returncode == 2
    assert only_bot.stderr.strip().splitlines() == [
        MISSING_APP,
        "config error: VIGIL_HTTP_PORT: Input should be a valid integer, unable to parse string as an integer",
    ]
    swapped = vigil(
        "check", "--json", env={"SLACK_BOT_TOKEN": "xapp-1-SECRET", "SLACK_APP_TOKEN": "xoxb-1-SECRET"}, cwd=tmp_path
    )
    assert swapped.returncode == 2
    assert json.loads(swapped.stderr) == {
        "error": "bad configuration",
        "problems": [
            "SLACK_BOT_TOKEN: must be a bot token starting with xoxb- (not a user or app-level token)",
            "SLACK_APP_TOKEN: must be an app-level token starting with xapp- (not the bot token)",
        ],
    }
    assert "SECRET" not in only_bot.stdout + only_bot.stderr + swapped.stdout + swapped.stderr


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a url", "VIGIL_DATABASE_URL: is not a SQLAlchemy URL"),
        ("mysql://root@localhost/x", "VIGIL_DATABASE_URL: driver 'mysql' is not supported"),
        ("sqlite:///vigil.db", "VIGIL_DATABASE_URL: driver 'sqlite' is not supported"),
    ],
)
def test_run_with_malformed_database_url_exits_2(url: str, expected: str, tmp_path: Path) -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-1-secretvalue", "SLACK_APP_TOKEN": "xapp-1-secretvalue", "VIGIL_DATABASE_URL": url}
    out = vigil("run", env=env, cwd=tmp_path)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"config error: {expected}")
    assert "Traceback" not in out.stderr


def test_bad_values_never_echo_secrets(tmp_path: Path) -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxp-user-token-SECRET1",
        "SLACK_APP_TOKEN": "wrong-SECRET2",
        "VIGIL_ENCRYPTION_KEYS": "k1:SECRET3SECRET3",
        "VIGIL_HTTP_PORT": "http",
    }
    out = vigil("check", env=env, cwd=tmp_path)
    assert out.returncode == 2
    assert "SECRET" not in out.stderr + out.stdout
    names = [line.split(":")[1].strip() for line in out.stderr.strip().splitlines()]
    assert names == ["SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "VIGIL_HTTP_PORT", "VIGIL_ENCRYPTION_KEYS"]


async def test_dotenv_file_is_read(emulator: SlackEmulator, tmp_path: Path) -> None:
    dotenv = "".join(f"{k}={v}\n" for k, v in slack_env(emulator).items())
    (tmp_path / ".env").write_text(dotenv + "VIGIL_PUBLIC_URL=https://from-dotenv.example\n")
    out = await avigil(
        "check", "--json", env={"VIGIL_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'v.db'}"}, cwd=tmp_path
    )
    data = json.loads(out.stdout)
    assert data["public_url"] == "ok: https://from-dotenv.example"
    assert data["slack"].startswith("ok: team T0VIGIL")


def test_manifest_follows_vigil_command(tmp_path: Path) -> None:
    out = vigil("manifest", env={"VIGIL_COMMAND": "/inc"}, cwd=tmp_path)
    assert out.returncode == 0
    data = yaml.safe_load(out.stdout)
    assert [c["command"] for c in data["features"]["slash_commands"]] == ["/inc"]
    assert data["settings"]["socket_mode_enabled"] is True
    assert data["features"]["slash_commands"][0]["should_escape"] is True


def test_keys_generate_prints_a_valid_ring_entry(tmp_path: Path) -> None:
    from bot.settings import parse_key_ring

    out = vigil("keys", "generate", "--kid", "k1", cwd=tmp_path)
    assert out.returncode == 0
    entry = out.stdout.strip().removeprefix("key: ")
    assert parse_key_ring(entry)[0][0] == "k1"
    assert vigil("keys", "generate", "--kid", "bad kid!", cwd=tmp_path).returncode == 2


def test_unknown_verb_is_usage_error(tmp_path: Path) -> None:
    out = vigil("frobnicate", cwd=tmp_path)
    assert out.returncode == 2 and "No such command" in out.stderr
