"""`vigil deliveries …`: the log of what Vigil sent to integrations, read and retried through `IntegrationService`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from bot.cli.common import get_settings, json_option, run_service
from bot.cli.integrations import one_team, read_team, when, write_team
from bot.cli.output import emit, emit_rows
from db.models import DELIVERY_STATUSES

if TYPE_CHECKING:
    from bot.container import Container
    from bot.settings import Settings
    from integrations.service import DeliveryView

LIST_COLUMNS = (
    "id",
    "created_at",
    "integration",
    "event",
    "incident",
    "status",
    "attempts",
    "http_status",
    "next_attempt_at",
)


def delivery_dict(view: DeliveryView) -> dict[str, Any]:
    """Every field of a delivery, times as RFC 3339 (what `--json` prints)."""
    return {
        "delivery_id": view.delivery_id,
        "integration": view.integration,
        "integration_id": view.integration_id,
        "kind": view.kind,
        "incident": view.incident,
        "event": view.event,
        "status": view.status,
        "attempts": view.attempts,
        "created_at": when(view.created_at),
        "last_attempt_at": when(view.last_attempt_at),
        "next_attempt_at": when(view.next_attempt_at),
        "http_status": view.http_status,
        "duration_ms": view.duration_ms,
        "external_id": view.external_id,
        "error": view.error,
        "history": [dict(entry) for entry in view.history],
        "payload": dict(view.payload) if view.payload is not None else None,
    }


OUTBOUND_OFF_NOTE = (
    "note: VIGIL_OUTBOUND_ENABLED=false: nothing is sent to integrations. Events are not queued while it is off, and "
    "deliveries already queued (pending, retrying) are held until it is true again."
)


def note_if_outbound_off(settings: Settings) -> None:
    """Say on stderr why the log is not moving (an operator reading an empty or stuck log asks first), leaving stdout
    to the rows and the JSON."""
    if not settings.outbound_enabled:
        click.echo(OUTBOUND_OFF_NOTE, err=True)


def row_of(view: DeliveryView) -> dict[str, Any]:
    return {**delivery_dict(view), "id": view.delivery_id[:8]}


def history_line(entry: dict[str, Any]) -> str:
    """`#2 2024-11-02T14:03:11Z failed http 500 120 ms: https://hooks.example.com/v answered 500`."""
    parts = [f"#{entry.get('n', '?')}", _at(entry.get("at")), str(entry.get("outcome", "-"))]
    if entry.get("http_status") is not None:
        parts.append(f"http {entry['http_status']}")
    if entry.get("ms") is not None:
        parts.append(f"{entry['ms']} ms")
    line = " ".join(parts)
    return f"{line}: {entry['error']}" if entry.get("error") else line


def _at(value: Any) -> str:
    """An attempt's time as the other times print (whole seconds, `Z`); as stored when it is not a time."""
    from datetime import datetime

    try:
        return when(datetime.fromisoformat(str(value))) or "-"
    except ValueError:
        return str(value or "-")


@click.group()
def deliveries() -> None:
    """The log of what Vigil sent to integrations: list, show one, retry a failed one."""


@deliveries.command("list")
@click.option("--integration", default=None, help="Only this integration's deliveries (its id or name).")
@click.option("--status", type=click.Choice(DELIVERY_STATUSES), default=None, help="Only deliveries with this status.")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True, help="At most this many, newest first.")
@json_option
def deliveries_list(integration: str | None, status: str | None, limit: int, as_json: bool) -> None:
    """List recent deliveries, newest first: id (its first 8 characters), integration, event, incident, status."""
    settings = get_settings(as_json=as_json)

    async def work(container: Container) -> list[DeliveryView]:
        team = await read_team(container)
        if team is None:
            return []
        return await container.integrations.deliveries(team_id=team, integration=integration, status=status, limit=limit)

    views = run_service(settings, work, as_json=as_json)
    note_if_outbound_off(settings)
    if as_json:
        emit_rows([delivery_dict(v) for v in views], list(delivery_dict(views[0])) if views else [], as_json=True)
    else:
        emit_rows([row_of(v) for v in views], LIST_COLUMNS, as_json=False)


@deliveries.command("show")
@click.argument("delivery_id", metavar="ID")
@json_option
def deliveries_show(delivery_id: str, as_json: bool) -> None:
    """Show one delivery (ID: its id, or 8 or more characters of it): every field, each attempt, and the payload
    sent (which never holds a secret)."""
    settings = get_settings(as_json=as_json)

    async def work(container: Container) -> DeliveryView:
        return await container.integrations.delivery(team_id=await one_team(container), ref=delivery_id)

    data = delivery_dict(run_service(settings, work, as_json=as_json))
    note_if_outbound_off(settings)
    if as_json:
        emit(data, as_json=True)
        return
    history, payload = data.pop("history"), data.pop("payload")
    emit(data, as_json=False)
    click.echo("history:" + ("" if history else " -"))
    for entry in history:
        click.echo(f"  {history_line(entry)}")
    if payload is None:
        click.echo("payload: -")
    else:
        click.echo("payload:")
        for line in json.dumps(payload, indent=2, ensure_ascii=False).splitlines():
            click.echo(f"  {line}")


@deliveries.command("retry")
@click.argument("delivery_id", metavar="ID")
@json_option
def deliveries_retry(delivery_id: str, as_json: bool) -> None:
    """Queue a failed (or cancelled) delivery again, with the same delivery id, so the receiving tool can tell it
    is a repeat; the later ones of the same incident that failed with it go along, in order.

    The running bot (`vigil run`) sends it; `vigil deliveries show ID` follows it.
    """
    settings = get_settings(as_json=as_json)

    async def work(container: Container) -> DeliveryView:
        team = await write_team(container)
        return await container.integrations.retry(team_id=team, user_id=None, ref=delivery_id)

    view = run_service(settings, work, as_json=as_json)
    note_if_outbound_off(settings)
    emit(
        {
            "delivery": view.delivery_id,
            "integration": view.integration,
            "status": view.status,
            "next_attempt_at": when(view.next_attempt_at),
        },
        as_json=as_json,
    )
