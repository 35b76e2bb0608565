"""Incident statuses, severities and the status moves.

The moves are data (`ALLOWED`) plus one function (`check_move`) that adds the rules the table cannot say:
closure reasons, the P1/P2 postmortem and reopen. Every door (slash command, button, webhook, CLI) goes
through `check_move`, so a move refused in Slack is refused from Jira too, with the same message.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from bot.incidents.errors import InvalidInput, InvalidTransition


class Status(StrEnum):
    OPEN = "open"
    INVESTIGATING = "investigating"
    MITIGATING = "mitigating"
    RESOLVED = "resolved"
    POSTMORTEM = "postmortem"
    CLOSED = "closed"


class Severity(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"
    P5 = "P5"

    @property
    def rank(self) -> int:
        """1 for P1 (most severe) … 5 for P5, for comparisons like "P3 or worse"."""
        return int(self.value[1])

    def at_least(self, threshold: Severity) -> bool:
        """True when this severity is as severe as ``threshold`` or more (P1 is at least P3)."""
        return self.rank <= threshold.rank

    @classmethod
    def parse(cls, text: str, *, field: str | None = None) -> Severity:
        """Read ``P1``…``P5`` or ``1``…``5``, any case; anything else is refused rather than guessed."""
        value = text.strip().upper()
        if len(value) == 1:
            value = "P" + value
        try:
            return cls(value)
        except ValueError:
            raise InvalidInput(f"Severity must be one of P1, P2, P3, P4, P5, not `{_clip(text)}`.", field=field) from None


class ClosureReason(StrEnum):
    DUPLICATE = "duplicate"
    FALSE_POSITIVE = "false_positive"
    SUPERSEDED = "superseded"
    EXTERNAL = "external"
    CANCELLED = "cancelled"

    @classmethod
    def lookup(cls, word: str) -> ClosureReason | None:
        """The reason ``word`` names (any case, ``false-positive`` too), or None when it names none."""
        try:
            return cls(word.strip().lower().replace("-", "_"))
        except ValueError:
            return None

    @classmethod
    def parse(cls, text: str, *, field: str | None = None) -> ClosureReason:
        """Like `lookup`, but refuses an unknown reason with a message listing the valid ones."""
        reason = cls.lookup(text)
        if reason is None:
            raise InvalidInput(f"Closure reason must be one of {_REASONS}, not `{_clip(text)}`.", field=field)
        return reason


# The moves, row by row. Closing before resolved, P1/P2 closing without a postmortem and the reopen-only
# moves are further restricted by `check_move`.
ALLOWED: Mapping[Status, frozenset[Status]] = MappingProxyType(
    {
        Status.OPEN: frozenset({Status.INVESTIGATING, Status.MITIGATING, Status.RESOLVED, Status.CLOSED}),
        Status.INVESTIGATING: frozenset({Status.MITIGATING, Status.RESOLVED, Status.CLOSED}),
        Status.MITIGATING: frozenset({Status.INVESTIGATING, Status.RESOLVED, Status.CLOSED}),
        Status.RESOLVED: frozenset({Status.POSTMORTEM, Status.CLOSED, Status.INVESTIGATING, Status.MITIGATING}),
        Status.POSTMORTEM: frozenset({Status.CLOSED, Status.INVESTIGATING, Status.MITIGATING}),
        Status.CLOSED: frozenset(),
    }
)

# Statuses in which the incident is still being worked: a repeated alert (same dedup_key) joins it.
ACTIVE: frozenset[Status] = frozenset({Status.OPEN, Status.INVESTIGATING, Status.MITIGATING})
# Statuses a reopen starts from, and the statuses it may move to.
REOPENABLE: frozenset[Status] = frozenset({Status.RESOLVED, Status.POSTMORTEM})
REOPEN_TARGETS: frozenset[Status] = frozenset({Status.INVESTIGATING, Status.MITIGATING})
MIN_REOPEN_REASON = 10

_ORDER = tuple(Status)
_REASONS = ", ".join(f"`{reason.value}`" for reason in ClosureReason)


def postmortem_due(severity: Severity) -> bool:
    """P1 and P2 incidents owe a postmortem before they may close (unless closed early with a reason)."""
    return severity in (Severity.P1, Severity.P2)


def is_noop(current: Status, target: Status) -> bool:
    """A move to the status the incident already has; the service ignores it so double clicks are harmless."""
    return current == target


def can_reopen(current: Status) -> bool:
    return current in REOPENABLE


def allowed_next(current: Status, severity: Severity) -> tuple[Status, ...]:
    """The statuses reachable by a plain move (not by reopen), in a stable order, for buttons and messages.

    ``closed`` from before ``resolved`` is listed although it needs a closure reason.
    """
    targets = ALLOWED[current]
    if current in REOPENABLE:
        targets = targets - REOPEN_TARGETS
    if current == Status.RESOLVED and postmortem_due(severity):
        targets = targets - {Status.CLOSED}
    return tuple(status for status in _ORDER if status in targets)


def check_move(
    *,
    current: Status,
    target: Status,
    severity: Severity,
    closure_reason: ClosureReason | None = None,
    reopen: bool = False,
) -> None:
    """Refuse a move the rules forbid, with a message that names what is allowed instead.

    A move to the current status is refused here; callers that want double clicks to be harmless check
    `is_noop` first. A closure reason is required when closing before ``resolved`` and optional (recorded,
    not checked) after it. A closure reason never lets a resolved P1/P2 skip its postmortem: "closing
    before resolved … skips the postmortem. Otherwise P1/P2 pass through postmortem".
    """
    allowed = allowed_next(current, severity)

    def refuse(reason: str) -> InvalidTransition:
        return InvalidTransition(f"{reason} {_describe(current, allowed)}", allowed=allowed)

    if current == Status.CLOSED:
        raise refuse("This incident is closed.")
    if current == target:
        raise refuse(f"This incident is already {target}.")
    if reopen:
        if current not in REOPENABLE:
            raise refuse(f"Only a resolved or postmortem incident can be reopened; this one is {current}.")
        if target not in REOPEN_TARGETS:
            raise refuse(f"Reopening moves an incident to investigating or mitigating, not {target}.")
        return
    if target not in ALLOWED[current]:
        raise refuse(f"An incident can't move from {current} to {target}.")
    if current in REOPENABLE and target in REOPEN_TARGETS:
        raise refuse(f"This incident is {current}; to work on it again, use `reopen <reason>`.")
    if target == Status.CLOSED:
        if current in ACTIVE and closure_reason is None:
            raise refuse(f"Closing before resolved needs a reason: {_REASONS}.")
        if current == Status.RESOLVED and postmortem_due(severity):
            raise refuse(f"{severity} incidents go through postmortem before they close.")


def check_reopen_reason(text: str, *, field: str | None = None) -> str:
    """The reopen reason, stripped; at least ten characters so the timeline says why work restarted."""
    reason = text.strip()
    if len(reason) < MIN_REOPEN_REASON:
        raise InvalidInput(
            f"Say why the incident is reopened, in at least {MIN_REOPEN_REASON} characters.",
            field=field,
        )
    return reason


def _describe(current: Status, allowed: tuple[Status, ...]) -> str:
    names = [
        f"{status} (with a closure reason)" if status == Status.CLOSED and current in ACTIVE else str(status)
        for status in allowed
    ]
    if current in REOPENABLE:
        names.append("`reopen <reason>`")
    if not names:
        return "Closed incidents are final."
    return "Allowed next: " + ", ".join(names) + "."


def _clip(text: str, limit: int = 30) -> str:
    """User text echoed back inside backticks: short, and unable to break out of the code span."""
    text = text.strip().replace("`", "'")
    return text if len(text) <= limit else text[: limit - 1] + "…"
