"""The runtime through its real doors: Socket Mode against the emulator, and HTTP into the sidecar."""

from __future__ import annotations

import aiohttp
import pytest

from bot.run_lock import AlreadyRunning, RunLock
from bot.settings import load_settings
from db.tags import DEV_FIREFIGHTER
from tests.app.conftest import ALICE, BOB, GENERAL, INCIDENTS_CHANNEL, StartVigil, Vigil, wait_handled
from tests.app.test_work import say


async def test_help_answers_ephemerally_with_every_subcommand(vigil: Vigil) -> None:
    text = await say(vigil, "help")
    assert text.startswith("/incident commands")
    for sub in ("open [P1-P5]", "status", "resolve", "close", "reopen", "lead", "link"):
        assert sub in text, sub
    assert "No help channel is set yet" in text


async def test_empty_text_is_help_and_case_does_not_matter(vigil: Vigil) -> None:
    assert "/incident commands" in await say(vigil, "")
    assert "/incident commands" in await say(vigil, "HeLp")


async def test_unknown_input_gets_a_usage_line_naming_the_help_channel(vigil: Vigil) -> None:
    await vigil.tag(DEV_FIREFIGHTER, INCIDENTS_CHANNEL)
    text = await say(vigil, "frobnicate now", user=BOB)
    assert "frobnicate" in text
    assert f"<#{INCIDENTS_CHANNEL}>" in text
    bad = await say(vigil, "severity P9")
    assert "P1" in bad and f"<#{INCIDENTS_CHANNEL}>" in bad


async def test_health_readiness_and_metrics(vigil: Vigil) -> None:
    await vigil.command("help")
    await vigil.wait_handled("command", "/incident")  # the reply reaches Slack before the timing is recorded
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{vigil.http}/healthz") as resp:
            assert resp.status == 200
        async with http.get(f"{vigil.http}/readyz") as resp:
            assert resp.status == 200
            assert await resp.json() == {"status": "ready", "database": "ok", "socket_mode": "ok"}
        async with http.get(f"{vigil.http}/metrics") as resp:
            assert resp.status == 200
            body = await resp.text()
    assert 'vigil_slack_api_calls_total{method="auth.test",outcome="ok"}' in body
    assert 'vigil_socket_envelopes_total{type="slash_commands"} 1.0' in body
    assert 'vigil_handler_seconds_count{id="/incident",kind="command"} 1.0' in body


async def test_readyz_is_503_without_the_socket(vigil: Vigil) -> None:
    assert vigil.runtime.handler is not None
    await vigil.runtime.handler.close_async()
    async with aiohttp.ClientSession() as http, http.get(f"{vigil.http}/readyz") as resp:
        assert resp.status == 503
        assert (await resp.json())["socket_mode"] == "disconnected"


async def test_same_event_delivered_twice_is_handled_once(vigil: Vigil) -> None:
    event = {"type": "member_joined_channel", "user": BOB, "channel": GENERAL, "channel_type": "C", "team": vigil.team_id}
    first = await vigil.emu.send_event(event, event_id="Ev0DUP1")
    second = await vigil.emu.send_event(event, event_id="Ev0DUP1")
    assert first.acked and second.acked
    await vigil.wait_handled("event", "member_joined_channel")
    other = await vigil.emu.send_event(event, event_id="Ev0OTHER")
    assert other.acked
    await vigil.wait_handled("event", "member_joined_channel", 2)
    assert vigil.handled("event", "member_joined_channel") == 2


async def test_a_second_replica_skips_events_the_first_handled(start_vigil: StartVigil) -> None:
    first = await start_vigil()
    second = await start_vigil()
    event = {"type": "member_left_channel", "user": ALICE, "channel": GENERAL, "channel_type": "C", "team": first.team_id}
    for _ in range(4):  # the emulator spreads envelopes over both sockets
        assert (await first.emu.send_event(event, event_id="Ev0REPLICA")).acked
    await wait_handled([first, second], "event", "member_left_channel")
    await first.settle()
    await second.settle()
    assert first.handled("event", "member_left_channel") + second.handled("event", "member_left_channel") == 1


async def test_web_api_429_is_retried_after_retry_after(vigil: Vigil) -> None:
    vigil.emu.fail_next("auth.test", error="ratelimited", retry_after=0)
    resp = await vigil.container.slack.auth_test()
    assert resp["ok"]
    statuses = [c.status for c in vigil.emu.calls_to("auth.test")][-2:]
    assert statuses == [429, 200]


async def test_draining_refuses_new_commands_politely(vigil: Vigil) -> None:
    assert vigil.runtime.slack_app is not None
    vigil.runtime.slack_app.in_flight.draining = True
    ack = await vigil.command("help")
    assert "restarting" in ack.text


def test_run_lock_refuses_a_second_holder(tmp_path: object) -> None:
    settings = load_settings(env_file=None, VIGIL_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/v.db")
    with RunLock(settings.db_url), pytest.raises(AlreadyRunning, match="another `vigil run`"), RunLock(settings.db_url):
        pass
    with RunLock(settings.db_url):  # released on exit
        pass


async def test_reconnects_after_slack_asks_for_a_refresh(vigil: Vigil) -> None:
    opened = vigil.emu.connections_opened
    await vigil.emu.disconnect_all("refresh_requested")
    await vigil.emu.wait_until(lambda: vigil.emu.connections_opened > opened and vigil.emu.connected, what="reconnect")
    assert "/incident commands" in await say(vigil, "help")


async def test_purge_logs_job_drops_expired_event_ids(vigil: Vigil) -> None:
    from datetime import timedelta

    from bot.scheduler import purge_logs
    from db.events import claim_event

    now = vigil.container.clock.now()
    async with vigil.container.sessions() as session, session.begin():
        await claim_event(session, team_id=vigil.team_id, event_id="EvOld", expires_at=now - timedelta(minutes=1))
        await claim_event(session, team_id=vigil.team_id, event_id="EvNew", expires_at=now + timedelta(hours=1))
    assert await purge_logs(vigil.container) == 1
    assert await purge_logs(vigil.container) == 0


async def test_stop_lets_running_listeners_finish_and_refuses_new_work(vigil: Vigil) -> None:
    from bot import slack_ids as ids
    from tests.app.test_declare import declare_values

    vigil.emu.latency = 0.2  # a declaration now takes about a second of Slack calls
    ack = await vigil.emu.send_view_submission(user_id=ALICE, callback_id=ids.VIEW_DECLARE, values=declare_values("Slow"))
    assert ack.acked
    assert vigil.runtime.slack_app is not None and vigil.runtime.slack_app.in_flight.count == 1
    await vigil.runtime.stop()
    [incident] = await vigil.incidents()
    assert incident.opening_message_ts and vigil.emu.state.is_pinned(incident.channel_id or "", incident.opening_message_ts)
    assert not vigil.emu.connected
