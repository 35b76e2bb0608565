"""Domain errors.

Every refusal the domain makes is one of these exceptions. The message is written for the person who
typed the command or pressed the button, and names the fix; one Bolt error handler turns it into an
ephemeral reply (or modal ``errors`` keyed by ``field``), so handlers never format errors themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.incidents.states import Status


class VigilError(Exception):
    """Base of all domain errors; ``message`` is shown to the user as is."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        # The modal block_id to attach the message to, when the error came from a view submission.
        self.field = field


class InvalidInput(VigilError):
    """The input is malformed: bad command syntax, a value out of range, a missing field."""


class NotFound(VigilError):
    """The thing does not exist, or the user may not see it (private incidents answer "not found" too)."""


class NotAllowed(VigilError):
    """The user is known and the thing exists, but this user may not do this."""


class InvalidTransition(VigilError):
    """A status move the state table refuses; ``allowed`` lists the moves that would be accepted."""

    def __init__(self, message: str, *, allowed: tuple[Status, ...] = (), field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.allowed = allowed
