"""What an admin submits for job schedules, and its check: pure, so the door runs it before its ack and answers under
the fields, and the service runs it again."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.admin.forms import FieldErrors
from bot.incidents.errors import InvalidInput
from bot.incidents.fields import parse_bounded_int
from bot.jobs.names import JOB_NAMES, KEEP_DAYS, MAX_KEEP_DAYS, MAX_MINUTES, MIN_KEEP_DAYS, MIN_MINUTES

OFF = "off"
SCHEDULES_LABELS = {name: f"{name} (minutes)" for name in JOB_NAMES} | {KEEP_DAYS: "Keep logs for (days)"}


@dataclass(frozen=True)
class JobsForm:
    # Job name -> the minutes as typed ("off" switches the job off); a job left out keeps its schedule.
    minutes: Mapping[str, str] = field(default_factory=dict)
    keep_days: str | None = None  # None: the field was not in the form


@dataclass(frozen=True)
class JobsChecked:
    minutes: Mapping[str, int | None]  # None: off
    keep_days: int | None


def schedule_problem() -> str:
    return f"Give a number of minutes from {MIN_MINUTES} to {MAX_MINUTES}, or {OFF}."


def check_jobs_form(form: JobsForm, *, labels: Mapping[str, str] | None = None) -> JobsChecked:
    errors: dict[str, str] = {}
    minutes: dict[str, int | None] = {}
    for name, raw in form.minutes.items():
        if name not in JOB_NAMES:
            continue  # a forged field: nothing to store it in
        text = raw.strip()
        if text.lower() == OFF:
            minutes[name] = None
            continue
        try:
            minutes[name] = parse_bounded_int(text, low=MIN_MINUTES, high=MAX_MINUTES, what="Minutes")
        except InvalidInput:
            errors[name] = schedule_problem()
    keep_days = None
    if form.keep_days is not None:
        try:
            keep_days = parse_bounded_int(form.keep_days.strip(), low=MIN_KEEP_DAYS, high=MAX_KEEP_DAYS, what="Days")
        except InvalidInput:
            errors[KEEP_DAYS] = f"Give a number of days from {MIN_KEEP_DAYS} to {MAX_KEEP_DAYS}."
    if errors:
        raise FieldErrors(errors, labels)
    return JobsChecked(minutes=minutes, keep_days=keep_days)
