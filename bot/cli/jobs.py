"""`vigil jobs …`: the scheduled jobs, their schedules and runs, and running one now, through `JobService`.

A run from here takes the job's lease like a scheduled one, so it never runs beside the same job on a replica:
it refuses (exit 1), or with `--wait` waits for the other run to end first.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from bot.cli.common import Stop, get_settings, json_option, run_service
from bot.cli.integrations import read_team, when, write_team
from bot.cli.output import emit, emit_rows
from bot.jobs.names import JOB_NAMES

if TYPE_CHECKING:
    from bot.container import Container
    from bot.jobs.service import JobLine, RunView

LIST_COLUMNS = ("name", "schedule", "last_run", "outcome", "counts", "next_run", "running")
PROGRESS_EVERY = 1.0  # seconds between progress lines when stderr is not a terminal


def schedule_text(minutes: int | None) -> str:
    if not minutes:
        return "off"
    if minutes % 1440 == 0:
        return f"every {minutes // 1440} d"
    if minutes % 60 == 0:
        return f"every {minutes // 60} h"
    return f"every {minutes} min"


def counts_text(counts: Mapping[str, Any]) -> str:
    return " ".join(f"{key}={value}" for key, value in counts.items()) or "-"


def run_dict(run: RunView) -> dict[str, Any]:
    duration = (run.finished_at - run.started_at).total_seconds() if run.finished_at else None
    return {
        "run": run.id,
        "job": run.name,
        "trigger": run.trigger,
        "started_at": when(run.started_at),
        "finished_at": when(run.finished_at),
        "duration_s": round(duration, 3) if duration is not None else None,
        "outcome": run.outcome,
        "counts": dict(run.counts),
        "error": run.error,
    }


def line_dict(line: JobLine) -> dict[str, Any]:
    return {
        "name": line.name,
        "schedule": schedule_text(line.interval_minutes) if not line.unavailable else "not available",
        "interval_minutes": line.interval_minutes,
        "last_run": when(line.last.started_at) if line.last else None,
        "outcome": line.last.outcome if line.last else None,
        "counts": dict(line.last.counts) if line.last else {},
        "error": line.last.error if line.last else None,
        "next_run": when(line.next_run),
        "running": line.running,
        "summary": line.summary,
    }


class _Progress:
    """`vigil jobs run`'s progress on stderr: one line kept current on a terminal, else a line a second at most."""

    def __init__(self, name: str, *, terminal: bool) -> None:
        self.name = name
        self.terminal = terminal
        self._last = 0.0
        self._shown = False

    def __call__(self, counts: Mapping[str, int]) -> None:
        text = f"{self.name}: {counts_text(counts)}"
        now = time.monotonic()
        if self.terminal:
            click.echo(f"\r{text}\033[K", nl=False, err=True)
            self._shown = True
        elif now - self._last >= PROGRESS_EVERY:
            click.echo(text, err=True)
            self._last = now

    def done(self) -> None:
        if self._shown:
            click.echo("", err=True)


@click.group()
def jobs() -> None:
    """Scheduled jobs (Slack and PagerDuty sync, reminders, archiving, purges): list them, run one now.

    They run on one replica, the leader; App Home lets admins change their schedules.
    """


@jobs.command("list")
@json_option
def jobs_list(as_json: bool) -> None:
    """List the jobs: schedule, last run (start, outcome, counts), next run, and who runs it now, if anyone."""
    settings = get_settings(as_json=as_json)

    async def work(container: Container) -> list[JobLine]:
        team = await read_team(container)
        if team is None:
            return []
        return await container.jobs.overview(team_id=team)

    lines = run_service(settings, work, as_json=as_json)
    rows = [line_dict(line) for line in lines]
    if as_json:
        emit_rows(rows, list(rows[0]) if rows else [], as_json=True)
        return
    for row in rows:
        row["counts"] = counts_text(row["counts"])
    emit_rows(rows, LIST_COLUMNS, as_json=False)


@jobs.command("run")
@click.argument("name", type=click.Choice(JOB_NAMES), metavar="NAME")
@click.option(
    "--wait",
    type=click.FloatRange(0, 24 * 3600),
    default=None,
    metavar="SECONDS",
    help="When the job is running elsewhere, wait up to SECONDS for that run to end, then run (default: refuse).",
)
@json_option
def jobs_run(name: str, wait: float | None, as_json: bool) -> None:
    """Run one job now, whatever its schedule, and print the run: outcome, counts, error. Progress goes to stderr.

    NAME is one of sync_slack_users, sync_slack_usergroups, sync_slack_conversations, sync_pagerduty,
    send_reminders, archive_closed_channels, purge_rotated_secrets, purge_logs. A job running elsewhere (the
    leader, another `vigil jobs run`) is never run beside itself: exit 1, unless --wait. Exit 1 also when the run
    fails.
    """
    from bot.jobs.service import Busy

    settings = get_settings(as_json=as_json)
    progress = _Progress(name, terminal=sys.stderr.isatty() and not as_json)

    async def work(container: Container) -> RunView:
        team = await write_team(container)
        try:
            return await container.jobs.run(name, team_id=team, trigger="cli", progress=progress, wait=wait)
        except Busy as busy:
            hint = "wait for it or try again later" if wait else "try again later, or pass --wait SECONDS"
            raise Stop(f"{busy}; not started again ({hint})") from None

    try:
        run = run_service(settings, work, as_json=as_json)
    finally:
        progress.done()
    data = run_dict(run)
    if as_json:
        emit(data, as_json=True)
    else:
        counts = data.pop("counts")
        emit(data, as_json=False)
        for key, value in counts.items():
            click.echo(f"count.{key}: {value}")
    raise SystemExit(0 if run.outcome == "ok" else 1)
