"""The grammar of the ``/incident`` slash command.

`parse` turns the command text into a `ParsedCommand` or raises `InvalidInput` whose message is the usage
line of the subcommand that was mistyped, so the user sees how to fix it rather than silence. The parser
is pure: it knows nothing of Slack, channels or permissions. Whether an incident is implied by the channel,
and whether the user may act, is decided later by the listener and the service.

Subcommand names are case-insensitive; arguments keep their case. The manifest sets ``should_escape``, so
mentions arrive as ``<@U123>`` / ``<@U123|name>`` and ``&``, ``<``, ``>`` arrive HTML-escaped; free text is
passed on exactly as Slack sent it (it renders back correctly in Slack).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

from bot.incidents.errors import InvalidInput
from bot.incidents.states import MIN_REOPEN_REASON, ClosureReason, Severity, check_reopen_reason

DEFAULT_COMMAND = "/incident"
MAX_INCIDENT_DIGITS = 9


class LinkKind(StrEnum):
    PAGERDUTY = "pagerduty"
    GITHUB = "github"
    JIRA = "jira"
    LINEAR = "linear"
    EMAIL = "email"


@dataclass(frozen=True, slots=True)
class ParsedCommand:
    """One parsed command. Fields a subcommand does not take stay None; free text is never ``""``.

    ``severity``: open, severity · ``title``: open · ``text``: resolve (note), close (text), reopen (reason),
    note, help (the subcommand asked about) · ``closure_reason``: close · ``user_id``: lead, link ·
    ``service``: page · ``link_kind``/``link_id``: link.
    """

    name: str
    incident_ref: int | None = None
    severity: Severity | None = None
    title: str | None = None
    text: str | None = None
    closure_reason: ClosureReason | None = None
    user_id: str | None = None
    service: str | None = None
    link_kind: LinkKind | None = None
    link_id: str | None = None


class HelpLine(NamedTuple):
    name: str
    args: str
    summary: str


HELP_LINES: tuple[HelpLine, ...] = (
    HelpLine("open", "[P1-P5] [title]", "declare an incident (opens the form, pre-filled)"),
    HelpLine("list", "", "incidents you can see"),
    HelpLine("status", "", "where the incident stands"),
    HelpLine("update", "", "change title, severity, status or commander (opens a form)"),
    HelpLine("severity", "P1-P5", "change the severity"),
    HelpLine("investigating", "", "mark the incident as investigating"),
    HelpLine("mitigating", "", "mark the incident as mitigating"),
    HelpLine("resolve", "[note]", "mark the incident as resolved"),
    HelpLine("postmortem", "", "start the postmortem"),
    HelpLine(
        "close",
        "[reason] [text]",
        "close the incident; before it is resolved, give a reason: " + ", ".join(r.value for r in ClosureReason),
    ),
    HelpLine("reopen", "<reason>", f"reopen a resolved incident (reason of at least {MIN_REOPEN_REASON} characters)"),
    HelpLine("ack", "", "acknowledge the incident"),
    HelpLine("lead", "@user", "make someone the incident commander"),
    HelpLine("note", "<text>", "add a note to the timeline"),
    HelpLine("timeline", "", "show the timeline"),
    HelpLine("oncall", "", "who is on call now"),
    HelpLine("page", "[service]", "page on-call (the incident's service unless you name one)"),
    HelpLine("sos", "", "ask for help in the SOS channels"),
    HelpLine("link", "[@user] [" + "|".join(LinkKind) + "] [id]", "show or set your accounts in other tools"),
    HelpLine("help", "[subcommand]", "this help"),
)
SUBCOMMANDS: tuple[str, ...] = tuple(line.name for line in HELP_LINES)
# Subcommands that act on one incident: implied inside its channel, otherwise its number is required.
NEEDS_INCIDENT: frozenset[str] = frozenset(SUBCOMMANDS) - {"open", "list", "oncall", "page", "link", "help"}
# Subcommands that accept an incident number (page works from anywhere, with or without one).
_TAKES_INCIDENT: frozenset[str] = NEEDS_INCIDENT | {"page"}
_LINES = {line.name: line for line in HELP_LINES}

_INCIDENT_REF = re.compile(r"(?:inc-)?([0-9]+)", re.IGNORECASE | re.ASCII)
_OPEN_SEVERITY = re.compile(r"p[1-5]", re.IGNORECASE | re.ASCII)
_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>", re.ASCII)
_SLACK_LINK = re.compile(r"<(?:mailto:)?([^|>]+)(?:\|[^>]*)?>")


# The help, grouped by when each subcommand is needed; every subcommand is in exactly one group.
HELP_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Declare", ("open",)),
    ("Now", ("ack", "status", "note", "mitigating", "resolve")),
    ("Change", ("severity", "lead", "update")),
    ("After", ("postmortem", "close", "reopen")),
    ("More", ("investigating", "timeline", "list", "oncall", "page", "sos", "link", "help")),
)
# What someone who typed a subcommand wrong most likely wants.
CORE: tuple[str, ...] = ("open", "ack", "status", "note", "resolve")
# Arguments longer than this are left to `help <subcommand>` in the grouped help (link's list of tools).
BRIEF_ARGS = 24


def synopsis(name: str, *, command: str = DEFAULT_COMMAND, brief: bool = False) -> str:
    """`/incident close [reason] [text]`, as plain text (the caller escapes it for mrkdwn)."""
    args = _LINES[name].args
    if brief and len(args) > BRIEF_ARGS:
        args = ""
    return f"{command} {name}{' ' + args if args else ''}".strip()


def usage(name: str, *, command: str = DEFAULT_COMMAND) -> str:
    """The one-line usage of a subcommand, as shown when it was mistyped."""
    return f"Usage: `{synopsis(name, command=command)}`"


def summary(name: str) -> str:
    return _LINES[name].summary


# Words people type for a subcommand under another name.
ALIASES = {
    "acknowledge": "ack",
    "declare": "open",
    "new": "open",
    "create": "open",
    "start": "open",
    "pm": "postmortem",
    "comment": "note",
    "commander": "lead",
    "owner": "lead",
    "edit": "update",
    "history": "timeline",
    "log": "timeline",
    "escalate": "page",
}


def near_misses(word: str) -> list[str]:
    """Subcommands `word` was probably meant to be: another name for one, the one it starts, or close spellings
    (the best, and any about as close)."""
    word = word.lower()
    if word in ALIASES:
        return [ALIASES[word]]
    starts = [name for name in SUBCOMMANDS if len(word) >= 2 and name.startswith(word)]
    if starts:
        return starts[:2]
    scored = sorted(((difflib.SequenceMatcher(None, word, name).ratio(), name) for name in SUBCOMMANDS), reverse=True)
    best = scored[0][0]
    return [name for ratio, name in scored if ratio >= 0.6 and ratio >= best - 0.1][:2]


def unknown(word: str, *, command: str = DEFAULT_COMMAND) -> str:
    """What an unknown subcommand is answered with: the near misses, the core five, where the rest are."""
    guesses = near_misses(word)
    text = f"Unknown subcommand `{_clip(word)}`."
    if guesses:
        text += " Did you mean " + " or ".join(f"`{command} {g}`" for g in guesses) + "?"
    core = ", ".join(f"`{name}`" for name in CORE)
    return f"{text} The ones you need most: {core}. `{command} help` lists them all."


def help_text(command: str = DEFAULT_COMMAND) -> str:
    """The grouped help as plain text (a notification's fallback for the blocks), the incident-number tip last."""
    lines = [
        f"{group}: " + " · ".join(synopsis(name, command="", brief=True) for name in names) for group, names in HELP_GROUPS
    ]
    return "\n".join([f"{command} commands", *lines, prefix_tip(command)])


def prefix_tip(command: str = DEFAULT_COMMAND) -> str:
    return (
        f"Outside an incident channel, put its number first: `{command} 104 status` or `{command} INC-104 status`. "
        f"`{command} help close` explains one command."
    )


def parse(text: str, *, command: str = DEFAULT_COMMAND) -> ParsedCommand:
    """Parse the text after the command name. Empty text is ``help``; a bare incident number is ``status``."""
    head, rest = _split(text)
    ref = _incident_ref(head) if head is not None else None
    if ref is not None:
        head, rest = _split(rest)
        if head is None:
            return ParsedCommand(name="status", incident_ref=ref)
    if head is None:
        return ParsedCommand(name="help")
    name = head.lower()
    parser = _PARSERS.get(name)
    if parser is None:
        raise InvalidInput(unknown(head, command=command))
    if ref is not None and name not in _TAKES_INCIDENT:
        raise InvalidInput(f"`{name}` doesn't take an incident number. {usage(name, command=command)}")
    return parser(_Args(name=name, ref=ref, rest=rest, command=command))


@dataclass(frozen=True, slots=True)
class _Args:
    name: str
    ref: int | None
    rest: str
    command: str

    def malformed(self, hint: str = "") -> InvalidInput:
        return InvalidInput(usage(self.name, command=self.command) + (f" {hint}" if hint else ""))


def _no_args(args: _Args) -> ParsedCommand:
    # `/incident status INC-104` is a common slip for `/incident INC-104 status`: accept it.
    ref = args.ref
    if args.rest:
        trailing = _incident_ref(args.rest) if args.name in _TAKES_INCIDENT and ref is None else None
        if trailing is None:
            raise args.malformed()
        ref = trailing
    return ParsedCommand(name=args.name, incident_ref=ref)


def _open(args: _Args) -> ParsedCommand:
    # Only the `P3` form here: a title may well start with a digit ("3 nodes down").
    head, rest = _split(args.rest)
    if head is not None and _OPEN_SEVERITY.fullmatch(head):
        return ParsedCommand(name="open", severity=Severity.parse(head), title=rest or None)
    return ParsedCommand(name="open", title=args.rest or None)


def _severity(args: _Args) -> ParsedCommand:
    words = args.rest.split()
    if len(words) != 1:
        raise args.malformed()
    try:
        severity = Severity.parse(words[0])
    except InvalidInput:
        raise args.malformed() from None
    return ParsedCommand(name="severity", incident_ref=args.ref, severity=severity)


def _free_text(args: _Args) -> ParsedCommand:
    return ParsedCommand(name=args.name, incident_ref=args.ref, text=args.rest or None)


def _required_text(args: _Args) -> ParsedCommand:
    if not args.rest:
        raise args.malformed()
    return ParsedCommand(name=args.name, incident_ref=args.ref, text=args.rest)


def _close(args: _Args) -> ParsedCommand:
    head, rest = _split(args.rest)
    reason = ClosureReason.lookup(head) if head is not None else None
    if reason is None:
        return ParsedCommand(name="close", incident_ref=args.ref, text=args.rest or None)
    return ParsedCommand(name="close", incident_ref=args.ref, closure_reason=reason, text=rest or None)


def _reopen(args: _Args) -> ParsedCommand:
    try:
        reason = check_reopen_reason(args.rest)
    except InvalidInput:
        raise args.malformed(f"The reason needs at least {MIN_REOPEN_REASON} characters.") from None
    return ParsedCommand(name="reopen", incident_ref=args.ref, text=reason)


def _lead(args: _Args) -> ParsedCommand:
    words = args.rest.split()
    user_id = _mention(words[0]) if len(words) == 1 else None
    if user_id is None:
        raise args.malformed("Mention the person, e.g. @alice.")
    return ParsedCommand(name="lead", incident_ref=args.ref, user_id=user_id)


def _page(args: _Args) -> ParsedCommand:
    return ParsedCommand(name="page", incident_ref=args.ref, service=args.rest or None)


def _link(args: _Args) -> ParsedCommand:
    words = args.rest.split()
    user_id = _mention(words[0]) if words else None
    if user_id is not None:
        words = words[1:]
    kind: LinkKind | None = None
    link_id: str | None = None
    if words:
        try:
            kind = LinkKind(words[0].lower())
        except ValueError:
            raise args.malformed() from None
        words = words[1:]
    if words:
        match = _SLACK_LINK.fullmatch(words[0])
        link_id = match.group(1) if match else words[0]
        words = words[1:]
    if words or (kind == LinkKind.EMAIL and link_id is not None and "@" not in link_id):
        raise args.malformed()
    return ParsedCommand(name="link", user_id=user_id, link_kind=kind, link_id=link_id)


def _help(args: _Args) -> ParsedCommand:
    words = args.rest.split()
    if not words:
        return ParsedCommand(name="help")
    topic = words[0].lower()
    if len(words) > 1:
        raise args.malformed()
    if topic not in _LINES:
        raise InvalidInput(unknown(words[0], command=args.command))
    return ParsedCommand(name="help", text=topic)


_PARSERS: dict[str, Callable[[_Args], ParsedCommand]] = {
    "open": _open,
    "list": _no_args,
    "status": _no_args,
    "update": _no_args,
    "severity": _severity,
    "investigating": _no_args,
    "mitigating": _no_args,
    "resolve": _free_text,
    "postmortem": _no_args,
    "close": _close,
    "reopen": _reopen,
    "ack": _no_args,
    "lead": _lead,
    "note": _required_text,
    "timeline": _no_args,
    "oncall": _no_args,
    "page": _page,
    "sos": _no_args,
    "link": _link,
    "help": _help,
}


def _split(text: str) -> tuple[str | None, str]:
    """The first word and the stripped rest; the rest keeps its inner spacing (titles, notes)."""
    parts = text.strip().split(None, 1)
    if not parts:
        return None, ""
    return parts[0], parts[1].strip() if len(parts) == 2 else ""


def _incident_ref(word: str) -> int | None:
    """``104`` / ``INC-104`` → 104; None when the word is not a number at all."""
    match = _INCIDENT_REF.fullmatch(word.strip())
    if match is None:
        return None
    digits = match.group(1).lstrip("0")
    if not digits or len(digits) > MAX_INCIDENT_DIGITS:
        raise InvalidInput(f"`{_clip(word)}` is not an incident number; numbers look like `104` or `INC-104`.")
    return int(digits)


def _mention(word: str) -> str | None:
    match = _MENTION.fullmatch(word)
    return match.group(1) if match else None


def _clip(text: str, limit: int = 30) -> str:
    """User text echoed back inside backticks: short, and unable to break out of the code span."""
    text = text.strip().replace("`", "'")
    return text if len(text) <= limit else text[: limit - 1] + "…"
