"""What an outbound delivery says about an incident: the snapshot, the webhook body and its exact bytes.

The snapshot is taken once, when a delivery is first attempted, and every retry re-sends it unchanged: a receiver
sees the incident as it was then, not as it is by the time a retry gets through.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.incidents.states import Severity, Status

EVENTS: tuple[str, ...] = (
    "incident.opened",
    "incident.acknowledged",
    "incident.updated",
    "incident.resolved",
    "incident.closed",
    "incident.reopened",
    "test",
)
TEST_EVENT = "test"
TEST_PREFIX = "[TEST] "


def external_key(team_id: str, number: int) -> str:
    """The one idempotency key of an incident in other tools: PagerDuty's dedup key, Opsgenie's alias, ServiceNow's
    correlation id, Jira's label, the portable contract's `external_ref`."""
    return f"vigil-{team_id}-{number}"


@dataclass(frozen=True)
class IncidentSnapshot:
    """An incident's state as integrations see it; datetimes are timezone-aware (naive ones are refused, not guessed)."""

    number: int
    key: str
    title: str
    severity: str
    status: str
    private: bool
    commander: str | None
    channel_id: str | None
    channel_url: str | None
    created_at: datetime
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    # For ticketing tools (not in the webhook body, whose shape is fixed): the component's name, the description
    # given at declaration, and the resolution written when it was resolved or closed.
    component: str | None = None
    description: str = ""
    resolution: str | None = None

    def __post_init__(self) -> None:
        if self.severity not in tuple(Severity):
            raise ValueError(f"severity must be one of P1-P5, not {self.severity!r}")
        if self.status not in tuple(Status):
            raise ValueError(f"unknown status {self.status!r}")
        for name in ("created_at", "acknowledged_at", "resolved_at", "closed_at"):
            value = getattr(self, name)
            if value is not None and value.utcoffset() is None:
                raise ValueError(f"{name} must be timezone-aware")

    @classmethod
    def sample(cls, now: datetime) -> IncidentSnapshot:
        """The made-up incident `vigil integrations test` sends: number 0, marked [TEST], least severe, no channel."""
        return cls(
            number=0,
            key="INC-0",
            title=TEST_PREFIX + "Vigil test delivery",
            severity=Severity.P5.value,
            status=Status.OPEN.value,
            private=False,
            commander=None,
            channel_id=None,
            channel_url=None,
            created_at=now,
        )


def rfc3339(dt: datetime | None) -> str | None:
    """`2024-11-02T14:03:11Z`: UTC, whole seconds (truncated), `Z` suffix; None stays None (JSON null)."""
    if dt is None:
        return None
    if dt.utcoffset() is None:
        raise ValueError("naive datetime: give a timezone-aware one")
    return dt.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def webhook_body(*, delivery_id: str, event: str, occurred_at: datetime, incident: IncidentSnapshot) -> dict[str, Any]:
    """The generic webhook's JSON body, exactly the documented shape (docs/integrations/webhook.md)."""
    if event not in EVENTS:
        raise ValueError(f"unknown event {event!r}")
    try:
        canonical = str(uuid.UUID(delivery_id))
    except ValueError:
        canonical = None
    if canonical != delivery_id:
        # The body's id and the X-Vigil-Delivery header must be the same string, so no normalising here.
        raise ValueError("delivery_id must be a UUID in canonical form (lowercase, hyphenated)")
    return {
        "id": delivery_id,
        "event": event,
        "occurred_at": rfc3339(occurred_at),
        "incident": {
            "number": incident.number,
            "key": incident.key,
            "title": incident.title,
            "severity": str(incident.severity),
            "status": str(incident.status),
            "private": incident.private,
            "commander": incident.commander,
            "channel_id": incident.channel_id,
            "channel_url": incident.channel_url,
            "created_at": rfc3339(incident.created_at),
            "acknowledged_at": rfc3339(incident.acknowledged_at),
            "resolved_at": rfc3339(incident.resolved_at),
            "closed_at": rfc3339(incident.closed_at),
        },
    }


def encode(body: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON with sorted keys: the bytes signed are the bytes sent, and a body re-read from the
    database (where key order may not survive) encodes to the same bytes again."""
    try:
        text = json.dumps(body, separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False)
        return text.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate has no UTF-8 form; \u escapes keep the JSON valid and the meaning the same.
        return json.dumps(body, separators=(",", ":"), sort_keys=True, allow_nan=False).encode("ascii")
