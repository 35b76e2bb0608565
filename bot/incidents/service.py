"""The incident domain: one service behind every door (Slack, webhooks, scheduler, CLI).

It imports no vendor library: chat goes through `ChatPort`, time through `Clock`, persistence through the session
factory and the repositories in `db/`. Domain events are published from `_emit` only, inside the transaction.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.incidents import events
from bot.incidents.access import Actor, check_can_act
from bot.incidents.errors import InvalidInput, InvalidTransition, NotAllowed, NotFound
from bot.incidents.fields import check_description, check_title
from bot.incidents.invites import DEFAULT_STRATEGIES, InviteStrategy
from bot.incidents.moves import apply_move
from bot.incidents.outcomes import Change, Declaration, Repair
from bot.incidents.ports import ChatError, ChatPort, Note, PeoplePort
from bot.incidents.states import ClosureReason, Severity, Status, check_move, check_reopen_reason, is_noop
from bot.incidents.steps import LABELS
from bot.incidents.surfaces import ANNOUNCED_SEVERITIES, Surfaces
from bot.incidents.text import clean_text
from db.engine import database_unavailable, outage_summary
from db.incidents import (
    add_timeline,
    allocate_number,
    find_active_by_dedup_key,
    get_by_channel,
    get_by_number,
    get_by_request_key,
    timeline_of,
)
from db.members import add_member, members_of, remove_member
from db.models import Component, Incident, SurfaceStep
from db.steps import requeue, unfinished_incidents, unfinished_steps
from db.tags import IT_DEPLOY, TECH_INCIDENTS, tagged_conversation
from db.workspaces import lock_workspace

log = logging.getLogger(__name__)

# How long Slack's word on who is in a private incident's channel is trusted: a lost member_left_channel event
# costs at most this long of access.
MEMBERS_FRESH_FOR = timedelta(seconds=60)


@dataclass(frozen=True)
class _Members:
    fetched_at: datetime
    user_ids: frozenset[str]


_EVENT_FIELD = {"title": "title", "severity": "severity", "commander_id": "commander"}


def _field_note(column: str, previous: str | None, value: str) -> Note:
    """What a field change says, in plain words; the ids it names travel in `data` for the chat side to render."""
    if column == "severity":
        return Note("severity", f"Severity {previous} → {value}", {"from": previous, "to": value})
    if column == "commander_id":
        return Note("commander", "Commander changed", {"from": previous, "to": value})
    return Note("title", f"Title changed to “{value}”", {"from": previous, "to": value})


class IncidentService:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        chat: ChatPort,
        clock: Clock,
        people: PeoplePort | None = None,
        bus: events.EventBus | None = None,
        invite_strategies: dict[str, InviteStrategy] | None = None,
    ) -> None:
        self.sessions = sessions
        self.chat = chat
        self.clock = clock
        self.people = people
        self._members: dict[int, _Members] = {}
        self.bus = bus or events.EventBus()
        self.surfaces = Surfaces(
            sessions=sessions,
            chat=chat,
            clock=clock,
            invite_strategies=dict(invite_strategies or DEFAULT_STRATEGIES),
            people=people,
        )
        self.steps = self.surfaces.runner
        self.steps.on_failed = self._steps_failed

    async def repair(self, *, team_id: str, number: int | None, actor: Actor | None) -> list[Repair]:
        """Run again the Slack steps of one incident (or, from the CLI, of every incident) that failed or were left
        unfinished; what each still lacks afterwards. From Slack, admins and the incident's commander may ask."""
        async with self.sessions() as session:
            if number is not None:
                incident = await get_by_number(session, team_id=team_id, number=number)
                if incident is None:
                    raise NotFound(f"INC-{number} not found.")
                if actor is not None and not actor.is_admin and actor.user_id != incident.commander_id:
                    if incident.private:  # its existence stays private, as everywhere
                        raise NotFound(f"INC-{number} not found.")
                    raise NotAllowed(f"Only admins and INC-{number}'s commander can retry its Slack steps.")
                wanted: list[int] | None = [incident.id]
            else:
                if actor is not None:
                    raise NotAllowed("Name the incident to repair.")
                wanted = None
        async with self.sessions() as session, session.begin():
            incident_ids = await requeue(session, team_id=team_id, incident_ids=wanted, now=self.clock.now())
            if wanted is None:
                incident_ids = sorted(set(incident_ids) | set(await unfinished_incidents(session, team_id=team_id)))
        repairs = []
        for incident_id in incident_ids:
            await self.steps.sweep(incident_id)
            await self.surfaces.show_missing(incident_id)  # the opening message names what is still missing, or nothing
            row = await self._fresh(incident_id)
            async with self.sessions() as session:
                left = await unfinished_steps(session, incident_id=incident_id)
            still = [
                f"{LABELS.get(s.kind, s.kind)} ({'retrying' if s.status == 'pending' else s.error or 'failed'})"
                for s in left
            ]
            repairs.append(Repair(number=row.number, still_failing=still))
        return repairs

    async def _steps_failed(self, incident: Incident, labels: list[str]) -> None:
        """Steps the worker gave up on: on the timeline, told to the reporter, named on the opening message."""
        declaration = Declaration(incident=incident, created=False, skipped=labels)
        await self.surfaces.record_skipped(declaration, source="slack")
        await self.surfaces.tell_skipped(declaration, None)
        await self.surfaces.show_missing(incident.id)

    # ---------------------------------------------------------------- declaring

    async def declare(
        self,
        *,
        team_id: str,
        reporter_id: str,
        title: str,
        severity: Severity,
        description: str = "",
        component_id: int | None = None,
        private: bool = False,
        dedup_key: str | None = None,
        request_key: str | None = None,
        source: str = "slack",
        origin_channel_id: str | None = None,
        commander_id: str | None = None,
    ) -> Declaration:
        """Open an incident, then build its Slack surfaces; a failed step is named, never fatal.

        `request_key` names the form this came from: the same form submitted twice (a double click on Submit, two
        replicas) opens one incident, and the second call returns it.
        """
        title, description = check_title(title), check_description(description)
        try:
            return await self._declare(
                team_id=team_id,
                reporter_id=reporter_id,
                title=title,
                severity=severity,
                description=description,
                component_id=component_id,
                private=private,
                dedup_key=dedup_key,
                request_key=request_key,
                source=source,
                origin_channel_id=origin_channel_id,
                commander_id=commander_id,
            )
        except IntegrityError:
            # A concurrent submission of the same form committed first (PostgreSQL waits on the unique index).
            if request_key is None:
                raise
            async with self.sessions() as session:
                existing = await get_by_request_key(session, team_id=team_id, request_key=request_key)
            if existing is None:
                raise
            return Declaration(incident=existing, created=False)

    async def _declare(
        self,
        *,
        team_id: str,
        reporter_id: str,
        title: str,
        severity: Severity,
        description: str,
        component_id: int | None,
        private: bool,
        dedup_key: str | None,
        request_key: str | None,
        source: str,
        origin_channel_id: str | None,
        commander_id: str | None = None,
    ) -> Declaration:
        async with self.sessions() as session, session.begin():
            if request_key:
                existing = await get_by_request_key(session, team_id=team_id, request_key=request_key)
                if existing is not None:
                    return Declaration(incident=existing, created=False)
            if dedup_key:
                # Two alerts with one key at once: the second waits here, then finds the first's incident.
                await lock_workspace(session, team_id=team_id)
                existing = await find_active_by_dedup_key(session, team_id=team_id, dedup_key=dedup_key)
                if existing is not None:
                    return Declaration(incident=existing, created=False)
            component = await self._component(session, team_id, component_id)
            now = self.clock.now()
            incident = Incident(
                team_id=team_id,
                number=await allocate_number(session, team_id=team_id),
                title=title,
                description=description.strip(),
                severity=str(severity),
                status=str(Status.OPEN),
                private=private,
                component_id=component.id if component else None,
                reporter_id=reporter_id,
                commander_id=commander_id or reporter_id,
                dedup_key=dedup_key,
                request_key=request_key,
                created_at=now,
                updated_at=now,
                last_update_at=now,
            )
            session.add(incident)
            await session.flush()
            await add_timeline(
                session,
                incident,
                kind="opened",
                source=source,
                at=now,
                actor_id=reporter_id,
                text=f"{incident.severity} incident declared: {title}",
            )
            await self._emit(session, events.OPENED, incident, actor_id=reporter_id, source=source)
            announced = not private and incident.severity in ANNOUNCED_SEVERITIES
            announce_to = await tagged_conversation(session, team_id=team_id, tag=TECH_INCIDENTS) if announced else None
            deploy_to = None if private else await tagged_conversation(session, team_id=team_id, tag=IT_DEPLOY)
            token = uuid.uuid4().hex
            steps = await self.surfaces.plan_declaration(
                session, incident, announce_to=announce_to, deploy_to=deploy_to, confirm_in=origin_channel_id, token=token
            )

        declaration = Declaration(incident=incident, created=True)
        async with self._committed(incident):
            declaration.skipped = await self.surfaces.run(incident.id, steps, token=token)
            declaration.incident = await self._fresh(incident.id)
            if declaration.skipped:
                await self.surfaces.record_skipped(declaration, source=source)
                await self.surfaces.tell_skipped(declaration, origin_channel_id)
        return declaration

    @contextlib.asynccontextmanager
    async def _committed(self, incident: Incident) -> AsyncIterator[None]:
        """Around what follows a commit (its Slack steps, the row read back): the change stands whatever happens next.
        A database that stops answering there is no failure of the change, so it is not reported as one (the person
        would be told to try again, and do it twice): the steps, claimed in the committed transaction, are resumed by
        the step worker once their lease ends, and the caller gets the row as it was committed."""
        try:
            yield
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            log.warning(
                "INC-%s saved; its Slack steps resume when the database answers (%s)", incident.number, outage_summary(exc)
            )

    async def _fresh(self, incident_id: int) -> Incident:
        """The row as the Slack steps left it (its channel, its messages)."""
        async with self.sessions() as session:
            row = await session.get(Incident, incident_id, populate_existing=True)
            assert row is not None
            return row

    async def _component(self, session: AsyncSession, team_id: str, component_id: int | None) -> Component | None:
        if component_id is None:
            return None
        component = await session.get(Component, component_id)
        if component is None or component.team_id != team_id:
            raise InvalidInput("That component no longer exists; pick another.", field="component")
        return component

    # ---------------------------------------------------------------- working an incident

    async def move(
        self,
        incident: Incident,
        *,
        actor_id: str | None,
        target: Status,
        source: str,
        closure_reason: ClosureReason | None = None,
        note: str | None = None,
        reopen: bool = False,
    ) -> Change:
        """Move the incident to `target` if the state table allows it; a move to the current status changes nothing."""
        note = clean_text(note) if note else None
        if reopen:
            note = check_reopen_reason(note or "")
        async with self.sessions() as session, session.begin():
            row = await self._lock(session, incident.id)
            current = Status(row.status)
            if is_noop(current, target) and not reopen:
                return Change(incident=row, changed=False)
            check_move(
                current=current, target=target, severity=Severity(row.severity), closure_reason=closure_reason, reopen=reopen
            )
            effects = apply_move(
                row, target=target, now=self.clock.now(), closure_reason=closure_reason, note=note, reopen=reopen
            )
            await add_timeline(
                session,
                row,
                kind="status",
                source=source,
                at=self.clock.now(),
                actor_id=actor_id,
                text=effects.timeline,
                data={"from": str(current), "to": str(target)},
            )
            await self._emit(
                session,
                effects.event,
                row,
                actor_id=actor_id,
                source=source,
                status=str(target),
                previous_status=str(current),
            )
            said: dict[str, Any] = {"from": str(current), "to": str(target)}
            if reopen:
                said |= {"reopen": True, "note": note}
            notes = [Note("status", effects.timeline, said)]
            token = uuid.uuid4().hex
            steps = await self.surfaces.plan_refresh(
                session, row, notes=notes, actor_id=actor_id, token=token, closing=target == Status.CLOSED
            )
        return await self._after_change(Change(incident=row, changed=True, notes=notes), steps, token)

    async def _after_change(self, change: Change, steps: list[SurfaceStep], token: str) -> Change:
        """Run the Slack steps a committed change wrote; the change comes back with the row as they left it."""
        async with self._committed(change.incident):
            change.skipped = await self.surfaces.run(change.incident.id, steps, token=token)
            change.incident = await self._fresh(change.incident.id)
            if change.skipped:
                await self.surfaces.record_skipped(
                    Declaration(incident=change.incident, created=False, skipped=change.skipped), source="slack"
                )
        return change

    async def acknowledge(self, incident: Incident, *, actor_id: str, source: str) -> Change:
        """The first ack wins; later acks by others are recorded; the same person acking twice changes nothing."""
        async with self.sessions() as session, session.begin():
            row = await self._lock(session, incident.id)
            now = self.clock.now()
            if row.acknowledged_at is not None:
                if row.acknowledged_by == actor_id:
                    return Change(incident=row, changed=False)
                earlier = await timeline_of(session, row)
                if not any(e.kind == "ack" and e.actor_id == actor_id for e in earlier):
                    await add_timeline(
                        session,
                        row,
                        kind="ack",
                        source=source,
                        at=now,
                        actor_id=actor_id,
                        text="Acknowledged (already acknowledged)",
                        data={"first": False},
                    )
                return Change(incident=row, changed=False)
            row.acknowledged_at, row.acknowledged_by, row.last_update_at = now, actor_id, now
            await add_timeline(
                session, row, kind="ack", source=source, at=now, actor_id=actor_id, text="Acknowledged", data={"first": True}
            )
            await self._emit(session, events.ACKNOWLEDGED, row, actor_id=actor_id, source=source)
            notes = [Note("ack", "Acknowledged")]
            token = uuid.uuid4().hex
            steps = await self.surfaces.plan_refresh(
                session, row, notes=notes, actor_id=actor_id, token=token, announcement=False
            )
        return await self._after_change(Change(incident=row, changed=True, notes=notes), steps, token)

    async def set_severity(self, incident: Incident, *, actor_id: str | None, severity: Severity, source: str) -> Change:
        return await self.update(incident, actor_id=actor_id, source=source, severity=severity)

    async def set_commander(self, incident: Incident, *, actor_id: str | None, commander_id: str, source: str) -> Change:
        return await self.update(incident, actor_id=actor_id, source=source, commander_id=commander_id)

    async def set_title(self, incident: Incident, *, actor_id: str | None, title: str, source: str) -> Change:
        return await self.update(incident, actor_id=actor_id, source=source, title=title)

    async def update(
        self,
        incident: Incident,
        *,
        actor_id: str | None,
        source: str,
        title: str | None = None,
        severity: Severity | None = None,
        commander_id: str | None = None,
    ) -> Change:
        """Change any of title, severity and commander: one transaction (a timeline entry and `incident.updated`
        per field), then one refresh and one line in the channel. Fields equal to the current value are ignored.

        A severity change re-evaluates invites, the announcement and the deploy warning; postmortem duty follows
        from the severity at each move. A new commander must be a person with an active account.
        """
        title = check_title(title) if title is not None else None
        if commander_id is not None:
            await self._check_commander(team_id=incident.team_id, user_id=commander_id)
        wanted = {"title": title, "severity": str(severity) if severity else None, "commander_id": commander_id}
        async with self.sessions() as session, session.begin():
            row = await self._lock(session, incident.id)
            changes = {col: value for col, value in wanted.items() if value is not None and getattr(row, col) != value}
            if not changes:
                return Change(incident=row, changed=False)
            if row.status == Status.CLOSED:
                raise InvalidTransition("This incident is closed; its title, severity and commander are final.")
            now = self.clock.now()
            notes: list[Note] = []
            for column, value in changes.items():
                previous = getattr(row, column)
                setattr(row, column, value)
                note = _field_note(column, previous, value)
                notes.append(note)
                await add_timeline(
                    session,
                    row,
                    kind=note.kind,
                    source=source,
                    at=now,
                    actor_id=actor_id,
                    text=note.text,
                    data=dict(note.data),
                )
            row.last_update_at = now
            await self._emit(
                session,
                events.UPDATED,
                row,
                actor_id=actor_id,
                source=source,
                **{_EVENT_FIELD[column]: value for column, value in changes.items()},
            )
            token = uuid.uuid4().hex
            steps = await self.surfaces.plan_refresh(
                session,
                row,
                notes=notes,
                actor_id=actor_id,
                token=token,
                reevaluate="severity" in changes,
                invite_users=[changes["commander_id"]] if "commander_id" in changes else (),
            )
        return await self._after_change(Change(incident=row, changed=True, notes=notes), steps, token)

    async def _check_commander(self, *, team_id: str, user_id: str) -> None:
        if self.people is None:
            return
        person = await self.people.person(team_id=team_id, user_id=user_id)
        if person.is_bot or person.deactivated:
            raise InvalidInput(
                "That account cannot lead an incident (a bot or a deactivated account); pick a person.", field="commander"
            )

    async def _lock(self, session: AsyncSession, incident_id: int) -> Incident:
        """The row, locked for this transaction (SQLite's BEGIN IMMEDIATE already serialises writers)."""
        row = (await session.scalars(select(Incident).where(Incident.id == incident_id).with_for_update())).one()
        return row

    # ---------------------------------------------------------------- helpers for every move

    async def _emit(
        self, session: AsyncSession, name: str, incident: Incident, *, actor_id: str | None, source: str, **changes: Any
    ) -> None:
        await self.bus.publish(
            events.DomainEvent(
                name=name,
                team_id=incident.team_id,
                incident_id=incident.id,
                number=incident.number,
                actor_id=actor_id,
                source=source,
                occurred_at=self.clock.now(),
                changes=changes,
            ),
            session,
        )

    # ---------------------------------------------------------------- finding an incident for someone

    async def locate(self, *, team_id: str, actor: Actor, number: int | None, channel_id: str | None) -> Incident:
        """The incident a command means (its number, else the incident channel it was typed in), if the actor may act.

        A private incident the actor may not see answers exactly like a missing one.
        """
        async with self.sessions() as session:
            if number is not None:
                incident = await get_by_number(session, team_id=team_id, number=number)
                if incident is None:
                    raise NotFound(f"INC-{number} not found.")
            else:
                incident = (
                    await get_by_channel(session, team_id=team_id, channel_id=channel_id or "") if channel_id else None
                )
                if incident is None:
                    raise InvalidInput(
                        "This is not an incident channel: run the command inside one, or give the number, "
                        "e.g. `104 status` or `INC-104 status`."
                    )
        in_channel = channel_id is not None and channel_id == incident.channel_id
        needs_membership = incident.private or actor.is_guest
        is_member = await self.is_member(incident, actor.user_id) if needs_membership else True
        check_can_act(
            actor, number=incident.number, private=incident.private, is_member=is_member, in_incident_channel=in_channel
        )
        return incident

    async def is_member(self, incident: Incident, user_id: str) -> bool:
        """Whether `user_id` is in the incident's channel, by Slack's member list (trusted for a minute, so a lost
        member_left_channel event does not keep someone in forever); the stored list stands in when Slack fails."""
        cached = self._members.get(incident.id)
        now = self.clock.now()
        if cached is not None and now - cached.fetched_at < MEMBERS_FRESH_FOR:
            return user_id in cached.user_ids
        if incident.channel_id:
            try:
                members = frozenset(await self.chat.channel_members(channel_id=incident.channel_id))
            except ChatError as exc:
                log.warning("INC-%s: could not read channel members (%s)", incident.number, exc.code)
            else:
                self._members[incident.id] = _Members(fetched_at=now, user_ids=members)
                await self._store_members(incident, members)
                return user_id in members
        async with self.sessions() as session:
            return user_id in await members_of(session, team_id=incident.team_id, incident_id=incident.id)

    async def _store_members(self, incident: Incident, members: frozenset[str]) -> None:
        async with self.sessions() as session, session.begin():
            stored = await members_of(session, team_id=incident.team_id, incident_id=incident.id)
            for user_id in members - stored:
                await add_member(
                    session, team_id=incident.team_id, incident_id=incident.id, user_id=user_id, at=self.clock.now()
                )
            for user_id in stored - members:
                await remove_member(session, team_id=incident.team_id, incident_id=incident.id, user_id=user_id)

    async def member_joined(self, *, team_id: str, channel_id: str, user_id: str) -> None:
        """Keep the stored membership of an incident channel current (events from Slack)."""
        async with self.sessions() as session, session.begin():
            incident = await get_by_channel(session, team_id=team_id, channel_id=channel_id)
            if incident is None:
                return
            await add_member(session, team_id=team_id, incident_id=incident.id, user_id=user_id, at=self.clock.now())
        self._members.pop(incident.id, None)

    async def member_left(self, *, team_id: str, channel_id: str, user_id: str) -> None:
        async with self.sessions() as session, session.begin():
            incident = await get_by_channel(session, team_id=team_id, channel_id=channel_id)
            if incident is None:
                return
            await remove_member(session, team_id=team_id, incident_id=incident.id, user_id=user_id)
        self._members.pop(incident.id, None)

    async def by_channel(self, *, team_id: str, channel_id: str) -> Incident | None:
        """The incident whose channel this is, if any (reactions, membership events)."""
        async with self.sessions() as session:
            return await get_by_channel(session, team_id=team_id, channel_id=channel_id)

    async def request_help(
        self,
        incident: Incident,
        *,
        actor_id: str,
        target_name: str,
        conversation_id: str,
        usergroup_id: str | None,
        request_text: str,
        message: str,
        source: str,
    ) -> None:
        """SOS: post the request (rendered by the door that asked) where the target listens, then put it on the
        timeline and say so in the incident channel. Nothing is recorded when the post fails, and the caller is told
        why."""
        try:
            ts = await self.chat.post_message(channel_id=conversation_id, text=request_text)
        except ChatError as exc:
            raise InvalidInput(
                f"Vigil could not post your SOS to {target_name} ({exc.code}); "
                "ask an admin to check the SOS target. Nothing was sent."
            ) from None
        note = Note(
            "sos",
            f"SOS to {target_name}: {clean_text(message)}",
            {"target": target_name, "conversation_id": conversation_id, "usergroup_id": usergroup_id, "ts": ts},
        )
        await self.add_timeline_entry(
            incident, kind=note.kind, text=note.text, actor_id=actor_id, source=source, data=dict(note.data), post=note
        )

    async def add_timeline_entry(
        self,
        incident: Incident,
        *,
        kind: str,
        text: str,
        actor_id: str | None,
        source: str,
        data: dict[str, Any] | None = None,
        message_ts: str | None = None,
        post: Note | None = None,
    ) -> bool:
        """Append to the timeline (notes, SOS, pins); False when that message was already there (pins land once).
        With `post`, the entry is also said in the incident channel, as a durable step of the same transaction (a
        note, an SOS, a message relayed from Teams). The opening message is brought in line: it shows the latest note
        and when the incident was last updated."""
        token = uuid.uuid4().hex
        steps: list[SurfaceStep] = []
        post = Note(post.kind, clean_text(post.text), post.data) if post is not None else None
        async with self.sessions() as session:
            try:
                async with session.begin():
                    row = await session.get(Incident, incident.id)
                    assert row is not None
                    await add_timeline(
                        session,
                        row,
                        kind=kind,
                        source=source,
                        at=self.clock.now(),
                        actor_id=actor_id,
                        text=clean_text(text),
                        data=data,
                        message_ts=message_ts,
                    )
                    row.last_update_at = self.clock.now()
                    steps = await self.surfaces.plan_line(
                        session, row, note=post, actor_id=actor_id, token=token, refresh_opening=True
                    )
            except IntegrityError:
                return False
        if steps:
            async with self._committed(incident):
                await self.surfaces.run(incident.id, steps, token=token)
        return True

    async def join(self, incident: Incident, *, user_id: str) -> None:
        """Bring someone into the incident's channel (the announcement's Join channel button)."""
        if not incident.channel_id:
            raise InvalidInput(f"INC-{incident.number} has no channel yet; try again in a moment.")
        try:
            await self.chat.invite(channel_id=incident.channel_id, user_ids=[user_id])
        except ChatError as exc:
            raise InvalidInput(f"Vigil could not add you to INC-{incident.number}'s channel ({exc.code}).") from None

    async def get(self, *, team_id: str, number: int) -> Incident:
        async with self.sessions() as session:
            incident = await get_by_number(session, team_id=team_id, number=number)
        if incident is None:
            raise NotFound(f"INC-{number} not found.")
        return incident
