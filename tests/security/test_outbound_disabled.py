"""`VIGIL_OUTBOUND_ENABLED=false` sends nothing to any integration, through every door, and says why.

With one integration of every kind pointed at its recording fake, a whole P1 (declared in Slack, paged, updated,
resolved), `vigil integrations test` of each, App Home's Test button, the PagerDuty sync and `vigil check` make no
request and open no connection to any fake; the refusals say outbound is off, the log names what was suppressed,
and `vigil deliveries list` says why nothing is moving. Slack itself is not affected.

docs/configuration.md and docs/integrations/overview.md: "stops every outbound call to integrations: nothing is
queued, and the suppression is logged". So events that happen while it is off are not queued, and turning it back
on does not replay them; deliveries already queued before it was turned off (a retry due later, a row not yet
sent) are held while it is off and go out once it is on again.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot import slack_ids as ids
from db.tags import TECH_INCIDENTS
from tests.app.conftest import (
    ALICE,
    GENERAL,
    INCIDENTS_CHANNEL,
    StartVigil,
    Vigil,
)
from tests.app.test_declare import declare
from tests.app.test_home import click, dms_to, open_home
from tests.fakes.plugin import ServerFactory
from tests.integrations.platform import key_ring, make_platform
from tests.security.world import (
    PD_SERVICE,
    Fakes,
    add_with_service,
    cli_env,
    specs,
    start_fakes,
    stop_worker,
    vigil_cli,
)

OFF = "Outbound traffic is off (VIGIL_OUTBOUND_ENABLED=false)"
HELD_NOTE = "VIGIL_OUTBOUND_ENABLED=false"


async def said(vigil: Vigil, text: str, *, channel: str) -> str:
    """What the command answered the person who typed it."""
    before = len(vigil.emu.responses_for(ALICE))
    ack = await vigil.command(text, channel=channel)
    assert ack.acked
    await vigil.settle()
    return " ".join(r.text for r in vigil.emu.responses_for(ALICE)[before:]) + (ack.text or "")


async def start_off(start_vigil: StartVigil, db_url: str, ca_bundle: Path) -> tuple[Vigil, dict[str, str]]:
    ring = key_ring()
    env = cli_env(db_url, ca_bundle, ring, VIGIL_OUTBOUND_ENABLED="false")
    vigil = await start_vigil(settings={k: v for k, v in env.items() if k != "VIGIL_DATABASE_URL"})
    await stop_worker(vigil)
    await vigil.tag(TECH_INCIDENTS, INCIDENTS_CHANNEL)
    return vigil, env


async def test_with_outbound_off_a_whole_p1_and_every_test_send_nothing(
    start_vigil: StartVigil,
    db_url: str,
    ca_bundle: Path,
    https_server: ServerFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fakes: Fakes = await start_fakes(https_server)
    vigil, env = await start_off(start_vigil, db_url, ca_bundle)
    for spec in specs(fakes):
        await add_with_service(vigil, spec)
    env |= {
        "SLACK_BOT_TOKEN": vigil.emu.bot_token,
        "SLACK_APP_TOKEN": vigil.emu.app_token,
        "SLACK_API_URL": vigil.emu.api_url,
    }

    with caplog.at_level(logging.INFO):
        incident = await declare(vigil, "Checkout down", "P1")
        channel = incident.channel_id or ""
        assert f"{OFF}; nobody was paged." in await said(vigil, "page", channel=channel)
        assert f"{OFF}; nobody was paged." in await said(vigil, f"page {PD_SERVICE[1].lower()}", channel=GENERAL)
        for command in ("severity P2", "resolve rolled back"):
            await said(vigil, command, channel=channel)
        assert await vigil.container.worker.run_once() == 0, "nothing was queued, nothing is claimed"
    suppressed = [r.getMessage() for r in caplog.records if r.getMessage().startswith("outbound suppressed")]
    assert [m.split(":", 1)[1].split(" of ")[0].strip() for m in suppressed] == [
        "incident.opened",
        "incident.updated",
        "incident.resolved",
    ], suppressed
    assert all(m.endswith(f"not sent to {len(specs(fakes)) - 1} integration(s)") for m in suppressed[:1]), suppressed

    for spec in specs(fakes):
        tested = await vigil_cli(env, "integrations", "test", spec.name)
        assert tested.exit_code == 2 and f"error: {OFF}; nothing was sent." in tested.output, tested.output
    synced = await vigil_cli(env, "jobs", "run", "sync_pagerduty")
    assert synced.exit_code == 0, synced.output
    checked = await vigil_cli(env, "check")
    for spec in specs(fakes):
        assert f"integration {spec.name}: ok: {spec.kind}: configured; probe skipped (outbound is off)" in checked.output

    await open_home(vigil, ALICE)
    await click(vigil, ALICE, ids.ACTION_HOME_TAB_INTEGRATIONS, "integrations")
    hook = (await vigil.container.integrations.get(team_id=vigil.team_id, ref="hook")).id
    await click(vigil, ALICE, ids.ACTION_ADMIN_TEST_INTEGRATION, hook)
    assert f"{OFF}; nothing was sent." in dms_to(vigil.emu, ALICE)[-1]

    listed = await vigil_cli(env, "deliveries", "list")
    assert listed.exit_code == 0 and HELD_NOTE in listed.stderr, listed.output
    assert await vigil.container.integrations.deliveries(team_id=vigil.team_id) == []
    assert (fakes.requests(), fakes.connections()) == (0, 0), [(s.url, len(s.requests)) for s in fakes.servers()]
    assert vigil.emu.calls_to("chat.postMessage"), "Slack itself is not affected"


async def test_deliveries_queued_before_outbound_was_turned_off_are_held_until_it_is_on_again(
    db_url: str, ca_bundle: Path, https_server: ServerFactory
) -> None:
    """Three lives of one deployment on one database: on (a delivery queued, a receiver that answered 500 so it
    waits for its retry), then off (nothing goes out, however long), then on again (the held delivery goes)."""
    receiver = await https_server()
    ring = key_ring()
    before = await make_platform(db_url, ca_bundle, VIGIL_ENCRYPTION_KEYS=ring)
    try:
        await before.add_webhook(receiver.url + "/hook")
        receiver.respond(500)
        await before.open_incident(1)
        assert await before.drain() == 1
        await before.open_incident(2)  # queued, not yet sent when outbound is turned off
    finally:
        await before.container.aclose()
    assert len(receiver.requests) == 1

    off = await make_platform(db_url, ca_bundle, VIGIL_ENCRYPTION_KEYS=ring, VIGIL_OUTBOUND_ENABLED="false")
    try:
        off.clock.advance(hours=2)  # every retry is long due
        await off.open_incident(3)  # while off: not queued at all, so never sent later either
        assert await off.drain() == 0, "held: not claimed, not attempted"
        assert sorted(d.status for d in await off.deliveries()) == ["pending", "retrying"]
        listed = await vigil_cli(cli_env(db_url, ca_bundle, ring, VIGIL_OUTBOUND_ENABLED="false"), "deliveries", "list")
        assert HELD_NOTE in listed.stderr and "held" in listed.stderr, listed.output
    finally:
        await off.container.aclose()
    assert len(receiver.requests) == 1, "nothing went out while outbound was off"

    on = await make_platform(db_url, ca_bundle, VIGIL_ENCRYPTION_KEYS=ring)
    try:
        on.clock.advance(hours=2)
        assert await on.drain() == 2
        assert [d.status for d in await on.deliveries()] == ["success", "success"]
    finally:
        await on.container.aclose()
    assert [r.json()["incident"]["number"] for r in receiver.requests] == [1, 1, 2]
