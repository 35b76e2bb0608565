"""Reminders and archiving with an injected clock, through the real bot: one reminder per idle interval with Snooze
buttons that work, none after downtime but one, and closed channels archived after the workspace's grace period."""

from __future__ import annotations

from typing import Any

from bot import slack_ids as ids
from bot.clock import FrozenClock
from bot.emulator.state import Message
from bot.incidents.states import ClosureReason, Severity, Status
from db.models import Incident, TimelineEvent
from db.workspaces import WorkspaceSettings, save_workspace_settings
from tests.app.conftest import ALICE, BOB, CAROL, StartVigil, Vigil

SNOOZES = {ids.ACTION_REMINDER_SNOOZE_30, ids.ACTION_REMINDER_SNOOZE_60, ids.ACTION_REMINDER_SNOOZE_120}


async def declare(vigil: Vigil, severity: str = "P1", *, private: bool = False) -> Incident:
    declared = await vigil.container.incidents.declare(
        team_id=vigil.team_id, reporter_id=ALICE, title="Checkout down", severity=Severity(severity), private=private
    )
    return declared.incident


async def remind(vigil: Vigil) -> int:
    run = await vigil.container.jobs.run("send_reminders", team_id=vigil.team_id)
    assert run.outcome == "ok", run.error
    return int(run.counts["reminders"])


def buttons(message: Message) -> set[str]:
    return {e["action_id"] for b in message.blocks or [] if b.get("type") == "actions" for e in b.get("elements", [])}


def reminders_in(vigil: Vigil, channel_id: str) -> list[Message]:
    return [m for m in vigil.emu.state.history(channel_id) if ":alarm_clock:" in m.text]


async def timeline(vigil: Vigil, incident: Incident, kind: str) -> list[TimelineEvent]:
    from sqlalchemy import select

    async with vigil.container.sessions() as session:
        stmt = select(TimelineEvent).where(TimelineEvent.incident_id == incident.id, TimelineEvent.kind == kind)
        return list((await session.scalars(stmt)).all())


async def test_one_reminder_per_idle_interval_and_none_to_catch_up(start_vigil: StartVigil) -> None:
    clock = FrozenClock()
    vigil = await start_vigil(clock=clock)
    incident = await declare(vigil)
    channel = incident.channel_id or ""

    assert await remind(vigil) == 0
    clock.advance(minutes=29)
    assert await remind(vigil) == 0
    clock.advance(minutes=1)
    assert await remind(vigil) == 1
    [first] = reminders_in(vigil, channel)
    assert buttons(first) == SNOOZES
    assert "INC-1" in first.text and "no update for 30 min" in first.text and "a reminder every 30 min" in first.text
    assert await remind(vigil) == 0  # the same idle interval

    clock.advance(minutes=30)
    assert await remind(vigil) == 1
    first, second = reminders_in(vigil, channel)
    assert buttons(first) == set() and "A newer reminder follows." in str(first.blocks)  # one pending reminder
    assert buttons(second) == SNOOZES and "no update for 1 h" in second.text

    clock.advance(hours=5)  # Vigil was down: one reminder now, not ten
    assert await remind(vigil) == 1
    assert await remind(vigil) == 0
    assert len(reminders_in(vigil, channel)) == 3

    # An update starts the count again.
    await vigil.container.incidents.add_timeline_entry(
        incident, kind="note", text="rolling back", actor_id=BOB, source="slack"
    )
    clock.advance(minutes=29)
    assert await remind(vigil) == 0
    clock.advance(minutes=1)
    assert await remind(vigil) == 1

    # Resolved: no more reminders.
    await vigil.container.incidents.move(incident, actor_id=ALICE, target=Status.RESOLVED, source="slack")
    clock.advance(hours=2)
    assert await remind(vigil) == 0


async def test_snooze_puts_the_next_reminder_off_and_says_who(start_vigil: StartVigil) -> None:
    clock = FrozenClock()
    vigil = await start_vigil(clock=clock)
    incident = await declare(vigil)
    channel = incident.channel_id or ""
    clock.advance(minutes=30)
    assert await remind(vigil) == 1
    [reminder] = reminders_in(vigil, channel)

    ack = await vigil.emu.send_block_action(
        user_id=BOB, action_id=ids.ACTION_REMINDER_SNOOZE_60, value="1", channel_id=channel, message_ts=reminder.ts
    )
    assert ack.acked
    await vigil.settle()

    [reminder] = reminders_in(vigil, channel)
    assert buttons(reminder) == set() and f"Snoozed by <@{BOB}> until" in str(reminder.blocks)
    [entry] = await timeline(vigil, incident, "snooze")
    assert entry.actor_id == BOB and entry.text == "Reminders snoozed for 60 min"
    clock.advance(minutes=59)
    assert await remind(vigil) == 0  # the P1 interval passed, the snooze did not
    clock.advance(minutes=1)
    assert await remind(vigil) == 1


async def test_snoozing_a_private_incident_needs_its_membership(start_vigil: StartVigil) -> None:
    clock = FrozenClock()
    vigil = await start_vigil(clock=clock)
    incident = await declare(vigil, private=True)
    channel = incident.channel_id or ""
    clock.advance(minutes=30)
    assert await remind(vigil) == 1
    [reminder] = reminders_in(vigil, channel)
    await vigil.emu.send_block_action(
        user_id=BOB, action_id=ids.ACTION_REMINDER_SNOOZE_30, value="1", channel_id=channel, message_ts=reminder.ts
    )
    await vigil.settle()
    assert await timeline(vigil, incident, "snooze") == []
    assert any("INC-1 not found" in r.text for r in vigil.emu.responses_for(BOB))


async def test_p4_and_p5_get_no_reminders_unless_an_admin_sets_them(start_vigil: StartVigil) -> None:
    clock = FrozenClock()
    vigil = await start_vigil(clock=clock)
    await declare(vigil, "P4")
    clock.advance(days=2)
    assert await remind(vigil) == 0
    async with vigil.container.sessions() as session, session.begin():
        await save_workspace_settings(
            session, team_id=vigil.team_id, settings=WorkspaceSettings(reminder_minutes={"P1": 30, "P4": 600})
        )
    assert await remind(vigil) == 1


async def archive(vigil: Vigil) -> dict[str, Any]:
    run = await vigil.container.jobs.run("archive_closed_channels", team_id=vigil.team_id)
    assert run.outcome == "ok", run.error
    return dict(run.counts)


async def close(vigil: Vigil, incident: Incident) -> None:
    await vigil.container.incidents.move(
        incident, actor_id=ALICE, target=Status.CLOSED, source="slack", closure_reason=ClosureReason.DUPLICATE
    )


async def test_closed_channels_are_archived_after_the_grace_period(start_vigil: StartVigil) -> None:
    clock = FrozenClock()
    vigil = await start_vigil(clock=clock)
    incident = await declare(vigil, "P3")
    still_open = await declare(vigil, "P3")
    await close(vigil, incident)
    channel = vigil.emu.state.channels[incident.channel_id or ""]
    assert channel.name.endswith("-closed")

    clock.advance(days=7, minutes=-1)
    assert await archive(vigil) == {"archived": 0, "failed": 0}
    assert not channel.is_archived
    clock.advance(minutes=1)
    assert await archive(vigil) == {"archived": 1, "failed": 0}
    assert channel.is_archived and not vigil.emu.state.channels[still_open.channel_id or ""].is_archived
    [entry] = await timeline(vigil, incident, "archived")
    assert entry.source == "scheduler" and entry.text == "Channel archived"
    assert await archive(vigil) == {"archived": 0, "failed": 0}
    assert len(vigil.emu.calls_to("conversations.archive")) == 1


async def test_never_keeps_channels_and_zero_archives_at_the_next_run(start_vigil: StartVigil) -> None:
    clock = FrozenClock()
    vigil = await start_vigil(clock=clock)
    incident = await declare(vigil, "P3")
    await close(vigil, incident)
    for days in (None, 0):
        async with vigil.container.sessions() as session, session.begin():
            await save_workspace_settings(
                session, team_id=vigil.team_id, settings=WorkspaceSettings(archive_grace_days=days)
            )
        if days is None:
            clock.advance(days=400)
            assert await archive(vigil) == {"archived": 0, "failed": 0}
    assert await archive(vigil) == {"archived": 1, "failed": 0}


async def test_a_channel_archived_by_hand_or_left_by_vigil_is_handled(start_vigil: StartVigil) -> None:
    clock = FrozenClock()
    vigil = await start_vigil(clock=clock)
    by_hand, left = await declare(vigil, "P3"), await declare(vigil, "P3")
    for incident in (by_hand, left):
        await close(vigil, incident)
    vigil.emu.state.channels[by_hand.channel_id or ""].is_archived = True
    vigil.emu.state.channels[left.channel_id or ""].members.remove(vigil.emu.state.identity.bot_user_id)
    clock.advance(days=8)
    assert await archive(vigil) == {"archived": 2, "failed": 0}
    assert vigil.emu.state.channels[left.channel_id or ""].is_archived
    assert [c.args["channel"] for c in vigil.emu.calls_to("conversations.join")] == [left.channel_id]


async def test_a_channel_slack_will_not_archive_is_tried_again(start_vigil: StartVigil) -> None:
    clock = FrozenClock()
    vigil = await start_vigil(clock=clock)
    incident = await declare(vigil, "P3")
    await close(vigil, incident)
    clock.advance(days=8)
    vigil.emu.fail_next("conversations.archive", error="restricted_action")
    assert await archive(vigil) == {"archived": 0, "failed": 1}
    assert await archive(vigil) == {"archived": 1, "failed": 0}


def test_the_rules_as_tables() -> None:
    from datetime import UTC, datetime, timedelta

    from bot.incidents.reminders import archive_due_at, reminder_due_at

    t = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    m = {"P1": 30, "P2": 60}
    minute = timedelta(minutes=1)
    assert reminder_due_at(status="open", severity="P1", last_update_at=t, minutes=m) == t + 30 * minute
    assert reminder_due_at(status="mitigating", severity="P2", last_update_at=t, minutes=m) == t + 60 * minute
    assert reminder_due_at(status="resolved", severity="P1", last_update_at=t, minutes=m) is None
    assert reminder_due_at(status="open", severity="P3", last_update_at=t, minutes=m) is None
    later = t + 45 * minute
    assert reminder_due_at(status="open", severity="P1", last_update_at=t, minutes=m, reminded_at=later) == t + 75 * minute
    assert (
        reminder_due_at(status="open", severity="P1", last_update_at=t, minutes=m, snoozed_until=t + 120 * minute)
        == t + 120 * minute
    )
    assert archive_due_at(closed_at=t, grace_days=None) is None
    assert archive_due_at(closed_at=t, grace_days=0) == t
    assert archive_due_at(closed_at=t, grace_days=7) == t + timedelta(days=7)


async def test_guests_outside_the_channel_cannot_snooze(start_vigil: StartVigil) -> None:
    clock = FrozenClock()
    vigil = await start_vigil(clock=clock)
    incident = await declare(vigil)
    clock.advance(minutes=30)
    assert await remind(vigil) == 1
    await vigil.emu.send_block_action(
        user_id=CAROL, action_id=ids.ACTION_REMINDER_SNOOZE_30, value="1", channel_id="C0GENERAL"
    )
    await vigil.settle()
    assert await timeline(vigil, incident, "snooze") == []
