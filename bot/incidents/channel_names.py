"""Slack channel names for incidents.

A name is ``inc-{number}-{slug}``, then an optional ``-NN`` collision suffix (Slack answered
``name_taken``), then ``-closed`` once the incident is closed: ``inc-7-db-down-2-closed``. The suffix comes
before ``-closed`` because closing renames the channel that already exists, suffix and all.

Slack allows at most 80 characters. The slug is always cut short enough to leave room for both ``-closed``
and a two-digit suffix, so retrying on ``name_taken`` or renaming on close never needs to re-truncate and
every channel of one incident shares the same stem.
"""

from __future__ import annotations

import re
import unicodedata

MAX_LENGTH = 80
CLOSED_SUFFIX = "-closed"
EMPTY_SLUG = "incident"
# Always reserved: "-closed" plus "-NN" (collision suffixes 2..99).
_RESERVED = len(CLOSED_SUFFIX) + len("-99")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slugify(title: str) -> str:
    """Fold a free-text title into ``[a-z0-9-]``; ``incident`` when nothing survives (emoji-only titles)."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii")
    slug = _NOT_SLUG.sub("-", ascii_title.lower()).strip("-")
    return slug or EMPTY_SLUG


def channel_name(number: int, title: str, *, suffix: int | None = None, closed: bool = False) -> str:
    """The channel name for incident ``number``; ``suffix`` is the ``name_taken`` retry counter (2, 3 …)."""
    if number < 1:
        raise ValueError(f"incident numbers start at 1, got {number}")
    if suffix is not None and suffix < 2:
        raise ValueError(f"collision suffixes start at 2, got {suffix}")
    prefix = f"inc-{number}-"
    tail = f"-{suffix}" if suffix is not None else ""
    # Suffixes past 99 are not expected, but still must not push the name past the limit.
    budget = MAX_LENGTH - len(prefix) - max(_RESERVED, len(tail) + len(CLOSED_SUFFIX))
    if budget < 1:
        raise ValueError(f"incident number {number} is too long for a channel name")
    slug = slugify(title)[:budget].rstrip("-")
    return prefix + slug + tail + (CLOSED_SUFFIX if closed else "")


def closed_name(current_name: str) -> str:
    """The name to rename a channel to on close; idempotent, so closing twice renames to the same name.

    Names made by `channel_name` always have room. A channel renamed by hand may not: its end is cut.
    """
    if current_name.endswith(CLOSED_SUFFIX):
        return current_name
    stem = current_name[: MAX_LENGTH - len(CLOSED_SUFFIX)].rstrip("-_")
    return stem + CLOSED_SUFFIX
