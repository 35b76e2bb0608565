"""The update modal: title, severity and commander of an incident."""

from __future__ import annotations

import json
from typing import Any

from bot import slack_ids as ids
from bot.blocks.declare import SEVERITY_HINTS, _option
from db.models import Incident


def update_modal(incident: Incident) -> dict[str, Any]:
    commander: dict[str, Any] = {"type": "users_select", "action_id": ids.ACTION_COMMANDER}
    if incident.commander_id:
        commander["initial_user"] = incident.commander_id
    return {
        "type": "modal",
        "callback_id": ids.VIEW_UPDATE,
        "title": {"type": "plain_text", "text": f"Update INC-{incident.number}"[:24]},
        "submit": {"type": "plain_text", "text": "Save"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": json.dumps(
            {"incident_id": incident.id, "number": incident.number, "channel_id": incident.channel_id}
        ),
        "blocks": [
            {
                "type": "input",
                "block_id": ids.BLOCK_TITLE,
                "label": {"type": "plain_text", "text": "Title"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": ids.ACTION_TITLE,
                    "max_length": 150,
                    "initial_value": incident.title[:150],
                },
            },
            {
                "type": "input",
                "block_id": ids.BLOCK_SEVERITY,
                "label": {"type": "plain_text", "text": "Severity"},
                "element": {
                    "type": "static_select",
                    "action_id": ids.ACTION_SEVERITY,
                    "options": [_option(hint, sev) for sev, hint in SEVERITY_HINTS.items()],
                    "initial_option": _option(SEVERITY_HINTS[incident.severity], incident.severity),
                },
            },
            {
                "type": "input",
                "block_id": ids.BLOCK_COMMANDER,
                "label": {"type": "plain_text", "text": "Commander"},
                "element": commander,
            },
        ],
    }
