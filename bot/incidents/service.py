"""The incident domain: one service behind every door (Slack, webhooks, scheduler, CLI).

It imports no vendor library: chat goes through `ChatPort`, time through `Clock`, persistence through the session
factory and the repositories in `db/`. Domain events are published from `_emit` only, inside the transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.incidents import events
from bot.incidents.access import Actor, check_can_act
from bot.incidents.channel_names import channel_name, closed_name
from bot.incidents.errors import InvalidInput, InvalidTransition, NotFound
from bot.incidents.invites import DEFAULT_STRATEGIES, InviteContext, InviteStrategy, resolve_invitees
from bot.incidents.moves import apply_move
from bot.incidents.ports import ChatError, ChatPort, IncidentCard, NameTaken
from bot.incidents.states import ClosureReason, Severity, Status, check_move, check_reopen_reason, is_noop
from bot.incidents.text import clean_line, clean_text
from db.incidents import add_timeline, allocate_number, find_active_by_dedup_key, get_by_channel, get_by_number, timeline_of
from db.members import add_member, members_of
from db.models import Component, Incident, Usergroup
from db.tags import INVITED_FOR_ALL_PUBLIC_P1, IT_DEPLOY, TECH_INCIDENTS, tagged_conversation, tagged_usergroup

log = logging.getLogger(__name__)

MAX_TITLE = 150
MAX_DESCRIPTION = 2900
MAX_NAME_SUFFIX = 99
ANNOUNCED_SEVERITIES = ("P1", "P2", "P3")


@dataclass
class Change:
    """The outcome of a change: the incident as it is now, whether anything changed, and Slack steps that failed."""

    incident: Incident
    changed: bool
    summary: str = ""
    skipped: list[str] = field(default_factory=list)


@dataclass
class Declaration:
    """The outcome of a declaration: the incident, whether it is new, and the steps that could not be done."""

    incident: Incident
    created: bool
    skipped: list[str] = field(default_factory=list)


def card_of(incident: Incident, component: str | None = None) -> IncidentCard:
    return IncidentCard(
        team_id=incident.team_id,
        number=incident.number,
        title=incident.title,
        severity=incident.severity,
        status=incident.status,
        private=incident.private,
        description=incident.description,
        reporter_id=incident.reporter_id,
        commander_id=incident.commander_id,
        component=component,
        channel_id=incident.channel_id,
        created_at=incident.created_at,
        acknowledged_at=incident.acknowledged_at,
        acknowledged_by=incident.acknowledged_by,
        resolution=incident.resolution,
        closure_reason=incident.closure_reason,
    )


def topic_of(card: IncidentCard) -> str:
    commander = f"<@{card.commander_id}>" if card.commander_id else "no commander"
    return f"{card.severity} | {card.status} | {commander}"


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
        self.invite_strategies = dict(invite_strategies or DEFAULT_STRATEGIES)

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
            invite_ctx = await self._invite_context(session, incident, component)
            announced = not private and incident.severity in ANNOUNCED_SEVERITIES
            announce_to = await tagged_conversation(session, team_id=team_id, tag=TECH_INCIDENTS) if announced else None
            deploy_to = None if private else await tagged_conversation(session, team_id=team_id, tag=IT_DEPLOY)

        declaration = Declaration(incident=incident, created=True)
        await self._build_surfaces(declaration, invite_ctx, announce_to=announce_to, deploy_to=deploy_to)
        if declaration.skipped:
            await self._record_skipped(declaration, source=source)
            await self._tell_skipped(declaration, origin_channel_id)
        return declaration

    async def _component(self, session: AsyncSession, team_id: str, component_id: int | None) -> Component | None:
        if component_id is None:
            return None
        component = await session.get(Component, component_id)
        if component is None or component.team_id != team_id:
            raise InvalidInput("That component no longer exists; pick another.", field="component")
        return component

    async def _invite_context(self, session: AsyncSession, incident: Incident, component: Component | None) -> InviteContext:
        team_id = incident.team_id
        synced: dict[str, list[str]] = {}
        groups = list(component.usergroup_ids) if component else []
        p1_group = await tagged_usergroup(session, team_id=team_id, tag=INVITED_FOR_ALL_PUBLIC_P1)
        for group_id in [*groups, *([p1_group] if p1_group else [])]:
            row = await session.get(Usergroup, (team_id, group_id))
            if row is not None and row.user_ids:
                synced[group_id] = list(row.user_ids)

        async def members_of(group_id: str) -> list[str]:
            # Synced members first; otherwise ask Slack, so a never-synced group still gets its people in.
            if group_id in synced:
                return synced[group_id]
            return await self.chat.usergroup_members(usergroup_id=group_id)

        return InviteContext(
            card=card_of(incident, component.name if component else None),
            component_usergroups=tuple(groups),
            public_p1_usergroup=p1_group,
            members_of=members_of,
        )

    async def _build_surfaces(
        self, declaration: Declaration, invite_ctx: InviteContext, *, announce_to: str | None, deploy_to: str | None
    ) -> None:
        """Create the channel while the invitees are being resolved, then do everything else at once.

        With every Slack call taking one round trip, this is create → (invite ‖ topic ‖ post → pin ‖ announce ‖
        warn): three round trips whatever the number of steps.
        """
        incident = declaration.incident
        invitees_task = asyncio.create_task(resolve_invitees(invite_ctx, self.invite_strategies))
        try:
            channel_id, name = await self._create_channel(incident)
        except ChatError as exc:
            log.warning("INC-%s: channel not created (%s)", incident.number, exc.code)
            declaration.skipped.append(f"create the incident channel ({exc.code})")
            invitees_task.cancel()
            channel_id, name = None, None
        else:
            incident.channel_id, incident.channel_name = channel_id, name

        card = card_of(incident, invite_ctx.card.component)
        steps: dict[str, Awaitable[Any]] = {}
        if channel_id is not None:
            # Recorded at once (a crash from here on still leaves the row pointing at its channel), alongside the
            # Slack calls rather than before them: the write costs no round trip.
            steps["record the channel"] = self._save(incident.id, channel_id=channel_id, channel_name=name)
            steps["invite responders"] = self._invite(channel_id, invitees_task)
            steps["set the channel topic"] = self.chat.set_topic(channel_id=channel_id, topic=topic_of(card))
            steps["post the opening message"] = self._post_and_pin(card, declaration)
        if announce_to:
            steps[f"announce in <#{announce_to}>"] = self._announce(announce_to, card, declaration)
        if deploy_to and incident.severity == "P1":
            steps[f"warn <#{deploy_to}> about a deploy freeze"] = self._warn_later(deploy_to, card, incident)
        results = await asyncio.gather(*steps.values(), return_exceptions=True)
        for step, result in zip(steps, results, strict=True):
            if isinstance(result, ChatError):
                declaration.skipped.append(f"{step} ({result.code})")
            elif isinstance(result, BaseException):
                log.error("INC-%s: step %r failed", incident.number, step, exc_info=result)
                declaration.skipped.append(f"{step} (internal error)")
        await self._save(
            incident.id,
            channel_id=incident.channel_id,
            channel_name=incident.channel_name,
            opening_message_ts=incident.opening_message_ts,
            announcement_channel_id=incident.announcement_channel_id,
            announcement_ts=incident.announcement_ts,
        )

    async def _save(self, incident_id: int, **fields: Any) -> None:
        async with self.sessions() as session, session.begin():
            row = await session.get(Incident, incident_id)
            assert row is not None
            for key, value in fields.items():
                setattr(row, key, value)

    async def _create_channel(self, incident: Incident) -> tuple[str, str]:
        suffix: int | None = None
        while True:
            name = channel_name(incident.number, incident.title, suffix=suffix)
            try:
                return await self.chat.create_channel(name=name, private=incident.private), name
            except NameTaken:
                suffix = (suffix or 1) + 1
                if suffix > MAX_NAME_SUFFIX:
                    raise

    async def _invite(self, channel_id: str, invitees_task: asyncio.Task[list[str]]) -> None:
        users = await invitees_task
        if users:
            await self.chat.invite(channel_id=channel_id, user_ids=users)

    async def _post_and_pin(self, card: IncidentCard, declaration: Declaration) -> None:
        assert card.channel_id is not None
        ts = await self.chat.post_opening(card=card)
        declaration.incident.opening_message_ts = ts
        try:
            await self.chat.pin(channel_id=card.channel_id, ts=ts)
        except ChatError as exc:
            declaration.skipped.append(f"pin the opening message ({exc.code})")

    async def _announce(self, channel_id: str, card: IncidentCard, declaration: Declaration) -> None:
        ts = await self.chat.announce(channel_id=channel_id, card=card)
        declaration.incident.announcement_channel_id, declaration.incident.announcement_ts = channel_id, ts

    async def _record_skipped(self, declaration: Declaration, *, source: str) -> None:
        async with self.sessions() as session, session.begin():
            row = await session.get(Incident, declaration.incident.id)
            assert row is not None
            for step in declaration.skipped:
                await add_timeline(
                    session, row, kind="step_failed", source=source, at=self.clock.now(), text=f"Could not {step}"
                )

    async def _tell_skipped(self, declaration: Declaration, origin_channel_id: str | None) -> None:
        incident = declaration.incident
        lines = "\n".join(f"• {step}" for step in declaration.skipped)
        text = (
            f":warning: INC-{incident.number} is declared, but Vigil could not:\n{lines}\n"
            "It is on the incident's timeline; the rest of the incident works."
        )
        try:
            await self.chat.tell(
                user_id=incident.reporter_id, channel_id=origin_channel_id or incident.channel_id, text=text
            )
        except ChatError as exc:
            log.warning("INC-%s: could not tell the declarer about skipped steps (%s)", incident.number, exc.code)

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
        await self._after_change(change, actor_id=actor_id, closing=target == Status.CLOSED)
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
        await self._after_change(change, actor_id=actor_id)
        return change

    async def set_severity(self, incident: Incident, *, actor_id: str | None, severity: Severity, source: str) -> Change:
        """A severity change re-evaluates invites, the announcement and the deploy warning; postmortem duty follows
        from the severity at each move."""
        async with self.sessions() as session, session.begin():
            row = await self._lock(session, incident.id)
            previous = row.severity
            if previous == str(severity):
                return Change(incident=row, changed=False)
            if row.status == Status.CLOSED:
                raise InvalidTransition("This incident is closed; its severity is final.")
            row.severity, row.last_update_at = str(severity), self.clock.now()
            summary = f"Severity {previous} → {severity}"
            await add_timeline(
                session,
                row,
                kind="severity",
                source=source,
                at=self.clock.now(),
                actor_id=actor_id,
                text=summary,
                data={"from": previous, "to": str(severity)},
            )
            await self._emit(
                session,
                events.UPDATED,
                row,
                actor_id=actor_id,
                source=source,
                severity=str(severity),
                previous_severity=previous,
            )
        change = Change(incident=row, changed=True, summary=summary)
        await self._after_change(change, actor_id=actor_id, reevaluate=True)
        return change

    async def set_commander(self, incident: Incident, *, actor_id: str | None, commander_id: str, source: str) -> Change:
        async with self.sessions() as session, session.begin():
            row = await self._lock(session, incident.id)
            if row.commander_id == commander_id:
                return Change(incident=row, changed=False)
            if row.status == Status.CLOSED:
                raise InvalidTransition("This incident is closed; its commander is final.")
            previous = row.commander_id
            row.commander_id, row.last_update_at = commander_id, self.clock.now()
            summary = f"Commander <@{previous}> → <@{commander_id}>" if previous else f"Commander <@{commander_id}>"
            await add_timeline(
                session,
                row,
                kind="commander",
                source=source,
                at=self.clock.now(),
                actor_id=actor_id,
                text=summary,
                data={"from": previous, "to": commander_id},
            )
            await self._emit(session, events.UPDATED, row, actor_id=actor_id, source=source, commander=commander_id)
        change = Change(incident=row, changed=True, summary=summary)
        if row.channel_id:
            try:
                await self.chat.invite(channel_id=row.channel_id, user_ids=[commander_id])
            except ChatError as exc:
                log.warning("INC-%s: could not invite the new commander (%s)", row.number, exc.code)
        await self._after_change(change, actor_id=actor_id)
        return change

    async def set_title(self, incident: Incident, *, actor_id: str | None, title: str, source: str) -> Change:
        title = clean_line(title)
        if not title:
            raise InvalidInput("Give the incident a title.", field="title")
        if len(title) > MAX_TITLE:
            raise InvalidInput(f"Keep the title under {MAX_TITLE} characters.", field="title")
        async with self.sessions() as session, session.begin():
            row = await self._lock(session, incident.id)
            if row.title == title:
                return Change(incident=row, changed=False)
            previous, row.title, row.last_update_at = row.title, title, self.clock.now()
            summary = f"Title changed to “{title}”"
            await add_timeline(
                session,
                row,
                kind="title",
                source=source,
                at=self.clock.now(),
                actor_id=actor_id,
                text=summary,
                data={"from": previous, "to": title},
            )
            await self._emit(session, events.UPDATED, row, actor_id=actor_id, source=source, title=title)
        change = Change(incident=row, changed=True, summary=summary)
        await self._after_change(change, actor_id=actor_id)
        return change

    async def _lock(self, session: AsyncSession, incident_id: int) -> Incident:
        """The row, locked for this transaction (SQLite's BEGIN IMMEDIATE already serialises writers)."""
        row = (await session.scalars(select(Incident).where(Incident.id == incident_id).with_for_update())).one()
        return row

    async def _after_change(
        self, change: Change, *, actor_id: str | None, closing: bool = False, reevaluate: bool = False
    ) -> None:
        """Bring Slack in line with the row: opening message, announcement, topic; rename on close; on a severity
        change, invites, a first announcement and the deploy warning."""
        incident = change.incident
        async with self.sessions() as session:
            component = await session.get(Component, incident.component_id) if incident.component_id else None
            invite_ctx = await self._invite_context(session, incident, component) if reevaluate else None
            announce_to = deploy_to = None
            if reevaluate and not incident.private:
                if incident.announcement_ts is None and incident.severity in ANNOUNCED_SEVERITIES:
                    announce_to = await tagged_conversation(session, team_id=incident.team_id, tag=TECH_INCIDENTS)
                if incident.severity == "P1" and not any(
                    e.kind == "deploy_warning" for e in await timeline_of(session, incident)
                ):
                    deploy_to = await tagged_conversation(session, team_id=incident.team_id, tag=IT_DEPLOY)
        card = card_of(incident, component.name if component else None)
        steps: dict[str, Awaitable[Any]] = {}
        if incident.channel_id:
            if incident.opening_message_ts:
                steps["update the opening message"] = self.chat.update_opening(card=card, ts=incident.opening_message_ts)
            topic = (incident.resolution or incident.closure_reason or "closed") if closing else topic_of(card)
            steps["set the channel topic"] = self.chat.set_topic(channel_id=incident.channel_id, topic=topic)
            if change.summary and actor_id:
                steps["post the change"] = self.chat.post_update(
                    channel_id=incident.channel_id, text=f"<@{actor_id}>: {change.summary}"
                )
            if closing and incident.channel_name:
                steps["rename the channel"] = self._rename_closed(incident)
            if invite_ctx is not None:
                steps["invite responders"] = self._invite_now(incident.channel_id, invite_ctx)
        if incident.announcement_channel_id and incident.announcement_ts:
            steps["update the announcement"] = self.chat.update_announcement(
                channel_id=incident.announcement_channel_id, ts=incident.announcement_ts, card=card
            )
        if announce_to:
            steps[f"announce in <#{announce_to}>"] = self._announce_later(announce_to, card, incident)
        if deploy_to:
            steps[f"warn <#{deploy_to}>"] = self._warn_later(deploy_to, card, incident)
        results = await asyncio.gather(*steps.values(), return_exceptions=True)
        for step, result in zip(steps, results, strict=True):
            if isinstance(result, BaseException):
                code = result.code if isinstance(result, ChatError) else "internal error"
                log.warning(
                    "INC-%s: could not %s (%s)", incident.number, step, code, exc_info=not isinstance(result, ChatError)
                )
                change.skipped.append(f"{step} ({code})")

    async def _rename_closed(self, incident: Incident) -> None:
        assert incident.channel_id and incident.channel_name
        name = closed_name(incident.channel_name)
        if name == incident.channel_name:
            return
        renamed = await self.chat.rename_channel(channel_id=incident.channel_id, name=name)
        await self._save(incident.id, channel_name=renamed)
        incident.channel_name = renamed

    async def _invite_now(self, channel_id: str, ctx: InviteContext) -> None:
        users = await resolve_invitees(ctx, self.invite_strategies)
        if users:
            await self.chat.invite(channel_id=channel_id, user_ids=users)

    async def _announce_later(self, channel_id: str, card: IncidentCard, incident: Incident) -> None:
        ts = await self.chat.announce(channel_id=channel_id, card=card)
        incident.announcement_channel_id, incident.announcement_ts = channel_id, ts
        await self._save(incident.id, announcement_channel_id=channel_id, announcement_ts=ts)

    async def _warn_later(self, channel_id: str, card: IncidentCard, incident: Incident) -> None:
        await self.chat.warn_deploy(channel_id=channel_id, card=card)
        await self.add_timeline_entry(
            incident,
            kind="deploy_warning",
            text=f"Deploy freeze announced in <#{channel_id}>",
            actor_id=None,
            source="slack",
        )

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
