"""App Home → Integrations → Inbound log, through the real doors: an admin sees what arrived (verified or not, what
Vigil did) and retries a failed delivery; a non-admin pressing the same (forged) button sees nothing."""

from __future__ import annotations

import json

from sqlalchemy import update

from bot import slack_ids as ids
from db.models import InboundDelivery
from tests.app.conftest import ALICE, BOB
from tests.app.test_home import click, open_home
from tests.inbound.conftest import Hooks


async def test_admins_read_the_inbound_log_and_retry_a_failed_one(hooks: Hooks) -> None:
    vigil = hooks.vigil
    incident = await hooks.declare()
    hooked = await hooks.add("webhook", "alerts")
    await hooks.post(hooked, b'{"external_ref": "x", "status": "resolved"}', {"X-Vigil-Signature": "t=1,v1=" + "0" * 64})
    await hooks.portable(hooked, {"external_ref": incident.external_key, "status": "resolved", "note": "done <!here>"})
    await hooks.processed()
    async with vigil.container.sessions() as session, session.begin():
        await session.execute(
            update(InboundDelivery)
            .where(InboundDelivery.verified.is_(True))
            .values(
                status="failed",
                instructions=[{"action": "acknowledge", "ref": {"kind": "key", "value": incident.external_key}}],
            )
        )

    await open_home(vigil, ALICE)
    await click(vigil, ALICE, ids.ACTION_ADMIN_INBOUND_LOG, hooked.id)
    modal = vigil.emu.state.top_modal(ALICE)
    assert modal is not None and modal.data["callback_id"] == ids.VIEW_ADMIN_INBOUND_LOG
    text = json.dumps(modal.data["blocks"])
    assert "*not verified*" in text and "HTTP 401" in text and "signature ok" in text
    assert "<!here>" not in text
    retry = [
        b["accessory"]["value"]
        for b in modal.data["blocks"]
        if b.get("accessory", {}).get("action_id") == ids.ACTION_ADMIN_RETRY_INBOUND
    ]
    assert len(retry) == 1

    ack = await vigil.emu.send_block_action(
        user_id=ALICE, action_id=ids.ACTION_ADMIN_RETRY_INBOUND, value=retry[0], view_id=modal.id
    )
    assert ack.acked
    await vigil.settle()
    await vigil.container.inbound.run_once()
    [row] = await vigil.incidents()
    assert row.acknowledged_at is not None
    refreshed = vigil.emu.state.top_modal(ALICE)
    assert refreshed is not None and ids.ACTION_ADMIN_RETRY_INBOUND not in json.dumps(refreshed.data["blocks"])


async def test_a_non_admin_opens_no_log(hooks: Hooks) -> None:
    vigil = hooks.vigil
    hooked = await hooks.add("webhook", "alerts")
    await open_home(vigil, BOB)
    opened = len(vigil.emu.calls_to("views.open"))
    await click(vigil, BOB, ids.ACTION_ADMIN_INBOUND_LOG, hooked.id)
    assert len(vigil.emu.calls_to("views.open")) == opened
    assert vigil.emu.state.top_modal(BOB) is None
