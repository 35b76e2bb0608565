"""The declare modal: (title, severity, component, description, private)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot import slack_ids as ids

SEVERITY_HINTS = {
    "P1": "P1 · critical, customers down",
    "P2": "P2 · major, degraded for many",
    "P3": "P3 · minor, degraded for some",
    "P4": "P4 · low, no customer impact",
    "P5": "P5 · informational",
}


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": text[:75], "emoji": True}, "value": value}


def declare_modal(
    *,
    title: str = "",
    severity: str | None = None,
    components: Sequence[tuple[int, str]] = (),
    origin_channel_id: str | None = None,
) -> dict[str, Any]:
    severity_select: dict[str, Any] = {
        "type": "static_select",
        "action_id": ids.ACTION_SEVERITY,
        "placeholder": {"type": "plain_text", "text": "How bad is it?"},
        "options": [_option(hint, sev) for sev, hint in SEVERITY_HINTS.items()],
    }
    if severity in SEVERITY_HINTS:
        severity_select["initial_option"] = _option(SEVERITY_HINTS[severity], severity)
    title_input: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ids.ACTION_TITLE,
        "max_length": 150,
        "placeholder": {"type": "plain_text", "text": "Checkout returns 500s"},
    }
    if title:
        title_input["initial_value"] = title[:150]
    blocks: list[dict[str, Any]] = [
        {
            "type": "input",
            "block_id": ids.BLOCK_TITLE,
            "label": {"type": "plain_text", "text": "Title"},
            "element": title_input,
        },
        {
            "type": "input",
            "block_id": ids.BLOCK_SEVERITY,
            "label": {"type": "plain_text", "text": "Severity"},
            "element": severity_select,
        },
    ]
    if components:
        blocks.append(
            {
                "type": "input",
                "block_id": ids.BLOCK_COMPONENT,
                "optional": True,
                "label": {"type": "plain_text", "text": "Component"},
                "element": {
                    "type": "static_select",
                    "action_id": ids.ACTION_COMPONENT,
                    "placeholder": {"type": "plain_text", "text": "What is affected?"},
                    "options": [_option(name, str(cid)) for cid, name in components[:100]],
                },
            }
        )
    blocks += [
        {
            "type": "input",
            "block_id": ids.BLOCK_DESCRIPTION,
            "optional": True,
            "label": {"type": "plain_text", "text": "Description"},
            "element": {
                "type": "plain_text_input",
                "action_id": ids.ACTION_DESCRIPTION,
                "multiline": True,
                "max_length": 2900,
            },
        },
        {
            "type": "input",
            "block_id": ids.BLOCK_PRIVATE,
            "optional": True,
            "label": {"type": "plain_text", "text": "Visibility"},
            "element": {
                "type": "checkboxes",
                "action_id": ids.ACTION_PRIVATE,
                "options": [
                    {
                        "text": {"type": "plain_text", "text": "Private incident"},
                        "description": {"type": "plain_text", "text": "Private channel, never announced"},
                        "value": "private",
                    }
                ],
            },
        },
    ]
    return {
        "type": "modal",
        "callback_id": ids.VIEW_DECLARE,
        "title": {"type": "plain_text", "text": "Declare an incident"},
        "submit": {"type": "plain_text", "text": "Declare"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": json.dumps({"channel_id": origin_channel_id}) if origin_channel_id else "",
        "blocks": blocks,
    }
