"""Integration secrets at rest: AES-256-GCM under the `VIGIL_ENCRYPTION_KEYS` ring.

A row's secrets are sealed together into one token, `v1:<kid>:<urlsafe base64 of nonce + ciphertext>`. The kid names
the key that sealed it, so old tokens still open after a new primary key is added, and `vigil keys rotate` can find
the tokens still under an old key (`needs_rotation`) and move them (`reseal`) one row at a time. The caller's `aad`
(the integration id) is authenticated with the ciphertext: a token copied onto another row does not open.

Nothing here ever puts key material or plaintext into an exception message or a repr.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets as _random
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot.settings import parse_key_ring

if TYPE_CHECKING:
    from bot.settings import Settings

VERSION = "v1"
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
# Versioned and kid-bound, so a token's header cannot be swapped without the tag noticing.
_AAD_PREFIX = b"vigil-secret-box\x00"


class NoKeyRing(Exception):
    """Saving a secret without `VIGIL_ENCRYPTION_KEYS`: refused, never stored in the clear."""

    def __init__(self) -> None:
        super().__init__("no encryption key: run `vigil keys generate` and put its output in VIGIL_ENCRYPTION_KEYS")


class UnknownKey(Exception):
    """The token was sealed under a key the ring no longer holds (removed before `vigil keys rotate` finished)."""

    def __init__(self, kid: str) -> None:
        super().__init__(
            f"secret was encrypted with key {kid!r}, which is not in VIGIL_ENCRYPTION_KEYS: "
            f"add key {kid!r} back to VIGIL_ENCRYPTION_KEYS (then run `vigil keys rotate` before removing it)"
        )
        self.kid = kid


class Tampered(Exception):
    """The token does not authenticate: altered, truncated, or copied from another row."""

    def __init__(self, reason: str = "does not authenticate (altered, or copied from another row)") -> None:
        super().__init__(f"stored secret {reason}")


class KeyRing:
    """The keys secrets are sealed with; the first is primary (seals), all of them open."""

    __slots__ = ("_ciphers", "_kids")

    def __init__(self, keys: Sequence[tuple[str, bytes]]) -> None:
        ciphers: dict[str, AESGCM] = {}
        for kid, key in keys:
            if not _valid_kid(kid):
                raise ValueError("a key id must be letters, digits, '-' or '_'")
            if len(key) != KEY_BYTES:
                raise ValueError(f"key {kid!r} must be {KEY_BYTES} bytes")
            if kid in ciphers:
                raise ValueError(f"key id {kid!r} appears twice")
            ciphers[kid] = AESGCM(bytes(key))
        self._ciphers = ciphers
        self._kids = tuple(ciphers)

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        """The ring from `VIGIL_ENCRYPTION_KEYS`; empty when unset (opening works on nothing, sealing refuses)."""
        raw = settings.encryption_keys
        return cls(parse_key_ring(raw.get_secret_value()) if raw is not None else [])

    def __repr__(self) -> str:
        return f"KeyRing(kids={list(self._kids)!r})"

    def __len__(self) -> int:
        return len(self._kids)

    @property
    def primary_kid(self) -> str:
        """The kid that seals; NoKeyRing when the ring is empty."""
        if not self._kids:
            raise NoKeyRing()
        return self._kids[0]

    def seal(self, secrets: Mapping[str, str], *, aad: str) -> str:
        """Encrypt `secrets` (as JSON) under the primary key, bound to `aad` (the owning row's id)."""
        kid = self.primary_kid
        for name, value in secrets.items():
            if not isinstance(name, str) or not isinstance(value, str):
                raise TypeError("secret names and values must be strings")
        plaintext = json.dumps(dict(secrets), separators=(",", ":")).encode("ascii")
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[kid].encrypt(nonce, plaintext, _aad(kid, aad))
        return f"{VERSION}:{kid}:{base64.urlsafe_b64encode(nonce + sealed).decode('ascii')}"

    def open(self, token: str, *, aad: str) -> dict[str, str]:
        """Decrypt a token sealed for the same `aad`; UnknownKey or Tampered rather than a wrong answer."""
        kid, blob = _split(token)
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise UnknownKey(kid)
        try:
            plaintext = cipher.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], _aad(kid, aad))
        except InvalidTag:
            raise Tampered() from None
        try:
            secrets = json.loads(plaintext)
        except ValueError:
            raise Tampered("is not a JSON object") from None
        if not isinstance(secrets, dict) or not all(isinstance(v, str) for v in secrets.values()):
            raise Tampered("is not a mapping of strings")
        return secrets

    def needs_rotation(self, token: str) -> bool:
        """True when the token is not sealed under the primary key: `vigil keys rotate` still has to move it."""
        return kid_of(token) != self.primary_kid

    def reseal(self, token: str, *, aad: str) -> str:
        """The same secrets sealed under the primary key with a fresh nonce (one step of `vigil keys rotate`)."""
        return self.seal(self.open(token, aad=aad), aad=aad)


def kid_of(token: str) -> str:
    """The key id a token was sealed with (no key needed); Tampered when it is not a token."""
    return _split(token)[0]


def generate_secret() -> str:
    """A fresh inbound secret: 32 random bytes, URL-safe base64 (43 characters, no padding)."""
    return _random.token_urlsafe(32)


def generate_id() -> str:
    """A fresh integration id: 128 random bits as lowercase hex, unguessable in a webhook URL."""
    return _random.token_hex(16)


def _aad(kid: str, aad: str) -> bytes:
    return _AAD_PREFIX + VERSION.encode() + b"\x00" + kid.encode() + b"\x00" + aad.encode("utf-8", "surrogatepass")


def _valid_kid(kid: str) -> bool:
    """What `parse_key_ring` accepts as a kid (so never ':' or ','); a token naming anything else is not ours."""
    return bool(kid) and kid.replace("-", "").replace("_", "").isalnum()


def _split(token: str) -> tuple[str, bytes]:
    version, _, rest = token.partition(":")
    kid, _, b64 = rest.partition(":")
    if version != VERSION or not _valid_kid(kid) or "+" in b64 or "/" in b64:
        raise Tampered("is not a sealed secret")
    try:
        blob = base64.b64decode(b64, altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise Tampered("is not a sealed secret") from None
    if len(blob) < NONCE_BYTES + TAG_BYTES:
        raise Tampered("is truncated")
    return kid, blob
