"""`vigil`: the command line. Exit codes: 0 ok, 1 the operation failed, 2 bad usage or bad configuration.

Output is `key: value` lines (lists: a header and one row per item); `--json` prints JSON instead. Verbs whose
feature is not built yet still parse their planned arguments, say so in their help, and exit 1 when run.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from bot.cli.output import emit, fail
from bot.settings import ConfigError, Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])

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
        fail(f"migration failed: {_describe_db_error(exc)}", as_json=as_json)
    emit(
        {"database": settings.db_url.render_as_string(hide_password=True), "from": before or "empty", "to": after},
        as_json=as_json,
    )


@cli.command()
@json_option
def check(as_json: bool) -> None:
    """Check the configuration, the database and both Slack tokens; never posts anything.

    Slack is asked `auth.test` (bot token) and `apps.connections.open` (app-level token; the URL it returns is
    not used). Exit 0 when nothing failed (warnings allowed), 1 when a check failed, 2 on bad configuration,
    missing or malformed tokens included.
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
    """Not built yet: re-encrypt every stored secret under the primary key.

    Will be resumable, with a progress bar. Add the new key to VIGIL_ENCRYPTION_KEYS on every replica first.
    """
    not_built(as_json=as_json)


# ---- integrations, jobs, deliveries: not built yet ------------------------------------------------------------------
# The verbs below accept the arguments they will take, so `--help` describes a real interface and a typo is still a
# usage error (exit 2); running one says "not built yet" and exits 1.

INTEGRATION_KINDS = ("pagerduty", "opsgenie", "jira", "linear", "servicenow", "github", "teams", "webhook")
SEVERITIES = ("P1", "P2", "P3", "P4", "P5")
JOB_NAMES = (
    "sync_slack_users",
    "sync_slack_usergroups",
    "sync_slack_conversations",
    "sync_pagerduty",
    "send_reminders",
    "archive_closed_channels",
    "purge_rotated_secrets",
    "purge_logs",
)


def _key_values(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    """`--set`/`--secret` take KEY=VALUE; the message names the flag, never the value (it may be a secret)."""
    for value in values:
        key, sep, _ = value.partition("=")
        if not sep or not key:
            raise click.BadParameter("use KEY=VALUE", ctx=ctx, param=param)
    return values


def integration_options(func: F) -> F:
    """The options `integrations add` and `integrations update` share."""
    for option in reversed(
        [
            click.option(
                "--set",
                "settings",
                multiple=True,
                metavar="KEY=VALUE",
                callback=_key_values,
                help="A setting (repeatable). JSON-valued keys take JSON; list keys take commas.",
            ),
            click.option(
                "--secret",
                "secret_values",
                multiple=True,
                metavar="KEY=VALUE",
                callback=_key_values,
                help="A secret (repeatable). KEY=@FILE reads a file and KEY=- reads stdin, to keep it off the command line.",
            ),
            click.option("--events", metavar="E1,E2", help="Events to send (default: all), e.g. incident.opened,test."),
            click.option(
                "--min-severity",
                type=click.Choice(SEVERITIES, case_sensitive=False),
                metavar="P1-P5",
                help="Only incidents this severe or more: P3 means P1, P2 and P3.",
            ),
            click.option("--components", metavar="A,B", help="Only incidents of these components."),
            click.option(
                "--include-private/--no-include-private",
                default=None,
                help="Also send private incidents (default: no, except pagers, which page with a redacted summary).",
            ),
            json_option,
        ]
    ):
        func = option(func)
    return func


@cli.group()
def integrations() -> None:
    """Not built yet: integrations with PagerDuty, Opsgenie, Jira, Linear, ServiceNow, GitHub, Teams and webhooks.

    Every verb below parses its arguments, says it is not built yet and exits 1. An integration is addressed by
    its id or its name.
    """


@integrations.command("list")
@json_option
def integrations_list(as_json: bool) -> None:
    """Not built yet: list integrations (kind, name, active, events, filters; never secrets)."""
    not_built(as_json=as_json)


@integrations.command("add")
@click.argument("kind", type=click.Choice(INTEGRATION_KINDS, case_sensitive=False), metavar="KIND")
@click.option("--name", required=True, help="A name, unique in the workspace.")
@integration_options
def integrations_add(kind: str, name: str, as_json: bool, **_options: Any) -> None:
    """Not built yet: add an integration of KIND.

    KIND is one of pagerduty, opsgenie, jira, linear, servicenow, github, teams, webhook.

    Will print `id:`, `webhook_url:` (VIGIL_PUBLIC_URL/hooks/KIND/ID) and, once, `inbound_secret:`.
    """
    not_built(as_json=as_json)


@integrations.command("update")
@click.argument("integration")
@click.option("--name", default=None, help="A new name.")
@integration_options
def integrations_update(integration: str, as_json: bool, **_options: Any) -> None:
    """Not built yet: change an integration's settings, secrets or filters (INTEGRATION: id or name)."""
    not_built(as_json=as_json)


def _integration_verb(name: str, help_text: str) -> None:
    @json_option
    @click.argument("integration")
    def verb(integration: str, as_json: bool) -> None:
        not_built(as_json=as_json)

    integrations.command(name, help=NOT_BUILT + help_text)(verb)


for _name, _help in {
    "test": "make a harmless authenticated call, or post a sample marked [TEST] (Teams, webhook). Never pages anyone "
    "or opens a ticket.",
    "disable": "stop sending to an integration; its pending deliveries are cancelled.",
    "enable": "resume sending to a disabled integration.",
    "rotate-secret": "issue a new inbound secret, shown once; the old one keeps verifying for 24 hours.",
    "remove": "remove an integration.",
    "inbound": "show an integration's inbound webhook log (time, verified or not, outcome).",
}.items():
    _integration_verb(_name, _help)


@cli.group()
def jobs() -> None:
    """Not built yet: scheduled jobs (Slack and PagerDuty sync, reminders, archiving, purges)."""


@jobs.command("list")
@json_option
def jobs_list(as_json: bool) -> None:
    """Not built yet: list jobs, their schedules and their last runs."""
    not_built(as_json=as_json)


@jobs.command("run")
@click.argument("name", type=click.Choice(JOB_NAMES), metavar="NAME")
@json_option
def jobs_run(name: str, as_json: bool) -> None:
    """Not built yet: run one job now (never twice at once, even beside a running bot).

    NAME is one of sync_slack_users, sync_slack_usergroups, sync_slack_conversations, sync_pagerduty,
    send_reminders, archive_closed_channels, purge_rotated_secrets, purge_logs.
    """
    not_built(as_json=as_json)


@cli.group()
def deliveries() -> None:
    """Not built yet: the log of what Vigil sent to integrations."""


@deliveries.command("list")
@json_option
def deliveries_list(as_json: bool) -> None:
    """Not built yet: list recent deliveries and their status."""
    not_built(as_json=as_json)


@deliveries.command("show")
@click.argument("delivery_id", metavar="ID")
@json_option
def deliveries_show(delivery_id: str, as_json: bool) -> None:
    """Not built yet: show one delivery: attempts, HTTP status, error and the payload sent (secrets stripped)."""
    not_built(as_json=as_json)


@deliveries.command("retry")
@click.argument("delivery_id", metavar="ID")
@json_option
def deliveries_retry(delivery_id: str, as_json: bool) -> None:
    """Not built yet: send a failed delivery again, with the same delivery id."""
    not_built(as_json=as_json)


def _describe_db_error(exc: BaseException) -> str:
    """The database error in one line, without connection secrets."""
    text = str(getattr(exc, "orig", None) or exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]


def main() -> None:
    try:
        cli.main(prog_name="vigil", standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
