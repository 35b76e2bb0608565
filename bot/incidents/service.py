"""The incident domain: one service behind every door (Slack, webhooks, scheduler, CLI).

It imports no vendor library: chat goes through `ChatPort`, time through `Clock`, persistence through the session
factory and the repositories in `db/`. Domain events are published from `_emit` only, inside the transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.incidents import events
from bot.incidents.access import Actor, check_can_act
from bot.incidents.errors import InvalidInput, InvalidTransition, NotFound
from bot.incidents.invites import DEFAULT_STRATEGIES, InviteStrategy
from bot.incidents.moves import apply_move
from bot.incidents.outcomes import Change, Declaration
from bot.incidents.ports import ChatError, ChatPort
from bot.incidents.states import ClosureReason, Severity, Status, check_move, check_reopen_reason, is_noop
from bot.incidents.surfaces import ANNOUNCED_SEVERITIES, Surfaces
from bot.incidents.text import clean_line, clean_text
from db.incidents import add_timeline, allocate_number, find_active_by_dedup_key, get_by_channel, get_by_number, timeline_of
from db.members import add_member, members_of
from db.models import Component, Incident
from db.tags import IT_DEPLOY, TECH_INCIDENTS, tagged_conversation

log = logging.getLogger(__name__)

MAX_TITLE = 150
MAX_DESCRIPTION = 2900


class IncidentService:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        chat: ChatPort,
        clock: Clock,
        bus: events.EventBus | None = None,
        invite_strategies: dict[str, InviteStrategy] | None = None,
    ) -> None:
        self.sessions = sessions
        self.chat = chat
        self.clock = clock
        self.bus = bus or events.EventBus()
        self.surfaces = Surfaces(
            sessions=sessions, chat=chat, clock=clock, invite_strategies=dict(invite_strategies or DEFAULT_STRATEGIES)
        )

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
        source: str = "slack",
        origin_channel_id: str | None = None,
    ) -> Declaration:
        """Open an incident, then build its Slack surfaces; a failed step is named, never fatal."""
        title, description = clean_line(title), clean_text(description)
        if not title:
            raise InvalidInput("Give the incident a title.", field="title")
        if len(title) > MAX_TITLE:
            raise InvalidInput(f"Keep the title under {MAX_TITLE} characters.", field="title")
        if len(description) > MAX_DESCRIPTION:
            raise InvalidInput(f"Keep the description under {MAX_DESCRIPTION} characters.", field="description")

        async with self.sessions() as session, session.begin():
            if dedup_key:
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
                commander_id=reporter_id,
                dedup_key=dedup_key,
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
            invite_ctx = await self.surfaces.invite_context(session, incident, component)
            announced = not private and incident.severity in ANNOUNCED_SEVERITIES
            announce_to = await tagged_conversation(session, team_id=team_id, tag=TECH_INCIDENTS) if announced else None
            deploy_to = None if private else await tagged_conversation(session, team_id=team_id, tag=IT_DEPLOY)

        declaration = Declaration(incident=incident, created=True)
        await self.surfaces.build(declaration, invite_ctx, announce_to=announce_to, deploy_to=deploy_to)
        if declaration.skipped:
            await self.surfaces.record_skipped(declaration, source=source)
            await self.surfaces.tell_skipped(declaration, origin_channel_id)
        return declaration

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
        change = Change(incident=row, changed=True, summary=effects.timeline)
        await self.surfaces.refresh(change, actor_id=actor_id, closing=target == Status.CLOSED)
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
        change = Change(incident=row, changed=True, summary="Acknowledged")
        await self.surfaces.refresh(change, actor_id=actor_id)
        return change

    async def set_severity(self, incident: Incident, *, actor_id: str | None, severity: Severity, source: str) -> Change:
        """A severity change re-evaluates invites, the announcement and the deploy warning; postmortem duty follows
        from the severity at each move."""
        change = await self._change_field(
            incident,
            column="severity",
            kind="severity",
            value=str(severity),
            actor_id=actor_id,
            source=source,
            describe=lambda old, new: f"Severity {old} → {new}",
        )
        if change.changed:
            await self.surfaces.refresh(change, actor_id=actor_id, reevaluate=True)
        return change

    async def set_commander(self, incident: Incident, *, actor_id: str | None, commander_id: str, source: str) -> Change:
        change = await self._change_field(
            incident,
            column="commander_id",
            kind="commander",
            value=commander_id,
            actor_id=actor_id,
            source=source,
            describe=lambda old, new: f"Commander <@{old}> → <@{new}>" if old else f"Commander <@{new}>",
        )
        if change.changed:
            row = change.incident
            if row.channel_id:
                try:
                    await self.chat.invite(channel_id=row.channel_id, user_ids=[commander_id])
                except ChatError as exc:
                    log.warning("INC-%s: could not invite the new commander (%s)", row.number, exc.code)
            await self.surfaces.refresh(change, actor_id=actor_id)
        return change

    async def set_title(self, incident: Incident, *, actor_id: str | None, title: str, source: str) -> Change:
        title = clean_line(title)
        if not title:
            raise InvalidInput("Give the incident a title.", field="title")
        if len(title) > MAX_TITLE:
            raise InvalidInput(f"Keep the title under {MAX_TITLE} characters.", field="title")
        change = await self._change_field(
            incident,
            column="title",
            kind="title",
            value=title,
            actor_id=actor_id,
            source=source,
            describe=lambda _old, new: f"Title changed to “{new}”",
        )
        if change.changed:
            await self.surfaces.refresh(change, actor_id=actor_id)
        return change

    async def _change_field(
        self,
        incident: Incident,
        *,
        column: str,
        kind: str,
        value: str,
        actor_id: str | None,
        source: str,
        describe: Callable[[str | None, str], str],
    ) -> Change:
        """One field of a live incident: the row, its timeline entry and `incident.updated`, in one transaction."""
        async with self.sessions() as session, session.begin():
            row = await self._lock(session, incident.id)
            previous = getattr(row, column)
            if previous == value:
                return Change(incident=row, changed=False)
            if row.status == Status.CLOSED:
                raise InvalidTransition(f"This incident is closed; its {kind} is final.")
            setattr(row, column, value)
            row.last_update_at = self.clock.now()
            summary = describe(previous, value)
            await add_timeline(
                session,
                row,
                kind=kind,
                source=source,
                at=self.clock.now(),
                actor_id=actor_id,
                text=summary,
                data={"from": previous, "to": value},
            )
            await self._emit(session, events.UPDATED, row, actor_id=actor_id, source=source, **{kind: value})
        return Change(incident=row, changed=True, summary=summary)

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
        """Membership from member_joined/left events; on a miss, Slack's member list settles it (and is stored)."""
        async with self.sessions() as session:
            if user_id in await members_of(session, team_id=incident.team_id, incident_id=incident.id):
                return True
        if not incident.channel_id:
            return False
        try:
            members = await self.chat.channel_members(channel_id=incident.channel_id)
        except ChatError as exc:
            log.warning("INC-%s: could not read channel members (%s)", incident.number, exc.code)
            return False
        async with self.sessions() as session, session.begin():
            for member in members:
                await add_member(
                    session, team_id=incident.team_id, incident_id=incident.id, user_id=member, at=self.clock.now()
                )
        return user_id in members

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
        """SOS (SPEC §5): post the request where the target listens, then put it on the timeline and say so in the
        incident channel. Nothing is recorded when the post fails, and the caller is told why."""
        try:
            ts = await self.chat.post_update(channel_id=conversation_id, text=request_text)
        except ChatError as exc:
            raise InvalidInput(
                f"Vigil could not post your SOS in <#{conversation_id}> ({exc.code}); "
                "ask an admin to check the SOS target. Nothing was sent."
            ) from None
        await self.add_timeline_entry(
            incident,
            kind="sos",
            text=f"SOS to {target_name} (<#{conversation_id}>): {message}",
            actor_id=actor_id,
            source=source,
            data={"target": target_name, "conversation_id": conversation_id, "usergroup_id": usergroup_id, "ts": ts},
        )
        if incident.channel_id:
            try:
                await self.chat.post_update(
                    channel_id=incident.channel_id,
                    text=f":sos: <@{actor_id}> asked *{target_name}* for help in <#{conversation_id}>.",
                )
            except ChatError as exc:
                log.info("INC-%s: could not note the SOS in the incident channel (%s)", incident.number, exc.code)

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
    ) -> bool:
        """Append to the timeline (notes, SOS, pins); False when that message was already there (pins land once)."""
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
            except IntegrityError:
                return False
        return True

    async def get(self, *, team_id: str, number: int) -> Incident:
        async with self.sessions() as session:
            incident = await get_by_number(session, team_id=team_id, number=number)
        if incident is None:
            raise NotFound(f"INC-{number} not found.")
        return incident
