"""The incident's Slack surfaces: channel, invites, topic, pinned opening message, announcement, deploy warning.

A change plans its Slack work as durable steps in its own transaction (`plan_declaration`, `plan_refresh`) and
runs them right after the commit (`run`): a new incident's surfaces take three round trips. A step that keeps
failing is named (to the declarer, on the timeline, in the change's `skipped`, on the pinned message), never fatal;
a crash leaves the rest to the step worker.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.incidents.channel_names import channel_name
from bot.incidents.invites import InviteContext, InviteStrategy
from bot.incidents.outcomes import Declaration
from bot.incidents.ports import ChatError, ChatPort, IncidentCard, Note, PeoplePort
from bot.incidents.step_runner import StepRunner
from bot.incidents.steps import (
    ANNOUNCE,
    UPDATE_OPENING,
    Planned,
    announcement_replies,
    declaration_plan,
    line_plan,
    refresh_plan,
)
from db.incidents import add_timeline, timeline_of
from db.models import Component, Incident, SurfaceStep, Usergroup
from db.pagerduty import oncall_slack_users_for_service
from db.steps import unfinished_of_kind
from db.tags import INVITED_FOR_ALL_PUBLIC_P1, IT_DEPLOY, TECH_INCIDENTS, tagged_conversation, tagged_usergroup

log = logging.getLogger(__name__)

ANNOUNCED_SEVERITIES = ("P1", "P2", "P3")


def card_of(incident: Incident, component: str | None = None, missing: Sequence[str] = ()) -> IncidentCard:
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
        missing=tuple(missing),
        resolved_at=incident.resolved_at,
        last_update_at=incident.last_update_at,
    )


class Surfaces:
    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        chat: ChatPort,
        clock: Clock,
        invite_strategies: dict[str, InviteStrategy],
        people: PeoplePort | None = None,
    ) -> None:
        self.sessions = sessions
        self.chat = chat
        self.clock = clock
        self.invite_strategies = invite_strategies
        self.runner = StepRunner(
            sessions=sessions,
            chat=chat,
            clock=clock,
            card_of=card_of,
            invite_context=self.invite_context,
            invite_strategies=invite_strategies,
            people=people,
        )

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

        oncall: list[str] = []
        if component is not None and component.pagerduty_service_id and not incident.private:
            oncall = await oncall_slack_users_for_service(
                session, team_id=team_id, service_pd_id=component.pagerduty_service_id, now=self.clock.now()
            )
        return InviteContext(
            card=card_of(incident, component.name if component else None),
            component_usergroups=tuple(groups),
            public_p1_usergroup=p1_group,
            members_of=members_of,
            oncall=tuple(oncall),
        )

    # ---------------------------------------------------------------- planning, inside the change's transaction

    async def plan_declaration(
        self,
        session: AsyncSession,
        incident: Incident,
        *,
        announce_to: str | None,
        deploy_to: str | None,
        confirm_in: str | None,
        token: str,
    ) -> list[SurfaceStep]:
        """Write the declaration's Slack steps with the incident itself, claimed by `token` for the run after commit."""
        plan = declaration_plan(
            name=channel_name(incident.number, incident.title),
            private=incident.private,
            confirm_in=confirm_in,
            announce_to=announce_to,
            warn_deploy_in=deploy_to if incident.severity == "P1" else None,
        )
        return await self.runner.write(session, incident, plan, token=token)

    async def plan_line(
        self,
        session: AsyncSession,
        incident: Incident,
        *,
        note: Note | None,
        actor_id: str | None,
        token: str,
        refresh_opening: bool = False,
    ) -> list[SurfaceStep]:
        """Write one line in the incident channel (when `note`); with `refresh_opening`, the opening message is brought
        in line too (after a note: it shows the latest one)."""
        plan = line_plan(note=note, actor_id=actor_id) if note is not None else []
        if refresh_opening:
            plan.append(Planned("opening", UPDATE_OPENING))
        return await self.runner.write(session, incident, plan, token=token)

    async def plan_refresh(
        self,
        session: AsyncSession,
        incident: Incident,
        *,
        notes: Sequence[Note],
        actor_id: str | None,
        token: str,
        closing: bool = False,
        reevaluate: bool = False,
        invite_users: Sequence[str] = (),
        announcement: bool = True,
    ) -> list[SurfaceStep]:
        """Write what Slack needs after a change: the surfaces brought in line, the line in the channel, the rename on
        close; on a severity change, invites, a first announcement and the deploy warning; in the thread of an
        announcement made earlier, the escalation, downgrade, resolution or reopen."""
        announce_to = deploy_to = None
        if reevaluate and not incident.private:
            if incident.announcement_ts is None and incident.severity in ANNOUNCED_SEVERITIES:
                announce_to = await tagged_conversation(session, team_id=incident.team_id, tag=TECH_INCIDENTS)
            if incident.severity == "P1" and not any(
                e.kind == "deploy_warning" for e in await timeline_of(session, incident)
            ):
                deploy_to = await tagged_conversation(session, team_id=incident.team_id, tag=IT_DEPLOY)
        replies = []
        announced = incident.announcement_ts is not None or (
            await unfinished_of_kind(session, incident_id=incident.id, kind=ANNOUNCE) is not None
        )
        if announced and not announce_to and not incident.private:
            replies = announcement_replies(
                notes, created_at=incident.created_at, resolved_at=incident.resolved_at, resolution=incident.resolution
            )
        plan = refresh_plan(
            notes=notes,
            actor_id=actor_id,
            closing=closing,
            reinvite=reevaluate,
            invite_users=invite_users,
            announce_to=announce_to,
            warn_deploy_in=deploy_to,
            replies=replies,
            announcement=announcement,
        )
        return await self.runner.write(session, incident, plan, token=token)

    async def run(self, incident_id: int, steps: Sequence[SurfaceStep], *, token: str) -> list[str]:
        """Run the steps a change wrote, then whatever of the incident became ready meanwhile (an edit a later
        change left waiting for this one); the labels of steps that failed for good."""
        failed = await self.runner.run(steps, token=token)
        failed += await self.runner.sweep(incident_id)
        if failed:
            await self.show_missing(incident_id)
        return failed

    async def show_missing(self, incident_id: int) -> None:
        """Edit the opening message so it names the steps that failed for good (with a way to retry them)."""
        token = uuid.uuid4().hex
        async with self.sessions() as session, session.begin():
            incident = await session.get(Incident, incident_id)
            assert incident is not None
            steps = await self.runner.write(session, incident, [Planned("opening", UPDATE_OPENING)], token=token)
        await self.runner.run(steps, token=token)

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
