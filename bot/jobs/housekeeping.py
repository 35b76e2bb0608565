"""The housekeeping jobs: reminders, archiving, and the purges. Each is a thin door into its service."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.jobs.names import DEFAULT_KEEP_DAYS
from bot.jobs.service import JobContext
from db import inbound
from db.deliveries import purge_finished
from db.events import purge_expired_events
from db.jobs import purge_runs

if TYPE_CHECKING:
    from bot.container import Container

log = logging.getLogger(__name__)


async def purge_logs(container: Container, *, keep_days: int = DEFAULT_KEEP_DAYS) -> int:
    """Event-id rows past their TTL (a day), and finished deliveries, inbound deliveries and job runs older than
    `keep_days`."""
    now = container.clock.now()
    before = now - timedelta(days=keep_days)
    async with container.sessions() as session, session.begin():
        removed = await purge_expired_events(session, now=now)
        deliveries = await purge_finished(session, before=before)
        received = await inbound.purge_finished(session, before=before)
        runs = await purge_runs(session, before=before)
    log.info(
        "purge_logs removed %d event ids, %d deliveries, %d inbound deliveries and %d job runs",
        removed,
        deliveries,
        received,
        runs,
    )
    return removed + deliveries + received + runs


async def purge_rotated_secrets(container: Container) -> int:
    """Previous inbound secrets whose 24-hour rotation overlap is over."""
    purged = await container.integrations.purge_rotated_secrets()
    if purged:
        log.info("purge_rotated_secrets dropped %d previous secret(s)", purged)
    return purged


async def purge_logs_job(ctx: JobContext) -> None:
    keep_days = await ctx.container.jobs.keep_days(team_id=ctx.team_id)
    ctx.count("removed", await purge_logs(ctx.container, keep_days=keep_days))


async def purge_rotated_secrets_job(ctx: JobContext) -> None:
    ctx.count("purged", await purge_rotated_secrets(ctx.container))


async def send_reminders_job(ctx: JobContext) -> None:
    sweep = await ctx.container.housekeeping.send_reminders(team_id=ctx.team_id)
    ctx.counts.update({"reminders": sweep.done, "failed": sweep.failed})


async def archive_closed_channels_job(ctx: JobContext) -> None:
    sweep = await ctx.container.housekeeping.archive_closed_channels(team_id=ctx.team_id)
    ctx.counts.update({"archived": sweep.done, "failed": sweep.failed})
