"""`sync_pagerduty` against the fake PagerDuty over HTTPS: pagination past 100, classic and v3 schedules, on-calls,
rate limits waited out with an injected sleep, a second sync that changes nothing, deletions, email matching that
never overrides a manual link; then the reads the Slack doors call, components' targets and key rotation."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from db.identities import EMAIL_MATCH, MANUAL
from db.models import (
    Component,
    Identity,
    Incident,
    PagerDutyOnCall,
    PagerDutyPolicy,
    PagerDutySchedule,
    PagerDutyService,
    PagerDutySync,
    PagerDutyUser,
    User,
)
from integrations.pagerduty import client
from integrations.pagerduty.service import SyncFailed, sync_pagerduty
from tests.fakes.pagerduty import ROUTING_KEY, TOKEN, FakePagerDuty
from tests.integrations.platform import TEAM, Platform, key_ring, make_platform
from tests.integrations.test_pagerduty import OTHER_KEY, add_component, add_pagerduty, pages, set_target

NOW = "2026-01-05T09:00:00+00:00"  # the platform's frozen clock
EARLIER, LATER, NEXT_WEEK = "2026-01-05T00:00:00Z", "2026-01-05T18:00:00Z", "2026-01-09T00:00:00Z"


def directory(fake: FakePagerDuty, *, services: int = 3, users: int = 3) -> None:
    """A small account: policies EP1 (Primary, classic) and EP2 (Shift, v3), and on-calls now and later."""
    fake.add_policy("EP1", "Checkout escalation")
    fake.add_policy("EP2", "Database escalation")
    for n in range(services):
        fake.add_service(f"PS{n:04d}", f"Service {n:04d}", policy="EP1" if n % 2 == 0 else "EP2")
    fake.add_user("PALICE", "Alice Martin", "alice@acme.example")
    fake.add_user("PBOB", "Bob Smith", "Bob@Acme.example")
    for n in range(users - 2):
        fake.add_user(f"PU{n:04d}", f"User {n:04d}", f"user{n}@acme.example")
    fake.add_schedule("SCLASSIC", "Primary")
    fake.add_schedule("SV3", "Follow the sun", v3=True)
    fake.add_oncall(user="PALICE", policy="EP1", level=1, schedule="SCLASSIC", start=EARLIER, end=LATER)
    fake.add_oncall(user="PBOB", policy="EP1", level=2, schedule=None, start=None, end=None)  # named in the policy
    fake.add_oncall(user="PBOB", policy="EP2", level=1, schedule="SV3", start=EARLIER, end=LATER)
    fake.add_oncall(user="PALICE", policy="EP2", level=1, schedule="SV3", start=LATER, end=NEXT_WEEK)
    fake.add_oncall(user="PALICE", policy="EP1", level=1, schedule="SCLASSIC", start="2026-02-01T00:00:00Z", end=None)


async def slack_users(platform: Platform, *, manual_bob: str | None = None) -> None:
    async with platform.container.sessions() as session, session.begin():
        session.add(User(team_id=TEAM, id="U0ALICE", name="alice", real_name="Alice", email="ALICE@acme.example"))
        session.add(User(team_id=TEAM, id="U0BOB", name="bob", real_name="Bob", email="bob@acme.example"))
        session.add(User(team_id=TEAM, id="U0GONE", name="gone", email="user0@acme.example", deactivated=True))
        if manual_bob:
            session.add(Identity(team_id=TEAM, user_id="U0BOB", kind="pagerduty", external_id=manual_bob, source=MANUAL))


async def rows(platform: Platform, model: Any) -> list[Any]:
    async with platform.container.sessions() as session:
        return list((await session.scalars(select(model).order_by(model.id))).all())


async def identities(platform: Platform) -> dict[str, tuple[str, str]]:
    return {i.user_id: (i.external_id, i.source) for i in await rows(platform, Identity)}


@pytest.fixture
async def pd(https_server: Any) -> FakePagerDuty:
    return FakePagerDuty(await https_server())


@pytest.fixture
def slept(platform: Platform) -> list[float]:
    waits: list[float] = []
    platform.container.pagerduty.sleep = waits.append
    return waits


async def test_a_sync_pages_past_100_and_reads_both_kinds_of_schedule(
    platform: Platform, pd: FakePagerDuty, slept: list[float]
) -> None:
    directory(pd, services=250, users=130)
    await add_pagerduty(platform, pd, api_token=TOKEN)
    [report] = await platform.container.pagerduty.sync()
    assert report.ok and report.error is None
    assert {k: report.counts[k] for k in ("services", "users", "policies", "schedules", "oncalls")} == {
        "services": 250,
        "users": 130,
        "policies": 2,
        "schedules": 2,
        "oncalls": 4,
    }, "the February shift is beyond the week the sync looks ahead"
    services = pd.calls("GET", "/services")
    assert [(r.query["offset"], r.query["limit"]) for r in services] == [("0", "100"), ("100", "100"), ("200", "100")]
    assert {r.headers["Authorization"] for r in pd.server.requests} == {f"Token token={TOKEN}"}
    assert len(await rows(platform, PagerDutyService)) == 250 and len(await rows(platform, PagerDutyUser)) == 130
    assert {(s.pd_id, s.version) for s in await rows(platform, PagerDutySchedule)} == {
        ("SCLASSIC", "classic"),
        ("SV3", "v3"),
    }
    [oncalls] = pd.calls("GET", "/oncalls")
    assert (oncalls.query["since"], oncalls.query["until"]) == (NOW, "2026-01-12T09:00:00+00:00")
    permanent = [o for o in await rows(platform, PagerDutyOnCall) if o.starts_at is None]
    assert [(o.user_id, o.level, o.schedule_id, o.ends_at) for o in permanent] == [("PBOB", 2, None, None)]
    service = next(s for s in await rows(platform, PagerDutyService) if s.pd_id == "PS0001")
    assert (service.name, service.escalation_policy_id) == ("Service 0001", "EP2")
    [record] = await rows_sync(platform)
    assert record.ok and record.synced_at == platform.clock.now() and record.error is None
    assert slept == []


async def rows_sync(platform: Platform) -> list[PagerDutySync]:
    async with platform.container.sessions() as session:
        return list((await session.scalars(select(PagerDutySync))).all())


async def test_a_second_sync_changes_nothing_and_drops_what_pagerduty_no_longer_lists(
    platform: Platform, pd: FakePagerDuty
) -> None:
    directory(pd)
    await add_pagerduty(platform, pd, api_token=TOKEN)
    await platform.container.pagerduty.sync()
    first = {
        m.__name__: [(r.id, r.pd_id, r.name) for r in await rows(platform, m)] for m in (PagerDutyService, PagerDutyUser)
    }
    platform.clock.advance(minutes=5)
    await platform.container.pagerduty.sync()
    again = {
        m.__name__: [(r.id, r.pd_id, r.name) for r in await rows(platform, m)] for m in (PagerDutyService, PagerDutyUser)
    }
    assert again == first

    pd.services.pop()
    pd.users = [u for u in pd.users if u["id"] != "PBOB"]
    pd.oncalls = [o for o in pd.oncalls if o["user"]["id"] != "PBOB"]
    pd.v3_schedules.clear()
    pd.services[0]["name"] = "Checkout"
    platform.clock.advance(minutes=5)
    [report] = await platform.container.pagerduty.sync()
    assert report.ok
    assert [(s.pd_id, s.name) for s in await rows(platform, PagerDutyService)] == [
        ("PS0000", "Checkout"),
        ("PS0001", "Service 0001"),
    ]
    assert "PBOB" not in {u.pd_id for u in await rows(platform, PagerDutyUser)}
    assert {s.pd_id for s in await rows(platform, PagerDutySchedule)} == {"SCLASSIC"}
    assert {o.user_id for o in await rows(platform, PagerDutyOnCall)} == {"PALICE"}


async def test_a_429_is_waited_out_for_ratelimit_reset_then_the_sync_gives_up(
    platform: Platform, pd: FakePagerDuty, slept: list[float]
) -> None:
    directory(pd)
    await add_pagerduty(platform, pd, api_token=TOKEN)
    limited = {"error": {"message": "Rate Limit Exceeded", "code": 2020}}
    pd.server.route("/users").respond(429, json=limited, headers={"ratelimit-reset": "1"})
    [report] = await platform.container.pagerduty.sync()
    assert report.ok and report.counts["rate_limited"] == 1 and slept == [1.0]
    assert len(pd.calls("GET", "/users")) == 2

    route = pd.server.route("/escalation_policies")
    for _ in range(6):
        route.respond(429, json=limited, headers={"ratelimit-reset": "0"})
    platform.clock.advance(minutes=5)
    [report] = await platform.container.pagerduty.sync()
    assert not report.ok and report.error == f"{pd.url}/escalation_policies answered 429: Rate Limit Exceeded"
    assert slept == [1.0, 0.0, 0.0, 0.0, 0.0, 0.0], "five waits, then the next run tries again"
    [record] = await rows_sync(platform)
    assert (record.ok, record.error, record.started_at) == (False, report.error, platform.clock.now())
    assert record.synced_at is not None and record.synced_at < record.started_at, "the last success is kept"
    assert len(await rows(platform, PagerDutyPolicy)) == 2, "nothing deleted by a failed run"
    assert TOKEN not in str(record.error)


async def test_users_are_matched_by_email_and_a_manual_link_wins(platform: Platform, pd: FakePagerDuty) -> None:
    directory(pd)
    await slack_users(platform, manual_bob="PXOTHER")
    await add_pagerduty(platform, pd, api_token=TOKEN)
    [report] = await platform.container.pagerduty.sync()
    assert report.counts["matched"] == 1
    assert await identities(platform) == {"U0ALICE": ("PALICE", EMAIL_MATCH), "U0BOB": ("PXOTHER", MANUAL)}
    async with platform.container.sessions() as session, session.begin():
        await session.delete((await session.scalars(select(Identity).where(Identity.user_id == "U0BOB"))).one())
    await platform.container.pagerduty.sync()
    assert await identities(platform) == {"U0ALICE": ("PALICE", EMAIL_MATCH), "U0BOB": ("PBOB", EMAIL_MATCH)}


async def test_the_reads_the_slack_doors_call(platform: Platform, pd: FakePagerDuty) -> None:
    directory(pd)
    await slack_users(platform)
    integration = await add_pagerduty(platform, pd, api_token=TOKEN)
    service = platform.container.pagerduty
    assert await service.last_sync(TEAM) is None
    await service.sync()

    now = await service.oncall_now(TEAM)
    assert [(r.policy_name, r.level, r.user_name, r.slack_user_id, r.schedule_name) for r in now] == [
        ("Checkout escalation", 1, "Alice Martin", "U0ALICE", "Primary"),
        ("Checkout escalation", 2, "Bob Smith", "U0BOB", None),
        ("Database escalation", 1, "Bob Smith", "U0BOB", "Follow the sun"),
    ]
    assert now[0].ends_at == datetime(2026, 1, 5, 18, tzinfo=UTC) and now[1].ends_at is None
    assert now[0].user_url == "https://acme.pagerduty.com/users/PALICE" and now[0].integration_id == integration.id

    shifts = await service.shifts(TEAM, "U0ALICE")
    assert [(s.policy_name, s.level, s.schedule_name, s.starts_at) for s in shifts] == [
        ("Checkout escalation", 1, "Primary", datetime(2026, 1, 5, tzinfo=UTC)),
        ("Database escalation", 1, "Follow the sun", datetime(2026, 1, 5, 18, tzinfo=UTC)),
    ], "the February shift is beyond the sync's week"
    assert await service.shifts(TEAM, "U0NOBODY") == []

    assert [tuple(r) for r in await service.services(TEAM, "service 000")] == [
        (integration.id, "PS0000", "Service 0000", "EP1"),
        (integration.id, "PS0001", "Service 0001", "EP2"),
        (integration.id, "PS0002", "Service 0002", "EP1"),
    ]
    [by_id] = await service.services(TEAM, "ps0002")
    assert (by_id.pd_id, by_id.name) == ("PS0002", "Service 0002")
    assert await service.services(TEAM, "100%_") == []
    synced = await service.last_sync(TEAM)
    assert synced is not None and synced.ok and synced.integration_id == integration.id

    async with platform.container.sessions() as session:
        public = Incident(team_id=TEAM, number=1, title="t", severity="P1", reporter_id="U0ALICE", private=False)
        private = Incident(team_id=TEAM, number=2, title="t", severity="P1", reporter_id="U0ALICE", private=True)
        database = Component(id=99, team_id=TEAM, name="db", pagerduty_service_id="PS0001")
        assert await service.oncall_invitees(session, public, database) == ["U0BOB"]  # EP2 level 1
        assert await service.oncall_invitees(session, private, database) == [], "private incidents invite no on-call"
        assert await service.oncall_invitees(session, public, None) == []


async def test_a_listing_cut_short_by_the_offset_limit_deletes_nothing(
    platform: Platform, pd: FakePagerDuty, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory(pd, services=250)
    await add_pagerduty(platform, pd, api_token=TOKEN)
    await platform.container.pagerduty.sync()
    monkeypatch.setattr(client, "OFFSET_LIMIT", 150)
    [report] = await platform.container.pagerduty.sync()
    assert report.ok and report.counts["services"] == 150
    assert [(r.query["offset"], r.query["limit"]) for r in pd.calls("GET", "/services")[3:]] == [("0", "100"), ("100", "50")]
    assert len(await rows(platform, PagerDutyService)) == 250, "a partial listing deletes nothing"


async def test_v3_schedules_paged_by_cursor(platform: Platform, pd: FakePagerDuty) -> None:
    pd.v3_cursor = True
    for n in range(130):
        pd.add_schedule(f"SV{n:04d}", f"Shift {n}", v3=True)
    await add_pagerduty(platform, pd, api_token=TOKEN)
    [report] = await platform.container.pagerduty.sync()
    assert report.ok and report.counts["schedules"] == 130
    assert [r.query.get("cursor") for r in pd.calls("GET", "/v3/schedules")] == [None, "100"]


async def test_the_job_counts_what_it_synced_and_fails_when_a_sync_failed(platform: Platform, pd: FakePagerDuty) -> None:
    directory(pd)
    await add_pagerduty(platform, pd, routing_key=ROUTING_KEY)  # no token: not synced
    assert await sync_pagerduty(platform.container) == 0
    await add_pagerduty(platform, pd, name="with-token", routing_key=None, api_token=TOKEN)
    assert await sync_pagerduty(platform.container) == 3 + 3 + 2 + 2 + 4
    await add_pagerduty(platform, pd, name="wrong", routing_key=None, api_token="not-the-token")
    with pytest.raises(SyncFailed, match=r"^wrong: .*/services answered 401: Authentication failed$"):
        await sync_pagerduty(platform.container)


async def test_a_components_target_is_checked_and_its_key_never_shown(platform: Platform, pd: FakePagerDuty) -> None:
    directory(pd)
    await add_pagerduty(platform, pd, api_token=TOKEN)
    await platform.container.pagerduty.sync()
    service = platform.container.pagerduty
    component = await add_component(platform)
    with pytest.raises(Exception, match="No PagerDuty service PNOPE00 in the last sync"):
        await set_target(platform, component, "PNOPE00", None)
    with pytest.raises(Exception, match="Routing key: an Events API v2 integration key is 32 letters and digits"):
        await set_target(platform, component, None, "short")
    await set_target(platform, component, "PS0000", OTHER_KEY)
    assert await service.component_targets(TEAM) == {component: ("PS0000", "Service 0000", True)}
    said = await set_target(platform, component, "PS0001", None, keep=True)
    assert said == "checkout now pages Service 0001 with its own routing key."
    assert await service.component_targets(TEAM) == {component: ("PS0001", "Service 0001", True)}
    await set_target(platform, component, None, None)
    assert await service.component_targets(TEAM) == {component: (None, None, False)}


async def test_key_rotation_reseals_components_routing_keys(db_url: str, ca_bundle: Path, pd: FakePagerDuty) -> None:
    old = key_ring("k1")
    before = await make_platform(db_url, ca_bundle, VIGIL_ENCRYPTION_KEYS=old)
    try:
        await add_pagerduty(before, pd)
        component = await add_component(before)
        await set_target(before, component, None, OTHER_KEY)
    finally:
        await before.container.aclose()
    after = await make_platform(db_url, ca_bundle, VIGIL_ENCRYPTION_KEYS=f"{key_ring('k2')},{old}")
    try:
        assert await after.container.integrations.rotate_keys() == (2, 2)  # the integration and the component
        assert await after.container.integrations.rotate_keys() == (0, 2)
        async with after.container.sessions() as session:
            stored = await session.get(Component, component)
            assert stored is not None and stored.pagerduty_key_id == "k2"
            assert (stored.pagerduty_routing_key or "").startswith("v1:k2:")
        await after.open_incident(1, severity="P1", component_id=component)
        await after.drain()
        [alert] = pd.alerts
        assert alert["routing_key"] == OTHER_KEY
        [page] = await pages(after)
        assert page.target == f"routing:component:{component}"
    finally:
        await after.container.aclose()
