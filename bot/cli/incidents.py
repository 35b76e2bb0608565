"""`vigil incidents …`: operator verbs about incidents, over `IncidentService`.

`repair` runs the Slack steps of incident changes that failed for good (or were left waiting) again, from here and
with the bot's own token, through the same service the Retry button on the opening message calls: the command
line is trusted, so it may repair any incident, or every one with unfinished steps at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from bot.cli.common import get_settings, json_option, run_service
from bot.cli.integrations import write_team
from bot.cli.output import emit, emit_rows

if TYPE_CHECKING:
    from bot.container import Container
    from bot.incidents.outcomes import Repair
    from bot.settings import Settings

REPAIR_COLUMNS = ("incident", "status", "still_failing")
NOTHING_TO_REPAIR = "nothing to repair"


def _incident_number(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    """`104` or `INC-104` (any case); anything else is bad usage (exit 2), checked by the domain's own bounds."""
    if value is None:
        return None
    from bot.incidents.errors import InvalidInput
    from bot.incidents.fields import parse_id

    text = value.strip()
    if text[:4].lower() == "inc-":
        text = text[4:]
    try:
        return parse_id(text, what="The incident number (104 or INC-104)")
    except InvalidInput as exc:
        raise click.BadParameter(exc.message, ctx=ctx, param=param) from None


def _bot_token_settings(*, as_json: bool) -> Settings:
    """The settings, with SLACK_BOT_TOKEN required: the steps are Slack calls made with the bot's token. The
    app-level token is not (nothing here listens to Slack), so `require_slack` would ask for too much."""
    from bot.settings import MISSING_TOKEN

    settings = get_settings(as_json=as_json)
    if settings.slack_bot_token is None:
        problem = f"SLACK_BOT_TOKEN: {MISSING_TOKEN['SLACK_BOT_TOKEN']}"
        # Shaped like every other configuration error (docs/cli.md, Output).
        if as_json:
            emit({"error": "bad configuration", "problems": [problem]}, as_json=True, err=True)
        else:
            click.echo(f"config error: {problem}", err=True)
        raise SystemExit(2)
    return settings


def repair_row(repair: Repair, *, as_json: bool) -> dict[str, Any]:
    """One incident's outcome; in lines, the steps still failing are joined with `; ` (a label may hold a comma)."""
    still = list(repair.still_failing)
    return {
        "incident": f"INC-{repair.number}",
        "status": "failing" if still else "done",
        "still_failing": still if as_json else "; ".join(still) or None,
    }


@click.group()
def incidents() -> None:
    """Incidents, from the operator's side: repair the Slack steps Vigil could not do."""


@incidents.command("repair")
@click.argument("number", metavar="[N]", required=False, callback=_incident_number)
@json_option
def incidents_repair(number: int | None, as_json: bool) -> None:
    """Run again the Slack steps of incident N (104 or INC-104) that failed for good, or, without N, of every
    incident with unfinished steps: the channel, invites, topic, the pinned opening message, announcements, edits.

    Uses SLACK_BOT_TOKEN, as the running bot does; the opening message's warning goes once all steps are done.
    One row per incident: `done`, or `failing` with the steps still failing. Exit 1 when any still fails.
    """
    settings = _bot_token_settings(as_json=as_json)

    async def work(container: Container) -> list[Repair]:
        team = await write_team(container)
        return await container.incidents.repair(team_id=team, number=number, actor=None)

    repairs = run_service(settings, work, as_json=as_json)
    if not repairs and not as_json:
        click.echo(NOTHING_TO_REPAIR)
    else:
        emit_rows([repair_row(r, as_json=as_json) for r in repairs], REPAIR_COLUMNS, as_json=as_json)
    raise SystemExit(1 if any(r.still_failing for r in repairs) else 0)
