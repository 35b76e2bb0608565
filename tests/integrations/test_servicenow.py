"""The servicenow kind against a fake instance through the real outbox and worker: one record per incident however
often a delivery is re-sent (correlation_id), urgency and impact from the severity, resolve with state 6, the
one-row test read, the outbound guard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.incidents import events
from db.models import Incident, IntegrationLink
from integrations.service import IntegrationInput, Problems
from tests.fakes.servicenow import FakeServiceNow
from tests.integrations.platform import TEAM, Platform, make_platform

USER = "vigil.integration"
PASSWORD = "snow-pw"
KEY7 = f"vigil-{TEAM}-7"


@pytest.fixture
async def snow(https_server: Any) -> FakeServiceNow:
    return FakeServiceNow(await https_server(), username=USER, password=PASSWORD)


async def add_snow(platform: Platform, fake: FakeServiceNow, name: str = "snow", **settings: str) -> Any:
    change = IntegrationInput(
        name=name,
        settings={"instance_url": fake.url, "username": USER, **settings},
        secrets={"password": PASSWORD},
    )
    return (await platform.service.add(team_id=TEAM, user_id=None, kind="servicenow", change=change)).integration


async def links(platform: Platform) -> list[IntegrationLink]:
    async with platform.container.sessions() as session:
        return list((await session.scalars(select(IntegrationLink))).all())


async def set_resolution(platform: Platform, incident: Incident, text: str) -> None:
    async with platform.container.sessions() as session, session.begin():
        row = await session.get(Incident, incident.id)
        assert row is not None
        row.resolution = text


def posts(fake: FakeServiceNow) -> int:
    return len(fake.calls("create"))


async def test_an_incident_lifecycle_is_one_record_resolved_with_state_6(platform: Platform, snow: FakeServiceNow) -> None:
    await add_snow(platform, snow, close_code="Workaround provided")
    incident = await platform.open_incident(7, severity="P2")
    await platform.change(incident, events.ACKNOWLEDGED)  # not sent: a ServiceNow incident has no such step
    assert await platform.drain() == 1
    [record] = snow.records.values()
    assert record["correlation_id"] == KEY7 and record["correlation_display"] == "Vigil"
    assert record["short_description"] == "[INC-7] Incident 7"
    assert (record["urgency"], record["impact"], record["state"]) == ("2", "2", "1")
    assert "https://acme.slack.com/archives/C0INC" in record["description"]
    [lookup] = snow.calls("list")
    assert lookup.query["sysparm_query"] == f"correlation_id={KEY7}" and lookup.query["sysparm_limit"] == "1"

    await platform.change(incident, events.UPDATED, severity="P1", title="Checkout is down")
    await platform.drain()
    assert record["short_description"] == "[INC-7] Checkout is down"
    assert (record["urgency"], record["impact"]) == ("1", "1")

    await set_resolution(platform, incident, "Rolled back the deploy.")
    await platform.change(incident, events.RESOLVED, status="resolved", previous_status="investigating")
    await platform.drain()
    assert record["state"] == "6" and record["close_code"] == "Workaround provided"
    assert record["close_notes"] == "Rolled back the deploy."
    patches = len(snow.calls("update"))

    await platform.change(incident, events.CLOSED, status="closed", previous_status="resolved")
    await platform.drain()
    assert len(snow.calls("update")) == patches, "already resolved: nothing written, and a success"

    assert posts(snow) == 1 and len(snow.records) == 1 and len(snow.calls("list")) == 1
    assert [(d.event, d.status) for d in await platform.deliveries()] == [
        ("incident.opened", "success"),
        ("incident.updated", "success"),
        ("incident.resolved", "success"),
        ("incident.closed", "success"),
    ]
    [link] = await links(platform)
    assert link.external_id == record["sys_id"] and link.data == {"number": record["number"]}
    assert link.external_url == f"{snow.url}/incident.do?sys_id={record['sys_id']}"


@pytest.mark.parametrize(("severity", "level"), [("P3", "3"), ("P4", "3"), ("P5", "3")])
async def test_p3_to_p5_are_urgency_and_impact_3(
    platform: Platform, snow: FakeServiceNow, severity: str, level: str
) -> None:
    await add_snow(platform, snow)
    await platform.open_incident(1, severity=severity)
    await platform.drain()
    [record] = snow.records.values()
    assert (record["urgency"], record["impact"]) == (level, level)


async def test_closing_without_a_resolution_writes_the_default_note(platform: Platform, snow: FakeServiceNow) -> None:
    await add_snow(platform, snow)
    incident = await platform.open_incident(7)
    await platform.change(incident, events.CLOSED, status="closed", previous_status="open")
    await platform.drain()
    [record] = snow.records.values()
    assert (record["state"], record["close_code"]) == ("6", "Solution provided")
    assert record["close_notes"] == "INC-7 was closed in Vigil."


async def test_a_reopened_incident_puts_the_record_back_in_progress(platform: Platform, snow: FakeServiceNow) -> None:
    await add_snow(platform, snow)
    incident = await platform.open_incident(7)
    await platform.change(incident, events.RESOLVED, status="resolved", previous_status="open")
    await platform.change(incident, events.REOPENED, status="investigating", previous_status="resolved")
    await platform.drain()
    [record] = snow.records.values()
    assert record["state"] == "2" and len(snow.records) == 1


async def test_429_and_500_are_retried_by_the_worker_and_one_record_exists(platform: Platform, snow: FakeServiceNow) -> None:
    await add_snow(platform, snow)
    snow.route("create").respond(429, json={"error": {"message": "Too many requests"}}, headers={"Retry-After": "0"})
    snow.route("create").respond(500, json={"error": {"message": "Internal error"}, "status": "failure"})
    await platform.open_incident(7)
    assert await platform.drain() == 2
    [delivery] = await platform.deliveries()
    assert delivery.status == "retrying" and delivery.error == (
        f"{snow.url}/api/now/table/incident answered 500: Internal error"
    )
    platform.clock.advance(minutes=5)
    assert await platform.drain() == 1
    [delivery] = await platform.deliveries()
    assert [h["http_status"] for h in delivery.history] == [429, 500, 201] and delivery.status == "success"
    assert posts(snow) == 3 and len(snow.records) == 1
    assert len(snow.calls("list")) == 3, "every attempt looks for the correlation id before creating"


async def test_a_crash_after_servicenow_created_the_record_does_not_create_a_second(
    platform: Platform, snow: FakeServiceNow
) -> None:
    await add_snow(platform, snow)
    await platform.open_incident(7)

    def crash(outcomes: Any) -> None:
        raise RuntimeError("killed after ServiceNow answered")

    platform.worker.before_record = crash
    with pytest.raises(RuntimeError):
        await platform.worker.run_once()
    assert len(snow.records) == 1 and await links(platform) == []

    restarted = platform.another_worker()
    platform.clock.advance(seconds=61)
    assert await restarted.run_once() == 1
    [record] = snow.records.values()
    assert posts(snow) == 1
    [delivery] = await platform.deliveries()
    assert (delivery.status, delivery.attempts, delivery.external_id) == ("success", 1, record["sys_id"])
    [link] = await links(platform)
    assert link.external_id == record["sys_id"]


@pytest.mark.parametrize("state", ["6", "7"])
async def test_a_record_already_resolved_or_closed_counts_as_resolved(
    platform: Platform, snow: FakeServiceNow, state: str
) -> None:
    await add_snow(platform, snow)
    incident = await platform.open_incident(7)
    await platform.drain()
    [sys_id] = snow.records
    snow.set_state(sys_id, state)
    await platform.change(incident, events.RESOLVED, status="resolved", previous_status="open")
    await platform.drain()
    [_, resolved] = await platform.deliveries()
    assert (resolved.status, resolved.attempts) == ("success", 1)
    assert snow.calls("update") == [] and snow.records[sys_id]["state"] == state
    assert [r.path for r in snow.calls("get")] == [f"/api/now/table/incident/{sys_id}"]


async def test_the_test_event_and_check_read_one_row_only(platform: Platform, snow: FakeServiceNow) -> None:
    await add_snow(platform, snow)
    sent = await platform.service.test(team_id=TEAM, user_id=None, ref="snow")
    assert (sent.status, sent.http_status, sent.payload) == ("success", 200, {"read": "incident", "rows": 0})
    [line] = await platform.service.check(team_id=TEAM)
    assert (
        line.ok
        and line.line == f"servicenow: authenticated as {USER}; incident table readable (no rows visible to this user)"
    )
    assert [(r.method, r.path, r.query.get("sysparm_limit")) for r in snow.server.requests] == [
        ("GET", "/api/now/table/incident", "1")
    ] * 2
    assert snow.records == {}


async def test_a_wrong_password_fails_at_once_without_showing_it(platform: Platform, snow: FakeServiceNow) -> None:
    snow.password = "rotated"
    await add_snow(platform, snow)
    await platform.open_incident(7)
    assert await platform.drain() == 1
    [delivery] = await platform.deliveries()
    assert (delivery.status, delivery.attempts, delivery.http_status) == ("failed", 1, 401)
    assert delivery.error == (
        f"{snow.url}/api/now/table/incident answered 401: User Not Authenticated — Required to provide Auth information"
    )
    assert PASSWORD not in str(delivery.history) and "correlation_id" not in (delivery.error or "")


async def test_a_refused_create_fails_at_once(platform: Platform, snow: FakeServiceNow) -> None:
    await add_snow(platform, snow)
    snow.route("create").respond(400, json={"error": {"message": "Invalid urgency"}, "status": "failure"})
    await platform.open_incident(7)
    assert await platform.drain() == 1
    [delivery] = await platform.deliveries()
    assert (delivery.status, delivery.http_status) == ("failed", 400) and snow.records == {}
    assert delivery.payload is not None and delivery.payload["create"]["correlation_id"] == KEY7


async def test_loopback_is_refused_without_allow_private(db_url: str, ca_bundle: Path, snow: FakeServiceNow) -> None:
    p = await make_platform(db_url, ca_bundle, VIGIL_OUTBOUND_ALLOW_PRIVATE="false")
    try:
        change = IntegrationInput(
            name="snow",
            settings={"instance_url": snow.server.url_for("", host="localhost"), "username": USER},
            secrets={"password": PASSWORD},
        )
        await p.service.add(team_id=TEAM, user_id=None, kind="servicenow", change=change)
        await p.open_incident(1)
        assert await p.drain() == 1
        [delivery] = await p.deliveries()
        assert delivery.status == "failed" and (delivery.error or "").startswith("refused: localhost resolves to")
        assert snow.server.connections == 0
    finally:
        await p.container.aclose()


async def test_settings_are_parsed_by_their_fields_and_bad_ones_refused_by_key(
    platform: Platform, snow: FakeServiceNow
) -> None:
    view = await add_snow(platform, snow)
    assert view.config == {"instance_url": snow.url, "username": USER, "close_code": "Solution provided"}
    assert view.include_private is False
    bad = IntegrationInput(
        name="bad",
        settings={"instance_url": snow.url + "/now/nav/ui", "username": "vigil:bot"},
        secrets={"password": PASSWORD},
    )
    with pytest.raises(Problems) as refused:
        await platform.service.add(team_id=TEAM, user_id=None, kind="servicenow", change=bad)
    assert refused.value.problems == [
        "instance_url: the instance's base URL only, e.g. https://acme.service-now.com",
        "username: a user name without ':' (basic authentication cannot carry one)",
    ]
    missing = IntegrationInput(name="bad", settings={"instance_url": "ftp://acme.service-now.com"})
    assert platform.service.check_change(kind="servicenow", change=missing, editing=False) == [
        "instance_url: refused: ftp:// is not allowed (https:// only)",
        "username: required for servicenow",
        "password: required for servicenow",
    ]
