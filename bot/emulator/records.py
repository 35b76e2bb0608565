"""What the emulator records for tests to assert on: Web API calls, Socket Mode envelopes and their acks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RecordedCall:
    """One Web API call as received, with what the emulator answered."""

    method: str
    http_method: str
    args: dict[str, Any]
    token: str | None
    at: float
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.response.get("ok"))

    @property
    def error(self) -> str | None:
        error = self.response.get("error")
        return str(error) if error is not None else None


@dataclass
class AckResult:
    """The app's answer to one envelope: `payload` is what it acked with (None for an empty ack).

    `limit_errors` lists what Slack would have rejected in that payload (a view pushed by `response_action`,
    blocks of a slash-command reply)."""

    acked: bool
    payload: dict[str, Any] | None
    envelope_id: str
    limit_errors: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return str((self.payload or {}).get("text") or "")

    @property
    def response_action(self) -> str | None:
        action = (self.payload or {}).get("response_action")
        return str(action) if action is not None else None


@dataclass
class EnvelopeRecord:
    """One envelope sent (or due to be sent) over Socket Mode."""

    envelope_id: str
    type: str
    payload: dict[str, Any]
    retry_attempt: int | None = None
    sent_at: float | None = None
    acked: bool = False
    ack_payload: dict[str, Any] | None = None
    late_ack: bool = False
    connection_id: int | None = None  # which socket it went to (1 = the first accepted), when sent
    lost: bool = False  # sent into a socket that had died silently: the app never received it
    ack_lost: bool = False  # the app acked it, but on a socket whose acks were lost on the way back

    @property
    def delivered(self) -> bool:
        """The app received it (an attempt made while no socket was connected, or lost in a dead socket, was not)."""
        return self.sent_at is not None and not self.lost

    @property
    def event_id(self) -> str | None:
        value = self.payload.get("event_id")
        return str(value) if value is not None else None

    @property
    def event_type(self) -> str | None:
        event = self.payload.get("event")
        return str(event.get("type")) if isinstance(event, dict) else None


@dataclass
class ProtocolError:
    """An ack Slack would have refused (the person sees Slack's generic "trouble connecting" error instead).

    `kind` is the payload type (`view_submission`, `slash_commands`); `messages` say what was wrong."""

    kind: str
    envelope_id: str
    user_id: str
    messages: list[str]
    callback_id: str = ""
