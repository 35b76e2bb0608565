"""What every verb shares: `--json`, reading the settings, and running one service call inside a built container
with the domain's refusals turned into exit codes (2 bad usage or configuration, 1 the operation failed).

Heavy imports (the container, the services, SQLAlchemy) happen inside the functions, so `vigil --help` stays quick.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

from bot.cli.output import emit, fail
from bot.settings import ConfigError, Settings, load_settings

if TYPE_CHECKING:
    from bot.container import Container

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

NOT_BUILT = "Not built yet: "


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of key: value lines.")(func)


def get_settings(*, require_slack: bool = False, as_json: bool = False) -> Settings:
    """Settings for this invocation; bad configuration exits 2 with one line per problem, never a value."""
    try:
        return load_settings(require_slack=require_slack)
    except ConfigError as exc:
        if as_json:
            emit({"error": "bad configuration", "problems": exc.problems}, as_json=True, err=True)
        else:
            for line in exc.problems:
                click.echo(f"config error: {line}", err=True)
        raise SystemExit(2) from None


def not_built(*, as_json: bool) -> None:
    """Exit 1 naming the verb: `error: vigil jobs list is not built yet`."""
    fail(f"{click.get_current_context().command_path} is not built yet", code=1, as_json=as_json)


def describe_db_error(exc: BaseException) -> str:
    """The database error in one line, without connection secrets."""
    text = str(getattr(exc, "orig", None) or exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]


class Stop(Exception):
    """A verb's own refusal from inside a container run (no workspace, Slack refused): a message and an exit code."""

    def __init__(self, message: str, *, code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def fail_lines(lines: Sequence[str], *, code: int, as_json: bool) -> None:
    """Stop with one `error: …` line per problem (JSON: `{"error": "a; b", "problems": [...]}`)."""
    if as_json:
        emit({"error": "; ".join(lines), "problems": list(lines)}, as_json=True, err=True)
    else:
        for line in lines:
            click.echo(f"error: {line}", err=True)
    raise SystemExit(code)


def run_service(settings: Settings, work: Callable[[Container], Awaitable[T]], *, as_json: bool) -> T:
    """Run `work` with a container built from `settings`, always closed after, and map what it raises to an exit
    code: the service's problems and bad input exit 2, not found and not allowed exit 1, and a database that cannot
    be reached (or is not migrated) exits 1 with one line. Never a traceback for any of these."""
    from sqlalchemy.exc import SQLAlchemyError

    from bot.container import build_container
    from bot.incidents.errors import InvalidInput, NotAllowed, NotFound
    from integrations.service import Problems

    async def go() -> T:
        container = build_container(settings)
        try:
            await container.open()
            return await work(container)
        finally:
            await container.aclose()

    try:
        return asyncio.run(go())
    except Stop as exc:
        fail(exc.message, code=exc.code, as_json=as_json)
    except Problems as exc:
        fail_lines(exc.problems, code=2, as_json=as_json)
    except InvalidInput as exc:
        fail(exc.message, code=2, as_json=as_json)
    except (NotFound, NotAllowed) as exc:
        fail(exc.message, code=1, as_json=as_json)
    except (SQLAlchemyError, OSError) as exc:  # OSError: a PostgreSQL server that refuses the connection
        fail(
            f"database: {describe_db_error(exc)} (check VIGIL_DATABASE_URL, and that `vigil migrate` has run)",
            code=1,
            as_json=as_json,
        )
    raise AssertionError("unreachable: fail() exits")  # pragma: no cover
