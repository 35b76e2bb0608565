"""The incident's Slack surfaces: channel, invites, topic, pinned opening message, announcement, deploy warning.

`build` makes them for a new incident in three round trips; `refresh` brings them in line after a change. A failed
step is named (to the declarer, on the timeline, in the change's `skipped`), never fatal: the row stays consistent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.incidents.channel_names import channel_name, closed_name
from bot.incidents.invites import InviteContext, InviteStrategy, resolve_invitees
from bot.incidents.outcomes import Change, Declaration
from bot.incidents.ports import ChatError, ChatPort, IncidentCard, NameTaken
from db.incidents import add_timeline, timeline_of
from db.models import Component, Incident, Usergroup
from db.tags import INVITED_FOR_ALL_PUBLIC_P1, IT_DEPLOY, TECH_INCIDENTS, tagged_conversation, tagged_usergroup

log = logging.getLogger(__name__)

MAX_NAME_SUFFIX = 99
ANNOUNCED_SEVERITIES = ("P1", "P2", "P3")


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


class Surfaces:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        chat: ChatPort,
        clock: Clock,
        invite_strategies: dict[str, InviteStrategy],
    ) -> None:
        self.sessions = sessions
        self.chat = chat
        self.clock = clock
        self.invite_strategies = invite_strategies

    async def invite_context(self, session: AsyncSession, incident: Incident, component: Component | None) -> InviteContext:
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

    async def build(
        self,
        declaration: Declaration,
        invite_ctx: InviteContext,
        *,
        announce_to: str | None,
        deploy_to: str | None,
        confirm_in: str | None = None,
    ) -> None:
        """Create the channel while the invitees are being resolved, then do everything else at once.

        With every Slack call taking one round trip, this is create → (invite ‖ topic ‖ post → pin ‖ announce ‖
        warn ‖ confirm to the declarer): three round trips whatever the number of steps.
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
            steps["set the channel topic"] = self.chat.set_topic(card=card)
            steps["post the opening message"] = self._post_and_pin(card, declaration)
            if confirm_in:
                steps["confirm the declaration to you"] = self.chat.confirm_declaration(
                    user_id=incident.reporter_id, channel_id=confirm_in, card=card
                )
        if announce_to:
            steps["announce the incident"] = self._announce(announce_to, card, declaration)
        if deploy_to and incident.severity == "P1":
            steps["warn about a deploy freeze"] = self._warn_later(deploy_to, card, incident)
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

    async def record_skipped(self, declaration: Declaration, *, source: str) -> None:
        async with self.sessions() as session, session.begin():
            row = await session.get(Incident, declaration.incident.id)
            assert row is not None
            for step in declaration.skipped:
                await add_timeline(
                    session, row, kind="step_failed", source=source, at=self.clock.now(), text=f"Could not {step}"
                )

    async def tell_skipped(self, declaration: Declaration, origin_channel_id: str | None) -> None:
        incident = declaration.incident
        try:
            await self.chat.tell_skipped(
                user_id=incident.reporter_id,
                channel_id=origin_channel_id or incident.channel_id,
                card=card_of(incident),
                steps=declaration.skipped,
            )
        except ChatError as exc:
            log.warning("INC-%s: could not tell the declarer about skipped steps (%s)", incident.number, exc.code)

    async def refresh(
        self, change: Change, *, actor_id: str | None, closing: bool = False, reevaluate: bool = False
    ) -> None:
        """Bring Slack in line with the row: opening message, announcement, topic; rename on close; on a severity
        change, invites, a first announcement and the deploy warning."""
        incident = change.incident
        async with self.sessions() as session:
            component = await session.get(Component, incident.component_id) if incident.component_id else None
            invite_ctx = await self.invite_context(session, incident, component) if reevaluate else None
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
            steps["set the channel topic"] = self.chat.set_topic(card=card)
            if change.notes:
                steps["post the change"] = self.chat.post_change(
                    channel_id=incident.channel_id, actor_id=actor_id, notes=change.notes
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
            steps["announce the incident"] = self._announce_later(announce_to, card, incident)
        if deploy_to:
            steps["warn about a deploy freeze"] = self._warn_later(deploy_to, card, incident)
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
        async with self.sessions() as session, session.begin():
            row = await session.get(Incident, incident.id)
            assert row is not None
            await add_timeline(
                session,
                row,
                kind="deploy_warning",
                source="slack",
                at=self.clock.now(),
                text="Deploy freeze announced",
                data={"channel_id": channel_id},
            )
