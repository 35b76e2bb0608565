"""Adaptive Cards for Teams, wrapped as the message a Workflows webhook (and an outgoing-webhook reply) expects.

TextBlock text is rendered as a markdown subset (bold, italic, lists, links), so anything people typed is escaped
with `plain` first: an incident titled `[click](https://evil)` shows those characters and links nowhere. Pure
functions; posting the card is the delivery worker's job.
"""

from __future__ import annotations

import re
from typing import Any

from integrations.payloads import TEST_EVENT, TEST_PREFIX, IncidentSnapshot

CARD_VERSION = "1.4"
MAX_TEXT = 300  # titles are at most 150 already; this is the defensive cut
MAX_REPLY = 2000
NOBODY = "nobody yet"  # the words the Slack side uses for an incident without a commander

HAPPENED = {
    "incident.opened": "A new incident was declared in Slack.",
    "incident.acknowledged": "The incident was acknowledged.",
    "incident.updated": "The incident was updated.",
    "incident.resolved": "The incident was resolved.",
    "incident.closed": "The incident was closed.",
    "incident.reopened": "The incident was reopened.",
    TEST_EVENT: "Test card from Vigil: no incident is affected.",
}

# Markdown punctuation TextBlocks act on, and the braces of `{{DATE(…)}}`; each gets a backslash, which also keeps
# `]` and `(` from ever touching, so no link forms even in a client that ignores the escapes.
_MARKDOWN = re.compile(r"([\\`*_~\[\](){}#])")
# A list marker or heading only counts at the start of a line; text is one line, so only its start is checked.
_LINE_START = re.compile(r"^(\s*)([-+]|\d+[.)])(?=\s|$)")
# Whitespace runs (newlines included) become one space; control and bidi-override characters go.
_SPACES = re.compile(r"\s+")
_INVISIBLE = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def plain(text: str, *, limit: int = MAX_TEXT) -> str:
    """`text` as literal characters in a TextBlock: one line, at most `limit` characters, no markdown, no HTML.

    `&`, `<`, `>` become entities (safe whether a client renders markdown or HTML); markdown punctuation gets a
    backslash. Bare URLs may still be linked by Teams, but they show where they go; disguised links cannot be made.
    """
    text = _INVISIBLE.sub("", _SPACES.sub(" ", text)).strip()
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MARKDOWN.sub(r"\\\1", text)
    return _LINE_START.sub(lambda m: m.group(1) + "".join("\\" + c if not c.isdigit() else c for c in m.group(2)), text)


def incident_card(*, event: str, incident: IncidentSnapshot, test: bool = False) -> dict[str, Any]:
    """The card for one incident event: headline, what happened, the facts, and a button to the Slack channel."""
    if event not in HAPPENED:
        raise ValueError(f"unknown event {event!r}")
    test = test or event == TEST_EVENT
    title = incident.title.removeprefix(TEST_PREFIX) if test else incident.title
    headline = f"{plain(incident.key, limit=40)} · {incident.severity} · {plain(title)}"
    facts = [
        {"title": "Status", "value": str(incident.status).capitalize()},
        {"title": "Severity", "value": str(incident.severity)},
        # A Slack user id means nothing in Teams; who it is can be seen in the channel the button opens.
        {"title": "Commander", "value": "set in Slack" if incident.commander else NOBODY},
    ]
    if incident.private:
        facts.append({"title": "Visibility", "value": "private"})
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": (TEST_PREFIX if test else "") + headline,
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
        },
        {"type": "TextBlock", "text": HAPPENED[event], "isSubtle": True, "spacing": "None", "wrap": True},
        {"type": "FactSet", "facts": facts},
    ]
    actions: list[dict[str, Any]] = []
    if incident.channel_url and incident.channel_url.startswith("https://"):
        actions.append({"type": "Action.OpenUrl", "title": "Open in Slack", "url": incident.channel_url})
    return _message(body, actions)


def text_card(text: str, *, markdown: bool = False) -> dict[str, Any]:
    """A one-TextBlock card (replies to Teams). `text` is escaped with `plain` unless `markdown` says it is ours."""
    shown = text if markdown else plain(text, limit=MAX_REPLY)
    return _message([{"type": "TextBlock", "text": shown, "wrap": True}], [])


def _message(body: list[dict[str, Any]], actions: list[dict[str, Any]]) -> dict[str, Any]:
    content: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
    }
    if actions:
        content["actions"] = actions
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": content},
        ],
    }
