"""A modal submitted while Vigil drains for a restart stays open with the reason under its first field, so what the
person typed is not lost; a plain ack would close it silently."""

from __future__ import annotations

from bot import slack_ids as ids
from bot.slack_app import RESTARTING_FORM
from tests.app.conftest import ALICE, GENERAL, Vigil
from tests.app.test_declare import declare_values


async def test_a_modal_submitted_while_draining_stays_open_with_the_reason(vigil: Vigil) -> None:
    ack = await vigil.command("open p2 Checkout returns 500s", channel=GENERAL)
    assert ack.acked
    await vigil.emu.wait_for_call("views.open")
    await vigil.settle()
    modal = vigil.emu.state.top_modal(ALICE)
    assert modal is not None and modal.callback_id == ids.VIEW_DECLARE
    inputs = [b["block_id"] for b in modal.data["blocks"] if b.get("type") == "input"]

    assert vigil.runtime.slack_app is not None
    vigil.runtime.slack_app.in_flight.draining = True
    ack = await vigil.emu.send_view_submission(user_id=ALICE, view_id=modal.id, values=declare_values("Checkout down"))

    assert ack.acked and not ack.limit_errors, ack.limit_errors
    assert ack.payload == {"response_action": "errors", "errors": {inputs[0]: RESTARTING_FORM}}
    assert vigil.emu.state.top_modal(ALICE) is not None  # still open, with what Alice typed
    assert await vigil.incidents() == []

    vigil.runtime.slack_app.in_flight.draining = False  # the restart is over (or another replica took it)
    again = await vigil.emu.send_view_submission(user_id=ALICE, view_id=modal.id, values=declare_values("Checkout down"))
    assert again.acked and again.payload is None, again.payload
    await vigil.settle()
    assert [i.title for i in await vigil.incidents()] == ["Checkout down"]
