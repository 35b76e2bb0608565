"""Per kind: how a request is verified, which header carries the vendor's delivery id, and how its body reads.

Every kind also takes the portable contract: a request the vendor's own scheme does not verify, carrying
`X-Vigil-Signature` (or an enabled `X-Vigil-Token`) that does, is read as one. `webhook`, `opsgenie` and
`servicenow` have no scheme of their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from integrations.base import Configured
from integrations.inbound import portable, schemes, vendors
from integrations.inbound.instructions import DEDUP_LIMIT, Instruction, clip
from integrations.inbound.request import Request

Verify = Callable[[Request, Configured], bool]
Parse = Callable[[Request, Configured], list[Instruction]]


@dataclass(frozen=True)
class Kind:
    name: str
    verify: Verify
    parse: Parse
    delivery_header: str = ""  # the vendor's delivery id, the same on its retries
    teams_reply: bool = False  # Teams waits for a card in the answer, always with 200


def _vendor_secrets(integration: Configured) -> list[str]:
    return [s for s in (integration.secrets.get("signing_secret"),) if s]


def _pagerduty(request: Request, integration: Configured) -> bool:
    return schemes.prefixed(request.headers, "X-PagerDuty-Signature", "v1=", request.body, _vendor_secrets(integration))


def _github(request: Request, integration: Configured) -> bool:
    return schemes.prefixed(request.headers, "X-Hub-Signature-256", "sha256=", request.body, _vendor_secrets(integration))


def _jira(request: Request, integration: Configured) -> bool:
    return schemes.prefixed(request.headers, "X-Hub-Signature", "sha256=", request.body, _vendor_secrets(integration))


def _linear(request: Request, integration: Configured) -> bool:
    return schemes.linear(
        request.headers,
        request.body,
        _vendor_secrets(integration),
        timestamp_ms=vendors.linear_timestamp(request),
        now_ms=int(request.now.timestamp() * 1000),
    )


def _teams(request: Request, integration: Configured) -> bool:
    return schemes.teams(request.headers, request.body, [s for s in (integration.secrets.get("security_token"),) if s])


def _portable_only(request: Request, integration: Configured) -> list[Instruction]:
    return portable.parse(request)


def _servicenow(request: Request, integration: Configured) -> list[Instruction]:
    """ServiceNow signs like the portable contract; its Business Rule may post either body."""
    body = request.json()
    return (
        portable.parse(request) if "status" in body or "external_ref" in body else vendors.servicenow(request, integration)
    )


PORTABLE = Kind("portable", verify=portable.verify, parse=_portable_only, delivery_header="X-Vigil-Delivery")
KINDS: dict[str, Kind] = {
    "pagerduty": Kind("pagerduty", _pagerduty, vendors.pagerduty, "X-Webhook-Id"),
    "jira": Kind("jira", _jira, vendors.jira, "X-Atlassian-Webhook-Identifier"),
    "linear": Kind("linear", _linear, vendors.linear, "Linear-Delivery"),
    "github": Kind("github", _github, vendors.github, "X-GitHub-Delivery"),
    "teams": Kind("teams", _teams, vendors.teams, teams_reply=True),
    "servicenow": Kind("servicenow", portable.verify, _servicenow, "X-Vigil-Delivery"),
    "webhook": PORTABLE,
    "opsgenie": PORTABLE,
}


def readings(kind: str, request: Request) -> list[Kind]:
    """The ways this request may be read for an integration of `kind`, in the order tried: the vendor's own scheme,
    then — when it carries portable headers — the portable contract. Empty for a kind Vigil does not know."""
    vendor = KINDS.get(kind)
    if vendor is None:
        return []
    if portable.used(request) and vendor.verify is not portable.verify:
        return [vendor, Kind(vendor.name, portable.verify, _portable_only, "X-Vigil-Delivery", vendor.teams_reply)]
    return [vendor]


def delivery_id(kind: Kind, request: Request) -> str | None:
    """The vendor's delivery id (Teams: the message id in the body); None when it sent none."""
    if kind.delivery_header:
        return clip(request.header(kind.delivery_header), DEDUP_LIMIT) or None
    if kind.teams_reply:
        try:
            return clip(request.json().get("id"), DEDUP_LIMIT) or None
        except ValueError:
            return None
    return None
