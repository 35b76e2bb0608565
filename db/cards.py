"""What an incident's Slack card shows beyond its own row: the latest note, where else the incident lives (tickets,
pages, the announcement) and the names of the people on it. Read in the session the step runner loads the incident
with; plain values out."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import Incident, IncidentPage, Integration, IntegrationLink, TimelineEvent, User, Workspace

NOTE_KINDS = ("note",)


async def latest_note(session: AsyncSession, *, incident_id: int) -> TimelineEvent | None:
    stmt = (
        select(TimelineEvent)
        .where(TimelineEvent.incident_id == incident_id, TimelineEvent.kind.in_(NOTE_KINDS))
        .order_by(TimelineEvent.at.desc(), TimelineEvent.id.desc())
        .limit(1)
    )
    return (await session.scalars(stmt)).first()


async def links_of(session: AsyncSession, incident: Incident) -> list[tuple[str, str]]:
    """(label, url) of the incident's tickets (by integration name) and its PagerDuty pages; each address once."""
    found: list[tuple[str, str]] = []
    tickets = await session.execute(
        select(Integration.name, IntegrationLink.external_id, IntegrationLink.external_url)
        .join(Integration, Integration.id == IntegrationLink.integration_id)
        .where(IntegrationLink.incident_id == incident.id, IntegrationLink.external_url.is_not(None))
        .order_by(Integration.name, IntegrationLink.id)
    )
    found += [(" ".join(p for p in (name, external_id or "") if p), str(url)) for name, external_id, url in tickets]
    pages = (
        await session.scalars(
            select(IncidentPage.pd_incident_url)
            .where(IncidentPage.incident_id == incident.id, IncidentPage.pd_incident_url.is_not(None))
            .order_by(IncidentPage.id)
        )
    ).all()
    found += [("PagerDuty page" + (f" {n}" if len(pages) > 1 else ""), str(url)) for n, url in enumerate(pages, 1)]
    once: dict[str, str] = {}
    for label, url in found:
        once.setdefault(url, label)
    return [(label, url) for url, label in once.items()]


async def display_names(session: AsyncSession, *, team_id: str, user_ids: Iterable[str | None]) -> dict[str, str]:
    """The name each known person goes by in Slack (their handle, else their full name); unknown ids are left out."""
    wanted = {u for u in user_ids if u}
    if not wanted:
        return {}
    rows = await session.execute(
        select(User.id, User.name, User.real_name).where(User.team_id == team_id, User.id.in_(wanted))
    )
    return {user_id: name or real_name for user_id, name, real_name in rows if name or real_name}


async def workspace_url(session: AsyncSession, *, team_id: str) -> str | None:
    """The workspace's address (`https://acme.slack.com/`, from auth.test), which message links start with."""
    return await session.scalar(select(Workspace.url).where(Workspace.team_id == team_id)) or None
