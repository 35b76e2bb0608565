"""What Slack would misread in the mrkdwn Vigil writes: a `<`, `>` or `&` that is neither escaped nor part of a
token Vigil means (a mention, a channel, a usergroup, a date, a link)."""

from __future__ import annotations

import re
from typing import Any

TOKEN = re.compile(
    r"<(?:@[UW][A-Z0-9]+(?:\|[^<>]*)?|#C[A-Z0-9]+(?:\|[^<>]*)?|!subteam\^[A-Z0-9]+(?:\|[^<>]*)?"
    r"|!date\^\d+\^[^|<>]+\|[^<>]*|https?://[^|<>\s]+(?:\|[^<>]*)?)>"
)
BARE = re.compile(r"[<>]|&(?!(?:amp|lt|gt);)")


def mrkdwn_texts(value: Any) -> list[str]:
    """Every mrkdwn text object in blocks, a view or a message (plain_text is never parsed by Slack)."""
    found: list[str] = []
    if isinstance(value, dict):
        if value.get("type") == "mrkdwn" and isinstance(value.get("text"), str):
            found.append(value["text"])
        for child in value.values():
            found += mrkdwn_texts(child)
    elif isinstance(value, list):
        for child in value:
            found += mrkdwn_texts(child)
    return found


def misread(text: str) -> list[str]:
    """The characters Slack would take for markup nobody meant, with some context."""
    rest = TOKEN.sub("", text)
    return [rest[max(0, m.start() - 20) : m.end() + 20] for m in BARE.finditer(rest)]


def assert_escaped(*texts: str) -> None:
    problems = {text[:80]: misread(text) for text in texts if misread(text)}
    assert not problems, problems
