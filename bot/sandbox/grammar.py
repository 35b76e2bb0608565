"""The sandbox's line grammar: one line in, one `Command` out, or a `ParseError` that says how to fix the line.

Pure: knows nothing of the emulator or the bot. Lines are split with shell quoting (`shlex`), except slash commands
and `say`, whose text is taken as typed (an apostrophe in "it's down" must not need quoting).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

HELP = """\
as <user>                      act as another person (alice, bob, carol)
in #channel                    move to another channel
/incident …                    run the slash command here, as the current person
submit Field=value …           submit the open form; fields by their label, e.g. Title="Checkout down" Severity=P1
click <button> [on <ref>]      press a button by its text, e.g. click Acknowledge on #inc-1-checkout-down:1
react :emoji: [<ref>]          add a reaction, e.g. react :eyes: last
say <text>                     post a message here, as the current person
channels                       list the channels
history [#channel]             the channel's messages, numbered
home                           open your App Home
help, exit

<ref> is `last` (the newest message here), `#channel:N` (its N-th message), `#channel:last` or `#channel`.
Lines starting with # are comments."""


class SandboxError(Exception):
    """Something the person should fix: the message names what was wrong and how to do it right."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ParseError(SandboxError):
    """The line does not follow the grammar."""


@dataclass(frozen=True)
class Ref:
    """A message: the newest in the current channel (`channel=None, index=None`), or one in a named channel."""

    channel: str | None = None
    index: int | None = None  # 1-based; None = the newest

    def __str__(self) -> str:
        if self.channel is None:
            return "last"
        return f"#{self.channel}:{self.index if self.index is not None else 'last'}"


@dataclass(frozen=True)
class As:
    user: str


@dataclass(frozen=True)
class In:
    channel: str


@dataclass(frozen=True)
class Slash:
    command: str
    text: str


@dataclass(frozen=True)
class Submit:
    fields: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Click:
    button: str
    ref: Ref | None = None


@dataclass(frozen=True)
class React:
    emoji: str
    ref: Ref | None = None


@dataclass(frozen=True)
class Say:
    text: str


@dataclass(frozen=True)
class Channels:
    pass


@dataclass(frozen=True)
class History:
    channel: str | None = None


@dataclass(frozen=True)
class Home:
    pass


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class Exit:
    pass


Command = As | In | Slash | Submit | Click | React | Say | Channels | History | Home | Help | Exit

_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")
_REF = re.compile(r"#([a-z0-9][a-z0-9_-]*)(?::(\d{1,6}|last))?")
_EMOJI = re.compile(r":?([a-z0-9_+'-]+(?:::skin-tone-[2-6])?):?")
_BARE: dict[str, Command] = {"channels": Channels(), "home": Home(), "exit": Exit(), "quit": Exit()}


def is_skipped(line: str) -> bool:
    """Blank lines and `# comments` (a `#channel` needs `in` or `history` before it)."""
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def parse(line: str) -> Command | None:
    """The command on `line`; None for blank lines and comments."""
    if is_skipped(line):
        return None
    stripped = line.strip()
    if stripped.startswith("/"):
        head, _, rest = stripped.partition(" ")
        if not re.fullmatch(r"/[a-z0-9_-]{1,32}", head.lower()):
            raise ParseError(f"{head[:40]!r} is not a slash command; try /incident help")
        return Slash(command=head.lower(), text=rest.strip())
    keyword, _, raw_rest = stripped.partition(" ")
    keyword = keyword.lower()
    if keyword == "say":
        if not raw_rest.strip():
            raise ParseError("say what? e.g. say Rolling back deploy 42")
        return Say(text=raw_rest.strip())
    if keyword in ("help", "?"):
        return Help()
    try:
        words = shlex.split(raw_rest)
    except ValueError as exc:
        raise ParseError(f"cannot read the line: {exc} (close your quotes)") from None
    if keyword in _BARE:
        if words:
            raise ParseError(f"{keyword} takes nothing after it")
        return _BARE[keyword]
    parser = _PARSERS.get(keyword)
    if parser is None:
        raise ParseError(f"unknown command {keyword[:40]!r}; type help for the list")
    return parser(words)


def _as(words: list[str]) -> Command:
    if len(words) != 1:
        raise ParseError("as who? e.g. as bob")
    return As(user=user_name(words[0]))


def _in(words: list[str]) -> Command:
    if len(words) != 1:
        raise ParseError("in which channel? e.g. in #incidents")
    return In(channel=channel_name(words[0]))


def _history(words: list[str]) -> Command:
    if len(words) > 1:
        raise ParseError("history takes at most one channel, e.g. history #incidents")
    # `history #inc-1:3` shows the whole channel: a person asking for one message wants to see it in context.
    return History(channel=channel_name(words[0].split(":")[0]) if words else None)


def _submit(words: list[str]) -> Command:
    fields: list[tuple[str, str]] = []
    for word in words:
        label, sep, value = word.partition("=")
        if not sep or not label.strip():
            raise ParseError(f'{word[:40]!r} is not field=value; quote labels or values with spaces: Title="Checkout down"')
        fields.append((label.strip(), value))
    return Submit(fields=tuple(fields))


def _click(words: list[str]) -> Command:
    ref: Ref | None = None
    if len(words) >= 3 and words[-2].lower() == "on":
        ref = parse_ref(words[-1])
        words = words[:-2]
    text = " ".join(words).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1].strip()
    if not text:
        raise ParseError("click what? e.g. click Acknowledge on #inc-1-checkout-down:1")
    return Click(button=text, ref=ref)


def _react(words: list[str]) -> Command:
    if not words or len(words) > 2:
        raise ParseError("react with what, to what? e.g. react :eyes: #inc-1-checkout-down:1")
    match = _EMOJI.fullmatch(words[0].lower())
    if match is None:
        raise ParseError(f"{words[0][:40]!r} is not an emoji name; e.g. :eyes: or :pushpin:")
    return React(emoji=match.group(1), ref=parse_ref(words[1]) if len(words) == 2 else None)


def parse_ref(word: str) -> Ref:
    """`last`, `#channel:N`, `#channel:last` or `#channel`."""
    lowered = word.strip().lower()
    if lowered == "last":
        return Ref()
    match = _REF.fullmatch(lowered if lowered.startswith("#") else "#" + lowered)
    if match is None or (":" not in lowered and not lowered.startswith("#")):
        raise ParseError(f"{word[:40]!r} is not a message; use last or #channel:N, e.g. #general:2")
    index = match.group(2)
    if index == "0":
        raise ParseError("messages are numbered from 1, e.g. #general:1")
    return Ref(channel=match.group(1), index=int(index) if index and index != "last" else None)


def user_name(word: str) -> str:
    name = word.strip().removeprefix("@").lower()
    if not _NAME.fullmatch(name):
        raise ParseError(f"{word[:40]!r} is not a user name, e.g. bob")
    return name


def channel_name(word: str) -> str:
    name = word.strip().removeprefix("#").lower()
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", name):
        raise ParseError(f"{word[:40]!r} is not a channel name, e.g. #incidents")
    return name


_PARSERS = {
    "as": _as,
    "in": _in,
    "submit": _submit,
    "click": _click,
    "press": _click,
    "react": _react,
    "history": _history,
}
