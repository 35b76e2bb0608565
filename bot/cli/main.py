"""`vigil`: the command line. Exit codes: 0 ok, 1 the operation failed, 2 bad usage or bad configuration.

Output is `key: value` lines (lists: a header and one row per item); `--json` prints JSON instead. Verbs whose
feature is not built yet still parse their planned arguments, say so in their help, and exit 1 when run.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bot.cli import inbound as _inbound  # noqa: F401  (adds `integrations inbound`)
from bot.cli.common import describe_db_error, get_settings, json_option, run_service
from bot.cli.deliveries import deliveries
from bot.cli.incidents import incidents
from bot.cli.integrations import integrations
from bot.cli.jobs import jobs
from bot.cli.output import emit, fail

if TYPE_CHECKING:
    from bot.container import Container


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vigil")
def cli() -> None:
    """Vigil: Slack-first incident response."""


@cli.command()
def run() -> None:
    """Run the bot until SIGTERM or SIGINT: Socket Mode, the HTTP sidecar and the scheduler.

    Needs SLACK_BOT_TOKEN and SLACK_APP_TOKEN, and a database brought up to date by `vigil migrate`.
    Without a Slack workspace, `vigil sandbox` runs the same bot against a built-in emulator.
    """
    from bot.runtime import run_forever

    settings = get_settings(require_slack=True)
    raise SystemExit(asyncio.run(run_forever(settings)))


@cli.command()
@json_option
def migrate(as_json: bool) -> None:
    """Bring the database schema up to date (safe to run again).

    Run it once before the first `vigil run`, and before a new version of Vigil starts.
    """
    from db.engine import make_engine
    from db.migrate import upgrade

    settings = get_settings(as_json=as_json)

    async def _go() -> tuple[str | None, str]:
        engine = make_engine(settings.db_url, statement_timeout=None)
        try:
            return await upgrade(engine)
        finally:
            await engine.dispose()

    try:
        before, after = asyncio.run(_go())
    except Exception as exc:  # the database is unreachable or refuses: one line, no traceback
        fail(f"migration failed: {describe_db_error(exc)}", as_json=as_json)
    emit(
        {"database": settings.db_url.render_as_string(hide_password=True), "from": before or "empty", "to": after},
        as_json=as_json,
    )


@cli.command()
@json_option
def check(as_json: bool) -> None:
    """Check the configuration, the database, both Slack tokens and each integration; never posts anything.

    Slack is asked `auth.test` (bot token) and `apps.connections.open` (app-level token; the URL it returns is
    not used). Each active integration gets one line: its settings, its secrets and its kind's harmless probe.
    Exit 0 when nothing failed (warnings allowed), 1 when a check failed, 2 on bad configuration, missing or
    malformed tokens included.
    """
    from bot.checks import run_checks

    settings = get_settings(require_slack=True, as_json=as_json)
    results = asyncio.run(run_checks(settings))
    emit({r.name: r.line for r in results}, as_json=as_json)
    raise SystemExit(1 if any(r.failed for r in results) else 0)


@cli.command()
def manifest() -> None:
    """Print the Slack app manifest (YAML) to create the app from, for the configured VIGIL_COMMAND."""
    from bot.manifest import render_manifest

    click.echo(render_manifest(get_settings().command), nl=False)


@cli.command()
@click.option(
    "--script",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Replay FILE; exit 1 at the first failing line.",
)
@click.option("--no-color", is_flag=True, help="Plain text even on a terminal.")
def sandbox(script: Path | None, no_color: bool) -> None:
    """Run the real bot against the bundled Slack emulator, with a prompt (see docs/sandbox.md)."""
    from bot.sandbox.repl import main as sandbox_main

    raise SystemExit(sandbox_main(script=script, no_color=no_color))


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
    """Re-encrypt every stored secret under the primary (first) key of VIGIL_ENCRYPTION_KEYS.

    Put the new key first in VIGIL_ENCRYPTION_KEYS on every replica, keeping the old ones after it, then run
    this. Each batch is its own transaction: an interrupted run resumes where it stopped, and a second run moves
    nothing. Remove an old key only once a run prints `moved: 0`. On a terminal a progress bar shows on stderr.
    """
    settings = get_settings(as_json=as_json)
    with ExitStack() as stack:
        progress = _Progress(stack, shown=sys.stderr.isatty())

        async def work(container: Container) -> tuple[int, int, str]:
            moved, total = await container.integrations.rotate_keys(progress=progress)
            return moved, total, container.integrations.keys.primary_kid

        moved, total, primary = run_service(settings, work, as_json=as_json)
    emit({"moved": moved, "total": total, "primary_key": primary}, as_json=as_json)


class _Progress:
    """`rotate_keys`' progress callback: a click progress bar on stderr, made on the first report (which gives the
    length); nothing at all when stderr is not a terminal."""

    def __init__(self, stack: ExitStack, *, shown: bool) -> None:
        self._stack = stack
        self._shown = shown
        self._bar: Any = None
        self._done = 0

    def __call__(self, done: int, todo: int) -> None:
        if not self._shown:
            return
        if self._bar is None:
            bar = click.progressbar(length=todo, label="re-encrypting secrets", file=sys.stderr, show_pos=True)
            self._bar = self._stack.enter_context(bar)
        self._bar.update(done - self._done)
        self._done = done


cli.add_command(integrations)
cli.add_command(jobs)
cli.add_command(deliveries)
cli.add_command(incidents)


def main() -> None:
    try:
        cli.main(prog_name="vigil", standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
