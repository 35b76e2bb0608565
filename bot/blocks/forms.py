"""Reading submitted modals: the values Slack sends in `view.state.values`, and the private metadata Vigil put in.
Pure functions; the field rules themselves live in the domain (bot/incidents/fields.py)."""

from __future__ import annotations

import json
from typing import Any


def value_of(view: dict[str, Any], block: str, action: str) -> dict[str, Any]:
    """The state of one input element (empty when it is missing: a forged or outdated form)."""
    values = (view.get("state") or {}).get("values")
    inputs = values.get(block) if isinstance(values, dict) else None
    v = inputs.get(action) if isinstance(inputs, dict) else None
    return v if isinstance(v, dict) else {}


def text_value(view: dict[str, Any], block: str, action: str) -> str:
    return str(value_of(view, block, action).get("value") or "")


def selected_value(view: dict[str, Any], block: str, action: str) -> str:
    option = value_of(view, block, action).get("selected_option") or {}
    return str(option.get("value") or "") if isinstance(option, dict) else ""


def metadata(view: dict[str, Any]) -> dict[str, Any]:
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return meta if isinstance(meta, dict) else {}


def team_and_user(body: dict[str, Any]) -> tuple[str, str]:
    view = body.get("view") or {}
    team_id = str(view.get("team_id") or (body.get("team") or {}).get("id") or "")
    return team_id, str((body.get("user") or {}).get("id") or "")
