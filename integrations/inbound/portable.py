"""The portable contract every kind accepts, and the only one of `webhook` and `opsgenie`:

    {"external_ref": "<Vigil's external key, INC-<n>, or the tool's own id>",
     "status": "resolved" | "acknowledged" | "triggered", "note": "…"}

signed with `X-Vigil-Signature` under the integration's inbound secret (or, where an admin enabled it, carrying
`X-Vigil-Token`). `triggered` with `title`, `severity` and `dedup_key` opens an incident — or answers the open one
with that key — which makes any alert source (Alertmanager, Grafana, a cron job) a way to declare.
"""

from __future__ import annotations

from integrations.base import Configured
from integrations.inbound import schemes
from integrations.inbound.instructions import (
    DEDUP_LIMIT,
    TITLE_LIMIT,
    Instruction,
    Malformed,
    Ref,
    clip,
    key_ref,
)
from integrations.inbound.request import Request
from integrations.signing import verify_header

SEVERITIES = ("P1", "P2", "P3", "P4", "P5")
STATUSES = ("resolved", "acknowledged", "triggered")


def used(request: Request) -> bool:
    """Whether the request speaks the portable contract (its headers say so) rather than the vendor's own."""
    return bool(request.header("X-Vigil-Signature") or request.header("X-Vigil-Token"))


def verify(request: Request, integration: Configured) -> bool:
    """A valid `X-Vigil-Signature`, or — only where the admin enabled it — the integration's `X-Vigil-Token`."""
    signed = verify_header(
        request.header("X-Vigil-Signature"),
        request.body,
        integration.signing_secrets(),
        now=int(request.now.timestamp()),
    )
    token = schemes.token(request.headers, integration.secrets.get("inbound_token")) if token_enabled(integration) else False
    return signed or token


def token_enabled(integration: Configured) -> bool:
    """An admin turned the token on (`vigil integrations update NAME --inbound-token on`)."""
    return bool(integration.secrets.get("inbound_token"))


def delivery_id(request: Request) -> str | None:
    return clip(request.header("X-Vigil-Delivery"), DEDUP_LIMIT) or None


def parse(request: Request) -> list[Instruction]:
    body = request.json()
    status = body.get("status")
    if status not in STATUSES:
        raise Malformed(f"status: one of {', '.join(STATUSES)}")
    note = clip(body.get("note"))
    if status == "triggered" and body.get("dedup_key") is not None:
        dedup_key = clip(body.get("dedup_key"), DEDUP_LIMIT)
        title = clip(body.get("title"), TITLE_LIMIT)
        severity = str(body.get("severity") or "P3").upper()
        if not dedup_key:
            raise Malformed("dedup_key: a non-empty string")
        if not title:
            raise Malformed("title: a non-empty string, for the incident an alert opens")
        if severity not in SEVERITIES:
            raise Malformed("severity: one of P1…P5")
        return [Instruction("open", None, text=note, title=title, severity=severity, dedup_key=dedup_key)]
    ref: Ref = key_ref(body.get("external_ref"))
    if status == "triggered":
        return [Instruction("note", ref, text=note or "Triggered again in the source")] if note else []
    if status == "resolved":
        return [Instruction("resolve", ref, text=note)]
    return [Instruction("acknowledge", ref, text=note)]
