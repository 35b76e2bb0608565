"""The outbox and the worker against a recording HTTPS receiver: signed bodies, retries on an injected clock, order per
incident, crash and restart without a second send of another id, two workers on PostgreSQL, filters, rotation."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.incidents import events
from integrations import worker as worker_module
from integrations.base import DeliveryFailed
from integrations.signing import verify_header
from integrations.worker import DeliveryWorker
from tests.integrations.platform import TEAM, Platform, body_of, make_platform

INCIDENT_KEYS = {
    "number",
    "key",
    "title",
    "severity",
    "status",
    "private",
    "commander",
    "channel_id",
    "channel_url",
    "created_at",
    "acknowledged_at",
    "resolved_at",
    "closed_at",
}


async def test_an_opened_incident_is_delivered_signed_with_the_spec_body(platform: Platform, https_server: Any) -> None:
    server = await https_server()
    created = await platform.add_webhook(server.url + "/hook")
    secret = created.shown_once["inbound_secret"]
    incident = await platform.open_incident(7, severity="P1")

    assert await platform.drain() == 1
    [request] = server.requests
    assert request.method == "POST" and request.path == "/hook"
    body = body_of(request)
    assert set(body) == {"id", "event", "occurred_at", "incident"}
    assert body["event"] == "incident.opened"
    assert set(body["incident"]) == INCIDENT_KEYS
    assert body["incident"]["key"] == "INC-7" and body["incident"]["severity"] == "P1"
    assert body["incident"]["channel_url"] == "https://acme.slack.com/archives/C0INC"
    assert request.headers["X-Vigil-Delivery"] == body["id"]
    assert request.headers["Content-Type"].startswith("application/json")
    now = int(platform.clock.now().timestamp())
    assert verify_header(request.headers["X-Vigil-Signature"], request.body, [secret], now=now)
    assert not verify_header(request.headers["X-Vigil-Signature"], request.body + b" ", [secret], now=now)

    [delivery] = await platform.deliveries()
    assert delivery.incident_id == incident.id
    assert (delivery.status, delivery.attempts, delivery.http_status) == ("success", 1, 200)
    assert delivery.payload == body and delivery.delivery_id == body["id"]


async def test_opened_waits_briefly_for_the_incident_channel(platform: Platform, https_server: Any) -> None:
    server = await https_server()
    await platform.add_webhook(server.url)
    await platform.open_incident(1, channel_id=None)
    assert await platform.drain() == 0 and server.requests == []
    platform.clock.advance(seconds=16)
    assert await platform.drain() == 1
    assert body_of(server.requests[0])["incident"]["channel_id"] is None


async def test_a_receiver_answering_500_is_retried_after_1_5_30_minutes_then_failed(
    platform: Platform, https_server: Any
) -> None:
    server = await https_server()
    server.default = (500,)
    await platform.add_webhook(server.url)
    incident = await platform.open_incident(3)
    await platform.change(incident, events.ACKNOWLEDGED)

    schedule = []
    for wait in (0, 1, 5, 30):
        platform.clock.advance(minutes=wait)
        assert await platform.drain() == 1, f"one attempt after {wait} min"
        first, second = await platform.deliveries()
        schedule.append((first.status, first.attempts))
        if wait != 30:
            assert second.status == "pending", "a later delivery waits while the earlier one is open"
            assert first.next_attempt_at == platform.clock.now() + timedelta(minutes={0: 1, 1: 5, 5: 30}[wait])
            assert await platform.drain() == 0, "nothing is due before the next attempt"
    assert schedule == [("retrying", 1), ("retrying", 2), ("retrying", 3), ("failed", 4)]
    first, second = await platform.deliveries()
    assert first.http_status == 500 and "answered 500" in (first.error or "")
    assert second.status == "failed" and (second.error or "").startswith("not sent: the earlier delivery")
    assert len({r.headers["X-Vigil-Delivery"] for r in server.requests}) == 1, "every re-send keeps its delivery id"
    assert len(server.requests) == 4 and len(first.history) == 4


async def test_429_honours_retry_after_then_succeeds(platform: Platform, https_server: Any) -> None:
    server = await https_server()
    server.respond(429, headers={"Retry-After": "0"})
    server.default = (200,)
    await platform.add_webhook(server.url)
    await platform.open_incident(4)
    assert await platform.drain() == 2
    [delivery] = await platform.deliveries()
    assert (delivery.status, delivery.attempts, delivery.http_status) == ("success", 2, 200)
    assert [h["outcome"] for h in delivery.history] == ["retrying", "success"]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_final_answers_fail_at_once(platform: Platform, https_server: Any, status: int) -> None:
    server = await https_server()
    server.default = (status,)
    await platform.add_webhook(server.url)
    await platform.open_incident(5)
    assert await platform.drain() == 1
    [delivery] = await platform.deliveries()
    assert (delivery.status, delivery.attempts, delivery.http_status) == ("failed", 1, status)
    assert delivery.next_attempt_at is None


async def test_a_receiver_that_does_not_answer_in_time_is_retried(platform: Platform, https_server: Any) -> None:
    server = await https_server()
    release = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        await release.wait()
        return web.Response(status=200)

    server.handler = hang
    platform.worker.attempt_timeout = 0.2
    await platform.add_webhook(server.url)
    await platform.open_incident(6)
    try:
        assert await platform.drain() == 1
    finally:
        release.set()
    [delivery] = await platform.deliveries()
    assert delivery.status == "retrying" and "no answer" in (delivery.error or "")


async def test_a_crash_between_the_answer_and_the_commit_resends_the_same_delivery(
    platform: Platform, https_server: Any
) -> None:
    server = await https_server()
    await platform.add_webhook(server.url)
    await platform.open_incident(8)

    def crash(outcomes: Any) -> None:
        raise RuntimeError("killed after the receiver answered")

    platform.worker.before_record = crash
    with pytest.raises(RuntimeError):
        await platform.worker.run_once()
    assert len(server.requests) == 1

    # A restarted worker (a new process) sees the claim until its lease ends, then sends again with the same id.
    restarted = platform.another_worker()
    assert await restarted.run_once() == 0
    platform.clock.advance(seconds=61)
    assert await restarted.run_once() == 1
    first, second = server.requests
    assert first.headers["X-Vigil-Delivery"] == second.headers["X-Vigil-Delivery"]
    assert body_of(first) == body_of(second)
    [delivery] = await platform.deliveries()
    assert (delivery.status, delivery.attempts) == ("success", 1)


async def test_a_live_worker_renews_its_claim_while_a_slow_receiver_answers(
    platform: Platform, https_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A receiver slower than the lease never sees a second worker: the claim is renewed while the attempt runs, and
    only a claim nobody renews (its worker died) lapses."""
    monkeypatch.setattr(worker_module, "RENEW_EVERY", timedelta(seconds=0.05))
    server = await https_server()
    arrived, release = asyncio.Event(), asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        arrived.set()
        await release.wait()
        return web.Response(status=200)

    server.handler = slow
    await platform.add_webhook(server.url)
    await platform.open_incident(9)
    first = asyncio.create_task(platform.worker.run_once())
    await asyncio.wait_for(arrived.wait(), 10)
    platform.clock.advance(seconds=worker_module.LEASE.total_seconds() + 10)  # past the lease it was claimed with
    for _ in range(500):
        [row] = await platform.deliveries()
        if row.claimed_until is not None and row.claimed_until > platform.clock.now():
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the claim was not renewed while the receiver was answering")
    other = platform.another_worker()
    assert await other.run_once() == 0
    release.set()
    assert await first == 1
    [delivery] = await platform.deliveries()
    assert (delivery.status, len(server.requests)) == ("success", 1)


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_two_workers_never_send_one_delivery_twice(platform: Platform, https_server: Any) -> None:
    server = await https_server()
    await platform.add_webhook(server.url)
    sequence = (events.ACKNOWLEDGED, events.UPDATED, events.RESOLVED, events.CLOSED)
    for n in range(1, 31):
        incident = await platform.open_incident(n)
        for name in sequence:
            await platform.change(incident, name)
    other = platform.another_worker(batch=7)
    platform.worker.batch = 7

    async def drain(worker: DeliveryWorker) -> int:
        total = 0
        for _ in range(200):
            done = await worker.run_once()
            total += done
            if not done and all(d.status == "success" for d in await platform.deliveries()):
                return total
            await asyncio.sleep(0)
        return total

    counts = await asyncio.gather(drain(platform.worker), drain(other))
    assert sum(counts) == 150 and all(counts), f"both workers took part: {counts}"
    ids = [r.headers["X-Vigil-Delivery"] for r in server.requests]
    assert len(ids) == len(set(ids)) == 150
    per_incident: dict[int, list[str]] = {}
    for request in server.requests:
        body = body_of(request)
        per_incident.setdefault(body["incident"]["number"], []).append(body["event"])
    assert all(order == [events.OPENED, *sequence] for order in per_incident.values()), "events in order per incident"


async def test_filters_events_severity_private_and_origin(platform: Platform, https_server: Any) -> None:
    server = await https_server()
    hook = (
        await platform.add_webhook(server.url, name="filtered", min_severity="P2", events=["incident.opened"])
    ).integration
    await platform.open_incident(1, severity="P3")  # below the minimum
    await platform.open_incident(2, severity="P1", private=True)  # private, not included
    await platform.open_incident(3, severity="P1", source=f"integration:{hook.id}")  # came from this integration
    p2 = await platform.open_incident(4, severity="P2")
    await platform.change(p2, events.ACKNOWLEDGED)  # not one of its events
    assert await platform.drain() == 1
    assert [body_of(r)["incident"]["number"] for r in server.requests] == [4]


async def test_disabling_cancels_pending_deliveries(platform: Platform, https_server: Any) -> None:
    server = await https_server()
    await platform.add_webhook(server.url)
    await platform.open_incident(1)
    _, cancelled = await platform.service.set_active(team_id=TEAM, user_id=None, ref="hook", active=False)
    assert cancelled == 1
    await platform.open_incident(2)  # disabled: nothing enqueued
    assert await platform.drain() == 0 and server.requests == []
    assert [d.status for d in await platform.deliveries()] == ["cancelled"]


async def test_outbound_disabled_enqueues_nothing(
    db_url: str, ca_bundle: Path, https_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    server = await https_server()
    p = await make_platform(db_url, ca_bundle, VIGIL_OUTBOUND_ENABLED="false")
    try:
        await p.add_webhook(server.url)
        with caplog.at_level(logging.INFO, logger="integrations.outbox"):
            await p.open_incident(1)
        assert await p.deliveries() == []
        assert "outbound suppressed" in caplog.text
    finally:
        await p.container.aclose()


async def test_a_rotated_secret_signs_beside_the_new_one_for_24_hours(platform: Platform, https_server: Any) -> None:
    server = await https_server()
    old = (await platform.add_webhook(server.url)).shown_once["inbound_secret"]
    rotated = await platform.service.rotate_secret(team_id=TEAM, user_id=None, ref="hook")
    assert rotated.inbound_secret != old
    assert rotated.previous_valid_until == platform.clock.now() + timedelta(hours=24)
    await platform.open_incident(1)
    await platform.drain()
    header = server.requests[-1].headers["X-Vigil-Signature"]
    now = int(platform.clock.now().timestamp())
    assert header.count("v1=") == 2
    for secret in (rotated.inbound_secret, old):
        assert verify_header(header, server.requests[-1].body, [secret], now=now)

    platform.clock.advance(hours=24, seconds=1)
    assert await platform.service.purge_rotated_secrets() == 1
    await platform.open_incident(2)
    await platform.drain()
    header = server.requests[-1].headers["X-Vigil-Signature"]
    now = int(platform.clock.now().timestamp())
    assert header.count("v1=") == 1
    assert not verify_header(header, server.requests[-1].body, [old], now=now)


async def test_private_and_loopback_targets_are_refused_without_allow_private(
    db_url: str, ca_bundle: Path, https_server: Any
) -> None:
    server = await https_server()
    p = await make_platform(db_url, ca_bundle, VIGIL_OUTBOUND_ALLOW_PRIVATE="false")
    try:
        with pytest.raises(Exception, match="url: "):
            await p.add_webhook(server.url)  # https://127.0.0.1:… is refused when saved
        port = server.url.rsplit(":", 1)[1]
        await p.add_webhook(f"https://localhost:{port}/", name="by-name")  # a name: checked when resolved
        await p.open_incident(1)
        assert await p.drain() == 1
        [delivery] = await p.deliveries()
        assert delivery.status == "failed" and delivery.attempts == 1 and "refused" in (delivery.error or "")
        assert server.requests == []
    finally:
        await p.container.aclose()


def test_delivery_failed_messages_are_bounded() -> None:
    assert len(str(DeliveryFailed("x" * 5000))) == 500


async def test_scheduled_purges_drop_old_deliveries_and_expired_secrets(platform: Platform, https_server: Any) -> None:
    from bot.scheduler import purge_logs, purge_rotated_secrets

    server = await https_server()
    await platform.add_webhook(server.url)
    await platform.open_incident(1)
    await platform.drain()
    await platform.service.rotate_secret(team_id=TEAM, user_id=None, ref="hook")
    assert await purge_logs(platform.container) == 0
    assert await purge_rotated_secrets(platform.container) == 0
    platform.clock.advance(days=31)
    assert await purge_rotated_secrets(platform.container) == 1
    assert await purge_logs(platform.container) == 1
    assert await platform.deliveries() == []
