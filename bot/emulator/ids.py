"""Identifier and timestamp factories: deterministic counters, clock-driven message timestamps."""

from __future__ import annotations

import itertools
import re
import secrets
import uuid
from collections.abc import Callable

Clock = Callable[[], float]

TRIGGER_ID_RE = re.compile(r"^\d+\.\d+\.[0-9a-f]+$")


class Ids:
    """Makes every id the emulator hands out; message timestamps are unique and increase even with a frozen clock."""

    def __init__(self, clock: Clock, team_id: str) -> None:
        self._clock = clock
        self._team_id = team_id
        self._counters: dict[str, itertools.count[int]] = {}
        self._last_micros = 0

    def _next(self, prefix: str) -> int:
        return next(self._counters.setdefault(prefix, itertools.count(1)))

    def sequential(self, prefix: str, width: int = 10) -> str:
        """`C0000000001`, `V0000000002`…: readable, stable across runs."""
        return f"{prefix}{self._next(prefix):0{width}d}"

    def ts(self) -> str:
        """A Slack message timestamp (`"1763805590.000100"`), strictly increasing."""
        micros = int(self._clock() * 1_000_000)
        if micros <= self._last_micros:
            micros = self._last_micros + 1
        self._last_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def trigger_id(self) -> str:
        """Shaped like Slack's `132456.7890123.abcdef…`."""
        return f"{int(self._clock())}.{self._next('trigger'):07d}.{secrets.token_hex(16)}"

    def event_id(self) -> str:
        return "Ev" + secrets.token_hex(5).upper()

    def envelope_id(self) -> str:
        return str(uuid.uuid4())

    def ticket(self) -> str:
        return secrets.token_hex(12)

    def response_url_id(self) -> str:
        return f"{self._team_id}/{self._next('response'):06d}/{secrets.token_hex(8)}"

    def view_hash(self) -> str:
        return f"{int(self._clock())}.{secrets.token_hex(4)}"
