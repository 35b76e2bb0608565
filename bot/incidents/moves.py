"""The side effects of a status move, in one place: timestamps, resolution text, the domain event and timeline line.

`check_move` (states.py) decides whether a move is allowed; `apply_move` is what an allowed move does to the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.incidents import events
from bot.incidents.states import ClosureReason, Status
from db.models import Incident


@dataclass(frozen=True)
class MoveEffects:
    event: str
    timeline: str


def apply_move(
    incident: Incident,
    *,
    target: Status,
    now: datetime,
    closure_reason: ClosureReason | None = None,
    note: str | None = None,
    reopen: bool = False,
) -> MoveEffects:
    previous = incident.status
    incident.status = str(target)
    incident.last_update_at = now
    line = f"Status {previous} → {target}"
    if reopen:
        incident.resolved_at = None
        line = f"Reopened ({previous} → {target}): {note}"
        event = events.REOPENED
    elif target == Status.RESOLVED:
        incident.resolved_at = now
        if note:
            incident.resolution = note
        event = events.RESOLVED
    elif target == Status.CLOSED:
        incident.closed_at = now
        if incident.resolved_at is None and closure_reason is not None:
            incident.resolved_at = now
        if closure_reason is not None:
            incident.closure_reason = str(closure_reason)
            line += f" ({closure_reason})"
        if note:
            incident.resolution = note
        event = events.CLOSED
    else:
        event = events.UPDATED
    if note and not reopen:
        line += f": {note}"
    return MoveEffects(event=event, timeline=line)
