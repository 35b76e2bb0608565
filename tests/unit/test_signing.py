"""`X-Vigil-Signature`: the vendor test vector, sign → verify, rotation overlap, the time window, and a parser that
answers False (never raises) whatever arrives in the header."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from integrations.signing import hex_hmac, sign_header, verify_header

NOW = 1_730_556_191
BODY = b'{"id":"5d0a7a2e-6f7e-4a53-9d43-1b8e3c2f4a10","event":"test"}'
NEW = "new-secret-2024"
OLD = "old-secret-2023"


def test_hex_hmac_matches_the_vendor_reference_vector() -> None:
    expected = "629c5b4f3ca50d22a893a236367a715cf8148cbf7a749829c7d2eaf89ea74039"
    assert hex_hmac("s3cr3t", b'{"ok":true}') == expected
    assert hex_hmac(b"s3cr3t", b'{"ok":true}') == expected


def test_header_signs_timestamp_dot_body() -> None:
    header = sign_header(BODY, [NEW], timestamp=NOW)
    digest = hmac.new(NEW.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={NOW},v1={digest}"


def test_rotation_overlap_carries_new_then_old() -> None:
    header = sign_header(BODY, [NEW, OLD], timestamp=NOW)
    t, v_new, v_old = header.split(",")
    assert t == f"t={NOW}"
    assert v_new == "v1=" + hex_hmac(NEW, f"{NOW}.".encode() + BODY)
    assert v_old == "v1=" + hex_hmac(OLD, f"{NOW}.".encode() + BODY)


@pytest.mark.parametrize(
    ("signed_with", "verified_with", "ok"),
    [
        ([NEW], [NEW], True),
        ([NEW, OLD], [NEW], True),  # receiver already on the new secret
        ([NEW, OLD], [OLD], True),  # receiver still on the old one
        ([NEW], [NEW, OLD], True),  # Vigil verifying inbound during its own overlap
        ([OLD], [NEW, OLD], True),
        ([NEW], [OLD], False),
        (["someone-else"], [NEW, OLD], False),
        ([NEW], [], False),
        ([NEW], [""], False),
    ],
)
def test_which_secrets_verify(signed_with: list[str], verified_with: list[str], ok: bool) -> None:
    header = sign_header(BODY, signed_with, timestamp=NOW)
    assert verify_header(header, BODY, verified_with, now=NOW) is ok


@pytest.mark.parametrize(
    ("now", "ok"),
    [
        (NOW, True),
        (NOW + 300, True),
        (NOW - 300, True),  # a clock a little behind ours
        (NOW + 301, False),  # stale
        (NOW - 301, False),  # from the future
        (NOW + 86_400, False),
    ],
)
def test_the_time_window(now: int, ok: bool) -> None:
    header = sign_header(BODY, [NEW], timestamp=NOW)
    assert verify_header(header, BODY, [NEW], now=now) is ok


def test_tolerance_is_adjustable() -> None:
    header = sign_header(BODY, [NEW], timestamp=NOW)
    assert verify_header(header, BODY, [NEW], now=NOW + 60, tolerance=60)
    assert not verify_header(header, BODY, [NEW], now=NOW + 61, tolerance=60)


def test_a_tampered_body_fails() -> None:
    header = sign_header(BODY, [NEW], timestamp=NOW)
    assert not verify_header(header, BODY.replace(b"test", b"tesT"), [NEW], now=NOW)
    assert not verify_header(header, BODY + b" ", [NEW], now=NOW)
    assert not verify_header(header, b"", [NEW], now=NOW)


def test_a_changed_timestamp_fails_even_inside_the_window() -> None:
    header = sign_header(BODY, [NEW], timestamp=NOW)
    forged = header.replace(f"t={NOW}", f"t={NOW + 1}")
    assert not verify_header(forged, BODY, [NEW], now=NOW)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda h: h.upper(),  # "T=" and "V1=" are not the names
        lambda h: h.replace(",", ";"),
        lambda h: h.split(",")[0],  # no v1
        lambda h: h.split(",", 1)[1],  # no t
        lambda h: f"t={NOW}," + h,  # two t's
        lambda h: h[:-1],  # a short signature
        lambda h: h[:-1] + "g",  # not hex
        lambda h: h.replace(f"t={NOW}", f"t=+{NOW}"),
        lambda h: h.replace(f"t={NOW}", f"t={NOW}.0"),
        lambda h: h.replace(f"t={NOW}", "t=١٧٣٠٥٥٦١٩١"),  # Arabic-Indic digits are digits, not ASCII
        lambda h: h + ",garbage",
        lambda h: h + "," + ",".join(["v1=" + "0" * 64] * 8),  # too many signatures
        lambda h: h + " " * 3000,
    ],
)
def test_malformed_headers_are_refused(mangle: Callable[[str], str]) -> None:
    header = sign_header(BODY, [NEW], timestamp=NOW)
    assert verify_header(header, BODY, [NEW], now=NOW)
    assert verify_header(mangle(header), BODY, [NEW], now=NOW) is False


def test_tolerated_variations() -> None:
    header = sign_header(BODY, [NEW], timestamp=NOW)
    t, v1 = header.split(",")
    assert verify_header(f"{v1},{t}", BODY, [NEW], now=NOW)  # order does not matter
    assert verify_header(f" {t} , {v1.upper().replace('V1=', 'v1=')} ", BODY, [NEW], now=NOW)
    assert verify_header(f"{t},v0=abc,{v1},v2=future", BODY, [NEW], now=NOW)  # other schemes are ignored
    assert verify_header(f"{t},v1={'0' * 64},{v1}", BODY, [NEW], now=NOW)  # any v1 may match


@pytest.mark.parametrize("header", [None, "", ",", "=", "t=", "v1=", "t=1,v1=", "\x00"])
def test_missing_or_empty_headers_are_refused(header: str | None) -> None:
    assert verify_header(header, BODY, [NEW], now=NOW) is False


@given(header=st.text(max_size=300), body=st.binary(max_size=64), now=st.integers(min_value=0, max_value=2**40))
@example(header="t=1,v1=" + "é" * 64, body=b"", now=1)
@example(header="t=99999999999999999999999,v1=" + "0" * 64, body=b"", now=1)
def test_verify_never_raises(header: str, body: bytes, now: int) -> None:
    assert verify_header(header, body, [NEW, OLD], now=now) in (True, False)


@given(
    body=st.binary(max_size=512),
    secrets=st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=2),
    timestamp=st.integers(min_value=0, max_value=2**33),
    drift=st.integers(min_value=-300, max_value=300),
)
def test_sign_then_verify_round_trip(body: bytes, secrets: list[str], timestamp: int, drift: int) -> None:
    header = sign_header(body, secrets, timestamp=timestamp)
    assert verify_header(header, body, secrets, now=timestamp + drift)
    for secret in secrets:
        assert verify_header(header, body, [secret], now=timestamp + drift)


@given(body=st.binary(min_size=1, max_size=256), index=st.integers(min_value=0), bit=st.integers(min_value=0, max_value=7))
def test_any_flipped_bit_in_the_body_fails(body: bytes, index: int, bit: int) -> None:
    header = sign_header(body, [NEW], timestamp=NOW)
    flipped = bytearray(body)
    flipped[index % len(body)] ^= 1 << bit
    assert not verify_header(header, bytes(flipped), [NEW], now=NOW)


@pytest.mark.parametrize("secrets", [[], [""], [NEW, ""]])
def test_signing_needs_real_secrets(secrets: list[str]) -> None:
    with pytest.raises(ValueError, match="secret"):
        sign_header(BODY, secrets, timestamp=NOW)
