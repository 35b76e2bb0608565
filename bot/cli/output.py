"""CLI output: `key: value` lines (lists: a header and one row per item), or JSON with `--json`."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import click


def _plain(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ",".join(_plain(v) for v in value)
    return str(value)


def emit(data: Mapping[str, Any], *, as_json: bool, err: bool = False) -> None:
    if as_json:
        click.echo(json.dumps(data, default=str, sort_keys=False), err=err)
        return
    for key, value in data.items():
        click.echo(f"{key}: {_plain(value)}", err=err)


def emit_rows(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], *, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps([{c: r.get(c) for c in columns} for r in rows], default=str))
        return
    table = [list(columns)] + [[_plain(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(columns))]
    for row in table:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def fail(message: str, *, code: int = 1, as_json: bool = False) -> None:
    """Stop the command with `error: …` and an exit code (1 failed, 2 bad usage or configuration)."""
    emit({"error": message}, as_json=as_json, err=True)
    raise SystemExit(code)
