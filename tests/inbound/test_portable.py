"""`POST /hooks/{kind}/{id}` with the portable contract, over real HTTP: SPEC's order of checks, each refusal with its
status and no state change, de-duplication, and the alert-source door."""

from __future__ import annotations

import json
import time

from sqlalchemy import select

from db.models import Incident
from tests.inbound.conftest import Hooks, vigil_signature


async def test_a_signed_resolve_resolves_the_incident_through_the_incident_service(hooks: Hooks) -> None:
    incident = await hooks.declare()
    hooked = await hooks.add("webhook")
    status, body = await hooks.portable(
        hooked, {"external_ref": incident.external_key, "status": "resolved", "note": "fixed upstream"}
    )
    assert (status, body["ok"]) == (202, True), body
    await hooks.processed()
    [row] = await hooks.vigil.incidents()
    assert row.status == "resolved" and row.resolution == "fixed upstream"
    [entry] = await hooks.log()
    assert (entry.verified, entry.status, entry.incident_id) == (True, "done", incident.id)
    assert "resolved" in entry.outcome


async def test_inc_number_and_acknowledged(hooks: Hooks) -> None:
    incident = await hooks.declare()
    hooked = await hooks.add("webhook")
    status, _ = await hooks.portable(hooked, {"external_ref": f"INC-{incident.number}", "status": "acknowledged"})
    assert status == 202
    await hooks.processed()
    [row] = await hooks.vigil.incidents()
    assert row.acknowledged_at is not None


async def test_refusals_change_nothing(hooks: Hooks) -> None:
    incident = await hooks.declare()
    hooked = await hooks.add("webhook")
    good = json.dumps({"external_ref": incident.external_key, "status": "resolved"}).encode()
    secret = hooked.secrets["inbound_secret"]
    cases = {
        "forged": ({"X-Vigil-Signature": vigil_signature("not-the-secret", good)}, good, 401),
        "unsigned": ({}, good, 401),
        "stale": ({"X-Vigil-Signature": vigil_signature(secret, good, at=int(time.time()) - 3600)}, good, 401),
        "tampered": ({"X-Vigil-Signature": vigil_signature(secret, good)}, good.replace(b"resolved", b"acknowledged"), 401),
        "malformed json": ({"X-Vigil-Signature": vigil_signature(secret, b"{not json")}, b"{not json", 400),
        "bad status": (
            {"X-Vigil-Signature": vigil_signature(secret, b'{"external_ref": "x", "status": "nuked"}')},
            b'{"external_ref": "x", "status": "nuked"}',
            400,
        ),
        "not an object": ({"X-Vigil-Signature": vigil_signature(secret, b"[1, 2]")}, b"[1, 2]", 400),
        "deep": ({"X-Vigil-Signature": vigil_signature(secret, b"[" * 5000 + b"]" * 5000)}, b"[" * 5000 + b"]" * 5000, 400),
    }
    for name, (headers, body, expected) in cases.items():
        status, answer = await hooks.post(hooked, body, headers)
        assert status == expected, (name, answer)
    [row] = await hooks.vigil.incidents()
    assert row.status == "open" and row.acknowledged_at is None
    log = await hooks.log()
    assert [e.http_status for e in log] == [c[2] for c in cases.values()]
    assert all(e.status == "refused" and not e.instructions for e in log)
    assert [e.verified for e in log] == [False] * 4 + [True] * 4


async def test_unknown_or_disabled_integration_is_404_and_unknown_kind_too(hooks: Hooks) -> None:
    hooked = await hooks.add("webhook")
    body = b'{"external_ref": "x", "status": "resolved"}'
    sig = {"X-Vigil-Signature": vigil_signature(hooked.secrets["inbound_secret"], body)}
    assert (await hooks.post("0" * 32, body, sig, kind="webhook"))[0] == 404
    assert (await hooks.post(hooked.id, body, sig, kind="nosuch"))[0] == 404
    assert (await hooks.post(hooked.id, body, sig, kind="jira"))[0] == 404  # the kind is part of the URL
    assert (await hooks.post("../../etc", body, sig, kind="webhook"))[0] == 404
    await hooks.vigil.container.integrations.set_active(
        team_id=hooks.vigil.team_id, ref=hooked.id, active=False, user_id=None
    )
    assert (await hooks.post(hooked, body, sig))[0] == 404
    assert await hooks.log() == []


async def test_a_body_over_one_mebibyte_is_413(hooks: Hooks) -> None:
    hooked = await hooks.add("webhook")
    big = b'{"external_ref": "x", "status": "resolved", "note": "' + b"a" * (1024 * 1024) + b'"}'
    status, _ = await hooks.post(hooked, big, {"X-Vigil-Signature": vigil_signature(hooked.secrets["inbound_secret"], big)})
    assert status == 413
    assert await hooks.log() == []


async def test_a_resent_delivery_lands_once(hooks: Hooks) -> None:
    incident = await hooks.declare()
    hooked = await hooks.add("webhook")
    body = json.dumps({"external_ref": incident.external_key, "status": "triggered", "note": "still firing"}).encode()
    headers = {"X-Vigil-Signature": vigil_signature(hooked.secrets["inbound_secret"], body), "X-Vigil-Delivery": "d-1"}
    first = await hooks.post(hooked, body, headers)
    second = await hooks.post(hooked, body, headers)
    assert first[0] == 202 and second == (200, {"ok": True, "outcome": "duplicate: already received", "duplicate": True})
    await hooks.processed()
    assert len(await hooks.log()) == 1
    timeline = await hooks.vigil.container.queries.timeline(incident)
    assert [e.text for e in timeline if e.kind == "note"] == ["still firing"]


async def test_an_unknown_reference_is_202_and_logged(hooks: Hooks) -> None:
    hooked = await hooks.add("webhook")
    status, body = await hooks.portable(hooked, {"external_ref": "vigil-T0NOPE-12", "status": "resolved"})
    assert status == 202 and "no incident" in body["outcome"]
    [entry] = await hooks.log()
    assert entry.status == "ignored"


async def test_an_alert_source_opening_the_same_dedup_key_twice_gets_one_incident(hooks: Hooks) -> None:
    hooked = await hooks.add("webhook", "alertmanager")
    alert = {"status": "triggered", "title": "Checkout 5xx > 5%", "severity": "P2", "dedup_key": "checkout-5xx"}
    first = await hooks.portable(hooked, alert)
    second = await hooks.portable(hooked, {**alert, "note": "again"})
    assert first[0] == second[0] == 202
    await hooks.processed()
    incidents = await hooks.vigil.incidents()
    assert [(i.number, i.title, i.severity) for i in incidents] == [(1, "Checkout 5xx > 5%", "P2")]
    assert incidents[0].channel_id, "the alert's incident has its channel"
    log = await hooks.log()
    assert [e.outcome for e in log] == ["INC-1 opened", "INC-1 already open for this dedup_key"]
    # the same key from another source is another alert
    other = await hooks.add("webhook", "grafana")
    await hooks.portable(other, alert)
    await hooks.processed()
    assert len(await hooks.vigil.incidents()) == 2


async def test_concurrent_triggers_with_one_dedup_key_open_one_incident(hooks: Hooks) -> None:
    import asyncio

    hooked = await hooks.add("webhook", "alertmanager")
    alerts = [
        {"status": "triggered", "title": "Disk full", "severity": "P3", "dedup_key": "disk", "note": str(n)}
        for n in range(5)
    ]
    answers = await asyncio.gather(*(hooks.portable(hooked, a) for a in alerts))
    assert {a[0] for a in answers} == {202}
    await hooks.processed()
    async with hooks.vigil.container.sessions() as session:
        rows = (await session.scalars(select(Incident))).all()
    assert len(rows) == 1


async def test_the_token_works_only_once_turned_on_and_stops_when_turned_off(hooks: Hooks) -> None:
    incident = await hooks.declare()
    hooked = await hooks.add("servicenow")
    body = {"external_ref": incident.external_key, "status": "acknowledged"}
    service = hooks.vigil.container.integrations
    assert (await hooks.post(hooked, body, {"X-Vigil-Token": "guess"}))[0] == 401
    _, token = await service.set_inbound_token(team_id=hooks.vigil.team_id, user_id=None, ref=hooked.id, enabled=True)
    assert token and (await hooks.post(hooked, body, {"X-Vigil-Token": "guess"}))[0] == 401
    assert (await hooks.post(hooked, body, {"X-Vigil-Token": token}))[0] == 202
    await service.set_inbound_token(team_id=hooks.vigil.team_id, user_id=None, ref=hooked.id, enabled=False)
    assert (await hooks.post(hooked, {**body, "note": "x"}, {"X-Vigil-Token": token}))[0] == 401
    await hooks.processed()
    [row] = await hooks.vigil.incidents()
    assert row.acknowledged_at is not None
