"""The timeline, rendered in the viewer's time zone with dates (incidents span days). Pure functions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.blocks.mrkdwn import note_text, user
from db.models import Incident, TimelineEvent

SECTION_LIMIT = 2900
MAX_BLOCKS = 45


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def when(at: datetime, tz: ZoneInfo) -> str:
    local = at.astimezone(tz)
    return f"{local:%a %d %b %Y %H:%M} {local.tzname()}"


def line(event: TimelineEvent, tz: ZoneInfo) -> str:
    who = user(event.actor_id, nobody="Vigil")
    source = "" if event.source == "slack" else f" _({event.source})_"
    return f"*{when(event.at, tz)}* · {who} · {note_text(event.kind, event.text, event.data or {})}{source}"


def timeline_blocks(incident: Incident, events: Sequence[TimelineEvent], *, tz_name: str) -> list[dict[str, Any]]:
    """Header plus the events packed into sections under Slack's limits; the oldest are dropped first if too many."""
    tz = zone(tz_name)
    sections: list[str] = []
    current = ""
    for event in events:
        text = line(event, tz)[:SECTION_LIMIT]
        if current and len(current) + len(text) + 1 > SECTION_LIMIT:
            sections.append(current)
            current = ""
        current = f"{current}\n{text}" if current else text
    if current:
        sections.append(current)
    dropped = max(0, len(sections) - MAX_BLOCKS)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"INC-{incident.number} timeline"[:150]}},
    ]
    if dropped:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": "Older entries are not shown."}]})
    blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": s}} for s in sections[dropped:]]
    if not events:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "_Nothing on the timeline yet._"}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"Times in {tz.key}"}]})
    return blocks


def timeline_text(incident: Incident, events: Sequence[TimelineEvent], *, tz_name: str) -> str:
    tz = zone(tz_name)
    return "\n".join([f"INC-{incident.number} timeline ({tz.key})", *(line(e, tz) for e in events)])
