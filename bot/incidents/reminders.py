"""Reminders for idle incidents, and archiving closed incident channels: the rules as pure functions, and the
services the scheduled jobs (send_reminders, archive_closed_channels) and the Snooze buttons call.

Reminder rule: an unresolved incident (open, investigating, mitigating) with no update for its severity's interval
(admin-editable; P4 and P5 none by default) gets one reminder in its channel, then another one interval after that
while it stays idle. An update starts the count again; Snooze puts the next reminder off. The next reminder is due
at the latest of: last update + interval, last reminder + interval, end of the snooze. Whatever the downtime, one run
sends at most one reminder per incident, so no storm of catch-up reminders follows an outage, and the buttons of the
previous reminder are retired when a new one goes out (one pending reminder per incident).

Archive rule: a closed incident's channel is archived once `grace` days have passed since it closed (0: at the next
run; never: not at all).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.incidents.errors import InvalidInput
from bot.incidents.ports import ChatError
from bot.incidents.states import Status
from db.housekeeping import (
    archive_candidates,
    claim_reminder,
    record_reminder_message,
    reminder_candidates,
    snooze_reminders,
)
from db.incidents import add_timeline
from db.models import Incident, IncidentReminder
from db.workspaces import workspace_settings

log = logging.getLogger(__name__)

REMINDED_STATUSES = (Status.OPEN, Status.INVESTIGATING, Status.MITIGATING)
SNOOZE_MINUTES = (30, 60, 120)
# Slack answers that mean the channel is archived already, or gone: nothing left to archive.
ALREADY_ARCHIVED = frozenset({"already_archived"})
CHANNEL_GONE = frozenset({"channel_not_found"})


# ---------------------------------------------------------------- the rules


def reminder_due_at(
    *,
    status: str,
    severity: str,
    last_update_at: datetime,
    minutes: Mapping[str, int],
    reminded_at: datetime | None = None,
    snoozed_until: datetime | None = None,
) -> datetime | None:
    """When the incident's next reminder is due, or None when it gets none (resolved, or no interval for it)."""
    interval = minutes.get(severity)
    if status not in REMINDED_STATUSES or not interval:
        return None
    step = timedelta(minutes=interval)
    due = last_update_at + step
    if reminded_at is not None:
        due = max(due, reminded_at + step)
    if snoozed_until is not None:
        due = max(due, snoozed_until)
    return due


def archive_due_at(*, closed_at: datetime, grace_days: int | None) -> datetime | None:
    """When a closed incident's channel is archived; None: never (the workspace turned archiving off)."""
    if grace_days is None:
        return None
    return closed_at + timedelta(days=grace_days)


def check_snooze(minutes: int) -> timedelta:
    if minutes not in SNOOZE_MINUTES:
        raise InvalidInput(f"Snooze for {', '.join(str(m) for m in SNOOZE_MINUTES)} minutes.")
    return timedelta(minutes=minutes)


# ---------------------------------------------------------------- the chat side


@dataclass(frozen=True)
class ReminderCard:
    """What a reminder says: the chat side renders it (with the Snooze buttons)."""

    team_id: str
    number: int
    title: str
    severity: str
    status: str
    channel_id: str
    idle_minutes: int
    interval_minutes: int
    commander_id: str | None


class HousekeepingChat(Protocol):
    async def post_reminder(self, *, card: ReminderCard, marker: str) -> str:
        """Post the reminder in the incident channel; its ts."""

    async def settle_reminder(
        self, *, card: ReminderCard, ts: str, snoozed_by: str | None = None, until: datetime | None = None
    ) -> None:
        """Take the buttons off a reminder: snoozed by someone, or followed by a newer one."""

    async def archive_channel(self, *, channel_id: str) -> None:
        """Archive a channel (joining it first when Vigil has left a public one); ChatError on failure."""


@dataclass(frozen=True)
class Snoozed:
    number: int
    until: datetime
    minutes: int


@dataclass
class Sweep:
    """What one run of a housekeeping job did."""

    done: int = 0
    failed: int = 0
    skipped: int = 0


def _card(incident: Incident, *, now: datetime, interval: int) -> ReminderCard:
    return ReminderCard(
        team_id=incident.team_id,
        number=incident.number,
        title=incident.title,
        severity=incident.severity,
        status=incident.status,
        channel_id=incident.channel_id or "",
        idle_minutes=max(0, int((now - incident.last_update_at).total_seconds() // 60)),
        interval_minutes=interval,
        commander_id=incident.commander_id,
    )


class Housekeeping:
    def __init__(self, *, sessions: async_sessionmaker[AsyncSession], chat: HousekeepingChat, clock: Clock) -> None:
        self.sessions = sessions
        self.chat = chat
        self.clock = clock

    # ---------------------------------------------------------------- reminders

    async def send_reminders(self, *, team_id: str) -> Sweep:
        """One reminder for each incident that is due one now."""
        now = self.clock.now()
        sweep = Sweep()
        async with self.sessions() as session:
            minutes = dict((await workspace_settings(session, team_id=team_id)).reminder_minutes)
            rows = await reminder_candidates(
                session, team_id=team_id, statuses=[str(s) for s in REMINDED_STATUSES], severities=list(minutes)
            )
        for incident, state in rows:
            due = reminder_due_at(
                status=incident.status,
                severity=incident.severity,
                last_update_at=incident.last_update_at,
                minutes=minutes,
                reminded_at=state.reminded_at if state else None,
                snoozed_until=state.snoozed_until if state else None,
            )
            if due is None or due > now:
                continue
            if await self._remind(incident, state, interval=minutes[incident.severity], now=now):
                sweep.done += 1
            else:
                sweep.failed += 1
        return sweep

    async def _remind(self, incident: Incident, state: IncidentReminder | None, *, interval: int, now: datetime) -> bool:
        async with self.sessions() as session, session.begin():
            number = await claim_reminder(
                session,
                team_id=incident.team_id,
                incident_id=incident.id,
                expected=state.reminded_at if state else None,
                now=now,
            )
        if number is None:
            return True  # sent meanwhile by someone else
        card = _card(incident, now=now, interval=interval)
        if state is not None and state.message_ts and state.channel_id:
            try:
                await self.chat.settle_reminder(card=card, ts=state.message_ts)
            except ChatError as exc:
                log.info("INC-%s: could not retire the previous reminder (%s)", incident.number, exc.code)
        try:
            ts = await self.chat.post_reminder(card=card, marker=f"{incident.external_key}:reminder:{number}")
        except ChatError as exc:
            log.warning("INC-%s: reminder not posted (%s)", incident.number, exc.code)
            return False
        async with self.sessions() as session, session.begin():
            await record_reminder_message(session, incident_id=incident.id, channel_id=card.channel_id, ts=ts)
        return True

    async def snooze(self, incident: Incident, *, actor_id: str, minutes: int, source: str = "slack") -> Snoozed:
        """Put the incident's next reminder off; a timeline entry says who did (a snooze is not an update)."""
        step = check_snooze(minutes)
        if incident.status not in REMINDED_STATUSES:
            raise InvalidInput(f"INC-{incident.number} is {incident.status}; it gets no more reminders.")
        now = self.clock.now()
        until = now + step
        async with self.sessions() as session, session.begin():
            row = await session.get(Incident, incident.id)
            assert row is not None
            state = await snooze_reminders(
                session, team_id=incident.team_id, incident_id=incident.id, until=until, by=actor_id
            )
            await add_timeline(
                session,
                row,
                kind="snooze",
                source=source,
                at=now,
                actor_id=actor_id,
                text=f"Reminders snoozed for {minutes} min",
                data={"until": until.isoformat()},
            )
            settings = await workspace_settings(session, team_id=incident.team_id)
        if state.message_ts and state.channel_id:
            interval = settings.reminder_minutes.get(incident.severity, minutes)
            try:
                await self.chat.settle_reminder(
                    card=_card(row, now=now, interval=interval), ts=state.message_ts, snoozed_by=actor_id, until=until
                )
            except ChatError as exc:
                log.info("INC-%s: could not mark the reminder snoozed (%s)", incident.number, exc.code)
        return Snoozed(number=incident.number, until=until, minutes=minutes)

    # ---------------------------------------------------------------- archiving

    async def archive_closed_channels(self, *, team_id: str) -> Sweep:
        """Archive the channels of incidents closed longer ago than the workspace's grace period."""
        now = self.clock.now()
        sweep = Sweep()
        async with self.sessions() as session:
            grace = (await workspace_settings(session, team_id=team_id)).archive_grace_days
            if grace is None:
                return sweep
            rows = await archive_candidates(session, team_id=team_id, closed_before=now - timedelta(days=grace))
        for incident in rows:
            due = archive_due_at(closed_at=incident.closed_at or now, grace_days=grace)
            if incident.channel_id is None or due is None or due > now:
                continue
            note = "Channel archived"
            try:
                await self.chat.archive_channel(channel_id=incident.channel_id)
            except ChatError as exc:
                if exc.code in CHANNEL_GONE:
                    note = "Channel gone from Slack; nothing to archive"
                elif exc.code not in ALREADY_ARCHIVED:
                    log.warning("INC-%s: channel not archived (%s); trying again next run", incident.number, exc.code)
                    sweep.failed += 1
                    continue
            async with self.sessions() as session, session.begin():
                row = await session.get(Incident, incident.id, populate_existing=True)
                if row is None or row.archived_at is not None:
                    continue
                row.archived_at = now
                await add_timeline(session, row, kind="archived", source="scheduler", at=now, text=note)
            sweep.done += 1
        return sweep
