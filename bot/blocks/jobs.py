"""Block Kit for the job schedules modal (App Home → Settings → Job schedules): each job's schedule as an input, with
its last run above it. Pure; listeners/admin/jobs.py reads the submission back."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bot import slack_ids as ids
from bot.blocks.home import clip, esc
from bot.jobs.forms import OFF
from bot.jobs.names import DEFAULT_KEEP_DAYS, KEEP_DAYS, PURGE_LOGS
from bot.jobs.service import JobLine

MAX_INPUT = 12


def job_block(name: str) -> str:
    return f"{ids.BLOCK_JOB_PREFIX}{name}"


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _when(value: Any) -> str:
    return f"<!date^{int(value.timestamp())}^{{date_short_pretty}} {{time}}|{value:%Y-%m-%d %H:%M} UTC>"


def last_run_text(line: JobLine) -> str:
    """`*sync_slack_users* · Every Slack user … \n Last run: <date> · ok · users=20000` (mrkdwn)."""
    head = f"*{line.name}* · {esc(line.summary)}"
    if line.unavailable:
        return f"{head}\n_Not available: {esc(line.unavailable)}._"
    if line.last is None:
        last = "Never run yet."
    else:
        counts = " ".join(f"{k}={v}" for k, v in line.last.counts.items())
        last = f"Last run {_when(line.last.started_at)} · *{line.last.outcome}*" + (f" · {esc(counts)}" if counts else "")
        if line.last.error:
            last += f"\n:warning: {esc(clip(line.last.error, 300))}"
    if line.running:
        last += f"\nRunning now on {esc(line.running)}."
    elif line.next_run is not None:
        last += f"\nNext run {_when(line.next_run)}."
    return clip(f"{head}\n{last}", 3000)


def _input(block_id: str, action_id: str, label: str, initial: str, hint: str) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": block_id,
        "label": _plain(label),
        "element": {
            "type": "plain_text_input",
            "action_id": action_id,
            "initial_value": initial,
            "max_length": MAX_INPUT,
        },
        "hint": _plain(hint),
    }


def jobs_modal(lines: Sequence[JobLine]) -> dict[str, Any]:
    """One context and one input per job (a job not available here gets the context alone), and how long
    purge_logs keeps logs."""
    blocks: list[dict[str, Any]] = []
    for line in lines:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": last_run_text(line)}]})
        if line.unavailable:
            continue
        initial = str(line.interval_minutes) if line.interval_minutes else OFF
        hint = f"Minutes between runs, or {OFF}. Default: {line.default_minutes}."
        blocks.append(_input(job_block(line.name), ids.ACTION_JOB_MINUTES, f"{line.name} every (minutes)", initial, hint))
        if line.name == PURGE_LOGS:
            keep = line.options.get(KEEP_DAYS) or DEFAULT_KEEP_DAYS
            blocks.append(
                _input(
                    ids.BLOCK_JOB_KEEP_DAYS,
                    ids.ACTION_JOB_KEEP_DAYS,
                    "Keep delivery, inbound and job-run logs (days)",
                    str(keep),
                    f"Default: {DEFAULT_KEEP_DAYS}. Event ids are kept a day whatever this says.",
                )
            )
    return {
        "type": "modal",
        "callback_id": ids.VIEW_ADMIN_JOBS,
        "title": _plain("Job schedules"),
        "submit": _plain("Save"),
        "close": _plain("Cancel"),
        "private_metadata": json.dumps({}),
        "blocks": blocks,
    }
