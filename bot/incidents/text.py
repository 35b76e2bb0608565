"""User text on its way into the database: no control characters (PostgreSQL refuses NUL), tidy whitespace."""

from __future__ import annotations

import unicodedata


def clean_text(text: str) -> str:
    """Drop control characters except newlines and tabs; strip the ends."""
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc").strip()


def clean_line(text: str) -> str:
    """A one-line value (a title): control characters dropped, whitespace runs collapsed to one space."""
    return " ".join(clean_text(text).split())
