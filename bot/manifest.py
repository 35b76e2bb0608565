"""The Slack app manifest shipped with the package, adjusted to the configured slash command."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import yaml


def load_manifest() -> dict[str, Any]:
    text = files("bot").joinpath("manifest.yml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def render_manifest(command: str) -> str:
    """The manifest as YAML with the slash command renamed to `command` (VIGIL_COMMAND)."""
    data = load_manifest()
    for cmd in data["features"]["slash_commands"]:
        cmd["command"] = command
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def manifest_events(data: dict[str, Any]) -> set[str]:
    return set(data["settings"]["event_subscriptions"]["bot_events"])


def manifest_commands(data: dict[str, Any]) -> set[str]:
    return {c["command"] for c in data["features"].get("slash_commands", [])}


def manifest_shortcuts(data: dict[str, Any]) -> set[str]:
    return {s["callback_id"] for s in data["features"].get("shortcuts", [])}
