"""How each vendor signs what it sends, checked over the raw bytes in constant time. Every function answers True or
False and never raises: a header that is missing, oversized or malformed is simply not a valid signature.

* `X-Vigil-Signature: t=…,v1=…` (the portable contract, ServiceNow, webhook, Opsgenie) — see `integrations.signing`;
  the inbound secret and, while a rotation overlaps, the previous one.
* PagerDuty `X-PagerDuty-Signature: v1=<hex>[,v1=<hex>…]` — HMAC-SHA256 of the body under the signing secret.
* GitHub `X-Hub-Signature-256: sha256=<hex>`, Jira `X-Hub-Signature: sha256=<hex>`.
* Linear `Linear-Signature: <hex>`, and the body's `webhookTimestamp` (ms) within 60 s of now.
* Teams `Authorization: HMAC <base64>` — HMAC-SHA256 under the base64-decoded security token.
* `X-Vigil-Token: <inbound_token>` — only where an admin enabled it, for tools that cannot sign.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable, Mapping

from integrations.signing import MAX_HEADER, MAX_SIGNATURES, hex_hmac

LINEAR_WINDOW_MS = 60_000


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    return value if isinstance(value, str) and value and len(value) <= MAX_HEADER else None


def _any_hex(signatures: Iterable[str], body: bytes, secrets: Iterable[str]) -> bool:
    """Whether some given hex signature is the body's HMAC under some secret; every pair compared."""
    given = [s.strip().lower().encode("ascii", "replace") for s in signatures][:MAX_SIGNATURES]
    matched = False
    for secret in secrets:
        if not secret:
            continue
        expected = hex_hmac(secret, body).encode("ascii")
        for signature in given:
            matched |= hmac.compare_digest(expected, signature)
    return matched


def prefixed(headers: Mapping[str, str], name: str, prefix: str, body: bytes, secrets: Iterable[str]) -> bool:
    """`<name>: <prefix><hex>[,<prefix><hex>…]` (PagerDuty `v1=`, GitHub and Jira `sha256=`)."""
    value = _header(headers, name)
    if value is None:
        return False
    parts = [p.strip() for p in value.split(",")]
    signatures = [p[len(prefix) :] for p in parts if p.startswith(prefix)]
    return bool(signatures) and _any_hex(signatures, body, secrets)


def linear(
    headers: Mapping[str, str], body: bytes, secrets: Iterable[str], *, timestamp_ms: int | None, now_ms: int
) -> bool:
    value = _header(headers, "Linear-Signature")
    if value is None or timestamp_ms is None or abs(now_ms - timestamp_ms) > LINEAR_WINDOW_MS:
        return False
    return _any_hex([value], body, secrets)


def teams(headers: Mapping[str, str], body: bytes, tokens: Iterable[str]) -> bool:
    value = _header(headers, "Authorization")
    if value is None:
        return False
    scheme, _, given = value.partition(" ")
    if scheme != "HMAC" or not given:
        return False
    matched = False
    for token in tokens:
        try:
            key = base64.b64decode(token, validate=True)
        except (binascii.Error, ValueError):
            continue
        expected = base64.b64encode(hmac.new(key, body, hashlib.sha256).digest())
        matched |= hmac.compare_digest(expected, given.strip().encode("ascii", "replace"))
    return matched


def token(headers: Mapping[str, str], expected: str | None) -> bool:
    value = _header(headers, "X-Vigil-Token")
    if value is None or not expected:
        return False
    return hmac.compare_digest(value.encode("utf-8", "replace"), expected.encode("utf-8"))
