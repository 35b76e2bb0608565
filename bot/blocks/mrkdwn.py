"""Slack's markup, in one place: user text escaped on its way out, mentions and channel links, and the plain
`Note`s of the domain rendered with them.

People's text keeps the user and channel mentions Slack itself put in (`<@U…>`, `<#C…>`: typing `@bob` in a slash
command arrives that way), and loses every other control sequence: `<!channel>`, `<!here>`, `<!subteam^…>` and
links with a label show as typed, never as a broadcast or a disguised link.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from bot.incidents.ports import Note

# Mentions Slack wrote into text people typed; nothing else in angle brackets survives `esc`.
_SAFE_MENTION = re.compile(r"<(?:@[UW][A-Z0-9]{2,20}|#C[A-Z0-9]{2,20})(?:\|[^<>]{0,80})?>")
# An entity Slack already escaped (slash-command text arrives as `&lt;` / `&amp;`): left as it is.
_ENTITY = re.compile(r"&(?!(?:amp|lt|gt);)")


def _escape(text: str) -> str:
    return _ENTITY.sub("&amp;", text).replace("<", "&lt;").replace(">", "&gt;")


def esc(text: str) -> str:
    """Text typed by people, safe in mrkdwn and plain message text: no broadcast, no link, no unasked mention."""
    out: list[str] = []
    last = 0
    for match in _SAFE_MENTION.finditer(text):
        out.append(_escape(text[last : match.start()]))
        out.append(match.group(0))
        last = match.end()
    out.append(_escape(text[last:]))
    return "".join(out)


def user(user_id: str | None, *, nobody: str = "_nobody yet_") -> str:
    return f"<@{user_id}>" if user_id else nobody


def channel(channel_id: str | None, *, none: str = "_no channel_") -> str:
    return f"<#{channel_id}>" if channel_id else none


def _id(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return str(value) if isinstance(value, str) and value else None


def note_text(kind: str, text: str, data: Mapping[str, Any]) -> str:
    """A timeline entry or a change, in mrkdwn: the ids in `data` become mentions, the words are escaped."""
    if kind == "commander":
        before, after = _id(data, "from"), _id(data, "to")
        return f"Commander {user(before)} → {user(after)}" if before else f"Commander {user(after)}"
    if kind == "sos":
        where = _id(data, "conversation_id")
        return esc(text) + (f" (in {channel(where)})" if where else "")
    if kind == "relay":
        by, via = data.get("by"), data.get("via")
        head = " ".join(part for part in (esc(str(by)) if by else "", f"via {esc(str(via))}" if via else "") if part)
        return f":speech_balloon: {head}: {esc(text)}" if head else f":speech_balloon: {esc(text)}"
    if kind == "deploy_warning":
        where = _id(data, "channel_id")
        return esc(text) + (f" in {channel(where)}" if where else "")
    return esc(text)


def render_note(note: Note) -> str:
    return note_text(note.kind, note.text, note.data)


def render_notes(notes: Iterable[Note]) -> str:
    return "; ".join(render_note(note) for note in notes)
