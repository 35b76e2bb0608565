"""Admin rights fail closed: when Slack cannot confirm them (users.info fails) and the stored row is stale, the stored
admin flag is not trusted for that call. VIGIL_ADMINS never depend on Slack."""

from __future__ import annotations

from bot import slack_ids as ids
from bot.clock import FrozenClock
from bot.directory import FRESH_FOR
from tests.app.conftest import ALICE, DAVE, StartVigil, Vigil


def dms_to(vigil: Vigil, user: str) -> list[str]:
    channel = vigil.emu.state.ims.get(user)
    return [m.text for m in vigil.emu.state.history(channel)] if channel else []


async def press_edit_tags(vigil: Vigil, user: str) -> bool:
    """Press "Edit tags" on the user's Home tab; True if Vigil opened the modal."""
    opened = len(vigil.emu.calls_to("views.open"))
    home = vigil.emu.state.home_view(user)
    assert home is not None
    ack = await vigil.emu.send_block_action(user_id=user, action_id=ids.ACTION_ADMIN_EDIT_TAGS, view_id=home.id)
    assert ack.acked
    await vigil.settle()
    return len(vigil.emu.calls_to("views.open")) > opened


async def open_home(vigil: Vigil, user: str) -> None:
    assert (await vigil.emu.send_app_home_opened(user_id=user)).acked
    await vigil.settle()
    assert vigil.emu.state.home_view(user) is not None


async def test_a_stale_admin_row_is_not_trusted_when_slack_cannot_confirm_it(start_vigil: StartVigil) -> None:
    clock = FrozenClock()
    vigil = await start_vigil(clock=clock, settings={"VIGIL_ADMINS": DAVE})
    await open_home(vigil, ALICE)  # Alice, a Slack admin, is looked up and stored
    await open_home(vigil, DAVE)  # Dave is one of VIGIL_ADMINS
    assert await press_edit_tags(vigil, ALICE)

    clock.advance(seconds=FRESH_FOR.total_seconds() + 60)
    vigil.emu.fail_next("users.info", error="internal_error")
    refusals = len([t for t in dms_to(vigil, ALICE) if "Only workspace admins" in t])
    assert not await press_edit_tags(vigil, ALICE)
    assert len([t for t in dms_to(vigil, ALICE) if "Only workspace admins" in t]) == refusals + 1
    assert await press_edit_tags(vigil, DAVE)  # VIGIL_ADMINS: no lookup, no doubt

    # Slack answers again: Alice's rights are confirmed and she is let in.
    assert await press_edit_tags(vigil, ALICE)
