"""Reactions: :eyes: on the opening message acknowledges; :pushpin: on a message in an incident channel puts it on
the timeline, once."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError

from bot import slack_ids as ids
from bot.directory import Directory
from bot.incidents.service import IncidentService

log = logging.getLogger(__name__)

ACK_REACTIONS = frozenset({"eyes"})
PIN_REACTIONS = frozenset({"pushpin", "round_pushpin"})


async def on_reaction_added(
    event: dict[str, Any], body: dict[str, Any], incidents: IncidentService, directory: Directory, client: Any
) -> None:
    reaction = str(event.get("reaction", "")).split("::")[0]
    item = event.get("item") or {}
    if item.get("type") != "message" or reaction not in ACK_REACTIONS | PIN_REACTIONS:
        return
    team_id = str(body.get("team_id") or "")
    user_id = str(event.get("user", ""))
    channel_id, ts = str(item.get("channel", "")), str(item.get("ts", ""))
    incident = await incidents.by_channel(team_id=team_id, channel_id=channel_id)
    if incident is None:
        return
    if reaction in ACK_REACTIONS:
        if ts == incident.opening_message_ts:
            await directory.user(team_id=team_id, user_id=user_id)  # someone Vigil has not met: users.info
            await incidents.acknowledge(incident, actor_id=user_id, source="slack")
        return
    text = await _message_text(client, channel_id, ts)
    added = await incidents.add_timeline_entry(
        incident,
        kind="pin",
        text=f"Pinned: {text}" if text else "Pinned a message",
        actor_id=user_id,
        source="slack",
        data={"channel": channel_id, "ts": ts},
        message_ts=ts,
    )
    if not added:
        log.info("INC-%s: message %s already on the timeline", incident.number, ts)


async def _message_text(client: Any, channel_id: str, ts: str) -> str:
    try:
        resp = await client.conversations_history(channel=channel_id, latest=ts, inclusive=True, limit=1)
        messages = resp.get("messages") or []
        if not messages or messages[0].get("ts") != ts:
            resp = await client.conversations_replies(channel=channel_id, ts=ts, limit=1)
            messages = resp.get("messages") or []
    except SlackApiError as exc:
        log.warning("could not read pinned message %s in %s (%s)", ts, channel_id, exc.response.get("error"))
        return ""
    text = str(messages[0].get("text") or "") if messages else ""
    return text[:500]


def register(registry: Any) -> None:
    registry.event(ids.EVENT_REACTION_ADDED)(on_reaction_added)
