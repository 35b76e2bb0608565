"""APScheduler 3.x on the bot's loop (memory job store). Jobs are plain coroutines taking the container."""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.container import Container
from db.deliveries import purge_finished
from db.events import purge_expired_events

log = logging.getLogger(__name__)

DELIVERY_LOG_DAYS = 30


async def purge_logs(container: Container) -> int:
    """Event-id rows past their TTL and finished deliveries older than 30 days; inbound and job-run logs join as
    they land."""
    now = container.clock.now()
    async with container.sessions() as session, session.begin():
        removed = await purge_expired_events(session, now=now)
        deliveries = await purge_finished(session, before=now - timedelta(days=DELIVERY_LOG_DAYS))
    log.info("purge_logs removed %d event ids and %d deliveries", removed, deliveries)
    return removed + deliveries


async def purge_rotated_secrets(container: Container) -> int:
    """Previous inbound secrets whose 24-hour rotation overlap is over."""
    purged = await container.integrations.purge_rotated_secrets()
    if purged:
        log.info("purge_rotated_secrets dropped %d previous secret(s)", purged)
    return purged


def build_scheduler(container: Container) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(
        timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}
    )
    scheduler.add_job(purge_logs, "interval", hours=1, args=[container], id="purge_logs", replace_existing=True)
    scheduler.add_job(
        purge_rotated_secrets,
        "interval",
        minutes=10,
        args=[container],
        id="purge_rotated_secrets",
        replace_existing=True,
    )
    return scheduler
