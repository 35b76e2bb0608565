"""`vigil` — the command line (SPEC §3). Exit codes: 0 ok, 1 the operation failed, 2 bad usage or configuration."""

from __future__ import annotations

import asyncio
import base64
import secrets
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from bot.cli.output import emit, fail
from bot.settings import ConfigError, Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of key: value lines.")(func)


def get_settings() -> Settings:
    """Settings for this invocation; bad configuration exits 2 with one line per problem."""
    try:
        return load_settings()
    except ConfigError as exc:
        for line in exc.problems:
            click.echo(f"config error: {line}", err=True)
        raise SystemExit(2) from None


def not_built(feature: str, *, as_json: bool) -> None:
    fail(f"{feature} is not built yet", code=1, as_json=as_json)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vigil")
def cli() -> None:
    """Vigil: Slack-first incident response."""


@cli.command()
def run() -> None:
    """Run the bot: Socket Mode, the HTTP sidecar and the scheduler, until SIGTERM/SIGINT."""
    from bot.runtime import run_forever

    settings = get_settings()
    try:
        settings.require_slack()
    except ConfigError as exc:
        for line in exc.problems:
            click.echo(f"config error: {line}", err=True)
        raise SystemExit(2) from None
    raise SystemExit(asyncio.run(run_forever(settings)))


@cli.command()
@json_option
def migrate(as_json: bool) -> None:
    """Apply the database migrations (safe to run again)."""
    from db.engine import make_engine
    from db.migrate import upgrade

    settings = get_settings()

    async def _go() -> tuple[str | None, str]:
        engine = make_engine(settings.db_url)
        try:
            return await upgrade(engine)
        finally:
            await engine.dispose()

    try:
        before, after = asyncio.run(_go())
    except Exception as exc:  # the database is unreachable or refuses: one line, no traceback
        fail(f"migration failed: {_describe_db_error(exc)}", as_json=as_json)
    emit(
        {"database": settings.db_url.render_as_string(hide_password=True), "from": before or "empty", "to": after},
        as_json=as_json,
    )


@cli.command()
@json_option
def check(as_json: bool) -> None:
    """Check configuration, the database and Slack (auth.test); never posts anything."""
    from bot.checks import run_checks

    settings = get_settings()
    results = asyncio.run(run_checks(settings))
    emit({r.name: r.line for r in results}, as_json=as_json)
    raise SystemExit(1 if any(r.failed for r in results) else 0)


@cli.command()
def manifest() -> None:
    """Print the Slack app manifest (YAML) for the configured VIGIL_COMMAND."""
    from bot.manifest import render_manifest

    click.echo(render_manifest(get_settings().command), nl=False)


@cli.command()
def sandbox() -> None:
    """Run the real bot against the bundled Slack emulator, with a prompt."""
    not_built("the sandbox", as_json=False)


@cli.group()
def keys() -> None:
    """Encryption keys for secrets at rest (VIGIL_ENCRYPTION_KEYS)."""


@keys.command("generate")
@click.option("--kid", default=None, help="Key id (default: k<yyyymmdd>).")
@json_option
def keys_generate(kid: str | None, as_json: bool) -> None:
    """Print a new key ring entry `kid:<base64 of 32 bytes>` to put first in VIGIL_ENCRYPTION_KEYS."""
    from datetime import UTC, datetime

    kid = kid or datetime.now(UTC).strftime("k%Y%m%d")
    if not kid.replace("-", "").replace("_", "").isalnum():
        fail("--kid: use letters, digits, - and _", code=2, as_json=as_json)
    emit({"key": f"{kid}:{base64.b64encode(secrets.token_bytes(32)).decode()}"}, as_json=as_json)


@keys.command("rotate")
@json_option
def keys_rotate(as_json: bool) -> None:
    """Re-encrypt every stored secret under the primary key."""
    not_built("secret storage (keys rotate)", as_json=as_json)


def _stub_group(name: str, help_text: str, verbs: dict[str, str], feature: str) -> click.Group:
    group = click.Group(name=name, help=help_text)
    for verb, verb_help in verbs.items():

        @json_option
        @click.argument("args", nargs=-1)
        def _verb(args: tuple[str, ...], as_json: bool, _verb: str = verb) -> None:
            not_built(feature, as_json=as_json)

        group.add_command(click.Command(verb, callback=_verb, params=_verb.__click_params__, help=verb_help))  # type: ignore[attr-defined]
    return group


cli.add_command(
    _stub_group(
        "integrations",
        "Outbound and inbound integrations (PagerDuty, Jira, Linear, …).",
        {
            "list": "List integrations.",
            "add": "Add an integration: KIND --name N [--set k=v]… [--secret k=v]…",
            "update": "Change an integration's settings.",
            "test": "Make a harmless authenticated call (never pages, never opens a ticket).",
            "disable": "Stop deliveries to an integration (cancels pending ones).",
            "enable": "Resume deliveries to an integration.",
            "rotate-secret": "Issue a new inbound secret; the old one verifies for 24 hours.",
            "remove": "Remove an integration.",
            "inbound": "Show the inbound delivery log of an integration.",
        },
        "integrations",
    )
)
cli.add_command(
    _stub_group(
        "jobs",
        "Scheduled jobs (sync, reminders, archive, purge).",
        {"list": "List jobs, their schedules and last runs.", "run": "Run one job now: NAME."},
        "scheduled jobs",
    )
)
cli.add_command(
    _stub_group(
        "deliveries",
        "The outbound delivery log.",
        {"list": "List recent deliveries.", "show": "Show one delivery: ID.", "retry": "Retry one delivery: ID."},
        "the delivery pipeline",
    )
)


def _describe_db_error(exc: BaseException) -> str:
    """The database error in one line, without connection secrets."""
    text = str(getattr(exc, "orig", None) or exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]


def main() -> None:
    try:
        cli.main(standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
