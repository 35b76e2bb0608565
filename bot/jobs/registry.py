"""Which function each job runs: a plain dict, built when first needed (nothing runs at import time)."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from bot.jobs import housekeeping, sync
from bot.jobs.names import (
    ARCHIVE_CLOSED_CHANNELS,
    JOB_NAMES,
    PURGE_LOGS,
    PURGE_ROTATED_SECRETS,
    SEND_REMINDERS,
    SYNC_PAGERDUTY,
    SYNC_SLACK_CONVERSATIONS,
    SYNC_SLACK_USERGROUPS,
    SYNC_SLACK_USERS,
)
from bot.jobs.service import JobContext, JobFunc, JobSpec

if TYPE_CHECKING:
    from bot.container import Container

# The PagerDuty directory sync lives with the PagerDuty integration: `sync_pagerduty(container) -> int` (how many
# integrations it synced). This is its registration point; without it the job is listed as not available.
PAGERDUTY_SYNC = ("integrations.pagerduty.service", "sync_pagerduty")


def _pagerduty_job() -> JobSpec:
    summary = "PagerDuty services, users, escalation policies, schedules and on-calls, for every PagerDuty integration"
    module_name, attribute = PAGERDUTY_SYNC
    try:
        func: Callable[[Container], Awaitable[Any]] | None = getattr(importlib.import_module(module_name), attribute, None)
    except ImportError:
        func = None
    if func is None:
        return JobSpec(SYNC_PAGERDUTY, None, summary, unavailable="the PagerDuty sync is not part of this installation")
    sync_pagerduty = func

    async def run(ctx: JobContext) -> None:
        synced = await sync_pagerduty(ctx.container)
        ctx.count("integrations", int(synced or 0))

    return JobSpec(SYNC_PAGERDUTY, run, summary)


def job_specs() -> dict[str, JobSpec]:
    functions: dict[str, tuple[JobFunc, str]] = {
        SYNC_SLACK_USERS: (sync.sync_slack_users, "Every Slack user: names, emails, time zones, admin and guest flags"),
        SYNC_SLACK_USERGROUPS: (sync.sync_slack_usergroups, "The imported usergroups and their members"),
        SYNC_SLACK_CONVERSATIONS: (
            sync.sync_slack_conversations,
            "Members of incident channels and tagged channels (repairs missed joins and leaves)",
        ),
        SEND_REMINDERS: (housekeeping.send_reminders_job, "A reminder in each idle unresolved incident's channel"),
        ARCHIVE_CLOSED_CHANNELS: (
            housekeeping.archive_closed_channels_job,
            "Archives closed incidents' channels after the workspace's grace period",
        ),
        PURGE_ROTATED_SECRETS: (
            housekeeping.purge_rotated_secrets_job,
            "Drops inbound secrets whose rotation overlap is over",
        ),
        PURGE_LOGS: (housekeeping.purge_logs_job, "Drops old delivery, inbound and job-run logs, and expired event ids"),
    }
    specs = {name: JobSpec(name, run, summary) for name, (run, summary) in functions.items()}
    specs[SYNC_PAGERDUTY] = _pagerduty_job()
    return {name: specs[name] for name in JOB_NAMES}
