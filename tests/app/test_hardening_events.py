"""Event claims are two-phase: an event whose handling failed after the claim is handled when Slack sends it again
after the grace period; one being handled (claimed recently) or already handled is not handled twice."""

from __future__ import annotations

from typing import Any

from bot import slack_ids as ids
from bot.clock import FrozenClock
from bot.incidents.states import Severity
from db.events import CLAIM_GRACE
from db.models import Incident
from db.tags import TECH_INCIDENTS
from tests.app.conftest import ALICE, INCIDENTS_CHANNEL, StartVigil, Vigil

NEWCOMER = "U0NEWBIE"


async def incident_row(vigil: Vigil, incident_id: int) -> Incident:
    async with vigil.container.sessions() as session:
        row = await session.get(Incident, incident_id)
    assert row is not None
    return row


async def test_an_event_whose_handling_failed_is_handled_when_resent_after_the_grace(start_vigil: StartVigil) -> None:
    clock = FrozenClock()
    vigil = await start_vigil(clock=clock)
    await vigil.tag(TECH_INCIDENTS, INCIDENTS_CHANNEL)
    declared = await vigil.container.incidents.declare(
        team_id=vigil.team_id, reporter_id=ALICE, title="Disk full", severity=Severity.P2
    )
    await vigil.settle()
    incident = declared.incident
    assert incident.channel_id and incident.opening_message_ts
    vigil.emu.add_user(NEWCOMER, "newbie")
    eyes: dict[str, Any] = {
        "type": ids.EVENT_REACTION_ADDED,
        "user": NEWCOMER,
        "reaction": "eyes",
        "item": {"type": "message", "channel": incident.channel_id, "ts": incident.opening_message_ts},
        "event_ts": "1767603600.000100",
    }

    def runs() -> float:
        return vigil.handled("event", ids.EVENT_REACTION_ADDED)

    # The first handling fails after the claim: Slack cannot say who this newcomer is.
    vigil.emu.fail_next("users.info", error="internal_error")
    # (Bolt starts an event's listener before it acks, so once acked, settle() waits for the listener too.)
    assert (await vigil.emu.send_event(eyes, event_id="Ev0EYES")).acked
    await vigil.settle()
    assert runs() == 1
    assert (await incident_row(vigil, incident.id)).acknowledged_by is None

    # Re-sent within the grace period: the claim may still be someone else's work in progress, so it is skipped.
    clock.advance(seconds=CLAIM_GRACE.total_seconds() - 1)
    assert (await vigil.emu.send_event(eyes, event_id="Ev0EYES")).acked
    await vigil.settle()
    assert runs() == 1

    # Re-sent after the grace period: whoever held the claim is gone, so it is handled now.
    clock.advance(seconds=2)
    assert (await vigil.emu.send_event(eyes, event_id="Ev0EYES")).acked
    await vigil.settle()
    assert runs() == 2
    assert (await incident_row(vigil, incident.id)).acknowledged_by == NEWCOMER

    # Handled: a later re-send, however late, is skipped.
    clock.advance(minutes=10)
    assert (await vigil.emu.send_event(eyes, event_id="Ev0EYES")).acked
    await vigil.settle()
    assert runs() == 2


async def test_a_handled_event_resent_after_the_grace_is_not_handled_twice(start_vigil: StartVigil) -> None:
    clock = FrozenClock()
    vigil = await start_vigil(clock=clock)
    joined = {"type": ids.EVENT_MEMBER_JOINED, "user": ALICE, "channel": INCIDENTS_CHANNEL, "channel_type": "C"}
    assert (await vigil.emu.send_event(joined, event_id="Ev0JOINED")).acked
    await vigil.settle()
    assert vigil.handled("event", ids.EVENT_MEMBER_JOINED) == 1
    for _ in range(2):
        clock.advance(seconds=CLAIM_GRACE.total_seconds() * 2)
        assert (await vigil.emu.send_event(joined, event_id="Ev0JOINED")).acked
        await vigil.settle()
    assert vigil.handled("event", ids.EVENT_MEMBER_JOINED) == 1
