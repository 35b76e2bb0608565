"""Where the sandbox writes: one stream, one style, a few shapes of entry (a headed block, a bullet, a note)."""

from __future__ import annotations

from typing import TextIO

from bot.sandbox.render import Style

INDENT = "    "


class Printer:
    """Writes lines as they happen (flushed, so a piped transcript interleaves correctly with errors)."""

    def __init__(self, out: TextIO, style: Style) -> None:
        self.out = out
        self.style = style

    def line(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def entry(self, head: str, body: list[str]) -> None:
        """`head` then the body indented: a message, a form, an App Home."""
        self.line(head)
        for text in body:
            self.line(INDENT + text)

    def event(self, text: str) -> None:
        """Something that happened in the workspace: a channel created, a topic set, a reaction."""
        self.line(self.style.dim("* ") + text)

    def note(self, text: str) -> None:
        """What the sandbox itself says (not Slack, not the bot)."""
        self.line(self.style.dim(f"  ({text})"))

    def warn(self, text: str) -> None:
        self.line(self.style.error("! ") + text)
