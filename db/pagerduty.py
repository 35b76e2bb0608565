"""PagerDuty rows: the directory `sync_pagerduty` keeps (services, users, escalation policies, schedules, on-calls,
the sync's own record), the pages made per incident and target, and the reads the Slack doors show.

Directory rows are keyed by (integration, PagerDuty id): two PagerDuty integrations of one workspace (two accounts,
or the US and EU regions) keep their own copies. Writes are bulk `INSERT … ON CONFLICT` per page of results, so a
sync costs one statement per hundred rows, and a second sync of the same directory changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Select, and_, delete, func, insert, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from db.identities import EMAIL_MATCH, MANUAL, link_identity
from db.models import (
    Component,
    Delivery,
    Identity,
    IncidentPage,
    Integration,
    PagerDutyOnCall,
    PagerDutyPolicy,
    PagerDutySchedule,
    PagerDutyService,
    PagerDutySync,
    PagerDutyUser,
    User,
)

KIND = "pagerduty"
Directory = type[PagerDutyService] | type[PagerDutyUser] | type[PagerDutyPolicy] | type[PagerDutySchedule]
SERVICES_SHOWN = 100  # services a search answers with (a picker shows fewer)


# ---------------------------------------------------------------- the directory, written by the sync


async def upsert_directory(
    session: AsyncSession,
    model: Directory,
    *,
    team_id: str,
    integration_id: str,
    rows: Sequence[Mapping[str, Any]],
    at: datetime,
) -> int:
    """Insert or refresh one page of directory rows (each: `pd_id`, `name` and the model's other columns)."""
    if not rows:
        return 0
    values = [{**row, "team_id": team_id, "integration_id": integration_id, "synced_at": at} for row in rows]
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(model).values(values)
    changed = {name: stmt.excluded[name] for name in values[0] if name not in ("team_id", "integration_id", "pd_id")}
    await session.execute(stmt.on_conflict_do_update(index_elements=["integration_id", "pd_id"], set_=changed))
    return len(values)


async def delete_unseen(session: AsyncSession, model: Directory, *, integration_id: str, seen: Iterable[str]) -> int:
    """Remove what PagerDuty no longer lists (after a complete listing only)."""
    stmt = delete(model).where(model.integration_id == integration_id)
    kept = sorted(set(seen))
    if kept:
        stmt = stmt.where(model.pd_id.not_in(kept))
    result = await session.execute(stmt.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


async def replace_oncalls(
    session: AsyncSession, *, team_id: str, integration_id: str, rows: Sequence[Mapping[str, Any]]
) -> int:
    """The integration's on-calls become exactly `rows` (each: escalation_policy_id, level, user_id, schedule_id,
    starts_at, ends_at): they are a window in time, not a directory, so nothing is kept from before."""
    await session.execute(
        delete(PagerDutyOnCall)
        .where(PagerDutyOnCall.integration_id == integration_id)
        .execution_options(synchronize_session=False)
    )
    if rows:
        await session.execute(
            insert(PagerDutyOnCall), [{**row, "team_id": team_id, "integration_id": integration_id} for row in rows]
        )
    return len(rows)


async def match_users_by_email(session: AsyncSession, *, team_id: str, integration_id: str, at: datetime) -> int:
    """Link Slack users to this integration's PagerDuty users with the same email (without regard to case); a manual
    link is never replaced. Returns how many links were written or refreshed."""
    pairs = (
        await session.execute(
            select(User.id, PagerDutyUser.pd_id)
            .join(
                User, and_(User.team_id == PagerDutyUser.team_id, func.lower(User.email) == func.lower(PagerDutyUser.email))
            )
            .where(
                PagerDutyUser.integration_id == integration_id,
                PagerDutyUser.email.is_not(None),
                User.deactivated.is_(False),
                User.is_bot.is_(False),
            )
            .order_by(User.id, PagerDutyUser.pd_id)
        )
    ).all()
    linked = 0
    for user_id, pd_id in dict(pairs).items():  # one PagerDuty account per Slack user
        stored = await link_identity(
            session, team_id=team_id, user_id=user_id, kind=KIND, external_id=pd_id, source=EMAIL_MATCH, by=None, at=at
        )
        linked += stored is not None
    return linked


async def start_sync(session: AsyncSession, *, team_id: str, integration_id: str, at: datetime) -> None:
    """Note a run's start; the last success (`synced_at`) stays until this run succeeds."""
    row = await session.get(PagerDutySync, integration_id)
    if row is None:
        session.add(PagerDutySync(integration_id=integration_id, team_id=team_id, started_at=at, ok=False, counts={}))
    else:
        row.started_at = at
    await session.flush()


async def finish_sync(
    session: AsyncSession,
    *,
    integration_id: str,
    ok: bool,
    at: datetime,
    counts: Mapping[str, Any],
    error: str | None,
) -> None:
    row = await session.get(PagerDutySync, integration_id)
    if row is None:  # the integration was removed while it synced
        return
    row.ok, row.counts, row.error = ok, dict(counts), error
    if ok:
        row.synced_at = at
    await session.flush()


# ---------------------------------------------------------------- pages


async def pages_of(
    session: AsyncSession, *, pairs: Iterable[tuple[str, int]], loose: Iterable[tuple[str, str]]
) -> list[IncidentPage]:
    """The pages of (integration, incident) `pairs`, and of (integration, dedup key) pages made outside any incident."""
    pairs, loose = set(pairs), set(loose)
    wanted = [and_(IncidentPage.integration_id == i, IncidentPage.incident_id == n) for i, n in pairs]
    wanted += [
        and_(IncidentPage.integration_id == i, IncidentPage.incident_id.is_(None), IncidentPage.dedup_key == key)
        for i, key in loose
    ]
    if not wanted:
        return []
    return list((await session.scalars(select(IncidentPage).where(or_(*wanted)).order_by(IncidentPage.id))).all())


async def paged_by(session: AsyncSession, *, incident_id: int, integration_ids: Sequence[str], event: str) -> set[str]:
    """Which of these integrations paged the incident, or have a page of it (a delivery of `event`) on the way."""
    pages = select(IncidentPage.integration_id).where(
        IncidentPage.incident_id == incident_id, IncidentPage.integration_id.in_(integration_ids)
    )
    asked = select(Delivery.integration_id).where(
        Delivery.incident_id == incident_id, Delivery.integration_id.in_(integration_ids), Delivery.event == event
    )
    return set((await session.scalars(pages.union(asked))).all())


async def upsert_page(
    session: AsyncSession,
    *,
    team_id: str,
    integration_id: str,
    incident_id: int | None,
    target: str,
    method: str,
    dedup_key: str,
    status: str,
    service_id: str | None,
    pd_incident_id: str | None,
    pd_incident_url: str | None,
    paged_by: str | None,
    at: datetime,
) -> bool:
    """One page per (integration, incident, target); outside an incident, one per dedup key. What is already known
    (the PagerDuty incident, who paged first) is kept when a later write does not know it. True when the page's
    address is new (the incident's opening message links to it)."""
    stmt = select(IncidentPage).where(IncidentPage.integration_id == integration_id)
    if incident_id is None:
        stmt = stmt.where(IncidentPage.incident_id.is_(None), IncidentPage.dedup_key == dedup_key)
    else:
        stmt = stmt.where(IncidentPage.incident_id == incident_id, IncidentPage.target == target)
    page = (await session.scalars(stmt.limit(1))).first()
    if page is None:
        page = IncidentPage(
            team_id=team_id,
            integration_id=integration_id,
            incident_id=incident_id,
            target=target,
            created_at=at,
            paged_by=paged_by,
        )
        session.add(page)
    page.method, page.dedup_key, page.status, page.updated_at = method, dedup_key, status, at
    page.service_id = service_id or page.service_id
    page.pd_incident_id = pd_incident_id or page.pd_incident_id
    known = page.pd_incident_url
    page.pd_incident_url = pd_incident_url or page.pd_incident_url
    page.paged_by = page.paged_by or paged_by
    await session.flush()
    return page.pd_incident_url != known


# ---------------------------------------------------------------- components' routing keys


def routing_key_aad(component_id: int) -> str:
    """What a component's sealed routing key is bound to: a token copied onto another component does not open."""
    return f"component:{component_id}"


async def paging_components(session: AsyncSession, *, team_ids: Iterable[str]) -> list[Component]:
    """Components that name a PagerDuty service or carry their own routing key (a workspace has a handful)."""
    stmt = select(Component).where(
        Component.team_id.in_(set(team_ids)),
        or_(Component.pagerduty_service_id.is_not(None), Component.pagerduty_routing_key.is_not(None)),
    )
    return list((await session.scalars(stmt)).all())


def _sealed_elsewhere(primary_kid: str | None) -> Any:
    sealed = Component.pagerduty_routing_key.is_not(None)
    if primary_kid is None:
        return sealed
    return and_(sealed, or_(Component.pagerduty_key_id.is_(None), Component.pagerduty_key_id != primary_kid))


async def components_sealed_elsewhere(session: AsyncSession, *, primary_kid: str, limit: int) -> list[Component]:
    """Components whose routing key is sealed under another key than the primary (`vigil keys rotate` moves them)."""
    stmt = select(Component).where(_sealed_elsewhere(primary_kid)).order_by(Component.id).limit(limit).with_for_update()
    return list((await session.scalars(stmt)).all())


async def count_sealed_components(session: AsyncSession, *, primary_kid: str | None = None) -> int:
    return int(
        (await session.scalar(select(func.count()).select_from(Component).where(_sealed_elsewhere(primary_kid)))) or 0
    )


# ---------------------------------------------------------------- reads for the doors


@dataclass(frozen=True)
class OnCallRow:
    integration_id: str
    policy_id: str
    policy_name: str
    policy_url: str | None
    level: int
    user_id: str  # the PagerDuty user
    user_name: str
    user_email: str | None
    user_url: str | None
    slack_user_id: str | None
    schedule_id: str | None
    schedule_name: str | None
    starts_at: datetime | None  # None: permanent (a user named in the policy itself)
    ends_at: datetime | None


@dataclass(frozen=True)
class ShiftRow:
    policy_name: str
    level: int
    schedule_name: str | None
    starts_at: datetime | None
    ends_at: datetime | None


class ServiceRow(NamedTuple):
    """A synced service, as the page command and the component picker list them."""

    integration_id: str
    pd_id: str
    name: str
    escalation_policy_id: str | None = None


def _active_at(now: datetime) -> Any:
    return and_(
        or_(PagerDutyOnCall.starts_at.is_(None), PagerDutyOnCall.starts_at <= now),
        or_(PagerDutyOnCall.ends_at.is_(None), PagerDutyOnCall.ends_at > now),
    )


def _oncalls_joined() -> Select:
    """On-calls with their policy, user and (when there is one) schedule, by the same integration."""
    return (
        select(PagerDutyOnCall, PagerDutyPolicy, PagerDutyUser, PagerDutySchedule)
        .join(
            PagerDutyPolicy,
            and_(
                PagerDutyPolicy.integration_id == PagerDutyOnCall.integration_id,
                PagerDutyPolicy.pd_id == PagerDutyOnCall.escalation_policy_id,
            ),
        )
        .join(
            PagerDutyUser,
            and_(
                PagerDutyUser.integration_id == PagerDutyOnCall.integration_id,
                PagerDutyUser.pd_id == PagerDutyOnCall.user_id,
            ),
        )
        .outerjoin(
            PagerDutySchedule,
            and_(
                PagerDutySchedule.integration_id == PagerDutyOnCall.integration_id,
                PagerDutySchedule.pd_id == PagerDutyOnCall.schedule_id,
            ),
        )
    )


async def slack_users_of(session: AsyncSession, *, team_id: str, pd_user_ids: Iterable[str]) -> dict[str, str]:
    """PagerDuty user id → the Slack user linked to it (a manual link before an email match)."""
    wanted = set(pd_user_ids)
    if not wanted:
        return {}
    rows = (
        await session.scalars(
            select(Identity).where(Identity.team_id == team_id, Identity.kind == KIND, Identity.external_id.in_(wanted))
        )
    ).all()
    found: dict[str, str] = {}
    for row in sorted(rows, key=lambda r: (r.source != MANUAL, r.user_id)):
        found.setdefault(row.external_id, row.user_id)
    return found


async def oncalls_now(session: AsyncSession, *, team_id: str, now: datetime) -> list[OnCallRow]:
    """Who is on call now, per escalation policy and level (policies by name, then level, then person)."""
    rows = (await session.execute(_oncalls_joined().where(PagerDutyOnCall.team_id == team_id, _active_at(now)))).all()
    slack = await slack_users_of(session, team_id=team_id, pd_user_ids={oncall.user_id for oncall, *_ in rows})
    shown: dict[tuple[Any, ...], OnCallRow] = {}
    for oncall, policy, user, schedule in rows:
        row = OnCallRow(
            integration_id=oncall.integration_id,
            policy_id=policy.pd_id,
            policy_name=policy.name,
            policy_url=policy.html_url,
            level=oncall.level,
            user_id=user.pd_id,
            user_name=user.name,
            user_email=user.email,
            user_url=user.html_url,
            slack_user_id=slack.get(user.pd_id),
            schedule_id=oncall.schedule_id,
            schedule_name=schedule.name if schedule is not None else None,
            starts_at=oncall.starts_at,
            ends_at=oncall.ends_at,
        )
        shown.setdefault((row.integration_id, row.policy_id, row.level, row.user_id, row.schedule_id), row)
    return sorted(shown.values(), key=lambda r: (r.policy_name.lower(), r.policy_id, r.level, r.user_name.lower()))


async def shifts_of(
    session: AsyncSession, *, team_id: str, slack_user_id: str, now: datetime, until: datetime
) -> list[ShiftRow]:
    """A Slack user's on-call shifts overlapping [now, until), by their linked PagerDuty account, soonest first."""
    pd_user = await session.scalar(
        select(Identity.external_id).where(
            Identity.team_id == team_id, Identity.user_id == slack_user_id, Identity.kind == KIND
        )
    )
    if pd_user is None:
        return []
    rows = (
        await session.execute(
            _oncalls_joined().where(
                PagerDutyOnCall.team_id == team_id,
                PagerDutyOnCall.user_id == pd_user,
                or_(PagerDutyOnCall.starts_at.is_(None), PagerDutyOnCall.starts_at < until),
                or_(PagerDutyOnCall.ends_at.is_(None), PagerDutyOnCall.ends_at > now),
            )
        )
    ).all()
    shifts = {
        ShiftRow(
            policy_name=policy.name,
            level=oncall.level,
            schedule_name=schedule.name if schedule is not None else None,
            starts_at=oncall.starts_at,
            ends_at=oncall.ends_at,
        )
        for oncall, policy, _, schedule in rows
    }
    return sorted(shifts, key=lambda s: (s.starts_at or now, s.policy_name.lower(), s.level))


async def services(session: AsyncSession, *, team_id: str, query: str = "") -> list[ServiceRow]:
    """Synced services of the workspace's PagerDuty integrations whose name contains `query` (or whose id is it),
    without regard to case, by name."""
    stmt = select(
        PagerDutyService.integration_id,
        PagerDutyService.pd_id,
        PagerDutyService.name,
        PagerDutyService.escalation_policy_id,
    ).where(PagerDutyService.team_id == team_id)
    query = query.strip()
    if query:
        pattern = "%" + query.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            or_(func.lower(PagerDutyService.name).like(pattern, escape="\\"), PagerDutyService.pd_id == query.upper())
        )
    rows = (await session.execute(stmt.order_by(func.lower(PagerDutyService.name), PagerDutyService.pd_id))).all()
    return [ServiceRow(*row) for row in rows[:SERVICES_SHOWN]]


async def service_rows(session: AsyncSession, *, team_id: str, pd_id: str | None = None) -> list[PagerDutyService]:
    stmt = select(PagerDutyService).where(PagerDutyService.team_id == team_id)
    if pd_id is not None:
        stmt = stmt.where(PagerDutyService.pd_id == pd_id)
    return list((await session.scalars(stmt.order_by(PagerDutyService.name))).all())


async def last_sync(session: AsyncSession, *, team_id: str) -> PagerDutySync | None:
    """The newest sync run of the workspace's PagerDuty integrations."""
    stmt = (
        select(PagerDutySync)
        .join(Integration, Integration.id == PagerDutySync.integration_id)
        .where(PagerDutySync.team_id == team_id, Integration.kind == KIND)
        .order_by(PagerDutySync.started_at.desc())
        .limit(1)
    )
    return (await session.scalars(stmt)).first()


async def oncall_slack_users_for_service(
    session: AsyncSession, *, team_id: str, service_pd_id: str, now: datetime
) -> list[str]:
    """Slack users on call now at level 1 of the service's escalation policy (for channel invites), in a stable order."""
    policies = (
        await session.execute(
            select(PagerDutyService.integration_id, PagerDutyService.escalation_policy_id).where(
                PagerDutyService.team_id == team_id,
                PagerDutyService.pd_id == service_pd_id,
                PagerDutyService.escalation_policy_id.is_not(None),
            )
        )
    ).all()
    if not policies:
        return []
    users = (
        await session.scalars(
            select(PagerDutyOnCall.user_id).where(
                PagerDutyOnCall.team_id == team_id,
                PagerDutyOnCall.level == 1,
                or_(
                    *(
                        and_(PagerDutyOnCall.integration_id == i, PagerDutyOnCall.escalation_policy_id == p)
                        for i, p in policies
                    )
                ),
                _active_at(now),
            )
        )
    ).all()
    slack = await slack_users_of(session, team_id=team_id, pd_user_ids=users)
    return sorted({slack[u] for u in users if u in slack})
