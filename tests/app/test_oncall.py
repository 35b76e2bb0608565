"""PagerDuty through Slack's real doors (Socket Mode against the emulator) and a fake PagerDuty over HTTPS: a P1
declared in Slack pages once with the external key, :eyes: acknowledges it and resolve resolves it, a P4 pages
nobody; `/incident oncall` lists the synced on-calls to someone with no PagerDuty link, with the sync's age and a
Page button; `page <service>` from another channel pages that service; a component's on-call joins its incident's
channel; the opening message's Page button pages the incident's target."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot import slack_ids as ids
from db.models import Component, IncidentPage
from db.tags import TECH_INCIDENTS
from integrations.service import IntegrationInput
from tests.app.conftest import ALICE, BOB, DAVE, GENERAL, INCIDENTS_CHANNEL, StartVigil, Vigil
from tests.app.test_declare import declare
from tests.fakes.pagerduty import ROUTING_KEY, TOKEN, FakePagerDuty
from tests.integrations.platform import key_ring

FROM = "vigil@acme.example"


def iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class World:
    vigil: Vigil
    pd: FakePagerDuty

    async def until(self, check: Callable[[], bool], what: str, rounds: int = 10) -> None:
        """Run delivery rounds (the runtime's worker is stopped: the test makes them) until `what` happened."""
        for _ in range(rounds):
            if check():
                return
            await self.vigil.container.worker.run_once()
        assert check(), what

    async def said(self, text: str, *, user: str = BOB, channel: str = GENERAL) -> list[Any]:
        before = len(self.vigil.emu.responses_for(user))
        ack = await self.vigil.command(text, user=user, channel=channel)
        assert ack.acked
        await self.vigil.settle()
        return self.vigil.emu.responses_for(user)[before:]

    def triggers(self) -> list[dict[str, Any]]:
        return [e for e in self.pd.events() if e.get("event_action") == "trigger"]


@pytest.fixture
async def world(start_vigil: StartVigil, ca_bundle: Path, https_server: Any) -> World:
    pd = FakePagerDuty(await https_server())
    now = datetime.now(UTC)
    pd.add_policy("PEP1", "Checkout escalation")
    pd.add_policy("PEP2", "Database escalation")
    pd.add_service("PCHK", "Checkout", policy="PEP1")
    pd.add_service("PDB", "Database", policy="PEP2")
    pd.add_user("PDAVE", "Dave Oncall", "dave@acme.example")
    pd.add_user("PZED", "Zed <Contractor>", "zed@elsewhere.example")
    pd.add_user("PALICE", "Alice Admin", "ALICE@acme.example")
    pd.add_schedule("SPRIMARY", "Primary")
    pd.add_oncall(
        user="PDAVE",
        policy="PEP1",
        level=1,
        schedule="SPRIMARY",
        start=iso(now - timedelta(hours=1)),
        end=iso(now + timedelta(hours=8)),
    )
    pd.add_oncall(user="PZED", policy="PEP1", level=2, schedule=None, start=None, end=None)
    pd.add_oncall(
        user="PALICE",
        policy="PEP2",
        level=1,
        schedule="SPRIMARY",
        start=iso(now - timedelta(hours=1)),
        end=iso(now + timedelta(hours=2)),
    )
    settings = {
        "VIGIL_ENCRYPTION_KEYS": key_ring(),
        "VIGIL_CA_BUNDLE": str(ca_bundle),
        "VIGIL_OUTBOUND_ALLOW_PRIVATE": "true",
    }
    vigil = await start_vigil(settings=settings)
    vigil.container.worker.stop()  # the test makes the delivery rounds itself, one at a time
    assert vigil.runtime.worker_task is not None
    await vigil.runtime.worker_task
    await vigil.tag(TECH_INCIDENTS, INCIDENTS_CHANNEL)
    for user in (ALICE, BOB, DAVE):  # the Slack users a user sync would have stored
        await vigil.container.directory.user(team_id=vigil.team_id, user_id=user)
    await vigil.container.integrations.add(
        team_id=vigil.team_id,
        user_id=None,
        kind="pagerduty",
        change=IntegrationInput(
            name="pagerduty",
            settings={"events_url": pd.url, "api_url": pd.url, "from_email": FROM},
            secrets={"routing_key": ROUTING_KEY, "api_token": TOKEN},
        ),
    )
    [report] = await vigil.container.pagerduty.sync()
    assert report.ok, report
    return World(vigil, pd)


async def test_a_p1_pages_once_eyes_acknowledges_and_resolve_resolves_and_a_p4_pages_nobody(world: World) -> None:
    vigil = world.vigil
    incident = await declare(vigil, "Checkout down", "P1")
    await world.until(lambda: len(world.triggers()) == 1, "the P1 paged")
    [alert] = world.pd.alerts
    assert alert["dedup_key"] == incident.external_key and alert["routing_key"] == ROUTING_KEY

    channel, opening = incident.channel_id or "", incident.opening_message_ts or ""
    await vigil.emu.user_joins(BOB, channel)
    await vigil.emu.user_reacts(BOB, channel, opening, "eyes")
    await vigil.settle()
    await world.until(lambda: world.pd.alerts[0]["status"] == "acknowledged", "the :eyes: acknowledged the alert")

    await world.said("resolve rolled back", channel=channel)
    await world.until(lambda: world.pd.alerts[0]["status"] == "resolved", "resolve resolved the alert")
    assert len(world.triggers()) == 1, "never paged twice"

    await declare(vigil, "Typo on the about page", "P4")
    await vigil.container.worker.run_once()
    assert len(world.triggers()) == 1, "a P4 pages nobody"


async def test_oncall_lists_the_synced_oncalls_to_someone_without_a_pagerduty_link(world: World) -> None:
    [reply] = await world.said("oncall", user=BOB)
    assert reply.response_type == "ephemeral"
    blocks = reply.body["blocks"]
    text = json.dumps(blocks)
    assert "<@U0DAVE>" in text and "(Primary)" in text and "until <!date^" in text
    assert "Zed &lt;Contractor&gt; always" in text, "a PagerDuty user without Slack is named, escaped"
    assert "<@U0ALICE>" in text, "matched by email without regard to case"
    assert "synced <!date^" in text and "{ago}" in text
    pages = [b["accessory"] for b in blocks if b.get("accessory", {}).get("action_id") == ids.ACTION_ONCALL_PAGE]
    assert {p["value"] for p in pages} == {"PCHK", "PDB"}
    assert all(p["confirm"] for p in pages), "paging asks first"


async def test_page_a_service_from_another_channel_and_the_oncall_page_button(world: World) -> None:
    [reply] = await world.said("page checkout", user=BOB, channel=GENERAL)
    assert "Paging *Checkout* through PagerDuty" in reply.text
    await world.until(lambda: len(world.pd.calls("POST", "/incidents")) == 1, "the REST page")
    [request] = world.pd.calls("POST", "/incidents")
    body = json.loads(request.body)
    assert body["incident"]["service"]["id"] == "PCHK" and request.headers["From"] == FROM

    ack = await world.vigil.emu.send_block_action(
        user_id=BOB, action_id=ids.ACTION_ONCALL_PAGE, value="PDB", channel_id=GENERAL
    )
    assert ack.acked
    await world.vigil.settle()
    await world.until(lambda: len(world.pd.calls("POST", "/incidents")) == 2, "the button's page")
    assert json.loads(world.pd.calls("POST", "/incidents")[1].body)["incident"]["service"]["id"] == "PDB"

    [refused] = await world.said("page no-such-service", user=BOB)
    assert "no-such-service" in refused.text.lower() or "no pagerduty service" in refused.text.lower(), refused.text


async def test_a_components_oncall_joins_and_the_opening_messages_page_button_pages_its_service(world: World) -> None:
    vigil = world.vigil
    async with vigil.container.sessions() as session, session.begin():
        component = Component(team_id=vigil.team_id, name="checkout", usergroup_ids=[])
        session.add(component)
        await session.flush()
        component_id = component.id
    await vigil.container.pagerduty.set_component_target(
        team_id=vigil.team_id,
        actor_id=None,
        component_id=component_id,
        service_id="PCHK",
        routing_key=None,
        keep_routing_key=False,
    )
    incident = await declare(vigil, "Checkout errors", "P3", component=component_id)
    members = vigil.emu.state.channels[incident.channel_id or ""].members
    assert DAVE in members, "the component's on-call (level 1) was invited"
    assert world.triggers() == [], "a P3 is below the threshold"

    ack = await vigil.emu.send_block_action(
        user_id=BOB,
        action_id=ids.ACTION_PAGE,
        value=str(incident.number),
        channel_id=incident.channel_id,
        message_ts=incident.opening_message_ts,
    )
    assert ack.acked
    await vigil.settle()
    await world.until(lambda: len(world.pd.calls("POST", "/incidents")) == 1, "the Page on-call button paged")
    body = json.loads(world.pd.calls("POST", "/incidents")[0].body)
    assert body["incident"]["service"]["id"] == "PCHK" and body["incident"]["incident_key"] == incident.external_key
    async with vigil.container.sessions() as session:
        [page] = (await session.scalars(select(IncidentPage))).all()
    assert (page.incident_id, page.method) == (incident.id, "rest")


async def test_app_home_shows_the_viewers_shifts_now_and_next(world: World) -> None:
    from tests.app.test_home import open_home, text_of

    home = await open_home(world.vigil, ALICE)
    text = text_of(home)
    assert "*Database escalation* L1 (Primary), now until <!date^" in text
    bob = text_of(await open_home(world.vigil, BOB))
    assert "No on-call shifts in the next 7 days" in bob and "link pagerduty" in bob


async def test_admins_pick_a_components_pagerduty_service_and_routing_key_in_app_home(world: World) -> None:
    from tests.app.test_admin import open_modal, submit
    from tests.app.test_home import click, open_home

    vigil = world.vigil
    await open_home(vigil, ALICE)
    await click(vigil, ALICE, ids.ACTION_HOME_TAB_COMPONENTS, "components")
    modal = await open_modal(vigil, ids.ACTION_ADMIN_ADD_COMPONENT)
    select = next(b for b in modal.data["blocks"] if b.get("block_id") == ids.BLOCK_COMPONENT_PD_SERVICE)["element"]
    assert [o["value"] for o in select["options"]] == ["none", "PCHK", "PDB"]

    bad = await submit(vigil, modal, {"Name": "checkout", "PagerDuty service": "PCHK", "Own routing key": "too-short"})
    assert bad.payload is not None and ids.BLOCK_COMPONENT_ROUTING_KEY in bad.payload["errors"]
    own_key = "K" * 32
    ok = await submit(vigil, modal, {"Name": "checkout", "PagerDuty service": "PCHK", "Own routing key": own_key})
    assert ok.payload is None
    async with vigil.container.sessions() as session:
        component = (await session.scalars(select_component())).one()
    assert component.pagerduty_service_id == "PCHK"
    assert component.pagerduty_routing_key and own_key not in component.pagerduty_routing_key, "stored sealed"

    edit = await open_modal(vigil, ids.ACTION_ADMIN_EDIT_COMPONENT, str(component.id))
    key_input = next(b for b in edit.data["blocks"] if b.get("block_id") == ids.BLOCK_COMPONENT_ROUTING_KEY)["element"]
    assert key_input["initial_value"] == "••••" and own_key not in json.dumps(edit.data)
    kept = await submit(vigil, edit, {"Name": "checkout", "PagerDuty service": "PDB", "Own routing key": "••••"})
    assert kept.payload is None
    async with vigil.container.sessions() as session:
        again = (await session.scalars(select_component())).one()
    assert again.pagerduty_service_id == "PDB" and again.pagerduty_routing_key == component.pagerduty_routing_key


def select_component() -> Any:
    return select(Component)
