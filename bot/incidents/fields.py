"""Field checks, once: pure functions every door calls before it acks (a modal answers under the field, a command
with a usage line), and the service calls again so no door can skip them.

Numbers from payloads and admin fields are read here too, bounded: `²`, `2147483648` or twenty nines get a clear
answer, never a stack trace or a value the database cannot hold.
"""

from __future__ import annotations

from bot.incidents.errors import InvalidInput
from bot.incidents.text import clean_line, clean_text

MAX_TITLE = 150
MAX_DESCRIPTION = 2900
# Anything that becomes an INTEGER column (incident numbers, row ids) fits in a signed 32-bit int.
MAX_ID = 2**31 - 1
ASCII_DIGITS = frozenset("0123456789")


def check_title(text: str, *, field: str | None = "title") -> str:
    """The title as stored (one line, no control characters), or InvalidInput naming the fix."""
    title = clean_line(text)
    if not title:
        raise InvalidInput("Give the incident a title.", field=field)
    if len(title) > MAX_TITLE:
        raise InvalidInput(f"Keep the title under {MAX_TITLE} characters.", field=field)
    return title


def check_description(text: str, *, field: str | None = "description") -> str:
    description = clean_text(text)
    if len(description) > MAX_DESCRIPTION:
        raise InvalidInput(f"Keep the description under {MAX_DESCRIPTION} characters.", field=field)
    return description


MAX_NOTE = 2900


def check_note(text: str, *, required: bool = True, field: str | None = None) -> str:
    """A note or a resolution as stored: no control characters; within what one Slack section shows."""
    note = clean_text(text)
    if required and not note:
        raise InvalidInput("Write something first.", field=field)
    if len(note) > MAX_NOTE:
        raise InvalidInput(f"Keep it under {MAX_NOTE} characters.", field=field)
    return note


def parse_bounded_int(text: object, *, low: int, high: int, what: str, field: str | None = None) -> int:
    """An integer typed or sent by someone else: ASCII digits only (no `²`, no `+`, no spaces inside), within
    [low, high]."""
    raw = str(text if text is not None else "").strip()
    if not raw or len(raw) > 12 or not set(raw) <= ASCII_DIGITS:
        raise InvalidInput(f"{what} must be a whole number from {low} to {high}.", field=field)
    value = int(raw)
    if not low <= value <= high:
        raise InvalidInput(f"{what} must be a whole number from {low} to {high}.", field=field)
    return value


def parse_id(text: object, *, what: str = "The id", field: str | None = None) -> int:
    """A row id or incident number carried in a payload (a button value, private_metadata)."""
    return parse_bounded_int(text, low=1, high=MAX_ID, what=what, field=field)
