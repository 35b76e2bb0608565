"""Web API arguments as received (query, form and JSON merged) and the error a method raises."""

from __future__ import annotations

import json
from typing import Any

_TRUE = {"1", "true", "True", "yes"}
_FALSE = {"0", "false", "False", "no", ""}


class ApiError(Exception):
    """Ends a Web API call with `{"ok": false, "error": error, **extra}` (HTTP 200 unless `status` says otherwise)."""

    def __init__(self, error: str, *, status: int = 200, messages: list[str] | None = None, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.extra = extra
        if messages:
            self.extra["response_metadata"] = {"messages": messages}

    def body(self) -> dict[str, Any]:
        return {"ok": False, "error": self.error, **self.extra}


def invalid_arguments(*messages: str) -> ApiError:
    return ApiError("invalid_arguments", messages=[f"[ERROR] {m}" for m in messages])


class Args:
    """Typed access to a call's arguments; Slack coerces `"1"`/`"true"`, comma lists and JSON-encoded strings."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def __contains__(self, name: str) -> bool:
        return self.data.get(name) not in (None, "")

    def raw(self, name: str) -> Any:
        return self.data.get(name)

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.data.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return "true" if value else "false"
        return value if isinstance(value, str) else json.dumps(value) if isinstance(value, dict | list) else str(value)

    def required(self, name: str, *, error: str | None = None) -> str:
        value = self.text(name)
        if not value:
            raise ApiError(error) if error else invalid_arguments(f"missing required field: {name}")
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.data.get(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, int):
            return value != 0
        if isinstance(value, str) and value in _TRUE:
            return True
        if isinstance(value, str) and value in _FALSE:
            return False
        raise invalid_arguments(f"invalid boolean for field: {name}")

    def integer(self, name: str, default: int) -> int:
        value = self.data.get(name)
        if value in (None, ""):
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise invalid_arguments(f"invalid integer for field: {name}") from None

    def items(self, name: str) -> list[str]:
        value = self.data.get(name)
        if value is None:
            return []
        items = value if isinstance(value, list) else str(value).split(",")
        return [str(item).strip() for item in items if str(item).strip()]

    def structured(self, name: str, *, error: str = "invalid_arguments") -> Any:
        """A structured argument (blocks, view, metadata), given as JSON or as a JSON-encoded string."""
        value = self.data.get(name)
        if isinstance(value, str):
            if not value.strip():
                return None
            try:
                return json.loads(value)
            except json.JSONDecodeError:
                raise ApiError(error, messages=[f"[ERROR] invalid JSON in field: {name}"]) from None
        return value
