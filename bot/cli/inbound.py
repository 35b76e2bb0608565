"""`vigil integrations inbound NAME`: what arrived from an integration's webhooks — verified or not, and what Vigil
did with it — the answer to "why is my webhook not working"."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from bot.cli.common import get_settings, json_option, run_service
from bot.cli.integrations import integrations, one_team, when

if TYPE_CHECKING:
    from bot.container import Container
    from integrations.inbound.service import InboundEntry

COLUMNS = ("id", "received_at", "verified", "http_status", "status", "incident", "attempts", "outcome")


def entry_dict(entry: InboundEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "received_at": when(entry.received_at),
        "verified": entry.verified,
        "http_status": entry.http_status,
        "status": entry.status,
        "incident": f"INC-{entry.incident_number}" if entry.incident_number else None,
        "attempts": entry.attempts,
        "outcome": entry.outcome,
    }


@integrations.command("inbound")
@click.argument("integration")
@click.option("--limit", type=click.IntRange(1, 200), default=50, show_default=True, help="At most this many, newest first.")
@click.option(
    "--retry", "retry_id", type=click.IntRange(1, 2**31 - 1), default=None, help="Carry out this failed one again (its id)."
)
@json_option
def integrations_inbound(integration: str, limit: int, retry_id: int | None, as_json: bool) -> None:
    """What INTEGRATION's webhooks sent, newest first: when, whether the signature held, the HTTP status Vigil
    answered, and what it did (the incident, or why nothing). Refused requests keep no body."""
    from bot.cli.output import emit, emit_rows

    settings = get_settings(as_json=as_json)

    async def work(container: Container) -> list[InboundEntry]:
        team = await one_team(container)
        if retry_id is not None:
            return [await container.inbound.retry(team_id=team, ref=integration, entry_id=retry_id)]
        return await container.inbound.log(team_id=team, ref=integration, limit=limit)

    entries = [entry_dict(e) for e in run_service(settings, work, as_json=as_json)]
    if retry_id is not None and entries:
        emit(entries[0], as_json=as_json)
        return
    emit_rows(entries, COLUMNS, as_json=as_json)
