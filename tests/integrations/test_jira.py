"""The jira kind against a fake Jira (Cloud and Data Center) through the real outbox and worker: one issue per
incident however often a delivery is re-sent, transitions, reporters, the harmless test call, the outbound guard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.incidents import events
from db.models import Component, Identity, IntegrationLink, SurfaceStep, User
from integrations.base import DeliveryFailed
from integrations.http.guard import OutboundPolicy
from integrations.jira.client import JiraClient
from integrations.service import IntegrationInput, Problems
from tests.fakes.jira import FakeJira
from tests.integrations.platform import TEAM, Platform, make_platform

EMAIL = "vigil-bot@acme.example"
TOKEN = "jira-api-token"
KEY7 = f"vigil-{TEAM}-7"


@pytest.fixture
async def jira(https_server: Any) -> FakeJira:
    return FakeJira(await https_server(), email=EMAIL, token=TOKEN)


async def add_jira(platform: Platform, fake: FakeJira, name: str = "ops-jira", **settings: str) -> Any:
    base = {"url": fake.url, "project": "OPS"}
    if fake.cloud:
        base["email"] = EMAIL
    change = IntegrationInput(name=name, settings={**base, **settings}, secrets={"api_token": TOKEN})
    return (await platform.service.add(team_id=TEAM, user_id=None, kind="jira", change=change)).integration


async def add_alice(platform: Platform, *, email: str | None = "alice@acme.example", jira: str | None = None) -> None:
    async with platform.container.sessions() as session, session.begin():
        session.add(User(team_id=TEAM, id="U0ALICE", name="alice", real_name="Alice", email=email))
        if jira:
            session.add(Identity(team_id=TEAM, user_id="U0ALICE", kind="jira", external_id=jira, source="manual"))


async def links(platform: Platform) -> list[IntegrationLink]:
    async with platform.container.sessions() as session:
        return list((await session.scalars(select(IntegrationLink))).all())


def issue_of(fake: FakeJira, number: int) -> dict[str, Any]:
    """The issue labelled with incident `number`'s key (deliveries of one round run concurrently, in any order)."""
    [issue] = [i for i in fake.issues.values() if f"vigil-{TEAM}-{number}" in i["fields"]["labels"]]
    return issue


async def opening_refreshes(platform: Platform) -> list[tuple[int, str, str]]:
    """The edits of opening messages the deliveries asked the step worker for."""
    async with platform.container.sessions() as session:
        steps = (await session.scalars(select(SurfaceStep).order_by(SurfaceStep.id))).all()
    return [(s.incident_id, s.kind, s.status) for s in steps]


def creates(fake: FakeJira) -> int:
    return len(fake.calls("create"))


async def outcomes(platform: Platform) -> list[tuple[str, str]]:
    return [(d.event, d.status) for d in await platform.deliveries()]


async def test_an_incident_lifecycle_is_one_issue_moved_along_its_workflow(platform: Platform, jira: FakeJira) -> None:
    await add_jira(platform, jira, labels="incident,sev", transition_map='{"acknowledged": "Start Progress"}')
    incident = await platform.open_incident(7, severity="P2")
    assert await platform.drain() == 1
    [issue] = jira.issues.values()
    fields = issue["fields"]
    assert issue["key"] == "OPS-1" and fields["summary"] == "[INC-7] Incident 7"
    assert fields["issuetype"] == {"name": "Incident"} and fields["priority"] == {"id": "2"}
    assert fields["labels"] == ["incident", "sev", KEY7]
    assert "https://acme.slack.com/archives/C0INC" in fields["description"] and KEY7 in fields["description"]
    assert "reporter" not in fields, "no Slack profile, no identity, no default: Jira picks the reporter"
    assert jira.status("OPS-1") == "To Do"
    assert [r.method for r in jira.calls("search")] == ["GET"] and jira.calls("search")[0].path.endswith("/search/jql")
    # The new issue's address: the opening message is to link to it (the step worker edits it).
    assert await opening_refreshes(platform) == [(incident.id, "update_opening", "pending")]

    await platform.change(incident, events.ACKNOWLEDGED)
    await platform.drain()
    assert jira.status("OPS-1") == "In Progress"

    await platform.change(incident, events.UPDATED, severity="P1", title="Checkout is down")
    await platform.drain()
    assert fields["summary"] == "[INC-7] Checkout is down" and fields["priority"] == {"id": "1"}

    await platform.change(incident, events.RESOLVED, status="resolved", previous_status="investigating")
    await platform.drain()
    assert jira.status("OPS-1") == "Done", "no transition_map entry: the transition to a done status"
    transitions = len(jira.calls("transition"))

    await platform.change(incident, events.CLOSED, status="closed", previous_status="resolved")
    await platform.drain()
    assert len(jira.calls("transition")) == transitions, "already done: nothing posted, and a success"

    assert creates(jira) == 1 and len(jira.issues) == 1
    assert len(await opening_refreshes(platform)) == 1, "the same address again asks for no edit"
    assert len(jira.calls("search")) == 1, "once linked, the issue is addressed by its key"
    assert len(jira.calls("serverInfo")) == 1, "one client per integration, kept by the provider"
    assert await outcomes(platform) == [
        ("incident.opened", "success"),
        ("incident.acknowledged", "success"),
        ("incident.updated", "success"),
        ("incident.resolved", "success"),
        ("incident.closed", "success"),
    ]
    [link] = await links(platform)
    assert (link.external_id, link.external_url) == ("OPS-1", f"{jira.url}/browse/OPS-1")
    assert link.data == {"id": issue["id"]}
    opened = (await platform.deliveries())[0]
    assert opened.external_id == "OPS-1" and opened.http_status == 201
    assert opened.payload is not None and opened.payload["create"]["summary"] == "[INC-7] Incident 7"


async def test_429_and_500_are_retried_by_the_worker_and_one_issue_exists(platform: Platform, jira: FakeJira) -> None:
    await add_jira(platform, jira)
    jira.route("create").respond(429, json={"errorMessages": ["Rate limited"]}, headers={"Retry-After": "0"})
    jira.route("create").respond(500, json={"errorMessages": ["Internal server error"]})
    await platform.open_incident(7)
    assert await platform.drain() == 2  # the 429 asked for no wait; the 500 waits for the backoff
    [delivery] = await platform.deliveries()
    assert delivery.status == "retrying" and delivery.http_status == 500 and "answered 500" in (delivery.error or "")
    assert await platform.drain() == 0
    platform.clock.advance(minutes=5)
    assert await platform.drain() == 1
    [delivery] = await platform.deliveries()
    assert [h["outcome"] for h in delivery.history] == ["retrying", "retrying", "success"]
    assert [h["http_status"] for h in delivery.history] == [429, 500, 201]
    assert creates(jira) == 3 and len(jira.issues) == 1
    assert len(jira.calls("search")) == 3, "every attempt looks for the label before creating"


async def test_a_crash_after_jira_created_the_issue_does_not_create_a_second(platform: Platform, jira: FakeJira) -> None:
    await add_jira(platform, jira)
    await platform.open_incident(7)

    def crash(outcomes: Any) -> None:
        raise RuntimeError("killed after Jira answered")

    platform.worker.before_record = crash
    with pytest.raises(RuntimeError):
        await platform.worker.run_once()
    assert len(jira.issues) == 1 and await links(platform) == []

    restarted = platform.another_worker()
    assert await restarted.run_once() == 0, "the claim holds until its lease ends"
    platform.clock.advance(seconds=61)
    assert await restarted.run_once() == 1
    assert creates(jira) == 1 and len(jira.issues) == 1, "the re-send found the issue by its label"
    [delivery] = await platform.deliveries()
    assert (delivery.status, delivery.attempts, delivery.external_id) == ("success", 1, "OPS-1")
    [link] = await links(platform)
    assert link.external_id == "OPS-1"


async def test_a_transition_re_sent_after_a_crash_finds_the_issue_already_moved(platform: Platform, jira: FakeJira) -> None:
    await add_jira(platform, jira, transition_map='{"reopened": "Reopen"}')
    incident = await platform.open_incident(7)
    await platform.change(incident, events.RESOLVED, status="resolved", previous_status="open")
    await platform.drain()
    assert jira.status("OPS-1") == "Done"
    await platform.change(incident, events.REOPENED, status="investigating", previous_status="resolved")

    def crash(outcomes: Any) -> None:
        raise RuntimeError("killed after Jira answered")

    platform.worker.before_record = crash
    with pytest.raises(RuntimeError):
        await platform.worker.run_once()
    assert jira.status("OPS-1") == "To Do"
    platform.worker.before_record = None
    platform.clock.advance(seconds=61)
    assert await platform.drain() == 1
    reopened = (await platform.deliveries())[-1]
    assert (reopened.event, reopened.status, reopened.attempts) == ("incident.reopened", "success", 1)
    assert [r.json()["transition"]["id"] for r in jira.calls("transition")] == [31, 41], "one Reopen, not two"


async def test_an_issue_already_done_counts_as_resolved(platform: Platform, jira: FakeJira) -> None:
    await add_jira(platform, jira, transition_map='{"resolved": "Resolve Issue"}')
    incident = await platform.open_incident(7)
    await platform.drain()
    jira.set_status("OPS-1", "Done")  # someone finished it in Jira first
    await platform.change(incident, events.RESOLVED, status="resolved", previous_status="open")
    await platform.drain()
    [_, resolved] = await platform.deliveries()
    assert resolved.status == "success" and resolved.http_status == 200
    assert jira.calls("transition") == [] and jira.status("OPS-1") == "Done"


async def test_a_missing_transition_fails_at_once_naming_what_is_offered(platform: Platform, jira: FakeJira) -> None:
    await add_jira(platform, jira, transition_map='{"resolved": "Resolve Issue"}')
    incident = await platform.open_incident(7)
    await platform.drain()
    await platform.change(incident, events.RESOLVED, status="resolved", previous_status="open")
    await platform.drain()
    [_, resolved] = await platform.deliveries()
    assert resolved.status == "failed" and resolved.attempts == 1
    assert "'Resolve Issue'" in (resolved.error or "") and "'Start Progress', 'Done'" in (resolved.error or "")
    assert resolved.payload == {
        "event": "incident.resolved",
        "key": KEY7,
        "transition": {"for": "resolved", "name": "Resolve Issue"},
    }


async def test_the_test_event_and_check_only_read(platform: Platform, jira: FakeJira) -> None:
    await add_jira(platform, jira)
    sent = await platform.service.test(team_id=TEAM, user_id=None, ref="ops-jira")
    assert (sent.status, sent.http_status) == ("success", 200)
    assert sent.payload == {"read": ["myself", "project OPS"], "as": "Vigil Bot", "project": "OPS"}
    [line] = await platform.service.check(team_id=TEAM)
    assert line.ok and line.line == "jira: authenticated as Vigil Bot on Jira Cloud; project OPS readable"
    assert {r.method for r in jira.server.requests} == {"GET"} and jira.issues == {}
    assert {r.path for r in jira.server.requests} == {
        "/rest/api/2/serverInfo",
        "/rest/api/2/myself",
        "/rest/api/2/project/OPS",
    }


async def test_a_wrong_token_fails_at_once_without_showing_it(platform: Platform, jira: FakeJira) -> None:
    jira.token = "another-token"
    await add_jira(platform, jira)
    incident = await platform.open_incident(7)
    await platform.change(incident, events.ACKNOWLEDGED)
    assert await platform.drain() == 1
    opened, acknowledged = await platform.deliveries()
    assert (opened.status, opened.attempts, opened.http_status) == ("failed", 1, 401)
    assert opened.error == (
        f"{jira.url}/rest/api/2/serverInfo answered 401: Client must be authenticated to access this resource."
    )
    assert acknowledged.status == "failed" and (acknowledged.error or "").startswith("not sent: the earlier delivery")
    assert TOKEN not in str(opened.history) and "Authorization" not in str(opened.history)


async def test_a_refused_create_fails_at_once_with_jiras_words(platform: Platform, jira: FakeJira) -> None:
    await add_jira(platform, jira, issue_type="Bug")
    await platform.open_incident(7)
    assert await platform.drain() == 1
    [delivery] = await platform.deliveries()
    assert (delivery.status, delivery.attempts, delivery.http_status) == ("failed", 1, 400)
    assert "/rest/api/2/issue answered 400: valid issue type is required" in (delivery.error or "")
    assert delivery.payload is not None and delivery.payload["create"]["issuetype"] == {"name": "Bug"}
    assert jira.issues == {}


async def test_the_reporter_is_the_linked_account_then_the_email_match_then_the_default(
    platform: Platform, jira: FakeJira
) -> None:
    await add_jira(platform, jira, default_reporter="5b10default")
    jira.add_user(account_id="5b10alice", name="alice", email="alice@acme.example")
    await add_alice(platform)
    for number in (1, 2):  # one after the other: two deliveries of one round may both look the email up
        await platform.open_incident(number)
        await platform.drain()
    assert [i["fields"]["reporter"] for i in jira.issues.values()] == [{"accountId": "5b10alice"}] * 2
    [lookup] = jira.calls("users")
    assert lookup.query["query"] == "alice@acme.example", "one lookup: the provider remembers the account"

    async with platform.container.sessions() as session, session.begin():
        session.add(Identity(team_id=TEAM, user_id="U0ALICE", kind="jira", external_id="5b10linked", source="manual"))
    await platform.open_incident(3)
    await platform.drain()
    assert issue_of(jira, 3)["fields"]["reporter"] == {"accountId": "5b10linked"}

    async with platform.container.sessions() as session, session.begin():
        await session.execute(Identity.__table__.delete())
        alice = await session.get(User, (TEAM, "U0ALICE"))
        assert alice is not None
        alice.email = "alice@elsewhere.example"  # no Jira account answers to it
    await platform.open_incident(4)
    await platform.drain()
    assert issue_of(jira, 4)["fields"]["reporter"] == {"accountId": "5b10default"}
    assert [r.query["query"] for r in jira.calls("users")] == ["alice@acme.example", "alice@elsewhere.example"]


async def test_a_reporter_jira_refuses_is_left_out_rather_than_the_issue(platform: Platform, jira: FakeJira) -> None:
    await add_jira(platform, jira, default_reporter="5b10default")
    jira.reject_reporter = True
    await platform.open_incident(7)
    await platform.drain()
    [delivery] = await platform.deliveries()
    assert delivery.status == "success" and creates(jira) == 2 and len(jira.issues) == 1
    assert "reporter" not in jira.issues["OPS-1"]["fields"]


async def test_data_center_uses_a_bearer_token_search_and_user_names(platform: Platform, https_server: Any) -> None:
    jira = FakeJira(await https_server(), cloud=False, token=TOKEN)
    await add_jira(platform, jira, transition_map='{"resolved": "Done"}')
    jira.add_user(account_id="", name="alice", email="alice@acme.example")
    await add_alice(platform)
    incident = await platform.open_incident(7)
    await platform.drain()
    [search] = jira.calls("search")
    assert search.path == "/rest/api/2/search" and search.headers["Authorization"] == f"Bearer {TOKEN}"
    assert jira.calls("users")[0].query["username"] == "alice@acme.example"
    assert jira.issues["OPS-1"]["fields"]["reporter"] == {"name": "alice"}
    await platform.change(incident, events.RESOLVED, status="resolved", previous_status="open")
    await platform.drain()
    assert jira.status("OPS-1") == "Done" and len(jira.issues) == 1
    [line] = await platform.service.check(team_id=TEAM)
    assert line.line == "jira: authenticated as Vigil Bot on Jira Server; project OPS readable"


async def test_the_component_goes_to_the_category_field(platform: Platform, jira: FakeJira) -> None:
    async with platform.container.sessions() as session, session.begin():
        component = Component(team_id=TEAM, name="checkout")
        session.add(component)
        await session.flush()
        component_id = component.id
    await add_jira(platform, jira, category_field="customfield_10010")
    await platform.open_incident(7, component_id=component_id)
    await platform.open_incident(8)
    await platform.drain()
    assert issue_of(jira, 7)["fields"]["customfield_10010"] == {"value": "checkout"}
    assert "customfield_10010" not in issue_of(jira, 8)["fields"]


async def test_an_escalated_incident_gets_its_issue_on_the_update(platform: Platform, jira: FakeJira) -> None:
    await add_jira(platform, jira)
    await platform.service.update(team_id=TEAM, user_id=None, ref="ops-jira", change=IntegrationInput(min_severity="P2"))
    incident = await platform.open_incident(7, severity="P3")
    assert await platform.drain() == 0
    async with platform.container.sessions() as session, session.begin():
        row = await session.get(type(incident), incident.id)
        assert row is not None
        row.severity = "P1"
    await platform.change(incident, events.UPDATED, severity="P1")
    await platform.drain()
    [issue] = jira.issues.values()
    assert issue["fields"]["priority"] == {"id": "1"} and jira.calls("edit") == []


async def test_the_jira_clients_session_goes_through_the_outbound_guard(
    db_url: str, ca_bundle: Path, jira: FakeJira
) -> None:
    strict = OutboundPolicy(allow_private=False, ca_bundle=ca_bundle)
    by_name = jira.server.url_for("", host="localhost")
    with pytest.raises(DeliveryFailed, match="refused: localhost resolves to a loopback address") as refused:
        JiraClient.connect(url=by_name, token=TOKEN, email=EMAIL, policy=strict)
    assert refused.value.retryable is False and jira.server.connections == 0

    p = await make_platform(db_url, ca_bundle, VIGIL_OUTBOUND_ALLOW_PRIVATE="false")
    try:
        change = IntegrationInput(
            name="j", settings={"url": by_name, "project": "OPS", "email": EMAIL}, secrets={"api_token": TOKEN}
        )
        await p.service.add(team_id=TEAM, user_id=None, kind="jira", change=change)
        await p.open_incident(1)
        assert await p.drain() == 1
        [delivery] = await p.deliveries()
        assert delivery.status == "failed" and (delivery.error or "").startswith("refused: localhost resolves to")
        assert jira.server.connections == 0
    finally:
        await p.container.aclose()


async def test_settings_are_parsed_by_their_fields_and_bad_ones_refused_by_key(platform: Platform, jira: FakeJira) -> None:
    view = await add_jira(platform, jira, labels="a, b", priority_map='{"P1": 10001, "P2": "10002"}')
    assert view.config["labels"] == ["a", "b"] and view.config["issue_type"] == "Incident"
    assert view.config["inbound_status_map"] == {"done": "resolved"}
    assert view.config["priority_map"] == {"P1": 10001, "P2": "10002"}
    created = await platform.service.get(team_id=TEAM, ref="ops-jira")
    assert set(created.secret_keys) == {"api_token", "inbound_secret", "signing_secret"}

    bad = IntegrationInput(
        name="bad",
        settings={
            "url": "https://acme.atlassian.net",
            "project": "not a key",
            "transition_map": '{"fixed": "Done"}',
            "priority_map": '{"P1": "high"}',
            "labels": "on call",
        },
        secrets={"api_token": TOKEN},
    )
    with pytest.raises(Problems) as refused:
        await platform.service.add(team_id=TEAM, user_id=None, kind="jira", change=bad)
    assert refused.value.problems == [
        "project: a project key such as OPS (letters, digits, underscores)",
        "email: required for Jira Cloud (the account the API token belongs to)",
        "transition_map: unknown key 'fixed' (keys: open, investigating, mitigating, resolved, postmortem, closed, "
        "acknowledged, reopened)",
        """priority_map: the value of 'P1' is not usable, e.g. {"P1": "1", "P2": "2"}""",
        "labels: 'on call' is not a Jira label (no spaces, at most 255 characters)",
    ]
    missing = IntegrationInput(name="bad", settings={"url": jira.url, "transition_map": "[1"})
    assert platform.service.check_change(kind="jira", change=missing, editing=False) == [
        "transition_map: not valid JSON",
        "project: required for jira",
        "api_token: required for jira",
    ]
