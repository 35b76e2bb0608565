"""Integrations in App Home through the real doors: an admin connects a webhook to a recording HTTPS receiver, sees
its inbound secret once, tests it, watches deliveries (and a failing one retried, failed and retried by hand) in the
log, edits, disables and removes it; bad input is answered under its field and saves nothing; non-admins, and
admins who are not owners for Rotate, are refused with nothing changed. The delivery worker is driven round by
round on a frozen clock, so nothing here sleeps."""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot import slack_ids as ids
from bot.clock import FrozenClock
from bot.emulator.state import ViewRecord
from bot.permissions import admin_refusal
from db.models import Delivery, Integration
from db.tags import TECH_INCIDENTS
from integrations.registry import PROVIDERS
from integrations.signing import verify_header
from tests.app.conftest import ALICE, BOB, INCIDENTS_CHANNEL, StartVigil, Vigil
from tests.app.test_admin import answered_later, home_text, open_modal, submit
from tests.app.test_declare import declare
from tests.app.test_home import action_ids, assert_views_within_limits, click, dms_to, open_home
from tests.fakes.https import RecordingServer

OWEN = "U0OWEN"  # a Slack workspace owner
KEYS = f"k1:{base64.b64encode(os.urandom(32)).decode()}"
SECRET = re.compile(r"Inbound secret `([A-Za-z0-9_-]{43})`")
MASKED = "Inbound secret ••••"
NOT_OWNER = ":warning: Only workspace owners (or one of VIGIL_ADMINS) can rotate an integration's secret."


@dataclass
class Ops:
    """Vigil (its delivery worker stopped, so tests run its rounds), its frozen clock, and the receiver."""

    vigil: Vigil
    clock: FrozenClock
    server: RecordingServer

    @property
    def hook(self) -> str:
        return self.server.url + "/hook"

    async def deliver(self) -> int:
        """One worker round, as the running worker would make it."""
        done: int = await self.vigil.container.worker.run_once()
        return done

    async def integrations(self) -> list[Integration]:
        async with self.vigil.container.sessions() as session:
            return list((await session.scalars(select(Integration).order_by(Integration.created_at))).all())

    async def deliveries(self) -> list[Delivery]:
        async with self.vigil.container.sessions() as session:
            return list((await session.scalars(select(Delivery).order_by(Delivery.id))).all())

    async def snapshot(self) -> list[Any]:
        """Every integration and delivery as stored (sealed secrets included), to prove a refusal changed nothing."""
        return [
            (i.id, i.name, i.active, dict(i.config), i.secrets, i.previous_secret_until) for i in await self.integrations()
        ] + [(d.delivery_id, d.status, d.attempts) for d in await self.deliveries()]


async def start_ops(start_vigil: StartVigil, server: RecordingServer, ca_bundle: Path, **settings: str) -> Ops:
    clock = FrozenClock()
    env = {"VIGIL_CA_BUNDLE": str(ca_bundle), "VIGIL_OUTBOUND_ALLOW_PRIVATE": "true", **settings}
    vigil = await start_vigil(clock=clock, settings=env)
    await vigil.tag(TECH_INCIDENTS, INCIDENTS_CHANNEL)
    vigil.emu.add_user(OWEN, "owen", real_name="Owen Owner", is_owner=True)
    # The runtime's worker would race the rounds the tests make; they run them instead (same code, one at a time).
    vigil.container.worker.stop()
    assert vigil.runtime.worker_task is not None
    await vigil.runtime.worker_task
    return Ops(vigil=vigil, clock=clock, server=server)


@pytest.fixture
async def ops(start_vigil: StartVigil, https_server: Any, ca_bundle: Path) -> AsyncIterator[Ops]:
    """Vigil with a key ring, trusting the test CA, allowed to reach 127.0.0.1; Alice on her Integrations tab."""
    o = await start_ops(start_vigil, await https_server(), ca_bundle, VIGIL_ENCRYPTION_KEYS=KEYS)
    await open_home(o.vigil, ALICE)
    await click(o.vigil, ALICE, ids.ACTION_HOME_TAB_INTEGRATIONS, "integrations")
    yield o


async def connect(ops: Ops, name: str = "ops-hook", *, user: str = ALICE, **answers: Any) -> str:
    """Connect a webhook from the Home as `user`; the inbound secret the notice showed."""
    modal = await open_modal(ops.vigil, ids.ACTION_ADMIN_CONNECT_INTEGRATION, "webhook", user=user)
    ack = await submit(ops.vigil, modal, {"Name": name, "URL": ops.hook, **answers}, user=user)
    assert ack.payload is None, ack.payload
    found = SECRET.search(home_text(ops.vigil, user))
    assert found, home_text(ops.vigil, user)
    return found.group(1)


def home_of(vigil: Vigil, user: str = ALICE) -> ViewRecord:
    home = vigil.emu.state.home_view(user)
    assert home is not None
    return home


def notice(vigil: Vigil, user: str = ALICE) -> str:
    """The Home's notice line (the context block right after the tab bar)."""
    blocks = home_of(vigil, user).data["blocks"]
    bar = next(i for i, b in enumerate(blocks) if b.get("block_id") == ids.BLOCK_HOME_TABS)
    following = blocks[bar + 1]
    assert following["type"] == "context", "no notice on the Home"
    return str(following["elements"][0]["text"])


def buttons(vigil: Vigil, action_id: str, user: str = ALICE) -> list[dict[str, Any]]:
    found = []
    for block in home_of(vigil, user).data["blocks"]:
        for element in [*(block.get("elements") or []), block.get("accessory") or {}]:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                found.append(element)
    return found


def signed_by(request: Any, secret: str, clock: FrozenClock) -> bool:
    header = request.headers.get("X-Vigil-Signature")
    return verify_header(header, request.body, [secret], now=int(clock.now().timestamp()))


# ---------------------------------------------------------------- the admin's path


async def test_connect_see_the_secret_once_test_and_see_deliveries_in_the_log(ops: Ops) -> None:
    vigil = ops.vigil
    assert "None yet: connect one above." in home_text(vigil)
    assert {b["value"] for b in buttons(vigil, ids.ACTION_ADMIN_CONNECT_INTEGRATION)} == set(PROVIDERS)

    # The webhook form comes from the kind's Field tuples: a required URL setting, no vendor secret.
    modal = await open_modal(vigil, ids.ACTION_ADMIN_CONNECT_INTEGRATION, "webhook")
    inputs = {b["block_id"]: b for b in modal.data["blocks"] if b["type"] == "input"}
    assert inputs["integration_setting_url"]["optional"] is False
    assert not [b for b in inputs if b.startswith(ids.BLOCK_INTEGRATION_SECRET_PREFIX)]
    ack = await submit(vigil, modal, {"Name": "ops-hook", "URL": ops.hook, "Minimum severity": "P2"})
    assert ack.payload is None

    [row] = await ops.integrations()
    assert (row.kind, row.name, row.config, row.min_severity, row.created_by) == (
        "webhook",
        "ops-hook",
        {"url": ops.hook},
        "P2",
        ALICE,
    )
    shown = notice(vigil)
    found = SECRET.search(shown)
    assert found and f"Webhook URL `http://localhost:8080/hooks/webhook/{row.id}`" in shown
    secret = found.group(1)
    assert secret not in (row.secrets or "")  # stored sealed, never in the clear

    # The next publish no longer shows it: the tab says which secret is set, as ••••.
    await click(vigil, ALICE, ids.ACTION_HOME_TAB_INTEGRATIONS, "integrations")
    assert secret not in home_text(vigil) and MASKED in home_text(vigil)
    assert "*ops-hook* · Webhook · :large_green_circle: active" in home_text(vigil)

    # Test: the receiver gets the signed [TEST] sample; the Home says what it answered.
    await click(vigil, ALICE, ids.ACTION_ADMIN_TEST_INTEGRATION, row.id)
    [test] = ops.server.requests
    body = test.json()
    assert (test.method, test.path, body["event"]) == ("POST", "/hook", "test")
    assert body["incident"]["title"].startswith("[TEST]")
    assert signed_by(test, secret, ops.clock)
    assert re.fullmatch(r":white_check_mark: Test sent to ops-hook: 200 in \d+ ms", notice(vigil)), notice(vigil)

    # A declared incident reaches the receiver as incident.opened, and shows in the log.
    incident = await declare(vigil, "Checkout is down", "P1", user=BOB)
    assert await ops.deliver() == 1
    opened = ops.server.requests[1]
    assert opened.headers["X-Vigil-Event"] == "incident.opened"
    assert opened.json()["incident"]["number"] == incident.number and signed_by(opened, secret, ops.clock)
    await click(vigil, ALICE, ids.ACTION_HOME_TAB_INTEGRATIONS, "integrations")
    text = home_text(vigil)
    assert f"*ops-hook* · `incident.opened` · INC-{incident.number} · *success*" in text
    assert "*ops-hook* · `test` · test · *success*" in text
    assert text.index("incident.opened") < text.index("`test`")  # newest first
    assert secret not in json.dumps([c.args for c in vigil.emu.calls_to("views.publish")][-1])

    # A receiver answering 500 to a test: the Home says so, as a warning.
    ops.server.respond(500, body=b"boom")
    await click(vigil, ALICE, ids.ACTION_ADMIN_TEST_INTEGRATION, row.id)
    assert re.fullmatch(r":warning: Test failed: https://127\.0\.0\.1:\d+/hook answered 500: boom", notice(vigil)), notice(
        vigil
    )
    assert vigil.emu.protocol_errors == []
    assert_views_within_limits(vigil.emu)


async def test_edit_shows_current_values_and_keeps_what_was_left_empty(ops: Ops) -> None:
    vigil = ops.vigil
    await connect(ops, "ops-hook")
    [row] = await ops.integrations()
    sealed = row.secrets

    modal = await open_modal(vigil, ids.ACTION_ADMIN_EDIT_INTEGRATION, row.id)
    inputs = {b["block_id"]: b for b in modal.data["blocks"] if b["type"] == "input"}
    assert inputs[ids.BLOCK_INTEGRATION_NAME]["element"]["initial_value"] == "ops-hook"
    assert inputs["integration_setting_url"]["element"]["initial_value"] == ops.hook
    assert json.loads(modal.data["private_metadata"]) == {"kind": "webhook", "id": row.id}
    ack = await submit(vigil, modal, {"Name": "ops-webhook", "Events": ["incident.opened", "incident.resolved"]})
    assert ack.payload is None
    [row] = await ops.integrations()
    assert (row.name, row.events, row.config, row.secrets) == (
        "ops-webhook",
        ["incident.opened", "incident.resolved"],
        {"url": ops.hook},
        sealed,
    )
    assert notice(vigil) == ":white_check_mark: Saved ops-webhook."
    assert "Sends `incident.opened`, `incident.resolved`" in home_text(vigil)

    # Teams keeps its URL as a secret: the edit form shows •••• and an empty field keeps the stored one.
    modal = await open_modal(vigil, ids.ACTION_ADMIN_CONNECT_INTEGRATION, "teams")
    teams_url = ops.server.url + "/workflows/abc?sig=s3cr3t"
    ack = await submit(vigil, modal, {"Name": "teams", "URL": teams_url})
    assert ack.payload is None
    teams = next(i for i in await ops.integrations() if i.kind == "teams")
    assert "s3cr3t" not in home_text(vigil) and "s3cr3t" not in (teams.secrets or "")
    modal = await open_modal(vigil, ids.ACTION_ADMIN_EDIT_INTEGRATION, teams.id)
    url_input = next(b for b in modal.data["blocks"] if b.get("block_id") == "integration_secret_url")
    assert url_input["element"]["placeholder"]["text"] == "••••" and "initial_value" not in url_input["element"]
    assert "s3cr3t" not in json.dumps(modal.data)
    ack = await submit(vigil, modal, {"Name": "teams-ops"})
    assert ack.payload is None
    teams = next(i for i in await ops.integrations() if i.kind == "teams")
    opened = vigil.container.integrations.keys.open(teams.secrets or "", aad=teams.id)
    assert teams.name == "teams-ops" and opened["url"] == teams_url
    assert_views_within_limits(vigil.emu)


async def test_a_failing_receiver_is_retried_then_failed_and_retry_requeues_it(ops: Ops) -> None:
    vigil = ops.vigil
    await connect(ops)
    [row] = await ops.integrations()
    ops.server.default = 500
    await declare(vigil, "Search is slow", "P2")

    assert await ops.deliver() == 1
    await click(vigil, ALICE, ids.ACTION_HOME_TAB_INTEGRATIONS, "integrations")
    assert "· *retrying*" in home_text(vigil) and "answered 500" in home_text(vigil)
    assert buttons(vigil, ids.ACTION_ADMIN_RETRY_DELIVERY) == []  # nothing to retry by hand while it retries itself

    for minutes in (1, 5, 30):  # the backoff, then it gives up
        ops.clock.advance(minutes=minutes)
        assert await ops.deliver() == 1
    [delivery] = await ops.deliveries()
    assert (delivery.status, delivery.attempts) == ("failed", 4)
    await click(vigil, ALICE, ids.ACTION_HOME_TAB_INTEGRATIONS, "integrations")
    assert "· *failed*" in home_text(vigil) and "4 attempts" in home_text(vigil)
    [retry] = buttons(vigil, ids.ACTION_ADMIN_RETRY_DELIVERY)
    assert retry["value"] == delivery.delivery_id

    # Retry requeues it (same delivery id); the next round sends it and the receiver now takes it.
    ops.server.default = 200
    await click(vigil, ALICE, ids.ACTION_ADMIN_RETRY_DELIVERY, delivery.delivery_id)
    assert notice(vigil) == (
        f":white_check_mark: Delivery `{delivery.delivery_id[:8]}` (incident.opened) to ops-hook is queued again."
    )
    [delivery] = await ops.deliveries()
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert await ops.deliver() == 1
    assert ops.server.requests[-1].headers["X-Vigil-Delivery"] == delivery.delivery_id
    assert len(ops.server.requests) == 5
    [delivery] = await ops.deliveries()
    assert delivery.status == "success"

    # Retrying one that is not failed is answered, and changes nothing.
    before = await ops.snapshot()
    await click(vigil, ALICE, ids.ACTION_ADMIN_RETRY_DELIVERY, delivery.delivery_id)
    assert "is success; only failed or cancelled ones are retried" in dms_to(vigil.emu, ALICE)[-1]
    assert await ops.snapshot() == before
    assert row.active


async def test_disable_cancels_what_was_queued_enable_and_remove(ops: Ops) -> None:
    vigil = ops.vigil
    await connect(ops)
    [row] = await ops.integrations()
    await declare(vigil, "Disk full", "P3")  # queued, not yet sent

    await click(vigil, ALICE, ids.ACTION_ADMIN_DISABLE_INTEGRATION, row.id)
    assert notice(vigil) == ":white_check_mark: Disabled ops-hook; 1 queued delivery cancelled."
    assert "*ops-hook* · Webhook · :white_circle: disabled" in home_text(vigil)
    assert [b["value"] for b in buttons(vigil, ids.ACTION_ADMIN_ENABLE_INTEGRATION)] == [row.id]
    assert buttons(vigil, ids.ACTION_ADMIN_DISABLE_INTEGRATION) == []
    assert await ops.deliver() == 0 and ops.server.requests == []
    [delivery] = await ops.deliveries()
    assert delivery.status == "cancelled"
    await declare(vigil, "Disk full again", "P3")
    assert len(await ops.deliveries()) == 1  # a disabled integration gets nothing new

    await click(vigil, ALICE, ids.ACTION_ADMIN_ENABLE_INTEGRATION, row.id)
    assert notice(vigil) == ":white_check_mark: Enabled ops-hook."
    [row] = await ops.integrations()
    assert row.active

    # Remove asks first (Slack's confirm dialog on the button), then the integration and its log are gone.
    [remove] = buttons(vigil, ids.ACTION_ADMIN_REMOVE_INTEGRATION)
    assert remove["style"] == "danger" and remove["confirm"]["confirm"]["text"] == "Remove"
    await click(vigil, ALICE, ids.ACTION_ADMIN_REMOVE_INTEGRATION, row.id)
    assert notice(vigil) == ":white_check_mark: Removed ops-hook and its delivery log."
    assert await ops.integrations() == [] and await ops.deliveries() == []
    assert "None yet: connect one above." in home_text(vigil)

    # A button of the removed integration, pressed from an old Home, is answered.
    await click(vigil, ALICE, ids.ACTION_ADMIN_TEST_INTEGRATION, row.id)
    assert "That integration no longer exists" in dms_to(vigil.emu, ALICE)[-1]


# ---------------------------------------------------------------- answers


async def test_bad_input_is_answered_under_its_field_and_saves_nothing(ops: Ops) -> None:
    vigil = ops.vigil
    modal = await open_modal(vigil, ids.ACTION_ADMIN_CONNECT_INTEGRATION, "webhook")
    ack = await submit(vigil, modal, {"Name": "ops-hook", "URL": "ftp://example.com/hook"})
    assert ack.payload == {
        "response_action": "errors",
        "errors": {"integration_setting_url": "refused: ftp:// is not allowed (https:// only)"},
    }
    ack = await submit(vigil, modal, {"Name": "  ", "URL": "https://10.0.0.5:99999/x"})
    assert ack.payload is not None
    assert set(ack.payload["errors"]) == {ids.BLOCK_INTEGRATION_NAME, "integration_setting_url"}
    assert ack.payload["errors"][ids.BLOCK_INTEGRATION_NAME] == "give the integration a name"
    assert vigil.emu.state.top_modal(ALICE) is not None  # left open for a fix
    assert await ops.integrations() == []

    # Teams without its (secret) URL, then with a retired connector URL: both under the secret's field.
    modal = await open_modal(vigil, ids.ACTION_ADMIN_CONNECT_INTEGRATION, "teams")
    ack = await submit(vigil, modal, {"Name": "teams"})
    assert ack.payload == {"response_action": "errors", "errors": {"integration_secret_url": "required for teams"}}
    ack = await submit(vigil, modal, {"Name": "teams", "URL": "https://acme.webhook.office.com/webhookb2/x"})
    assert ack.payload is not None and "connector webhooks are retired" in ack.payload["errors"]["integration_secret_url"]
    assert await ops.integrations() == []

    # A name in use needs the database: answered after the ack, by DM, naming the field; nothing saved.
    await connect(ops, "ops-hook")
    before = await ops.snapshot()
    modal = await open_modal(vigil, ids.ACTION_ADMIN_CONNECT_INTEGRATION, "webhook")
    dms = len(dms_to(vigil.emu, ALICE))
    ack = await submit(vigil, modal, {"Name": "ops-hook", "URL": ops.hook})
    assert await answered_later(vigil, ack, before=dms) == (
        ":warning: Nothing was saved.\n• *Name*: 'ops-hook' is already used by another integration"
    )
    assert await ops.snapshot() == before
    assert vigil.emu.protocol_errors == []


async def test_without_a_key_ring_nothing_is_connected(start_vigil: StartVigil, https_server: Any, ca_bundle: Path) -> None:
    ops = await start_ops(start_vigil, await https_server(), ca_bundle)
    await open_home(ops.vigil, ALICE)
    modal = await open_modal(ops.vigil, ids.ACTION_ADMIN_CONNECT_INTEGRATION, "webhook")
    ack = await submit(ops.vigil, modal, {"Name": "ops-hook", "URL": ops.hook})
    assert ack.payload is not None
    assert ack.payload["errors"] == {
        ids.BLOCK_INTEGRATION_NAME: "VIGIL_ENCRYPTION_KEYS: no encryption key: run `vigil keys generate` and put its "
        "output in VIGIL_ENCRYPTION_KEYS"
    }
    assert await ops.integrations() == []
    assert ops.vigil.emu.protocol_errors == []


# ---------------------------------------------------------------- who may


async def test_non_admins_are_refused_and_nothing_changes(ops: Ops) -> None:
    vigil = ops.vigil
    await connect(ops)
    [row] = await ops.integrations()
    ops.server.default = 500
    await declare(vigil, "Search is slow", "P2")
    for minutes in (0, 1, 5, 30):
        ops.clock.advance(minutes=minutes)
        await ops.deliver()
    [delivery] = await ops.deliveries()
    assert delivery.status == "failed"
    await open_home(vigil, BOB)
    bob_home = home_of(vigil, BOB)
    assert ids.ACTION_HOME_TAB_INTEGRATIONS not in action_ids(bob_home.data["blocks"])
    assert "ops-hook" in home_text(vigil, BOB)  # everyone may know it is on, not how it is set up
    before, opened, requests = await ops.snapshot(), len(vigil.emu.calls_to("views.open")), len(ops.server.requests)

    # Forged buttons: Connect and Edit open nothing; the others act on nothing.
    await click(vigil, BOB, ids.ACTION_ADMIN_CONNECT_INTEGRATION, "webhook")
    await click(vigil, BOB, ids.ACTION_ADMIN_EDIT_INTEGRATION, row.id)
    for action_id in (
        ids.ACTION_ADMIN_TEST_INTEGRATION,
        ids.ACTION_ADMIN_DISABLE_INTEGRATION,
        ids.ACTION_ADMIN_ROTATE_INTEGRATION_SECRET,
        ids.ACTION_ADMIN_REMOVE_INTEGRATION,
    ):
        await click(vigil, BOB, action_id, row.id)
    await click(vigil, BOB, ids.ACTION_ADMIN_RETRY_DELIVERY, delivery.delivery_id)
    assert dms_to(vigil.emu, BOB) == [
        f":warning: {admin_refusal(doing)}"
        for doing in (
            "connect integrations",
            "change integrations",
            "test integrations",
            "enable or disable integrations",
            "rotate an integration's secret",
            "remove integrations",
            "retry deliveries",
        )
    ]
    assert len(vigil.emu.calls_to("views.open")) == opened
    assert home_of(vigil, BOB).hash == bob_home.hash  # nothing republished for Bob

    # A forged submission: Alice's very form (connect, then edit) sent as Bob's.
    for action_id, value in ((ids.ACTION_ADMIN_CONNECT_INTEGRATION, "webhook"), (ids.ACTION_ADMIN_EDIT_INTEGRATION, row.id)):
        modal = await open_modal(vigil, action_id, value)
        values = vigil.emu.form_values(ALICE, {"Name": "bobs-hook", "URL": ops.hook}, view_id=modal.id)
        ack = await vigil.emu.send_view_submission(
            user_id=BOB, callback_id=modal.callback_id, values=values, private_metadata=modal.data["private_metadata"]
        )
        assert ack.acked and ack.payload is None
        await vigil.settle()
    assert dms_to(vigil.emu, BOB)[-2:] == [
        f":warning: {admin_refusal('connect integrations')}",
        f":warning: {admin_refusal('change integrations')}",
    ]
    assert await ops.snapshot() == before and len(ops.server.requests) == requests
    assert vigil.emu.protocol_errors == []


async def test_rotate_is_for_owners_and_shows_the_new_secret_once(ops: Ops) -> None:
    vigil = ops.vigil
    old = await connect(ops)
    [row] = await ops.integrations()

    # Alice is an admin, not an owner: no Rotate button, and a forged press is refused with nothing changed.
    await click(vigil, ALICE, ids.ACTION_HOME_TAB_INTEGRATIONS, "integrations")
    assert buttons(vigil, ids.ACTION_ADMIN_ROTATE_INTEGRATION_SECRET) == []
    assert "Only workspace owners (or VIGIL_ADMINS) can rotate" in home_text(vigil)
    before = await ops.snapshot()
    await click(vigil, ALICE, ids.ACTION_ADMIN_ROTATE_INTEGRATION_SECRET, row.id)
    assert dms_to(vigil.emu, ALICE)[-1] == NOT_OWNER
    assert await ops.snapshot() == before

    # Owen owns the workspace: his Rotate (with a confirm dialog) shows the new secret once, on his Home only.
    await open_home(vigil, OWEN)
    await click(vigil, OWEN, ids.ACTION_HOME_TAB_INTEGRATIONS, "integrations")
    [rotate] = buttons(vigil, ids.ACTION_ADMIN_ROTATE_INTEGRATION_SECRET, OWEN)
    assert rotate["value"] == row.id and "24 hours" in rotate["confirm"]["text"]["text"]
    alice_home = home_of(vigil, ALICE).hash
    await click(vigil, OWEN, ids.ACTION_ADMIN_ROTATE_INTEGRATION_SECRET, row.id)
    shown = notice(vigil, OWEN)
    found = re.search(r"New inbound secret for ops-hook, shown only this once: `([A-Za-z0-9_-]{43})`", shown)
    assert found and "the old one keeps verifying until <!date^" in shown, shown
    new = found.group(1)
    assert new != old and home_of(vigil, ALICE).hash == alice_home
    [row] = await ops.integrations()
    assert row.previous_secret_until == ops.clock.now() + timedelta(hours=24)

    await click(vigil, OWEN, ids.ACTION_HOME_TAB_INTEGRATIONS, "integrations")
    assert new not in home_text(vigil, OWEN) and MASKED in home_text(vigil, OWEN)
    assert "the previous secret verifies until <!date^" in home_text(vigil, OWEN)

    # During the overlap the receiver may hold either secret: the test is signed with both.
    await click(vigil, OWEN, ids.ACTION_ADMIN_TEST_INTEGRATION, row.id)
    [test] = ops.server.requests
    assert signed_by(test, new, ops.clock) and signed_by(test, old, ops.clock)
    assert_views_within_limits(vigil.emu)
