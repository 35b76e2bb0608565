"""An inbound request as the parsers see it: headers (case-insensitive), the raw body, and when it arrived."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from integrations.inbound.instructions import Malformed

MAX_DEPTH = 64  # json nesting Vigil will read; deeper is a hostile body, not a vendor's


@dataclass(frozen=True)
class Request:
    headers: Mapping[str, str]
    body: bytes
    now: datetime

    def header(self, name: str) -> str:
        value = self.headers.get(name)
        return value if isinstance(value, str) else ""

    def json(self) -> Mapping[str, Any]:
        """The body as a JSON object; a form-encoded `payload=<json>` body too (GitHub can send either)."""
        raw = self.body
        if self.header("Content-Type").split(";", 1)[0].strip().lower() == "application/x-www-form-urlencoded":
            fields = parse_qs(raw.decode("utf-8", "replace"), max_num_fields=16)
            payload = fields.get("payload")
            if not payload:
                raise Malformed("form body without a payload field")
            raw = payload[0].encode("utf-8")
        return parse_object(raw)


def parse_object(raw: bytes) -> Mapping[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("body is not UTF-8") from None
    if _depth(text) > MAX_DEPTH:
        raise Malformed("body nests too deeply")
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise Malformed("body is not JSON") from None
    if not isinstance(value, dict):
        raise Malformed("body is not a JSON object")
    return value


def _depth(text: str) -> int:
    """An upper bound on the nesting of a JSON text (brackets inside strings count too: it only guards the parser)."""
    depth = deepest = 0
    for char in text:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def mapping(value: Any) -> Mapping[str, Any]:
    """A nested object of a payload, or {} for anything else (vendors leave fields out or null)."""
    return value if isinstance(value, Mapping) else {}
