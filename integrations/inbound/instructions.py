"""What an inbound delivery asks Vigil to do, as plain data: parsed from a vendor's body when it arrives, stored in
the inbox row, and carried out from there (so a crash between the two loses nothing).

Parsers are pure: bytes and headers in, instructions out, `Malformed` for a body Vigil cannot read. Finding the
incident and acting on it is the inbox's work.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Action = Literal["acknowledge", "resolve", "close", "move", "reopen", "note", "open", "relay", "record_page"]
ACTIONS: frozenset[str] = frozenset(Action.__args__)  # type: ignore[attr-defined]

# How an instruction names its incident: Vigil's external key (`vigil-<team>-<n>`), its number (`INC-<n>` in a PR
# title or a Teams message), or what the incident is in this integration's tool (a Jira key, a Linear id, a sys_id).
RefKind = Literal["key", "number", "link"]

TEXT_LIMIT = 3000
TITLE_LIMIT = 150
DEDUP_LIMIT = 255
REF_LIMIT = 255
NUMBER_LIMIT = 2_147_483_647
INC_PATTERN = re.compile(r"\bINC-(\d{1,10})\b", re.IGNORECASE)


class Malformed(ValueError):
    """A verified body Vigil cannot read (400). The message names what is wrong, never the body."""


@dataclass(frozen=True)
class Ref:
    kind: RefKind
    value: str


@dataclass(frozen=True)
class Actor:
    """Who did it in the other tool, to find their Slack account (a linked identity, else the same email)."""

    kind: str  # identity kind: pagerduty, github, jira, linear, email
    external_id: str = ""
    email: str = ""
    name: str = ""


@dataclass(frozen=True)
class Instruction:
    action: Action
    ref: Ref | None = None  # None only for `open`
    text: str = ""
    title: str = ""
    severity: str = ""
    dedup_key: str = ""
    actor: Actor | None = None
    data: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in ("", None, {})}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> Instruction:
        ref = raw.get("ref")
        actor = raw.get("actor")
        return cls(
            action=raw["action"],
            ref=Ref(**ref) if isinstance(ref, Mapping) else None,
            text=str(raw.get("text") or ""),
            title=str(raw.get("title") or ""),
            severity=str(raw.get("severity") or ""),
            dedup_key=str(raw.get("dedup_key") or ""),
            actor=Actor(**actor) if isinstance(actor, Mapping) else None,
            data=dict(raw.get("data") or {}),
        )


def clip(text: Any, limit: int = TEXT_LIMIT) -> str:
    """A bounded, stripped string from whatever a payload holds (None and non-strings become "")."""
    if not isinstance(text, str):
        return ""
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def numbers_in(*texts: str) -> list[int]:
    """Incident numbers named `INC-<n>` in free text, in order, each once, bounded."""
    seen: dict[int, None] = {}
    for text in texts:
        for match in INC_PATTERN.finditer(text or ""):
            number = int(match.group(1))
            if 0 < number <= NUMBER_LIMIT:
                seen.setdefault(number, None)
    return list(seen)


def key_ref(value: Any) -> Ref:
    """A ref by Vigil's external key, or by `INC-<n>`; Malformed when it is neither a bounded string."""
    text = clip(value, REF_LIMIT)
    if not text:
        raise Malformed("external_ref: missing or not a string")
    numbers = numbers_in(text) if text.upper().startswith("INC-") else []
    if numbers:
        return Ref("number", str(numbers[0]))
    return Ref("key", text)
