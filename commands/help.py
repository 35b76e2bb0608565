"""What `/incident` says when it teaches: the grouped help, the help on one subcommand, usage replies, and where
to ask for a hand. Pure functions; every word goes out through `esc`, so `<reason>` reads as typed.

Each reply is the keyword arguments of one `ack()` or `respond()`: the text (what a notification shows) and,
for the help, the blocks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.blocks.mrkdwn import channel, esc, user
from commands.grammar import DEFAULT_COMMAND, HELP_GROUPS, help_text, prefix_tip, summary, synopsis

Reply = dict[str, Any]


def help_channel_line(channel_id: str | None, *, command: str = DEFAULT_COMMAND, admins: Iterable[str] = ()) -> str:
    """Never a dead end: the help channel; else who is on call, and who can set a help channel (the people in
    VIGIL_ADMINS by name, known without asking anyone)."""
    if channel_id:
        return f"Need a hand? Ask in {channel(channel_id)}."
    named = ", ".join(user(a) for a in sorted(admins)[:3])
    who = f"{named} or a Slack workspace admin" if named else "a Slack workspace admin"
    return (
        f"Need a hand? `{esc(command)} oncall` shows who is on call now. No help channel is set yet: "
        f"{who} can choose one in Vigil's App Home, under Tags."
    )


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def help_reply(command: str, help_line: str) -> Reply:
    """Short and grouped, in blocks; the help channel, then the incident-number tip, last."""
    groups = [
        f"*{group}*  " + " · ".join(f"`{esc(synopsis(name, command='', brief=True))}`" for name in names)
        for group, names in HELP_GROUPS
    ]
    blocks = [
        _section(f"*Type `{esc(command)}` and one of these*"),
        _section("\n".join(groups)),
        _context(help_line),
        _context(esc(prefix_tip(command))),
    ]
    return {"text": f"{esc(help_text(command))}\n{help_line}", "blocks": blocks}


def topic_reply(name: str, command: str, help_line: str) -> Reply:
    """`help close`: the one subcommand's usage and what it does."""
    text = f"`{esc(synopsis(name, command=command))}` — {esc(summary(name))}"
    return {"text": f"{text}\n{help_line}"}


def usage_reply(message: str, help_line: str) -> Reply:
    """A refusal from the parser (a usage line, an unknown subcommand), escaped, and where to ask."""
    return {"text": f"{esc(message)}\n{help_line}"}


__all__ = ["help_channel_line", "help_reply", "topic_reply", "usage_reply"]
