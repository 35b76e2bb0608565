"""Hypothesis against every kind's webhook door: whatever the body and headers, never a 5xx, and nothing changes
without a valid signature; a correctly signed but arbitrary body is answered 2xx or 400, never a crash."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.inbound.conftest import Hooked, Hooks, hex_sig, teams_signature, vigil_signature

KINDS = ("webhook", "jira", "linear", "github", "teams", "servicenow", "opsgenie")
SIGNATURE_HEADERS = (
    "X-Vigil-Signature",
    "X-Vigil-Token",
    "X-PagerDuty-Signature",
    "X-Hub-Signature",
    "X-Hub-Signature-256",
    "Linear-Signature",
    "Authorization",
    "X-GitHub-Event",
    "Content-Type",
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries(
        {
            "status": st.sampled_from(["resolved", "acknowledged", "triggered", "x"]),
            "external_ref": json_values,
            "dedup_key": json_values,
            "title": json_values,
            "severity": json_values,
        }
    ).map(lambda v: json.dumps(v).encode()),
)
headers = st.dictionaries(
    st.sampled_from(SIGNATURE_HEADERS),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=80),
    max_size=4,
)


def signed(hooked: Hooked, body: bytes) -> dict[str, str]:
    """The headers the kind's own scheme wants, computed for `body`."""
    secrets = hooked.secrets
    if hooked.kind in ("webhook", "servicenow", "opsgenie"):
        return {"X-Vigil-Signature": vigil_signature(secrets["inbound_secret"], body)}
    if hooked.kind == "jira":
        return {"X-Hub-Signature": "sha256=" + hex_sig(secrets["signing_secret"], body)}
    if hooked.kind == "github":
        return {
            "X-Hub-Signature-256": "sha256=" + hex_sig(secrets["signing_secret"], body),
            "X-GitHub-Event": "pull_request",
        }
    if hooked.kind == "linear":
        return {"Linear-Signature": hex_sig(secrets["signing_secret"], body)}
    return {"Authorization": teams_signature(secrets["security_token"], body)}


async def snapshot(hooks: Hooks) -> list[tuple[Any, ...]]:
    return [(i.number, i.status, i.acknowledged_at, i.title) for i in await hooks.vigil.incidents()]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(KINDS), body=bodies, extra=headers, sign=st.booleans())
async def test_no_5xx_and_no_change_without_a_signature(
    hooks: Hooks, kind: str, body: bytes, extra: dict[str, str], sign: bool
) -> None:
    if not hasattr(hooks, "fuzzed"):
        hooks.fuzzed = {k: await hooks.add(k, f"fuzz-{k}") for k in KINDS}  # type: ignore[attr-defined]
        await hooks.declare()
    hooked: Hooked = hooks.fuzzed[kind]  # type: ignore[attr-defined]
    before = await snapshot(hooks)
    sent = {**extra, **(signed(hooked, body) if sign else {})}
    status, answer = await hooks.post(hooked, body, sent)
    assert status < 500, answer
    if not sign:
        assert status in (401, 400, 202, 200) or kind == "teams", answer
        if status == 401:
            await hooks.processed()
            assert await snapshot(hooks) == before
    elif kind == "linear":
        assert status in (200, 202, 400, 401), answer  # Linear also signs a timestamp in the body: none here is fresh
    else:
        assert status in (200, 202, 400), answer
    await hooks.processed()
