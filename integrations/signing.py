"""The `X-Vigil-Signature` scheme, both ways: `t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.

The timestamp is signed with the body, so a captured request cannot be replayed outside the tolerance window. During
a secret rotation the header carries one `v1=` per live secret (new first), so receivers holding either verify.
Verification works on the raw bytes received, never on re-encoded JSON, and never raises: any doubt is False.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

TOLERANCE = 300
# Bounds on what an untrusted header may make us do: two v1 values are normal, a handful is plenty.
MAX_HEADER = 2048
MAX_SIGNATURES = 8
_HEX = frozenset("0123456789abcdef")


def hex_hmac(secret: bytes | str, body: bytes) -> str:
    """Lowercase hex HMAC-SHA256 of `body`; a str secret is used as its UTF-8 bytes (vendor schemes do the same)."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def sign_header(body: bytes, secrets: Sequence[str], *, timestamp: int) -> str:
    """The header for `body` sent at `timestamp`: one `v1=` per secret, in the order given (new, then old)."""
    if not secrets or any(not secret for secret in secrets):
        raise ValueError("signing needs at least one non-empty secret")
    if timestamp < 0:
        raise ValueError("timestamp must be a Unix time")
    signed = _signed_payload(timestamp, body)
    return ",".join([f"t={timestamp}", *(f"v1={hex_hmac(secret, signed)}" for secret in secrets)])


def verify_header(header: str | None, body: bytes, secrets: Sequence[str], *, now: int, tolerance: int = TOLERANCE) -> bool:
    """True when some `v1=` is the HMAC of `<t>.<body>` under some secret and `t` is within `tolerance` of `now`."""
    parsed = _parse(header)
    if parsed is None:
        return False
    timestamp, signatures = parsed
    if abs(now - timestamp) > tolerance:
        return False
    signed = _signed_payload(timestamp, body)
    matched = False
    # Every pair is compared, in constant time, so timing says nothing about which (if any) matched.
    for secret in secrets:
        if not secret:
            continue
        expected = hex_hmac(secret, signed).encode("ascii")
        for signature in signatures:
            matched |= hmac.compare_digest(expected, signature)
    return matched


def _signed_payload(timestamp: int, body: bytes) -> bytes:
    return f"{timestamp}.".encode("ascii") + body


def _parse(header: str | None) -> tuple[int, list[bytes]] | None:
    """`(t, [v1 …])` from a header, or None for anything malformed: no t, two t's, no v1, non-hex, oversized."""
    if not isinstance(header, str) or not header or len(header) > MAX_HEADER:
        return None
    timestamp: int | None = None
    signatures: list[bytes] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            return None
        name, value = name.strip(), value.strip()
        if name == "t":
            if timestamp is not None or not (value.isascii() and value.isdigit()) or len(value) > 12:
                return None
            timestamp = int(value)
        elif name == "v1":
            value = value.lower()
            if len(value) != 64 or not _HEX.issuperset(value) or len(signatures) >= MAX_SIGNATURES:
                return None
            signatures.append(value.encode("ascii"))
        # Other schemes (a future v2) are ignored, so adding one does not break existing receivers.
    if timestamp is None or not signatures:
        return None
    return timestamp, signatures
