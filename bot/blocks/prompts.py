"""The one-field modals the incident's buttons open: the resolution note, the reopen reason, a note, the new
commander. One skeleton; each modal is a row of data. Pure functions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot import slack_ids as ids


@dataclass(frozen=True)
class Prompt:
    """One modal: its title (the incident's ref is added), its one field, and its submit button."""

    title: str
    label: str
    submit: str
    hint: str = ""
    person: bool = False  # a users_select instead of a text input
    optional: bool = False
    max_length: int = 2900


PROMPTS: dict[str, Prompt] = {
    ids.VIEW_RESOLVE: Prompt(
        "Resolve", "Resolution", "Resolve", hint="What ended the impact. It shows on the pinned message.", optional=True
    ),
    ids.VIEW_REOPEN: Prompt("Reopen", "Why reopen it?", "Reopen", hint="At least 10 characters, for the timeline."),
    ids.VIEW_NOTE: Prompt("Note on", "Note", "Post", hint="Posted in the incident's channel and kept on the timeline."),
    ids.VIEW_HANDOFF: Prompt("Hand off", "New commander", "Hand off", person=True),
}


def prompt_modal(
    callback_id: str, *, number: int, channel_id: str | None, commander_id: str | None = None
) -> dict[str, Any]:
    prompt = PROMPTS[callback_id]
    element: dict[str, Any]
    if prompt.person:
        element = {"type": "users_select", "action_id": ids.ACTION_PROMPT}
        if commander_id:
            element["initial_user"] = commander_id
    else:
        element = {
            "type": "plain_text_input",
            "action_id": ids.ACTION_PROMPT,
            "multiline": True,
            "max_length": prompt.max_length,
        }
    field: dict[str, Any] = {
        "type": "input",
        "block_id": ids.BLOCK_PROMPT,
        "label": {"type": "plain_text", "text": prompt.label},
        "element": element,
        "optional": prompt.optional,
    }
    if prompt.hint:
        field["hint"] = {"type": "plain_text", "text": prompt.hint}
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": {"type": "plain_text", "text": f"{prompt.title} INC-{number}"[:24]},
        "submit": {"type": "plain_text", "text": prompt.submit},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": json.dumps({"number": number, "channel_id": channel_id}),
        "blocks": [field],
    }
