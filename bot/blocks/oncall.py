"""`/incident oncall` and the on-call part of App Home, as Block Kit: who is on call now per escalation policy and
level, how old the sync is, a Page control per policy; and one person's shifts now and next. Pure.

Names from PagerDuty are escaped; people linked to a Slack account are mentioned, the others named. Times are
`<!date>` tokens, so every reader sees their own time zone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from bot import slack_ids as ids
from bot.blocks.mrkdwn import esc

MAX_POLICIES = 15  # sections per policy plus headers stay well inside a message's 50 blocks
MAX_PEOPLE_PER_LEVEL = 6
MAX_SERVICE_OPTIONS = 100  # a static select's limit
PAGE_CONFIRM = "PagerDuty notifies whoever is on call for it now, by their own notification rules."


class OnCall(Protocol):
    @property
    def policy_id(self) -> str: ...

    @property
    def policy_name(self) -> str: ...

    @property
    def policy_url(self) -> str | None: ...

    @property
    def level(self) -> int: ...

    @property
    def user_name(self) -> str: ...

    @property
    def slack_user_id(self) -> str | None: ...

    @property
    def schedule_name(self) -> str | None: ...

    @property
    def ends_at(self) -> datetime | None: ...


class Service(Protocol):
    @property
    def pd_id(self) -> str: ...

    @property
    def name(self) -> str: ...


class Shift(Protocol):
    @property
    def policy_name(self) -> str: ...

    @property
    def level(self) -> int: ...

    @property
    def schedule_name(self) -> str | None: ...

    @property
    def starts_at(self) -> datetime | None: ...

    @property
    def ends_at(self) -> datetime | None: ...


def when(at: datetime, fmt: str = "{date_short_pretty} {time}") -> str:
    return f"<!date^{int(at.timestamp())}^{fmt}|{at:%Y-%m-%d %H:%M} UTC>"


def ago(at: datetime) -> str:
    return f"<!date^{int(at.timestamp())}^{{ago}}|{at:%Y-%m-%d %H:%M} UTC>"


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def person(row: OnCall) -> str:
    who = f"<@{row.slack_user_id}>" if row.slack_user_id else esc(clip(row.user_name, 80))
    parts = [who]
    if row.schedule_name:
        parts.append(f"({esc(clip(row.schedule_name, 60))})")
    parts.append(f"until {when(row.ends_at)}" if row.ends_at else "always")
    return " ".join(parts)


def sync_line(synced_at: datetime | None, *, ok: bool) -> str:
    if synced_at is None:
        return ":hourglass: PagerDuty has not been synced yet: on-call shows after the first `sync_pagerduty` run."
    state = "" if ok else " :warning: the last sync failed; this is the one before"
    return f"From PagerDuty, synced {ago(synced_at)}.{state}"


def page_control(services: Sequence[Service]) -> dict[str, Any] | None:
    """A Page button for a policy's only service, a menu for several, nothing when no synced service uses it."""
    confirm = {
        "title": {"type": "plain_text", "text": "Page on-call?"},
        "text": {"type": "mrkdwn", "text": PAGE_CONFIRM},
        "confirm": {"type": "plain_text", "text": "Page"},
        "deny": {"type": "plain_text", "text": "Cancel"},
    }
    if not services:
        return None
    if len(services) == 1:
        return {
            "type": "button",
            "action_id": ids.ACTION_ONCALL_PAGE,
            "text": {"type": "plain_text", "text": clip(f"Page {services[0].name}", 75)},
            "value": services[0].pd_id,
            "confirm": confirm,
        }
    return {
        "type": "static_select",
        "action_id": ids.ACTION_ONCALL_PAGE_MENU,
        "placeholder": {"type": "plain_text", "text": "Page a service…"},
        "options": [
            {"text": {"type": "plain_text", "text": clip(s.name, 75)}, "value": s.pd_id}
            for s in services[:MAX_SERVICE_OPTIONS]
        ],
        "confirm": confirm,
    }


def oncall_blocks(
    rows: Sequence[OnCall],
    *,
    services_by_policy: Mapping[str, Sequence[Service]],
    synced_at: datetime | None,
    sync_ok: bool,
) -> tuple[str, list[dict[str, Any]]]:
    """The message: fallback text and blocks."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "On call now"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": sync_line(synced_at, ok=sync_ok)}]},
    ]
    policies: dict[str, list[OnCall]] = {}
    for row in rows:
        policies.setdefault(row.policy_id, []).append(row)
    if not policies:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "_Nobody is on call in PagerDuty right now._"}})
    lines: list[str] = []
    for policy_id, members in list(policies.items())[:MAX_POLICIES]:
        first = members[0]
        name = esc(clip(first.policy_name, 100))
        title = f"<{first.policy_url}|{name}>" if first.policy_url and first.policy_url.startswith("https://") else name
        levels: dict[int, list[OnCall]] = {}
        for row in members:
            levels.setdefault(row.level, []).append(row)
        text = [f"*{title}*"]
        for level in sorted(levels):
            people = levels[level]
            shown = ", ".join(person(p) for p in people[:MAX_PEOPLE_PER_LEVEL])
            more = f" and {len(people) - MAX_PEOPLE_PER_LEVEL} more" if len(people) > MAX_PEOPLE_PER_LEVEL else ""
            text.append(f"L{level}: {shown}{more}")
        section: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": clip("\n".join(text), 3000)}}
        control = page_control(services_by_policy.get(policy_id, []))
        if control is not None:
            section["accessory"] = control
        blocks.append(section)
        lines.append(f"{first.policy_name}: " + ", ".join(p.user_name for p in levels[min(levels)]))
    if len(policies) > MAX_POLICIES:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"…and {len(policies) - MAX_POLICIES} more policies."}],
            }
        )
    return "On call now: " + ("; ".join(lines) if lines else "nobody"), blocks


def shift_line(shift: Shift, *, now: datetime) -> str:
    what = f"*{esc(clip(shift.policy_name, 80))}* L{shift.level}"
    if shift.schedule_name:
        what += f" ({esc(clip(shift.schedule_name, 60))})"
    if shift.starts_at is None or shift.starts_at <= now:
        return f":large_green_circle: {what}, now" + (f" until {when(shift.ends_at)}" if shift.ends_at else "")
    return f":calendar: {what}, {when(shift.starts_at)}" + (f" to {when(shift.ends_at)}" if shift.ends_at else "")


def paged_text(target: str, incident: str | None) -> str:
    """What the person who paged reads: who is being paged, for what, and where PagerDuty's answer will be."""
    about = f" for {incident}" if incident else ""
    return (
        f":pager: Paging *{esc(clip(target, 150))}* through PagerDuty{about}. PagerDuty's answer shows in the delivery log."
    )
