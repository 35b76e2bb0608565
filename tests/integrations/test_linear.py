"""The `linear` kind through the real outbox and worker against a fake Linear: one issue per incident whatever is
re-sent, its workflow state following the incident, GraphQL errors mapped to retry or fail, harmless checks."""

from __future__ import annotations

import uuid
from typing import Any, Literal

import pytest
from sqlalchemy import select

from bot.incidents import events
from db.models import Identity, IntegrationLink, User
from integrations.linear.client import issue_uuid
from integrations.linear.provider import DEFAULT_API_URL
from integrations.service import IntegrationInput, Problems
from tests.fakes.linear import TEAM_ID, FakeLinear
from tests.integrations.platform import TEAM, Platform


@pytest.fixture
async def linear(https_server: Any) -> FakeLinear:
    return FakeLinear(await https_server())


async def add_linear(platform: Platform, fake: FakeLinear, *, api_key: str | None = None, **settings: str) -> Any:
    change = IntegrationInput(
        name="linear",
        settings={"api_url": fake.url, "team_id": TEAM_ID, **settings},
        secrets={"api_key": api_key or fake.api_key},
    )
    return await platform.service.add(team_id=TEAM, user_id=None, kind="linear", change=change)


async def declarer(platform: Platform, *, email: str | None = None, linked: str | None = None) -> None:
    """Give U0ALICE, who opens every test incident, an email and (optionally) a manually linked Linear account."""
    async with platform.container.sessions() as session, session.begin():
        session.add(User(team_id=TEAM, id="U0ALICE", name="alice", email=email))
        if linked is not None:
            session.add(Identity(team_id=TEAM, user_id="U0ALICE", kind="linear", external_id=linked, source="manual"))


async def links(platform: Platform) -> list[IntegrationLink]:
    async with platform.container.sessions() as session:
        return list((await session.scalars(select(IntegrationLink))).all())


async def outcomes(platform: Platform) -> list[tuple[str, str, int]]:
    return [(d.event, d.status, d.attempts) for d in await platform.deliveries()]


def test_the_issue_id_is_a_uuid4_derived_from_the_key_and_the_integration() -> None:
    one = issue_uuid(external_key="vigil-T1-7", integration_id="a" * 32)
    assert one == issue_uuid(external_key="vigil-T1-7", integration_id="a" * 32)
    assert uuid.UUID(one).version == 4 and uuid.UUID(one).variant == uuid.RFC_4122
    assert one != issue_uuid(external_key="vigil-T1-7", integration_id="b" * 32)
    assert one != issue_uuid(external_key="vigil-T1-8", integration_id="a" * 32)


async def test_an_incident_lifecycle_is_mirrored_into_one_issue(platform: Platform, linear: FakeLinear) -> None:
    created = await add_linear(platform, linear)
    incident = await platform.open_incident(7, severity="P1")
    assert await platform.drain() == 1

    [issue] = linear.issues.values()
    key = f"vigil-{TEAM}-7"
    assert issue["id"] == issue_uuid(external_key=key, integration_id=created.integration.id)
    assert (issue["title"], issue["priority"], issue["teamId"]) == ("[INC-7] Incident 7", 1, TEAM_ID)
    assert key in issue["description"] and "https://acme.slack.com/archives/C0INC" in issue["description"]
    assert {r.headers["Authorization"] for r in linear.server.requests} == {linear.api_key}, "the key as it is, no Bearer"
    [link] = await links(platform)
    assert (link.external_id, link.external_url, link.data) == (issue["id"], issue["url"], {"identifier": "ENG-1"})

    await platform.change(incident, events.ACKNOWLEDGED)
    await platform.drain()
    assert linear.state_of(issue) == "In Progress", "the team's first started state, by position"

    await platform.change(incident, events.UPDATED, severity="P3", title="Checkout is slow")
    await platform.change(incident, events.UPDATED, commander="U0BOB")  # nothing Linear shows
    await platform.drain()
    assert (issue["priority"], issue["title"]) == (3, "[INC-7] Checkout is slow")

    await platform.change(incident, events.RESOLVED, status="resolved", previous_status="investigating")
    await platform.drain()
    assert linear.state_of(issue) == "Done"
    await platform.change(incident, events.REOPENED, status="investigating", previous_status="resolved")
    await platform.drain()
    assert linear.state_of(issue) == "Todo"
    await platform.change(incident, events.RESOLVED, status="resolved", previous_status="investigating")
    await platform.drain()
    writes = len(linear.writes())
    await platform.change(incident, events.CLOSED, status="closed", previous_status="resolved")
    await platform.drain()
    assert linear.state_of(issue) == "Done" and len(linear.writes()) == writes, "already done: nothing sent"

    assert len(linear.issues) == 1 and linear.writes().count("issueCreate") == 1
    assert linear.ops.count("states") == 1, "workflow states looked up once per team"
    assert {status for _, status, _ in await outcomes(platform)} == {"success"}
    [link] = await links(platform)
    assert link.external_id == issue["id"]


async def test_a_linked_linear_account_is_the_assignee_without_a_lookup(platform: Platform, linear: FakeLinear) -> None:
    await add_linear(platform, linear)
    await declarer(platform, email="alice@acme.test", linked="linear-linked")
    linear.users["alice@acme.test"] = "linear-by-email"
    await platform.open_incident(11)
    assert await platform.drain() == 1
    [issue] = linear.issues.values()
    assert issue["assigneeId"] == "linear-linked" and "users" not in linear.ops


async def test_the_declarer_is_found_by_email_once(platform: Platform, linear: FakeLinear) -> None:
    await add_linear(platform, linear)
    await declarer(platform, email="alice@acme.test")
    linear.users["alice@acme.test"] = "linear-alice"
    await platform.open_incident(12)
    await platform.open_incident(13)
    assert await platform.drain() == 2
    assert [i["assigneeId"] for i in linear.issues.values()] == ["linear-alice", "linear-alice"]
    assert linear.ops.count("users") == 1, "looked up once per integration and email"
    lookup = next(r.json() for r in linear.server.requests if "users(" in r.json()["query"])
    assert lookup["variables"] == {"email": "alice@acme.test"}


async def test_an_email_linear_does_not_know_leaves_the_issue_unassigned(platform: Platform, linear: FakeLinear) -> None:
    await add_linear(platform, linear)
    await declarer(platform, email="nobody@acme.test")
    await platform.open_incident(14)
    await platform.open_incident(15)
    assert await platform.drain() == 2
    assert len(linear.issues) == 2 and all("assigneeId" not in i for i in linear.issues.values())
    assert linear.ops.count("users") == 1, "no such user is remembered too"
    assert {status for _, status, _ in await outcomes(platform)} == {"success"}


async def test_a_failing_lookup_creates_the_issue_unassigned(platform: Platform, linear: FakeLinear) -> None:
    await add_linear(platform, linear)
    await declarer(platform, email="alice@acme.test")
    linear.users["alice@acme.test"] = "linear-alice"
    linear.server.respond(500, body=b"upstream broke")  # answers the users lookup
    await platform.open_incident(16)
    assert await platform.drain() == 1
    [issue] = linear.issues.values()
    assert "assigneeId" not in issue and linear.writes() == ["issueCreate"]
    [delivery] = await platform.deliveries()
    assert (delivery.status, delivery.attempts) == ("success", 1)
    assert "created unassigned" in delivery.history[-1]["note"] and "500" in delivery.history[-1]["note"]
    assert linear.api_key not in delivery.history[-1]["note"]


async def test_429_and_500_are_retried_and_leave_one_issue(platform: Platform, linear: FakeLinear) -> None:
    await add_linear(platform, linear)
    linear.server.respond(429, headers={"Retry-After": "0"})
    linear.server.respond(500, body=b"upstream broke")
    await platform.open_incident(3)
    assert await platform.drain() == 2  # the 429 is retried at once (Retry-After: 0), the 500 after the backoff
    [delivery] = await platform.deliveries()
    assert (delivery.status, delivery.http_status) == ("retrying", 500)
    platform.clock.advance(minutes=5)
    assert await platform.drain() == 1
    [delivery] = await platform.deliveries()
    assert (delivery.status, delivery.attempts) == ("success", 3)
    assert [h["outcome"] for h in delivery.history] == ["retrying", "retrying", "success"]
    assert len(linear.issues) == 1


@pytest.mark.parametrize(
    ("kind", "status", "retried"),
    [
        ("ratelimited", 200, True),
        ("internal error", 200, True),
        ("ratelimited", 400, True),
        ("invalid input", 200, False),
        ("authentication error", 200, False),
        ("forbidden", 200, False),
    ],
)
async def test_graphql_errors_are_retried_or_final_by_their_type(
    platform: Platform, linear: FakeLinear, kind: str, status: int, retried: bool
) -> None:
    await add_linear(platform, linear)
    linear.fail_next(kind, status=status, message=f"scripted {kind}")
    await platform.open_incident(4)
    assert await platform.drain() == 1
    [delivery] = await platform.deliveries()
    assert delivery.attempts == 1 and kind in (delivery.error or "")
    if not retried:
        assert delivery.status == "failed" and delivery.next_attempt_at is None and linear.issues == {}
        return
    assert delivery.status == "retrying"
    platform.clock.advance(minutes=1)
    assert await platform.drain() == 1
    [delivery] = await platform.deliveries()
    assert delivery.status == "success" and len(linear.issues) == 1


@pytest.mark.parametrize("duplicate", ["error", "same"])
async def test_a_crash_after_the_create_resends_it_without_a_second_issue(
    platform: Platform, https_server: Any, duplicate: Literal["error", "same"]
) -> None:
    linear = FakeLinear(await https_server(), duplicate=duplicate)
    await add_linear(platform, linear)
    await platform.open_incident(8)

    def crash(outcomes: Any) -> None:
        raise RuntimeError("killed after Linear answered")

    platform.worker.before_record = crash
    with pytest.raises(RuntimeError):
        await platform.worker.run_once()
    assert len(linear.issues) == 1 and await links(platform) == []

    restarted = platform.another_worker()
    platform.clock.advance(seconds=61)
    assert await restarted.run_once() == 1
    [issue] = linear.issues.values()
    assert linear.writes() == ["issueCreate", "issueCreate"]
    first, second = (r.json() for r in linear.server.requests if "issueCreate(" in r.json()["query"])
    assert first == second, "the same create, naming the same issue, sent twice"
    [delivery] = await platform.deliveries()
    assert (delivery.status, delivery.external_id) == ("success", issue["id"])
    [link] = await links(platform)
    assert (link.external_id, link.external_url) == (issue["id"], issue["url"])


async def test_an_issue_already_closed_in_linear_counts_as_resolved(platform: Platform, linear: FakeLinear) -> None:
    await add_linear(platform, linear)
    incident = await platform.open_incident(5)
    await platform.drain()
    [issue] = linear.issues.values()
    linear.move(issue, "Canceled")  # someone closed it in Linear first
    await platform.change(incident, events.RESOLVED, status="resolved", previous_status="open")
    assert await platform.drain() == 1
    assert linear.state_of(issue) == "Canceled" and linear.writes() == ["issueCreate"]
    assert [status for _, status, _ in await outcomes(platform)] == ["success", "success"]


async def test_events_about_an_incident_without_an_issue_create_nothing(platform: Platform, linear: FakeLinear) -> None:
    incident = await platform.open_incident(6)  # before the integration existed
    await add_linear(platform, linear)
    await platform.change(incident, events.ACKNOWLEDGED)
    assert await platform.drain() == 1
    assert linear.ops == ["issue"] and linear.issues == {}
    assert await outcomes(platform) == [(events.ACKNOWLEDGED, "success", 1)]


async def test_the_test_event_and_the_check_only_ask_who_the_key_is(platform: Platform, linear: FakeLinear) -> None:
    await add_linear(platform, linear)
    view = await platform.service.test(team_id=TEAM, user_id=None, ref="linear")
    assert view.status == "success"
    [line] = await platform.service.check(team_id=TEAM)
    assert line.ok and "Vigil Bot" in line.line and "ENG" in line.line
    assert linear.ops == ["viewer", "viewer"] and linear.issues == {}


async def test_the_check_names_a_team_the_key_cannot_see(platform: Platform, linear: FakeLinear) -> None:
    await add_linear(platform, linear, team_id=str(uuid.uuid4()))
    [line] = await platform.service.check(team_id=TEAM)
    assert not line.ok and "team_id:" in line.line


@pytest.mark.parametrize("how", ["wrong key", "http 401"])
async def test_an_authentication_failure_fails_at_once_without_showing_the_key(
    platform: Platform, linear: FakeLinear, how: str
) -> None:
    key = "lin_api_wrong_and_secret" if how == "wrong key" else None
    await add_linear(platform, linear, api_key=key)
    if how == "http 401":
        linear.server.respond(401, body=b"unauthorized")
    await platform.open_incident(9)
    assert await platform.drain() == 1
    [delivery] = await platform.deliveries()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 1, None)
    assert delivery.http_status in (400, 401) and linear.issues == {}
    assert "secret" not in (delivery.error or "") and linear.api_key not in (delivery.error or "")


async def test_settings_are_parsed_by_field_and_bad_ones_refused_by_key(platform: Platform) -> None:
    created = await platform.service.add(
        team_id=TEAM,
        user_id=None,
        kind="linear",
        change=IntegrationInput(name="defaults", settings={"team_id": TEAM_ID}, secrets={"api_key": "k"}),
    )
    assert created.integration.config == {"api_url": DEFAULT_API_URL, "team_id": TEAM_ID}

    with pytest.raises(Problems) as caught:
        await platform.service.add(
            team_id=TEAM,
            user_id=None,
            kind="linear",
            change=IntegrationInput(name="key", settings={"team_id": "ENG"}, secrets={"api_key": "k"}),
        )
    [problem] = caught.value.problems
    assert problem.startswith("team_id: ") and "UUID" in problem
    with pytest.raises(Problems) as caught:
        await platform.service.add(
            team_id=TEAM,
            user_id=None,
            kind="linear",
            change=IntegrationInput(name="bad", settings={"api_url": "ftp://linear.example", "team_id": TEAM_ID}),
        )
    assert sorted(p.split(":")[0] for p in caught.value.problems) == ["api_key", "api_url"]
