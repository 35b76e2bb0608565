"""The pagerduty kind through the real outbox and worker against a fake PagerDuty over HTTPS: one alert per incident
and target under the external key, acknowledged and resolved the way it was paged; the threshold; private
redaction; components' own routing keys; `page` through the REST API; re-sends after a crash; 429, 500 and 400;
the harmless test and check; the outbound guard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.incidents import events
from bot.incidents.errors import InvalidInput
from db.models import Component, IncidentPage, PagerDutyService, TimelineEvent, User
from integrations.service import IntegrationInput, Problems
from tests.fakes.pagerduty import ROUTING_KEY, TOKEN, FakePagerDuty
from tests.integrations.platform import TEAM, Platform, make_platform

FROM = "oncall-bot@acme.example"
OTHER_KEY = "C" * 32  # a component's own routing key


@pytest.fixture
async def pd(https_server: Any) -> FakePagerDuty:
    return FakePagerDuty(await https_server())


async def add_pagerduty(
    platform: Platform,
    fake: FakePagerDuty,
    *,
    routing_key: str | None = ROUTING_KEY,
    api_token: str | None = None,
    name: str = "pagerduty",
    **settings: str,
) -> Any:
    secrets = {k: v for k, v in (("routing_key", routing_key), ("api_token", api_token)) if v}
    change = IntegrationInput(name=name, settings={"events_url": fake.url, "api_url": fake.url, **settings}, secrets=secrets)
    return (await platform.service.add(team_id=TEAM, user_id=None, kind="pagerduty", change=change)).integration


async def pages(platform: Platform) -> list[IncidentPage]:
    async with platform.container.sessions() as session:
        return list((await session.scalars(select(IncidentPage).order_by(IncidentPage.id))).all())


async def add_component(platform: Platform, name: str = "checkout") -> int:
    async with platform.container.sessions() as session, session.begin():
        component = Component(team_id=TEAM, name=name, usergroup_ids=[])
        session.add(component)
        await session.flush()
        return component.id


async def add_services(platform: Platform, integration_id: str, *services: tuple[str, str]) -> None:
    """Directory rows as a sync would leave them (the sync itself is tested in test_pagerduty_sync)."""
    async with platform.container.sessions() as session, session.begin():
        for pd_id, name in services:
            session.add(
                PagerDutyService(
                    team_id=TEAM, integration_id=integration_id, pd_id=pd_id, name=name, synced_at=platform.clock.now()
                )
            )


async def set_target(
    platform: Platform, component: int, service_id: str | None, routing_key: str | None, *, keep: bool = False
) -> str:
    return str(
        await platform.container.pagerduty.set_component_target(
            team_id=TEAM,
            actor_id=None,
            component_id=component,
            service_id=service_id,
            routing_key=routing_key,
            keep_routing_key=keep,
        )
    )


def key(number: int) -> str:
    return f"vigil-{TEAM}-{number}"


def crash(outcomes: Any) -> None:
    raise RuntimeError("killed after PagerDuty answered")


async def test_a_p1_pages_once_and_is_acknowledged_and_resolved_with_it(platform: Platform, pd: FakePagerDuty) -> None:
    await add_pagerduty(platform, pd)
    incident = await platform.open_incident(7, severity="P1")
    assert await platform.drain() == 1

    [alert] = pd.alerts
    assert (alert["routing_key"], alert["dedup_key"], alert["status"]) == (ROUTING_KEY, key(7), "triggered")
    payload = alert["payload"]
    assert (payload["summary"], payload["severity"], payload["source"]) == ("[INC-7] Incident 7", "critical", "Vigil")
    assert payload["custom_details"]["slack"] == "https://acme.slack.com/archives/C0INC"
    assert alert["links"] == [{"href": "https://acme.slack.com/archives/C0INC", "text": "INC-7 in Slack"}]
    [delivery] = await platform.deliveries()
    assert (delivery.status, delivery.http_status) == ("success", 202)
    assert delivery.payload is not None and delivery.payload["routing_key"] == "••••"
    assert ROUTING_KEY not in str(delivery.payload) and ROUTING_KEY not in str(delivery.history)
    [page] = await pages(platform)
    assert (page.incident_id, page.target, page.method, page.dedup_key, page.status) == (
        incident.id,
        "routing:integration",
        "events",
        key(7),
        "triggered",
    )

    await platform.change(incident, events.ACKNOWLEDGED)
    await platform.drain()
    assert alert["status"] == "acknowledged"
    await platform.change(incident, events.RESOLVED, status="resolved", previous_status="open")
    await platform.drain()
    assert alert["status"] == "resolved" and alert["log"] == ["acknowledge", "resolve"]
    await platform.change(incident, events.CLOSED, status="closed", previous_status="resolved")
    await platform.drain()

    assert len(pd.alerts) == 1
    assert [e["event_action"] for e in pd.events()] == ["trigger", "acknowledge", "resolve"]
    assert {e["dedup_key"] for e in pd.events()} == {key(7)}
    [page] = await pages(platform)
    assert page.status == "resolved"
    assert [d.status for d in await platform.deliveries()] == ["success"] * 4


async def test_a_p4_pages_nobody_and_nothing_is_acknowledged_for_it(platform: Platform, pd: FakePagerDuty) -> None:
    await add_pagerduty(platform, pd)
    incident = await platform.open_incident(3, severity="P4")
    await platform.change(incident, events.ACKNOWLEDGED)
    await platform.change(incident, events.RESOLVED, status="resolved", previous_status="open")
    assert await platform.drain() == 3
    assert pd.server.requests == [] and await pages(platform) == []
    opened, acked, resolved = await platform.deliveries()
    assert opened.status == "success" and "below the severity threshold P2" in opened.history[0]["note"]
    assert acked.history[0]["note"] == "no page to acknowledge" and resolved.history[0]["note"] == "no page to resolve"


async def test_a_severity_change_across_the_threshold_pages_once(platform: Platform, pd: FakePagerDuty) -> None:
    await add_pagerduty(platform, pd, severity_threshold="P2")
    incident = await platform.open_incident(4, severity="P3")
    await platform.drain()
    assert pd.alerts == []
    await platform.change(incident, events.UPDATED, severity="P2")
    await platform.drain()
    [alert] = pd.alerts
    assert (alert["dedup_key"], alert["payload"]["severity"]) == (key(4), "error")
    await platform.change(incident, events.UPDATED, severity="P1")  # already paged: nothing new
    await platform.change(incident, events.UPDATED, title="Checkout is down")
    await platform.drain()
    assert len(pd.events()) == 1
    [*_, raised, retitled] = await platform.deliveries()
    assert raised.history[0]["note"].startswith("already paged")
    assert retitled.history[0]["note"] == "nothing to send to PagerDuty for incident.updated"


async def test_a_private_incident_pages_with_a_redacted_summary(platform: Platform, pd: FakePagerDuty) -> None:
    created = await add_pagerduty(platform, pd)
    assert created.include_private, "pagers page private incidents by default"
    component = await add_component(platform, "payroll")
    await platform.open_incident(9, severity="P1", private=True, component_id=component)
    await platform.drain()
    [alert] = pd.alerts
    assert alert["payload"]["summary"] == "[INC-9] Private incident: details in Slack"
    assert "Incident 9" not in str(alert) and "payroll" not in str(alert)


async def test_a_components_own_routing_key_pages_and_moves_its_alert(platform: Platform, pd: FakePagerDuty) -> None:
    integration = await add_pagerduty(platform, pd, api_token=TOKEN)
    await add_services(platform, integration.id, ("PCHECK1", "Checkout"))
    component = await add_component(platform)
    said = await set_target(platform, component, "PCHECK1", OTHER_KEY)
    assert said == "checkout now pages Checkout with its own routing key."
    incident = await platform.open_incident(5, severity="P1", component_id=component)
    await platform.change(incident, events.ACKNOWLEDGED)
    await platform.change(incident, events.RESOLVED, status="resolved", previous_status="open")
    await platform.drain()

    [alert] = pd.alerts
    assert (alert["routing_key"], alert["status"], alert["log"]) == (OTHER_KEY, "resolved", ["acknowledge", "resolve"])
    assert {e["routing_key"] for e in pd.events()} == {OTHER_KEY}, "the integration's key pages nothing here"
    [page] = await pages(platform)
    assert (page.target, page.service_id, page.status) == (f"routing:component:{component}", "PCHECK1", "resolved")
    async with platform.container.sessions() as session:
        stored = await session.get(Component, component)
        assert stored is not None and stored.pagerduty_routing_key and OTHER_KEY not in stored.pagerduty_routing_key


async def test_a_components_service_is_paged_through_the_rest_api(platform: Platform, pd: FakePagerDuty) -> None:
    integration = await add_pagerduty(platform, pd, routing_key=None, api_token=TOKEN, from_email=FROM)
    pd.add_service("PCHECK1", "Checkout")
    await add_services(platform, integration.id, ("PCHECK1", "Checkout"))
    component = await add_component(platform)
    await set_target(platform, component, "pcheck1", None)
    incident = await platform.open_incident(6, severity="P2", component_id=component)
    await platform.drain()
    [created] = pd.incidents
    assert (created["incident_key"], created["title"], created["urgency"], created["from"]) == (
        key(6),
        "[INC-6] Incident 6",
        "high",
        FROM,
    )
    await platform.change(incident, events.ACKNOWLEDGED)
    await platform.drain()
    await platform.change(incident, events.RESOLVED, status="resolved", previous_status="open")
    await platform.drain()
    assert created["status"] == "resolved"
    assert [f"{r.method} {r.path}" for r in pd.server.requests] == [
        "POST /incidents",
        f"PUT /incidents/{created['id']}",
        f"PUT /incidents/{created['id']}",
    ]
    [page] = await pages(platform)
    assert (page.method, page.pd_incident_id, page.pd_incident_url, page.status) == (
        "rest",
        created["id"],
        created["html_url"],
        "resolved",
    )


async def test_page_of_a_named_service_outside_any_incident_goes_through_rest(platform: Platform, pd: FakePagerDuty) -> None:
    integration = await add_pagerduty(platform, pd, api_token=TOKEN, from_email=FROM)
    pd.add_service("PDB0001", "Database")
    await add_services(platform, integration.id, ("PDB0001", "Database"), ("PWEB001", "Web"))
    async with platform.container.sessions() as session, session.begin():
        session.add(User(team_id=TEAM, id="U0BOB", name="bob", real_name="Bob Smith"))

    queued = await platform.container.pagerduty.page(team_id=TEAM, actor_id="U0BOB", incident_id=None, service="database")
    assert (queued.target, queued.via, queued.incident, queued.integration) == ("Database", "rest", None, "pagerduty")
    assert await platform.drain() == 1

    [created] = pd.incidents
    assert created["service"]["id"] == "PDB0001" and created["title"] == "Bob Smith paged Database from Slack"
    assert created["incident_key"].startswith(f"vigil-{TEAM}-page-")
    [request] = pd.calls("POST", "/incidents")
    assert request.headers["From"] == FROM and request.headers["Authorization"] == f"Token token={TOKEN}"
    assert pd.alerts == [], "a named service is paged through the REST API, not the routing key"
    [delivery] = await platform.deliveries()
    assert (delivery.event, delivery.incident_id, delivery.status, delivery.http_status) == ("page", None, "success", 201)
    [page] = await pages(platform)
    assert (page.incident_id, page.target, page.pd_incident_id, page.paged_by) == (
        None,
        "service:PDB0001",
        created["id"],
        "U0BOB",
    )


async def test_page_during_an_incident_is_on_its_timeline_and_resolved_with_it(
    platform: Platform, pd: FakePagerDuty
) -> None:
    integration = await add_pagerduty(platform, pd, api_token=TOKEN, from_email=FROM)
    pd.add_service("PDB0001", "Database")
    await add_services(platform, integration.id, ("PDB0001", "Database"))
    incident = await platform.open_incident(8, severity="P4")  # below the threshold: no automatic page

    default = await platform.container.pagerduty.page(
        team_id=TEAM, actor_id="U0ALICE", incident_id=incident.id, service=None
    )
    named = await platform.container.pagerduty.page(
        team_id=TEAM, actor_id="U0ALICE", incident_id=incident.id, service="PDB0001"
    )
    assert (default.target, default.via, default.incident) == ("the on-call of pagerduty", "events", "INC-8")
    assert (named.target, named.via) == ("Database", "rest")
    await platform.drain()
    [alert] = pd.alerts
    assert alert["dedup_key"] == key(8) and alert["payload"]["custom_details"]["paged_by"] == "U0ALICE"
    [created] = pd.incidents
    assert created["incident_key"] == key(8)
    async with platform.container.sessions() as session:
        notes = (await session.scalars(select(TimelineEvent.text).where(TimelineEvent.kind == "page"))).all()
    assert list(notes) == ["Paged the on-call of pagerduty (PagerDuty)", "Paged Database (PagerDuty)"]

    await platform.change(incident, events.RESOLVED, status="resolved", previous_status="open")
    await platform.drain()
    assert alert["status"] == "resolved" and created["status"] == "resolved"
    assert {(p.target, p.status) for p in await pages(platform)} == {
        ("routing:integration", "resolved"),
        ("service:PDB0001", "resolved"),
    }


async def test_an_asked_for_page_is_resolved_even_when_the_filters_leave_the_incident_out(
    platform: Platform, pd: FakePagerDuty
) -> None:
    await add_pagerduty(platform, pd)
    await platform.service.update(team_id=TEAM, user_id=None, ref="pagerduty", change=IntegrationInput(min_severity="P1"))
    incident = await platform.open_incident(5, severity="P3")
    await platform.container.pagerduty.page(team_id=TEAM, actor_id="U0ALICE", incident_id=incident.id, service=None)
    await platform.drain()
    [alert] = pd.alerts
    await platform.change(incident, events.ACKNOWLEDGED)
    await platform.change(incident, events.RESOLVED, status="resolved", previous_status="open")
    await platform.drain()
    assert alert["log"] == ["acknowledge", "resolve"]
    assert [d.event for d in await platform.deliveries()] == ["incident.paged", "incident.acknowledged", "incident.resolved"]
    other = await platform.open_incident(6, severity="P3")
    await platform.change(other, events.RESOLVED, status="resolved", previous_status="open")
    assert len(await platform.deliveries()) == 3, "an incident nobody paged stays filtered out"


async def test_a_rest_page_re_sent_after_a_crash_is_one_pagerduty_incident(platform: Platform, pd: FakePagerDuty) -> None:
    integration = await add_pagerduty(platform, pd, api_token=TOKEN, from_email=FROM)
    pd.add_service("PDB0001", "Database")
    await add_services(platform, integration.id, ("PDB0001", "Database"))
    incident = await platform.open_incident(2, severity="P4")
    await platform.drain()
    await platform.container.pagerduty.page(team_id=TEAM, actor_id="U0ALICE", incident_id=incident.id, service="Database")

    platform.worker.before_record = crash
    with pytest.raises(RuntimeError):
        await platform.worker.run_once()
    assert len(pd.incidents) == 1 and await pages(platform) == []

    platform.worker.before_record = None
    platform.clock.advance(seconds=61)
    assert await platform.another_worker().run_once() == 1
    [created] = pd.incidents
    assert len(pd.calls("POST", "/incidents")) == 2, "re-sent with the same incident_key, and refused as a duplicate"
    assert pd.calls("POST", "/incidents")[0].json() == pd.calls("POST", "/incidents")[1].json()
    [*_, delivery] = await platform.deliveries()
    assert (delivery.status, delivery.attempts, delivery.http_status) == ("success", 1, 400)
    [page] = await pages(platform)
    assert page.pd_incident_id == created["id"], "the incident PagerDuty already had is found by its key"

    await platform.change(incident, events.RESOLVED, status="resolved", previous_status="open")
    await platform.drain()
    assert created["status"] == "resolved"


async def test_a_trigger_re_sent_after_a_crash_folds_into_the_alert(platform: Platform, pd: FakePagerDuty) -> None:
    await add_pagerduty(platform, pd)
    await platform.open_incident(3, severity="P1")
    platform.worker.before_record = crash
    with pytest.raises(RuntimeError):
        await platform.worker.run_once()
    platform.clock.advance(seconds=61)
    assert await platform.another_worker().run_once() == 1
    [alert] = pd.alerts
    assert alert["count"] == 2 and len(pd.events()) == 2
    [page] = await pages(platform)
    assert page.status == "triggered"


async def test_429_and_500_are_retried_by_the_outbox_not_by_the_library(platform: Platform, pd: FakePagerDuty) -> None:
    await add_pagerduty(platform, pd)
    enqueue = pd.server.route("/v2/enqueue")
    enqueue.respond(429, json={"status": "throttle event"}, headers={"ratelimit-reset": "0"})
    enqueue.respond(500, json={"status": "error"})
    await platform.open_incident(3, severity="P1")
    assert await platform.drain() == 2  # the 429 asked for no wait; the 500 waits for the backoff
    assert len(pd.events()) == 2, "the library sent each attempt once"
    [delivery] = await platform.deliveries()
    assert (delivery.status, delivery.http_status) == ("retrying", 500)
    platform.clock.advance(minutes=5)
    assert await platform.drain() == 1
    [delivery] = await platform.deliveries()
    assert [h["http_status"] for h in delivery.history] == [429, 500, 202]
    assert delivery.status == "success" and len(pd.alerts) == 1


async def test_a_refused_event_fails_at_once_with_pagerdutys_words(platform: Platform, pd: FakePagerDuty) -> None:
    await add_pagerduty(platform, pd)
    pd.server.route("/v2/enqueue").respond(
        400,
        json={"status": "invalid event", "message": "Event object is invalid", "errors": ["'summary' is too long"]},
    )
    await platform.open_incident(3, severity="P1")
    assert await platform.drain() == 1
    [delivery] = await platform.deliveries()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 1, None)
    assert delivery.error == f"{pd.url}/v2/enqueue answered 400: Event object is invalid 'summary' is too long"
    assert (
        ROUTING_KEY not in str(delivery.error) and delivery.payload is not None and delivery.payload["routing_key"] == "••••"
    )


async def test_a_wrong_token_fails_at_once_without_showing_it(platform: Platform, pd: FakePagerDuty) -> None:
    integration = await add_pagerduty(platform, pd, api_token="wrong-and-secret-token", from_email=FROM)
    pd.add_service("PDB0001", "Database")
    await add_services(platform, integration.id, ("PDB0001", "Database"))
    await platform.container.pagerduty.page(team_id=TEAM, actor_id=None, incident_id=None, service="Database")
    await platform.drain()
    [delivery] = await platform.deliveries()
    assert (delivery.status, delivery.http_status) == ("failed", 401)
    assert "Authentication failed" in (delivery.error or "") and "secret" not in (delivery.error or "")


async def test_the_test_sends_a_change_event_and_the_check_only_reads(platform: Platform, pd: FakePagerDuty) -> None:
    await add_pagerduty(platform, pd, api_token=TOKEN)
    view = await platform.service.test(team_id=TEAM, user_id=None, ref="pagerduty")
    assert view.status == "success" and view.http_status == 202
    [change] = pd.change_events
    assert change["routing_key"] == ROUTING_KEY and change["payload"]["summary"].startswith("[TEST] ")
    assert view.payload is not None and view.payload["routing_key"] == "••••" and view.payload["read"] == "GET /abilities"

    [line] = await platform.service.check(team_id=TEAM)
    assert line.ok and "API token works (read 3 account abilities)" in line.line and "routing key set" in line.line
    assert pd.alerts == [] and pd.events() == [], "neither pages anyone"
    assert [f"{r.method} {r.path}" for r in pd.server.requests] == [
        "POST /v2/change/enqueue",
        "GET /abilities",
        "GET /abilities",
        "HEAD /",
    ]


async def test_paging_explains_what_is_missing(platform: Platform, pd: FakePagerDuty) -> None:
    service = platform.container.pagerduty
    with pytest.raises(InvalidInput, match="PagerDuty is not connected: an admin can add it with `vigil integrations add"):
        await service.page(team_id=TEAM, actor_id="U0ALICE", incident_id=None, service="Database")
    integration = await add_pagerduty(platform, pd, api_token=TOKEN)
    await add_services(platform, integration.id, ("PDB0001", "Database"), ("PDB0002", "Database replica"))
    with pytest.raises(InvalidInput, match="Outside an incident, name the PagerDuty service"):
        await service.page(team_id=TEAM, actor_id="U0ALICE", incident_id=None, service=None)
    with pytest.raises(InvalidInput) as unknown:
        await service.page(team_id=TEAM, actor_id="U0ALICE", incident_id=None, service="databse")
    assert unknown.value.message == (
        "No PagerDuty service named 'databse' in the last sync. Close matches: Database, Database replica."
    )
    with pytest.raises(InvalidInput, match="needs the pagerduty integration's `from_email`"):
        await service.page(team_id=TEAM, actor_id="U0ALICE", incident_id=None, service="database")
    await add_services(platform, integration.id, ("PDB0003", "database"))
    with pytest.raises(InvalidInput, match=r"matches 2 PagerDuty services: name one by its id \(Database \(PDB0001\)"):
        await service.page(team_id=TEAM, actor_id="U0ALICE", incident_id=None, service="DATABASE")
    assert await platform.deliveries() == []


async def test_settings_and_their_problems(platform: Platform) -> None:
    provider = platform.service.provider("pagerduty")
    assert {f.name: f.default for f in provider.settings} == {
        "events_url": "https://events.pagerduty.com",
        "api_url": "https://api.pagerduty.com",
        "severity_threshold": "P2",
        "auto_close": True,
        "from_email": None,
    }
    assert not any(f.generated or f.required for f in provider.secrets), "signing_secret is issued by PagerDuty"
    assert provider.check({}, {"api_token": "t"}) == []
    assert [p.split(":")[0] for p in provider.check({}, {})] == ["routing_key"]
    assert provider.check({"events_url": "https://events.eu.pagerduty.com/v2/enqueue"}, {"routing_key": ROUTING_KEY}) == [
        "events_url: the API base only, like https://events.pagerduty.com (Vigil adds the paths)"
    ]
    assert provider.check({"api_url": "http://pd.internal"}, {"routing_key": "short"}) == [
        "routing_key: an Events API v2 integration key is 32 letters and digits",
        "api_url: https:// only (the pagerduty library refuses anything else)",
    ]


async def test_settings_are_parsed_by_field(platform: Platform, pd: FakePagerDuty) -> None:
    created = await add_pagerduty(platform, pd, severity_threshold="p3", auto_close="no")
    assert created.config["severity_threshold"] == "P3" and created.config["auto_close"] is False
    assert created.secret_keys == ("inbound_secret", "routing_key")
    with pytest.raises(Problems) as caught:
        await add_pagerduty(platform, pd, name="eu", routing_key="not-32")
    assert caught.value.problems == ["routing_key: an Events API v2 integration key is 32 letters and digits"]
    with pytest.raises(Problems) as caught:
        await add_pagerduty(platform, pd, name="eu", severity_threshold="P9")
    assert caught.value.problems == ["severity_threshold: one of P1 to P5"]


async def test_the_pagerduty_clients_go_through_the_outbound_guard(db_url: str, ca_bundle: Path, pd: FakePagerDuty) -> None:
    p = await make_platform(db_url, ca_bundle, VIGIL_OUTBOUND_ALLOW_PRIVATE="false")
    try:
        by_name = pd.server.url_for("", host="localhost")
        change = IntegrationInput(
            name="pd",
            settings={"events_url": by_name, "api_url": by_name},
            secrets={"routing_key": ROUTING_KEY, "api_token": TOKEN},
        )
        await p.service.add(team_id=TEAM, user_id=None, kind="pagerduty", change=change)
        await p.open_incident(1, severity="P1")
        assert await p.drain() == 1
        [delivery] = await p.deliveries()
        assert delivery.status == "failed" and (delivery.error or "").startswith("refused: localhost resolves to")
        [report] = await p.container.pagerduty.sync()
        assert not report.ok and (report.error or "").startswith("refused: localhost resolves to")
        assert pd.server.connections == 0
    finally:
        await p.container.aclose()
