"""`vigil integrations …`: thin verbs over `IntegrationService` (parse, call, print).

Every rule about what an integration may hold (keys, URLs, names, events, severities) lives in the service and
`integrations/config.py`; the verbs only turn flags into an `IntegrationInput`, read secrets from files or stdin so
they stay off the command line, and print. Secrets are printed once, by `add` and `rotate-secret`, and never again.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bot.cli.common import F, Stop, get_settings, json_option, run_service
from bot.cli.output import emit, emit_rows, fail

if TYPE_CHECKING:
    from bot.container import Container
    from integrations.service import Created, DeliveryView, IntegrationInput, IntegrationView, Rotated

INTEGRATION_KINDS = ("pagerduty", "opsgenie", "jira", "linear", "servicenow", "github", "teams", "webhook")
SEVERITIES = ("P1", "P2", "P3", "P4", "P5")
NO_THRESHOLD = "none"
EVERY = "all"
LIST_COLUMNS = ("id", "name", "kind", "active", "events", "min_severity", "components", "include_private")
SHOWN_ONCE = "shown once: store {keys} now; Vigil keeps only an encrypted copy and never prints it again"


# ---- workspace -------------------------------------------------------------------------------------------------------


async def read_team(container: Container) -> str | None:
    """Reading verbs: the recorded workspace, or None (nothing to show yet). When several are recorded, the one
    SLACK_BOT_TOKEN belongs to, as for writing verbs: without it the database cannot say which is served."""
    from db.workspaces import several_workspaces

    team = await container.integrations.workspace()
    if team is None and container.settings.slack_bot_token is not None:
        async with container.sessions() as session:
            several = await several_workspaces(session)
        if several:
            return await write_team(container)
    return team


async def write_team(container: Container) -> str:
    """Writing verbs: the recorded workspace, else learned from Slack's `auth.test` when SLACK_BOT_TOKEN is set."""
    settings = container.settings
    auth_test = None
    if settings.slack_bot_token is not None:

        async def auth_test() -> Mapping[str, Any]:
            from slack_sdk.errors import SlackApiError

            try:
                resp = await container.slack.auth_test()
            except SlackApiError as exc:
                error = exc.response.get("error", exc.response.status_code)
                raise Stop(f"Slack auth.test answered {error}; check SLACK_BOT_TOKEN") from None
            except Exception as exc:  # connection refused, DNS, TLS: one line, no traceback
                raise Stop(f"Slack auth.test unreachable at {settings.slack_api_url} ({type(exc).__name__})") from None
            return dict(resp.data) if isinstance(resp.data, dict) else {}

    team = await container.integrations.workspace(auth_test=auth_test)
    if team is None:
        raise Stop(
            "SLACK_BOT_TOKEN: not set, and no workspace is recorded yet; set it so Vigil can learn the workspace "
            "from Slack's auth.test (`vigil run` and `vigil check` record the workspace too)",
            code=2,
        )
    return team


async def one_team(container: Container) -> str:
    """Reading verbs about one thing: without a recorded workspace there is nothing to find."""
    team = await read_team(container)
    if team is None:
        raise Stop("no workspace recorded yet: `vigil run` or `vigil check` records it")
    return team


# ---- flags into an IntegrationInput -----------------------------------------------------------------------------------


def _key_values(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    """`--set`/`--secret` take KEY=VALUE; the message names the flag, never the value (it may be a secret)."""
    for value in values:
        key, sep, _ = value.partition("=")
        if not sep or not key:
            raise click.BadParameter("use KEY=VALUE", ctx=ctx, param=param)
    return values


def _pairs(values: Sequence[str], flag: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values:
        key, _, text = value.partition("=")
        key = key.strip()
        if key in pairs:
            fail(f"{flag} {key}: given twice", code=2)
        pairs[key] = text
    return pairs


def _without_newline(text: str) -> str:
    """A file or a pipe usually ends in one newline that is not part of the secret."""
    return text.removesuffix("\n").removesuffix("\r")


def read_secrets(values: Sequence[str]) -> dict[str, str]:
    """`--secret KEY=VALUE`, `KEY=@FILE` (the file's text) or `KEY=-` (standard input, once; on a terminal a prompt
    that does not echo what is typed)."""
    secrets = _pairs(values, "--secret")
    from_stdin = [key for key, text in secrets.items() if text == "-"]
    if len(from_stdin) > 1:
        fail(f"--secret: only one KEY=- can read standard input (given for {', '.join(from_stdin)})", code=2)
    for key, text in secrets.items():
        if text == "-" and sys.stdin is not None and sys.stdin.isatty():  # typed: ask without echoing it
            secrets[key] = click.prompt(f"{key} (not shown)", hide_input=True, err=True)
        elif text == "-":
            secrets[key] = _without_newline(sys.stdin.read())
        elif text.startswith("@"):
            path = Path(text[1:]).expanduser()
            try:
                secrets[key] = _without_newline(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError) as exc:
                fail(f"--secret {key}: cannot read {path} ({type(exc).__name__})", code=2)
    return secrets


def _names(value: str | None) -> list[str] | None:
    """A comma list; `all` is the empty list (every event, every component); None leaves the value as it is."""
    if value is None:
        return None
    if value.strip().lower() == EVERY:
        return []
    return [part.strip() for part in value.split(",") if part.strip()]


def change_of(
    *,
    name: str | None,
    set_values: Sequence[str],
    secret_values: Sequence[str],
    events: str | None,
    min_severity: str | None,
    components: str | None,
    include_private: bool | None,
) -> IntegrationInput:
    from integrations.service import IntegrationInput

    return IntegrationInput(
        name=name,
        settings=_pairs(set_values, "--set"),
        secrets=read_secrets(secret_values),
        events=_names(events),
        min_severity="" if min_severity == NO_THRESHOLD else min_severity,
        components=_names(components),
        include_private=include_private,
    )


def integration_options(func: F) -> F:
    """The options `integrations add` and `integrations update` share."""
    for option in reversed(
        [
            click.option(
                "--set",
                "set_values",
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
            click.option(
                "--events",
                metavar="E1,E2",
                help="Events to send, e.g. incident.opened,test; `all` (the default) sends every event.",
            ),
            click.option(
                "--min-severity",
                type=click.Choice((*SEVERITIES, NO_THRESHOLD), case_sensitive=False),
                metavar="P1-P5",
                help="Only incidents this severe or more: P3 means P1, P2 and P3. `none` removes the threshold.",
            ),
            click.option(
                "--components", metavar="A,B", help="Only incidents of these components; `all` removes the filter."
            ),
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


# ---- printing ---------------------------------------------------------------------------------------------------------


def when(value: Any) -> str | None:
    from integrations.payloads import rfc3339

    return rfc3339(value)


def integration_lines(view: IntegrationView) -> dict[str, Any]:
    """One integration as key: value lines: settings as `config.KEY`, secrets as `secrets.KEY: ••••`."""
    data = view.as_dict()
    lines: dict[str, Any] = {k: data[k] for k in ("id", "name", "kind", "active", "events", "min_severity", "components")}
    lines["include_private"] = view.include_private
    lines |= {f"config.{key}": _setting(value) for key, value in data["config"].items()}
    lines |= {f"secrets.{key}": masked for key, masked in data["secrets"].items()}
    lines |= {
        "webhook_url": view.webhook_url,
        "created_at": when(view.created_at),
        "previous_secret_until": when(view.previous_secret_until),
    }
    return lines


def _setting(value: Any) -> Any:
    """A list of strings prints with commas (as `--set` takes it); other structured values as JSON."""
    import json

    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return json.dumps(value) if isinstance(value, dict | list) else value


def answer_lines(result: DeliveryView) -> dict[str, Any]:
    return {
        "delivery": result.delivery_id,
        "integration": result.integration,
        "status": result.status,
        "http_status": result.http_status,
        "duration_ms": result.duration_ms,
        "error": result.error,
    }


# ---- verbs ------------------------------------------------------------------------------------------------------------


@click.group()
def integrations() -> None:
    """Integrations with other tools: PagerDuty, Opsgenie, Jira, Linear, ServiceNow, Teams and generic webhooks
    today (GitHub is not built yet).

    An integration is addressed by its id or its name. Writing verbs learn the workspace from the database, or
    from Slack's auth.test (SLACK_BOT_TOKEN) when none is recorded yet.
    """


@integrations.command("list")
@json_option
def integrations_list(as_json: bool) -> None:
    """List the integrations: id, name, kind, active, events and filters; never a secret."""
    settings = get_settings(as_json=as_json)

    async def work(container: Container) -> list[IntegrationView]:
        team = await read_team(container)
        return [] if team is None else await container.integrations.list_integrations(team_id=team)

    views = run_service(settings, work, as_json=as_json)
    rows = [v.as_dict() for v in views]
    columns = list(rows[0]) if as_json and rows else LIST_COLUMNS
    emit_rows(rows, columns, as_json=as_json)


@integrations.command("add")
@click.argument("kind", type=click.Choice(INTEGRATION_KINDS, case_sensitive=False), metavar="KIND")
@click.option("--name", required=True, help="A name, unique in the workspace.")
@integration_options
def integrations_add(
    kind: str,
    name: str,
    set_values: tuple[str, ...],
    secret_values: tuple[str, ...],
    events: str | None,
    min_severity: str | None,
    components: str | None,
    include_private: bool | None,
    as_json: bool,
) -> None:
    """Add an integration of KIND: pagerduty, opsgenie, jira, linear, servicenow, teams or webhook today (github
    is refused until it is built).

    Prints `id:`, `webhook_url:` (VIGIL_PUBLIC_URL/hooks/KIND/ID) and, this once only, `inbound_secret:` and any
    secret Vigil generated. Saving a secret needs VIGIL_ENCRYPTION_KEYS (`vigil keys generate` makes one).
    """
    settings = get_settings(as_json=as_json)
    change = change_of(
        name=name,
        set_values=set_values,
        secret_values=secret_values,
        events=events,
        min_severity=min_severity,
        components=components,
        include_private=include_private,
    )

    async def work(container: Container) -> Created:
        team = await write_team(container)
        return await container.integrations.add(team_id=team, user_id=None, kind=kind, change=change)

    created = run_service(settings, work, as_json=as_json)
    view = created.integration
    shown = dict(created.shown_once)
    if as_json:
        emit({**view.as_dict(), "shown_once": shown}, as_json=True)
        return
    emit({"id": view.id, "name": view.name, "kind": view.kind, "webhook_url": view.webhook_url, **shown}, as_json=False)
    click.echo(SHOWN_ONCE.format(keys=", ".join(shown)), err=True)


@integrations.command("update")
@click.argument("integration")
@click.option("--name", default=None, help="A new name.")
@click.option(
    "--inbound-token",
    type=click.Choice(["on", "off"]),
    default=None,
    help="Accept X-Vigil-Token instead of a signature, for tools that cannot sign (on: a new token, shown once).",
)
@integration_options
def integrations_update(
    integration: str,
    name: str | None,
    inbound_token: str | None,
    set_values: tuple[str, ...],
    secret_values: tuple[str, ...],
    events: str | None,
    min_severity: str | None,
    components: str | None,
    include_private: bool | None,
    as_json: bool,
) -> None:
    """Change an integration's name, settings, secrets or filters (INTEGRATION: id or name).

    Options left out keep their value; a secret left out keeps its value. Prints the integration (secrets as ••••).
    """
    settings = get_settings(as_json=as_json)
    change = change_of(
        name=name,
        set_values=set_values,
        secret_values=secret_values,
        events=events,
        min_severity=min_severity,
        components=components,
        include_private=include_private,
    )

    async def work(container: Container) -> tuple[IntegrationView, str | None]:
        team = await write_team(container)
        service = container.integrations
        view = await service.update(team_id=team, user_id=None, ref=integration, change=change)
        if inbound_token is None:
            return view, None
        return await service.set_inbound_token(team_id=team, user_id=None, ref=view.id, enabled=inbound_token == "on")

    view, token = run_service(settings, work, as_json=as_json)
    lines = view.as_dict() if as_json else integration_lines(view)
    if token is not None:
        lines = {**lines, "inbound_token": token}
    emit(lines, as_json=as_json)
    if token is not None and not as_json:
        click.echo(SHOWN_ONCE.format(keys="inbound_token"), err=True)


@integrations.command("test")
@click.argument("integration")
@json_option
def integrations_test(integration: str, as_json: bool) -> None:
    """Send a harmless test now and print the other side's answer (Teams and webhook: a sample marked [TEST]).

    Never pages anyone and never opens a ticket. The attempt is logged like any delivery and not retried. Exit 1
    when the test failed.
    """
    settings = get_settings(as_json=as_json)

    async def work(container: Container) -> DeliveryView:
        team = await write_team(container)
        return await container.integrations.test(team_id=team, user_id=None, ref=integration)

    result = run_service(settings, work, as_json=as_json)
    emit(answer_lines(result), as_json=as_json)
    raise SystemExit(0 if result.status == "success" else 1)


def _set_active(integration: str, *, active: bool, as_json: bool) -> None:
    settings = get_settings(as_json=as_json)

    async def work(container: Container) -> tuple[IntegrationView, int]:
        team = await write_team(container)
        return await container.integrations.set_active(team_id=team, user_id=None, ref=integration, active=active)

    view, cancelled = run_service(settings, work, as_json=as_json)
    lines: dict[str, Any] = {"id": view.id, "name": view.name, "active": view.active}
    if not active:
        lines["cancelled"] = cancelled
    emit(lines, as_json=as_json)


@integrations.command("disable")
@click.argument("integration")
@json_option
def integrations_disable(integration: str, as_json: bool) -> None:
    """Stop sending to an integration; its pending deliveries are cancelled (`cancelled:` says how many)."""
    _set_active(integration, active=False, as_json=as_json)


@integrations.command("enable")
@click.argument("integration")
@json_option
def integrations_enable(integration: str, as_json: bool) -> None:
    """Resume sending to a disabled integration (deliveries cancelled while it was disabled stay cancelled)."""
    _set_active(integration, active=True, as_json=as_json)


@integrations.command("rotate-secret")
@click.argument("integration")
@json_option
def integrations_rotate_secret(integration: str, as_json: bool) -> None:
    """Issue a new inbound secret, printed this once; the old one keeps verifying for 24 hours."""
    settings = get_settings(as_json=as_json)

    async def work(container: Container) -> Rotated:
        team = await write_team(container)
        return await container.integrations.rotate_secret(team_id=team, user_id=None, ref=integration)

    rotated = run_service(settings, work, as_json=as_json)
    emit(
        {
            "id": rotated.integration.id,
            "name": rotated.integration.name,
            "inbound_secret": rotated.inbound_secret,
            "previous_valid_until": when(rotated.previous_valid_until),
        },
        as_json=as_json,
    )
    if not as_json:
        click.echo(SHOWN_ONCE.format(keys="inbound_secret"), err=True)


@integrations.command("remove")
@click.argument("integration")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (needed when stdin is not a terminal).")
@json_option
def integrations_remove(integration: str, yes: bool, as_json: bool) -> None:
    """Remove an integration, with its links to incidents and its delivery log."""
    settings = get_settings(as_json=as_json)
    if not yes and not (sys.stdin is not None and sys.stdin.isatty()):
        fail("not removed: pass --yes to remove without a confirmation prompt", code=2, as_json=as_json)

    async def work(container: Container) -> IntegrationView:
        team = await write_team(container)
        service = container.integrations
        if not yes:
            view = await service.get(team_id=team, ref=integration)
            click.confirm(f"Remove {view.kind} integration {view.name!r} ({view.id}) and its delivery log?", abort=True)
        return await service.remove(team_id=team, user_id=None, ref=integration)

    view = run_service(settings, work, as_json=as_json)
    emit({"removed": view.id, "name": view.name, "kind": view.kind}, as_json=as_json)
