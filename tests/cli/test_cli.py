"""The `vigil` command line through its real door: a subprocess with an environment, as an operator runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from db.migrate import head_revision

VIGIL = [sys.executable, "-m", "bot.cli.main"]


def vigil(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "VIGIL_"))}
    return subprocess.run(
        [*VIGIL, *args], env={**base, **(env or {})}, cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"


def test_help_everywhere() -> None:
    for args in (
        [],
        ["run"],
        ["migrate"],
        ["check"],
        ["manifest"],
        ["keys"],
        ["keys", "generate"],
        ["integrations", "add"],
        ["jobs", "run"],
        ["deliveries", "show"],
        ["sandbox"],
    ):
        out = vigil(*args, "--help")
        assert out.returncode == 0, (args, out.stderr)
        assert "Usage:" in out.stdout


def test_migrate_then_check_on_sqlite(tmp_path: Path) -> None:
    env = {"VIGIL_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'v.db'}"}
    before = vigil("check", env=env, cwd=tmp_path)
    assert before.returncode == 1
    assert "database: failed: sqlite at revision empty; run `vigil migrate`" in before.stdout
    mig = vigil("migrate", "--json", env=env, cwd=tmp_path)
    assert mig.returncode == 0, mig.stderr
    assert json.loads(mig.stdout)["from"] == "empty"
    again = vigil("migrate", env=env, cwd=tmp_path)
    assert again.returncode == 0 and f"from: {head_revision()}" in again.stdout
    after = vigil("check", env=env, cwd=tmp_path)
    assert after.returncode == 0, after.stdout
    assert "database: ok: sqlite, revision" in after.stdout
    assert "public_url: warning:" in after.stdout and "not HTTPS" in after.stdout


@pytest.mark.postgres
def test_migrate_then_check_on_postgres(pg_template: str, tmp_path: Path) -> None:
    from tests.conftest import _pg_admin, _pg_url, run_isolated

    name = f"{pg_template}_cli"
    run_isolated(_pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        env = {"VIGIL_DATABASE_URL": _pg_url(name), "VIGIL_PUBLIC_URL": "https://vigil.example.com"}
        assert vigil("check", env=env, cwd=tmp_path).returncode == 1
        assert vigil("migrate", env=env, cwd=tmp_path).returncode == 0
        out = vigil("check", "--json", env=env, cwd=tmp_path)
        assert out.returncode == 0, out.stdout
        data = json.loads(out.stdout)
        assert data["database"].startswith("ok: postgresql") and data["public_url"].startswith("ok")
    finally:
        run_isolated(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_run_without_tokens_exits_2_with_one_line_per_problem(tmp_path: Path) -> None:
    out = vigil("run", env={"VIGIL_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'v.db'}"}, cwd=tmp_path)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert lines == [
        "config error: SLACK_BOT_TOKEN: required (a bot token starting with xoxb-)",
        "config error: SLACK_APP_TOKEN: required (an app-level token starting with xapp-, scope connections:write)",
    ]
    assert "Traceback" not in out.stderr


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


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("VIGIL_PUBLIC_URL=https://from-dotenv.example\n")
    out = vigil("check", "--json", env={"VIGIL_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'v.db'}"}, cwd=tmp_path)
    assert json.loads(out.stdout)["public_url"] == "ok: https://from-dotenv.example"


def test_manifest_follows_vigil_command(tmp_path: Path) -> None:
    out = vigil("manifest", env={"VIGIL_COMMAND": "/inc"}, cwd=tmp_path)
    assert out.returncode == 0
    data = yaml.safe_load(out.stdout)
    assert [c["command"] for c in data["features"]["slash_commands"]] == ["/inc"]
    assert data["settings"]["socket_mode_enabled"] is True
    assert data["features"]["slash_commands"][0]["should_escape"] is True


def test_unbuilt_verbs_say_so_and_exit_1(tmp_path: Path) -> None:
    for args in (["integrations", "list"], ["jobs", "list"], ["deliveries", "list"], ["keys", "rotate"]):
        out = vigil(*args, cwd=tmp_path)
        assert out.returncode == 1, args
        assert "not built yet" in out.stderr
    as_json = vigil("jobs", "list", "--json", cwd=tmp_path)
    assert json.loads(as_json.stderr)["error"].endswith("not built yet")


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
