"""Secrets at rest: sealed under the primary key, bound to their row, openable after rotation, and never leaking key
material or plaintext through an error or a repr."""

from __future__ import annotations

import base64
import os
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from bot.settings import Settings
from integrations.secret_box import (
    KeyRing,
    NoKeyRing,
    Tampered,
    UnknownKey,
    generate_id,
    generate_secret,
    kid_of,
)

OLD = ("k2023", bytes(range(32)))
NEW = ("k2024", bytes(range(32, 64)))
ROW = "3f6c0a2e9b7d4c1e8a5f2b6d9c0e7a41"
SECRETS = {"url": "https://prod.example/workflows/abc?sig=s3cr3t-sig", "security_token": "dG9rZW4="}


def ring(*keys: tuple[str, bytes]) -> KeyRing:
    return KeyRing(list(keys))


def test_seal_then_open_gives_the_secrets_back() -> None:
    keys = ring(NEW, OLD)
    token = keys.seal(SECRETS, aad=ROW)
    assert keys.open(token, aad=ROW) == SECRETS


def test_token_format_names_version_and_primary_kid_and_hides_the_plaintext() -> None:
    token = ring(NEW, OLD).seal(SECRETS, aad=ROW)
    version, kid, blob = token.split(":")
    assert (version, kid) == ("v1", "k2024")
    assert re.fullmatch(r"[A-Za-z0-9_=-]+", blob)
    raw = base64.urlsafe_b64decode(blob)
    assert len(raw) >= 12 + 16  # nonce + tag at least
    for value in SECRETS.values():
        assert value not in token
        assert value.encode() not in raw


def test_every_seal_uses_a_fresh_nonce() -> None:
    keys = ring(NEW)
    tokens = {keys.seal(SECRETS, aad=ROW) for _ in range(20)}
    assert len(tokens) == 20
    nonces = {base64.urlsafe_b64decode(t.split(":")[2])[:12] for t in tokens}
    assert len(nonces) == 20


@given(
    secrets=st.dictionaries(st.text(max_size=20), st.text(max_size=200), max_size=8),
    aad=st.text(max_size=40),
)
def test_round_trip_for_any_mapping(secrets: dict[str, str], aad: str) -> None:
    keys = ring(NEW, OLD)
    assert keys.open(keys.seal(secrets, aad=aad), aad=aad) == secrets


def test_a_token_copied_to_another_row_does_not_open() -> None:
    keys = ring(NEW)
    token = keys.seal(SECRETS, aad=ROW)
    with pytest.raises(Tampered):
        keys.open(token, aad="another-integration-id")


@pytest.mark.parametrize("position", [0, 5, 12, 20, -1])
def test_a_flipped_byte_is_tampered(position: int) -> None:
    keys = ring(NEW)
    token = keys.seal(SECRETS, aad=ROW)
    prefix, blob = token.rsplit(":", 1)
    raw = bytearray(base64.urlsafe_b64decode(blob))
    raw[position] ^= 0x01
    forged = f"{prefix}:{base64.urlsafe_b64encode(bytes(raw)).decode()}"
    with pytest.raises(Tampered):
        keys.open(forged, aad=ROW)


def test_a_token_relabelled_with_another_known_kid_is_tampered() -> None:
    keys = ring(NEW, OLD)
    token = keys.seal(SECRETS, aad=ROW)
    with pytest.raises(Tampered):
        keys.open(token.replace("k2024", "k2023", 1), aad=ROW)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "v1",
        "v1:k2024",
        "v1:k2024:",
        "v2:k2024:AAAA",
        "v1::AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "v1:k2024:not base64!",
        "v1:k2024:AAAA",  # shorter than nonce + tag
        "v1:k:2024:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "v1:k2024:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+/AA",  # standard, not urlsafe, alphabet
    ],
)
def test_malformed_tokens_are_tampered(token: str) -> None:
    with pytest.raises(Tampered):
        ring(NEW).open(token, aad=ROW)


def test_an_unknown_kid_names_the_key_to_add_back() -> None:
    token = ring(OLD).seal(SECRETS, aad=ROW)
    with pytest.raises(UnknownKey) as caught:
        ring(NEW).open(token, aad=ROW)
    assert caught.value.kid == "k2023"
    assert "k2023" in str(caught.value)
    assert "VIGIL_ENCRYPTION_KEYS" in str(caught.value)


def test_an_empty_ring_refuses_to_seal_with_the_command_that_makes_a_key() -> None:
    empty = KeyRing([])
    with pytest.raises(NoKeyRing, match=r"run `vigil keys generate`.*VIGIL_ENCRYPTION_KEYS"):
        empty.seal(SECRETS, aad=ROW)
    with pytest.raises(NoKeyRing):
        _ = empty.primary_kid
    assert len(empty) == 0


def test_rotation_moves_a_token_to_the_primary_kid() -> None:
    token = ring(OLD).seal(SECRETS, aad=ROW)
    rotated_ring = ring(NEW, OLD)
    assert rotated_ring.needs_rotation(token)
    moved = rotated_ring.reseal(token, aad=ROW)
    assert kid_of(moved) == "k2024" == rotated_ring.primary_kid
    assert not rotated_ring.needs_rotation(moved)
    # Once moved, the old key can leave the ring.
    assert ring(NEW).open(moved, aad=ROW) == SECRETS


def test_reseal_checks_the_row_binding_too() -> None:
    token = ring(OLD).seal(SECRETS, aad=ROW)
    with pytest.raises(Tampered):
        ring(NEW, OLD).reseal(token, aad="another-row")


def test_kid_of_reads_the_kid_without_a_key() -> None:
    assert kid_of(ring(OLD).seal({}, aad=ROW)) == "k2023"
    with pytest.raises(Tampered):
        kid_of("plaintext-password")


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ([("k1", b"short")], "32 bytes"),
        ([("k1", bytes(32)), ("k1", bytes(32))], "twice"),
        ([("k:1", bytes(32))], "key id"),
        ([("", bytes(32))], "key id"),
    ],
)
def test_bad_rings_are_refused_without_key_material(keys: list[tuple[str, bytes]], message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        KeyRing(keys)
    assert "\\x00" not in str(caught.value)


def test_from_settings_reads_the_ring_and_an_unset_one_is_empty() -> None:
    key = base64.b64encode(NEW[1]).decode()
    other = base64.b64encode(OLD[1]).decode()
    settings = Settings.model_construct(encryption_keys=SecretStr(f"k2024:{key},k2023:{other}"))
    keys = KeyRing.from_settings(settings)
    assert keys.primary_kid == "k2024"
    assert keys.open(ring(OLD).seal(SECRETS, aad=ROW), aad=ROW) == SECRETS
    assert len(KeyRing.from_settings(Settings.model_construct(encryption_keys=None))) == 0


def test_nothing_secret_in_reprs_or_errors() -> None:
    keys = ring(NEW, OLD)
    token = keys.seal(SECRETS, aad=ROW)
    texts = [repr(keys), str(keys)]
    for forged_aad in ("x", ROW + "x"):
        with pytest.raises(Tampered) as caught:
            keys.open(token, aad=forged_aad)
        texts.append(str(caught.value))
    with pytest.raises(UnknownKey) as unknown:
        ring(("other", os.urandom(32))).open(token, aad=ROW)
    texts.append(str(unknown.value))
    for text in texts:
        for value in SECRETS.values():
            assert value not in text
        for _, key in (NEW, OLD):
            assert key.hex() not in text
            assert base64.b64encode(key).decode() not in text
            assert repr(key) not in text
    assert repr(keys) == "KeyRing(kids=['k2024', 'k2023'])"


def test_generated_secrets_and_ids_are_random_and_url_safe() -> None:
    secrets = {generate_secret() for _ in range(50)}
    assert len(secrets) == 50
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", s) for s in secrets)
    assert len(base64.urlsafe_b64decode(next(iter(secrets)) + "=")) == 32
    ids = {generate_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
