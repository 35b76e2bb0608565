"""The `opsgenie` kind through the real outbox and worker against a fake Opsgenie: one alert per incident by alias,
acknowledged and closed with it, requests polled for the alert id, retries, re-sends and harmless checks."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.incidents import events
from db.models import IntegrationLink
from integrations.opsgenie.provider import DEFAULT_API_URL
from integrations.service import IntegrationInput, Problems
from tests.fakes.opsgenie import FakeOpsgenie
from tests.integrations.platform import TEAM, Platform


@pytest.fixture
async def opsgenie(https_server: Any) -> FakeOpsgenie:
    return FakeOpsgenie(await https_server())


async def add_opsgenie(platform: Platform, fake: FakeOpsgenie, *, api_key: str | None = None) -> Any:
    change = IntegrationInput(name="opsgenie", settings={"api_url": fake.url}, secrets={"api_key": api_key or fake.api_key})
    return await platform.service.add(team_id=TEAM, user_id=None, kind="opsgenie", change=change)


async def links(platform: Platform) -> list[IntegrationLink]:
    async with platform.container.sessions() as session:
        return list((await session.scalars(select(IntegrationLink))).all())


async def statuses(platform: Platform) -> list[str]:
    return [d.status for d in await platform.deliveries()]


def alias(number: int) -> str:
    return f"vigil-{TEAM}-{number}"


async def test_an_incident_lifecycle_is_mirrored_into_one_alert(platform: Platform, opsgenie: FakeOpsgenie) -> None:
    await add_opsgenie(platform, opsgenie)
    incident = await platform.open_incident(7, severity="P2")
    assert await platform.drain() == 1

    [alert] = opsgenie.alerts
    assert (alert["alias"], alert["priority"], alert["message"]) == (alias(7), "P2", "[INC-7] Incident 7")
    assert alert["source"] == "Vigil" and "INC-7" in alert["tags"]
    assert alert["details"]["vigil_key"] == alias(7) and alert["details"]["slack"] == "https://acme.slack.com/archives/C0INC"
    assert "https://acme.slack.com/archives/C0INC" in alert["description"]
    assert {r.headers["Authorization"] for r in opsgenie.server.requests} == {f"GenieKey {opsgenie.api_key}"}
    [delivery] = await platform.deliveries()
    assert (delivery.status, delivery.http_status, delivery.external_id) == ("success", 202, alert["id"])
    [link] = await links(platform)
    assert (link.external_id, link.data) == (alert["id"], {"alias": alias(7)})

    await platform.change(incident, events.ACKNOWLEDGED)
    await platform.drain()
    assert alert["acknowledged"] and alert["status"] == "open"

    await platform.change(incident, events.UPDATED, severity="P1", title="Checkout is down")
    await platform.change(incident, events.UPDATED, status="mitigating", previous_status="investigating")  # not shown
    await platform.drain()
    assert (alert["priority"], alert["message"]) == ("P1", "[INC-7] Checkout is down")

    await platform.change(incident, events.RESOLVED, status="resolved", previous_status="mitigating")
    await platform.drain()
    assert alert["status"] == "closed" and alert["notes"] == ["Acknowledged in Vigil (INC-7)", "Resolved in Vigil (INC-7)"]
    await platform.change(incident, events.CLOSED, status="closed", previous_status="resolved")
    await platform.drain()  # Opsgenie: "Alert is already closed", which is where Vigil wants it

    assert len(opsgenie.alerts) == 1 and opsgenie.writes().count("POST /v2/alerts") == 1
    assert set(await statuses(platform)) == {"success"}
    assert len(await platform.deliveries()) == 6


async def test_a_reopened_incident_pages_again_with_a_new_alert(platform: Platform, opsgenie: FakeOpsgenie) -> None:
    await add_opsgenie(platform, opsgenie)
    incident = await platform.open_incident(2, severity="P1")
    await platform.change(incident, events.RESOLVED, status="resolved", previous_status="open")
    await platform.change(incident, events.REOPENED, status="investigating", previous_status="resolved")
    await platform.drain()
    first, second = opsgenie.alerts
    assert (first["alias"], first["status"]) == (alias(2), "closed")
    assert (second["alias"], second["status"], second["notes"]) == (alias(2), "open", ["Reopened in Vigil"])
    [link] = await links(platform)
    assert link.external_id == second["id"]


async def test_429_and_500_are_retried_and_leave_one_alert(platform: Platform, opsgenie: FakeOpsgenie) -> None:
    await add_opsgenie(platform, opsgenie)
    opsgenie.server.respond(429, headers={"Retry-After": "0"})
    opsgenie.server.respond(500, json={"message": "Internal Server Error"})
    await platform.open_incident(3)
    assert await platform.drain() == 2
    [delivery] = await platform.deliveries()
    assert (delivery.status, delivery.http_status) == ("retrying", 500)
    platform.clock.advance(minutes=5)
    assert await platform.drain() == 1
    [delivery] = await platform.deliveries()
    assert (delivery.status, delivery.attempts) == ("success", 3)
    assert [h["outcome"] for h in delivery.history] == ["retrying", "retrying", "success"]
    assert len(opsgenie.alerts) == 1


async def test_a_crash_after_the_create_resends_it_into_the_same_alert(platform: Platform, opsgenie: FakeOpsgenie) -> None:
    await add_opsgenie(platform, opsgenie)
    await platform.open_incident(8)

    def crash(outcomes: Any) -> None:
        raise RuntimeError("killed after Opsgenie answered")

    platform.worker.before_record = crash
    with pytest.raises(RuntimeError):
        await platform.worker.run_once()
    assert len(opsgenie.alerts) == 1 and await links(platform) == []

    restarted = platform.another_worker()
    platform.clock.advance(seconds=61)
    assert await restarted.run_once() == 1
    [alert] = opsgenie.alerts
    assert alert["count"] == 2, "the re-sent create was folded into the alert by its alias"
    first, second = (r for r in opsgenie.server.requests if r.method == "POST")
    assert first.json() == second.json(), "the re-send is the frozen body"
    [delivery] = await platform.deliveries()
    assert (delivery.status, delivery.external_id) == ("success", alert["id"])
    [link] = await links(platform)
    assert link.external_id == alert["id"]


async def test_acting_on_a_closed_or_missing_alert_counts_as_done(platform: Platform, opsgenie: FakeOpsgenie) -> None:
    missing = await platform.open_incident(1)  # before the integration existed: it has no alert
    await add_opsgenie(platform, opsgenie)
    closed = await platform.open_incident(2)
    await platform.drain()
    [alert] = opsgenie.alerts
    alert["status"] = "closed"  # someone closed it in Opsgenie
    await platform.change(closed, events.ACKNOWLEDGED)
    await platform.change(closed, events.RESOLVED, status="resolved", previous_status="open")
    await platform.change(missing, events.RESOLVED, status="resolved", previous_status="open")
    assert await platform.drain() == 3
    assert await statuses(platform) == ["success"] * 4
    assert len(opsgenie.alerts) == 1 and not alert["acknowledged"]
    assert [w for w in opsgenie.writes() if alias(1) in w] == [f"POST /v2/alerts/{alias(1)}/close"]


async def test_the_alert_id_is_learned_when_opsgenie_has_processed_the_request(
    platform: Platform, opsgenie: FakeOpsgenie
) -> None:
    platform.worker.providers["opsgenie"].poll_delays = (0.0, 0.0, 0.0)  # no real waiting in tests
    opsgenie.pending_polls = 2
    await add_opsgenie(platform, opsgenie)
    await platform.open_incident(4)
    await platform.drain()
    [alert] = opsgenie.alerts
    [delivery] = await platform.deliveries()
    assert (delivery.status, delivery.external_id) == ("success", alert["id"])
    assert list(opsgenie.polls.values()) == [3]

    opsgenie.pending_polls = 10  # never processed within the attempt: accepted, id unknown, nothing re-sent
    await platform.open_incident(5)
    await platform.drain()
    later = (await platform.deliveries())[-1]
    assert (later.status, later.attempts, later.external_id) == ("success", 1, None)
    assert {link.data["alias"] for link in await links(platform)} == {alias(4), alias(5)}
    assert opsgenie.writes().count("POST /v2/alerts") == 2


async def test_the_test_event_and_the_check_only_read_the_account(platform: Platform, opsgenie: FakeOpsgenie) -> None:
    await add_opsgenie(platform, opsgenie)
    view = await platform.service.test(team_id=TEAM, user_id=None, ref="opsgenie")
    assert view.status == "success" and view.http_status == 200
    [line] = await platform.service.check(team_id=TEAM)
    assert line.ok and "acme" in line.line
    assert [f"{r.method} {r.path}" for r in opsgenie.server.requests] == ["GET /v2/account"] * 2
    assert opsgenie.alerts == []


@pytest.mark.parametrize("how", ["wrong key", "422"])
async def test_a_refused_create_fails_at_once_without_showing_the_key(
    platform: Platform, opsgenie: FakeOpsgenie, how: str
) -> None:
    await add_opsgenie(platform, opsgenie, api_key="wrong-and-secret" if how == "wrong key" else None)
    if how == "422":
        opsgenie.server.respond(422, json={"message": "Request body is not processable."})
    await platform.open_incident(9)
    assert await platform.drain() == 1
    [delivery] = await platform.deliveries()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 1, None)
    assert delivery.http_status == (401 if how == "wrong key" else 422) and opsgenie.alerts == []
    assert "secret" not in (delivery.error or "") and "GenieKey" not in (delivery.error or "")


async def test_settings_are_parsed_by_field_and_bad_ones_refused_by_key(platform: Platform) -> None:
    created = await platform.service.add(
        team_id=TEAM, user_id=None, kind="opsgenie", change=IntegrationInput(name="eu", secrets={"api_key": "k"})
    )
    assert created.integration.config == {"api_url": DEFAULT_API_URL}
    with pytest.raises(Problems) as caught:
        await platform.service.add(
            team_id=TEAM, user_id=None, kind="opsgenie", change=IntegrationInput(name="bad", settings={"api_url": "nowhere"})
        )
    assert sorted(p.split(":")[0] for p in caught.value.problems) == ["api_key", "api_url"]
    with pytest.raises(Problems) as caught:
        await platform.service.add(
            team_id=TEAM,
            user_id=None,
            kind="opsgenie",
            change=IntegrationInput(
                name="v2", settings={"api_url": "https://api.eu.opsgenie.com/v2"}, secrets={"api_key": "k"}
            ),
        )
    [problem] = caught.value.problems
    assert problem.startswith("api_url: ")


async def test_a_private_incident_pages_with_a_redacted_summary(platform: Platform, opsgenie: FakeOpsgenie) -> None:
    """A pager pages private incidents too (on by default for this kind), without their title or description."""
    created = await add_opsgenie(platform, opsgenie)
    assert created.integration.include_private
    incident = await platform.open_incident(9, severity="P1", private=True)
    assert await platform.drain() == 1
    [alert] = opsgenie.alerts
    assert alert["message"] == "[INC-9] Private incident: details in Slack"
    assert "Incident 9" not in str(alert)
    await platform.change(incident, events.UPDATED, title="Payroll leak")
    await platform.drain()
    assert "Payroll" not in alert["message"]
