"""Slack's markup, in one place: user text escaped on its way out, mentions, names and channel links, and the plain
`Note`s of the domain rendered with them.

People's text keeps the user and channel mentions Slack itself put in (`<@U…>`, `<#C…>`: typing `@bob` in a slash
command arrives that way), and loses every other control sequence: `<!channel>`, `<!here>`, `<!subteam^…>` and
links with a label show as typed, never as a broadcast or a disguised link.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
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


def clip(text: str, limit: int) -> str:
    """Mrkdwn cut to `limit` characters with an ellipsis, never inside a `<…>` token or an `&…;` entity."""
    if len(text) <= limit:
        return text
    cut = text[: max(0, limit - 1)]
    opened = cut.rfind("<")
    if opened > cut.rfind(">"):
        cut = cut[:opened]
    amp = cut.rfind("&")
    if amp >= 0 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def date(at: datetime, token: str, fallback: str) -> str:
    """A time Slack shows in each reader's own time zone (`token`: `{time}`, `{date_short_pretty}`, `{ago}`…);
    `fallback` where a client cannot."""
    return f"<!date^{int(at.timestamp())}^{token}|{esc(fallback)}>"


def user(user_id: str | None, *, nobody: str = "_nobody yet_") -> str:
    return f"<@{user_id}>" if user_id else nobody


def person(user_id: str | None, names: Mapping[str, str] | None = None, *, nobody: str = "_nobody yet_") -> str:
    """Someone Vigil writes about: `@name` from the directory, as plain text, so that they are not pinged (Slack has
    no mention that does not notify); a mention only when the directory does not know them."""
    name = (names or {}).get(user_id or "")
    return f"@{esc(name)}" if name else user(user_id, nobody=nobody)


def link(url: str, label: str) -> str:
    """A link with a label, or the label alone when the address is not a plain http(s) URL that fits in `<…|…>`."""
    if not url.startswith(("https://", "http://")) or any(c in url for c in "<>| \n\t") or len(url) > 1000:
        return esc(label)
    return f"<{url.replace('&', '&amp;')}|{_escape(label)}>"  # inside a link, not even a mention survives


def channel(channel_id: str | None, *, none: str = "_no channel_") -> str:
    return f"<#{channel_id}>" if channel_id else none


def _id(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return str(value) if isinstance(value, str) and value else None


def note_text(kind: str, text: str, data: Mapping[str, Any], *, names: Mapping[str, str] | None = None) -> str:
    """A timeline entry or a change, in mrkdwn: the ids in `data` become mentions (names, for those in `names`), the
    words are escaped."""
    if kind == "commander":
        before, after = _id(data, "from"), _id(data, "to")
        new = person(after, names)
        return f"Commander {person(before, names)} → {new}" if before else f"Commander {new}"
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


def render_note(note: Note, *, names: Mapping[str, str] | None = None) -> str:
    return note_text(note.kind, note.text, note.data, names=names)


def render_notes(notes: Iterable[Note], *, names: Mapping[str, str] | None = None) -> str:
    return "; ".join(render_note(note, names=names) for note in notes)
