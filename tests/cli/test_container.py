"""The container files, checked without a container engine: the Dockerfile's CMD and HEALTHCHECK are run here, in the
same Python the image installs into, and compose.yaml must parse and migrate before it runs the bot."""

from __future__ import annotations

import asyncio
import fnmatch
import json
import shlex
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from aiohttp import web

from bot.settings import load_settings
from bot.sidecar import healthz
from tests.cli.conftest import REPO, avigil, clean_env


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile as (INSTRUCTION, arguments), continuation lines joined and comments dropped."""
    steps: list[tuple[str, str]] = []
    pending = ""
    for raw in (REPO / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line, pending = pending + line, ""
        word, _, args = line.partition(" ")
        steps.append((word.upper(), args.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return steps


def one(name: str) -> str:
    found = [args for word, args in instructions() if word == name]
    assert len(found) == 1, f"expected one {name}, found {len(found)}"
    return found[0]


def exec_form(args: str) -> list[str]:
    argv = json.loads(args)
    assert isinstance(argv, list) and all(isinstance(a, str) for a in argv), args
    return argv


def healthcheck_argv() -> list[str]:
    """HEALTHCHECK [--options] CMD ["python", "-c", "..."]: the exec-form command."""
    _, sep, command = one("HEALTHCHECK").partition("CMD ")
    assert sep, "HEALTHCHECK must run a command"
    return exec_form(command)


def test_image_is_slim_python_as_a_non_root_user_listening_on_8080() -> None:
    steps = instructions()
    assert steps[0] == ("FROM", "python:3.11-slim")
    users = [args for word, args in steps if word == "USER"]
    assert users and users[-1] not in ("root", "0"), "the bot must not run as root"
    assert "VIGIL_HTTP_HOST=0.0.0.0" in [a for word, args in steps if word == "ENV" for a in shlex.split(args)]
    assert one("EXPOSE") == "8080"
    runs = " ".join(args for word, args in steps if word == "RUN")
    assert "pip install ." in runs
    # Every COPY source exists, and the package metadata pip needs is copied before `pip install .`.
    copied = [p for word, args in steps if word == "COPY" for p in shlex.split(args)[:-1]]
    assert all((REPO / p).exists() for p in copied), copied
    assert {"pyproject.toml", "README.md", "LICENSE", "bot", "commands", "listeners", "integrations", "db"} <= set(copied)


def test_dockerignore_keeps_secrets_and_local_state_out_but_not_what_the_image_copies() -> None:
    patterns = [line for line in (REPO / ".dockerignore").read_text().splitlines() if line and not line.startswith("#")]
    for pattern in (".env", ".venv", ".git", "*.db"):
        assert pattern in patterns, pattern
    copied = [p for word, args in instructions() if word == "COPY" for p in shlex.split(args)[:-1]]
    for source in copied:
        assert not any(fnmatch.fnmatch(source, pattern) for pattern in patterns), f"{source} is in .dockerignore"


async def test_cmd_is_the_installed_vigil_run(tmp_path: Path) -> None:
    argv = exec_form(one("CMD"))
    assert argv == ["vigil", "run"]
    # `pip install .` puts the console script beside the interpreter, as it did for this environment.
    executable = shutil.which(argv[0], path=str(Path(sys.executable).parent))
    assert executable is not None, "the vigil console script is not installed"
    proc = await asyncio.create_subprocess_exec(
        executable, *argv[1:], "--help", env=clean_env(), cwd=tmp_path, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0 and b"Usage: vigil run" in out


@pytest.fixture
async def health_server() -> AsyncIterator[int]:
    """A local server answering /healthz with the sidecar's real handler; yields its port."""
    app = web.Application()
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield port
    await runner.cleanup()


async def run_healthcheck(argv: list[str], port: int) -> int:
    assert argv[0] == "python"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        *argv[1:],
        env=clean_env({"VIGIL_HTTP_PORT": str(port)}),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return await asyncio.wait_for(proc.wait(), 30)


async def test_healthcheck_is_stdlib_python_that_asks_healthz(health_server: int) -> None:
    argv = healthcheck_argv()
    assert argv[:2] == ["python", "-c"]
    code = argv[2]
    compile(code, "<HEALTHCHECK>", "exec")  # valid Python
    assert "/healthz" in code and "127.0.0.1" in code and "'8080'" in code
    assert "requests" not in code and "aiohttp" not in code  # the standard library only
    assert await run_healthcheck(argv, health_server) == 0


async def test_healthcheck_fails_unless_healthz_answers_ok() -> None:
    async def unhealthy(request: web.Request) -> web.Response:
        return web.Response(status=503)

    app = web.Application()
    app.router.add_get("/healthz", unhealthy)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        assert await run_healthcheck(healthcheck_argv(), port) != 0
    finally:
        await runner.cleanup()
    assert await run_healthcheck(healthcheck_argv(), port) != 0  # and nothing listening at all


def compose() -> dict[str, object]:
    data = yaml.safe_load((REPO / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


def test_compose_runs_postgres_then_migrate_then_the_bot() -> None:
    services = compose()["services"]
    assert isinstance(services, dict)
    postgres, migrate, bot = services["postgres"], services["migrate"], services["vigil"]

    assert postgres["image"] == "postgres:16"
    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])

    assert migrate["command"] == ["vigil", "migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"

    assert bot["command"] == exec_form(one("CMD"))
    assert bot["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "8080:8080" in bot["ports"]

    for service in (migrate, bot):
        assert service["env_file"] == ".env"
        assert service["build"] == "."
        url = service["environment"]["VIGIL_DATABASE_URL"]
        assert url.startswith("postgresql+asyncpg://vigil:") and url.endswith("@postgres:5432/vigil")


def test_compose_database_url_is_one_vigil_accepts() -> None:
    url = compose()["services"]["vigil"]["environment"]["VIGIL_DATABASE_URL"]  # type: ignore[index]
    resolved = url.replace("${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD in .env}", "s3cret")
    assert "$" not in resolved
    settings = load_settings(env_file=None, VIGIL_DATABASE_URL=resolved)
    assert settings.db_url.get_backend_name() == "postgresql" and settings.db_url.host == "postgres"


async def test_migrate_then_run_help_in_the_order_compose_uses(tmp_path: Path) -> None:
    """The one-shot service's command works against an empty database, and exits 0 (what compose waits for)."""
    env = {"VIGIL_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'v.db'}"}
    migrate = compose()["services"]["migrate"]["command"]  # type: ignore[index]
    assert migrate[0] == "vigil"
    out = await avigil(*migrate[1:], env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "from: empty" in out.stdout
