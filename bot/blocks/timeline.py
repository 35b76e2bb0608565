"""The timeline, as a reader wants it at 3 a.m.: the date once (again only when the day changes), each time in the
reader's own time zone (Slack's `<!date>` tokens, with the viewer's zone in the fallback), how long after the
declaration it happened (`+3 m`), who, and what. Packed into as many sections as it takes, each under Slack's 3,000
characters; past the 50 blocks of a message the oldest entries give way. Pure functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.blocks.mrkdwn import clip, note_text, user
from bot.blocks.mrkdwn import date as date_token
from db.models import Incident, TimelineEvent

SECTION_LIMIT = 2900
# header, the declaration line, the "earlier entries" line and the time-zone footer leave this many for sections.
MAX_SECTIONS = 45


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def offset(delta: timedelta) -> str:
    """`+0 m`, `+3 m`, `+2 h 05 m`, `+3 d 4 h`: how long after the declaration."""
    minutes = max(0, int(delta.total_seconds()) // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"+{days} d {hours} h"
    if hours:
        return f"+{hours} h {minutes:02d} m"
    return f"+{minutes} m"


def day_text(at: datetime, tz: ZoneInfo) -> str:
    return f"{at.astimezone(tz):%a %d %b %Y}"


def time_text(at: datetime, tz: ZoneInfo) -> str:
    local = at.astimezone(tz)
    return f"{local:%H:%M} {local.tzname()}"


@dataclass(frozen=True)
class _Line:
    day: date
    day_header: str
    mrkdwn: str
    plain: str


def _lines(incident: Incident, events: Sequence[TimelineEvent], tz: ZoneInfo) -> list[_Line]:
    start = incident.created_at
    lines = []
    for event in events:
        who = user(event.actor_id, nobody="Vigil")
        source = "" if event.source == "slack" else f" _({event.source})_"
        what = f"{who} · {note_text(event.kind, event.text, event.data or {})}{source}"
        since = offset(event.at - start)
        lines.append(
            _Line(
                day=event.at.astimezone(tz).date(),
                day_header=f"*{date_token(event.at, '{date_long_pretty}', day_text(event.at, tz))}*",
                mrkdwn=clip(f"{date_token(event.at, '{time}', time_text(event.at, tz))} `{since}` · {what}", SECTION_LIMIT),
                plain=f"{time_text(event.at, tz)} ({since}) {what}",
            )
        )
    return lines


def _with_days(lines: Sequence[_Line], first_day: date | None) -> list[str]:
    """The lines, with the date in bold before the first entry of each day other than `first_day` (shown above)."""
    out: list[str] = []
    day = first_day
    for line in lines:
        if line.day != day:
            day = line.day
            out.append(line.day_header)
        out.append(line.mrkdwn)
    return out


def _pack(texts: Sequence[str]) -> list[str]:
    """Lines into sections of at most SECTION_LIMIT characters."""
    sections: list[str] = []
    current = ""
    for text in texts:
        if current and len(current) + len(text) + 1 > SECTION_LIMIT:
            sections.append(current)
            current = ""
        current = f"{current}\n{text}" if current else text
    if current:
        sections.append(current)
    return sections


def _sections(lines: Sequence[_Line], declared_on: date) -> tuple[list[str], int]:
    """The sections, and how many of the oldest entries were left out so that they fit in MAX_SECTIONS."""
    sections = _pack(_with_days(lines, declared_on))
    if len(sections) <= MAX_SECTIONS:
        return sections, 0
    # Fewer entries never need more sections: the fewest to leave out is found by bisection.
    low, high = 1, len(lines)
    while low < high:
        middle = (low + high) // 2
        if len(_pack(_with_days(lines[middle:], None))) <= MAX_SECTIONS:
            high = middle
        else:
            low = middle + 1
    return _pack(_with_days(lines[low:], None)), low


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def timeline_blocks(incident: Incident, events: Sequence[TimelineEvent], *, tz_name: str) -> list[dict[str, Any]]:
    """Header, when it was declared, the entries in sections under Slack's limits (the oldest left out when even
    45 sections cannot hold them), and the reader's time zone."""
    tz = zone(tz_name)
    declared = incident.created_at
    sections, dropped = _sections(_lines(incident, events, tz), declared.astimezone(tz).date())
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"INC-{incident.number} timeline"[:150]}},
        _context(
            "Declared "
            + date_token(declared, "{date_long_pretty} at {time}", f"{day_text(declared, tz)} {time_text(declared, tz)}")
            + " · `+3 m` is three minutes after that"
        ),
    ]
    if dropped:
        blocks.append(_context(f"_The first {dropped} entries are left out: only the latest fit in one message._"))
    blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": s}} for s in sections]
    if not events:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "_Nothing on the timeline yet._"}})
    blocks.append(_context(f"Times in your time zone ({tz.key})"))
    return blocks


def timeline_text(incident: Incident, events: Sequence[TimelineEvent], *, tz_name: str) -> str:
    """The same in plain words, for notifications: the date once, then again only when the day changes."""
    tz = zone(tz_name)
    out = [f"INC-{incident.number} timeline, times in {tz.key}"]
    day: date | None = None
    for line, event in zip(_lines(incident, events, tz), events, strict=True):
        if line.day != day:
            day = line.day
            out.append(day_text(event.at, tz))
        out.append(line.plain)
    return "\n".join(out)
