"""Reading Slack interaction payloads: who acted, in which workspace, and what a modal submitted.

Shared by every door, so that no door imports another to read a payload. Pure functions over plain dicts; a value
missing or of the wrong shape reads as empty, never as an exception.
"""

from __future__ import annotations

import json
from typing import Any


def team_of(body: dict[str, Any]) -> str:
    return str((body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id") or body.get("team_id") or "")


def user_of(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("id") or body.get("user_id") or "")


def metadata(view: dict[str, Any]) -> dict[str, Any]:
    """A view's private_metadata as a dict; empty when it is missing or not a JSON object."""
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def state_value(view: dict[str, Any], block_id: str, action_id: str) -> dict[str, Any] | None:
    """The value object of one input, or None when the block is not in the submission at all."""
    values = (view.get("state") or {}).get("values")
    block = values.get(block_id) if isinstance(values, dict) else None
    if not isinstance(block, dict):
        return None
    value = block.get(action_id)
    return value if isinstance(value, dict) else {}


def text_of(value: dict[str, Any] | None) -> str:
    return str((value or {}).get("value") or "")


def selected_option(value: dict[str, Any] | None) -> str | None:
    option = (value or {}).get("selected_option")
    return str(option["value"]) if isinstance(option, dict) and option.get("value") else None


def selected_options(value: dict[str, Any] | None) -> list[str]:
    options = (value or {}).get("selected_options")
    if not isinstance(options, list):
        return []
    return [str(o["value"]) for o in options if isinstance(o, dict) and o.get("value")]


def selected_conversation(value: dict[str, Any] | None) -> str | None:
    conversation = (value or {}).get("selected_conversation")
    return str(conversation) if conversation else None


def ticked(value: dict[str, Any] | None, option_value: str) -> bool:
    return option_value in selected_options(value)


def action_value(action: dict[str, Any]) -> str | None:
    """What a pressed button carries, or the option picked from an overflow menu or select."""
    if action.get("value") is not None:
        return str(action["value"])
    return selected_option(action)
