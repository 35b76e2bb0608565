"""APScheduler 3.x on the bot's loop (memory job store). Jobs are plain coroutines taking the container."""

from __future__ import annotations

import logging

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.container import Container
from db.events import purge_expired_events

log = logging.getLogger(__name__)


async def purge_logs(container: Container) -> int:
    """Event-id rows past their TTL; delivery, inbound and job-run logs join as they land."""
    async with container.sessions() as session, session.begin():
        removed = await purge_expired_events(session, now=container.clock.now())
    log.info("purge_logs removed %d event ids", removed)
    return removed


def build_scheduler(container: Container) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(
        timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}
    )
    scheduler.add_job(purge_logs, "interval", hours=1, args=[container], id="purge_logs", replace_existing=True)
    return scheduler
