"""Block Kit for incidents: the opening message, the announcement and its thread, the topic, the change lines, the
declarer's confirmation, the deploy warning. Pure functions.

People are named (`@carol`, from the directory), not mentioned, wherever Vigil writes about someone who just acted:
Slack has no mention that does not notify. Times are `<!date>` tokens, so each reader sees their own time zone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from bot import slack_ids as ids
from bot.blocks.mrkdwn import channel, clip, date, esc, link, person, render_notes, user
from bot.incidents.ports import IncidentCard, Note
from bot.incidents.states import Severity, Status, allowed_next

SEVERITY_EMOJI = {
    "P1": ":red_circle:",
    "P2": ":large_orange_circle:",
    "P3": ":large_yellow_circle:",
    "P4": ":large_blue_circle:",
    "P5": ":white_circle:",
}
# The topic is plain text: the emoji themselves, not their codes.
SEVERITY_CHARACTER = {"P1": "🔴", "P2": "🟠", "P3": "🟡", "P4": "🔵", "P5": "⚪"}
STATUS_EMOJI = {
    "open": ":rotating_light:",
    "investigating": ":mag:",
    "mitigating": ":hammer_and_wrench:",
    "resolved": ":white_check_mark:",
    "postmortem": ":memo:",
    "closed": ":lock:",
}
# What starts a change line, by the kind of its first note (status and severity: by where they went).
CHANGE_EMOJI = {
    "ack": ":eyes:",
    "note": ":memo:",
    "title": ":pencil2:",
    "commander": ":bust_in_silhouette:",
    "sos": ":sos:",
    "deploy_warning": ":no_entry:",
}
DONE = ("resolved", "postmortem", "closed")
LINKS_BUDGET = 2900  # characters of the links row (a context element holds 3000)


def _date(card: IncidentCard) -> str:
    return _when(card.created_at)


def _when(at: datetime) -> str:
    return date(at, "{date_short_pretty} {time}", f"{at:%Y-%m-%d %H:%M} UTC")


def _ago(at: datetime) -> str:
    """How long ago, as the reader's Slack says it ("3 minutes ago")."""
    return date(at, "{ago}", f"{at:%Y-%m-%d %H:%M} UTC")


def duration(seconds: float) -> str:
    """A span as people say it at 3 a.m.: `14 m`, `2 h 5 m`, `3 d 4 h` (the first minute counts as one)."""
    minutes = max(1, int(seconds) // 60)
    if minutes < 60:
        return f"{minutes} m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} m" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def _since(card: IncidentCard, at: datetime | None) -> str | None:
    return duration((at - card.created_at).total_seconds()) if at is not None else None


def status_label(status: str) -> str:
    return f"{STATUS_EMOJI.get(status, '')} {status.capitalize()}"


def headline(card: IncidentCard) -> str:
    """The one-line text that goes with every message (notifications, screen readers)."""
    return f"{card.ref} [{card.severity}] {esc(card.title)} ({card.status})"


# ---------------------------------------------------------------- the pinned opening message


def opening_blocks(card: IncidentCard) -> list[dict[str, Any]]:
    """Where things stand at a glance: severity in the header; status and people; what happened; the latest note; a
    context line with age, time to ack and last update; the links; the buttons that fit the status."""
    names = card.names
    fields = [f"*Status*\n{status_label(card.status)}", f"*Commander*\n{person(card.commander_id, names)}"]
    if card.reporter_id != card.commander_id:
        fields.append(f"*Reporter*\n{person(card.reporter_id, names)}")
    if card.component:
        fields.append(f"*Component*\n{esc(card.component)}")
    if card.acknowledged_at and card.acknowledged_by:
        fields.append(f"*Acknowledged*\n{person(card.acknowledged_by, names)} after {_since(card, card.acknowledged_at)}")
    header = f"{SEVERITY_EMOJI.get(card.severity, '')} {card.severity} · {card.ref} · {card.title}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(header, 150), "emoji": True}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]},
    ]
    if card.description:
        blocks.append(_section(esc(card.description)))
    if card.resolution:
        blocks.append(_section(f"*Resolution*\n{esc(card.resolution)}"))
    if card.latest_note is not None:
        note = card.latest_note
        who = f"@{esc(note.author)}" if note.author else person(note.author_id, names, nobody="")
        head = f"*Latest note* · {who + ' · ' if who else ''}{_ago(note.at)}"
        blocks.append(_section(f"{head}\n{esc(note.text)}"))
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _glance(card)}]})
    if card.links:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _links(card)}]})
    if card.missing:
        blocks.append(missing_block(card))
    buttons = opening_buttons(card)
    if buttons:
        blocks.append({"type": "actions", "block_id": "incident_actions", "elements": buttons})
    return blocks


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text, 3000)}}


def _glance(card: IncidentCard) -> str:
    parts = [f"Declared {_ago(card.created_at)}"]
    if card.acknowledged_at:
        parts.append(f"acked after {_since(card, card.acknowledged_at)}")
    elif card.status == "open":
        parts.append("not acknowledged yet")
    if card.resolved_at and card.status in DONE:
        parts.append(f"resolved after {_since(card, card.resolved_at)}")
    if card.last_update_at and (card.last_update_at - card.created_at).total_seconds() >= 1:
        parts.append(f"last update {_ago(card.last_update_at)}")
    if card.private:
        parts.append(":lock: private")
    return " · ".join(parts)


def _links(card: IncidentCard) -> str:
    """The row of links (tickets, pages, the announcement), as many as fit."""
    row = ":link:"
    for item in card.links:
        piece = f" {link(item.url, item.label)}" if row == ":link:" else f" · {link(item.url, item.label)}"
        if len(row) + len(piece) > LINKS_BUDGET:
            break
        row += piece
    return row


def opening_buttons(card: IncidentCard) -> list[dict[str, Any]]:
    """The buttons follow the status: open → Acknowledge, Page on-call, Update; being worked → Add note, Resolve,
    Update; resolved → Start postmortem, Reopen, Close (each only when the move is allowed); closed → none."""
    value = str(card.number)
    status = card.status
    if status == Status.OPEN:
        return [
            _button("Acknowledge", ids.ACTION_ACK, value, style=None if card.acknowledged_at else "primary"),
            _button("Page on-call", ids.ACTION_PAGE, value, style="danger") | {"confirm": PAGE_CONFIRM},
            _button("Update", ids.ACTION_UPDATE, value),
        ]
    if status in (Status.INVESTIGATING, Status.MITIGATING):
        return [
            _button("Add note", ids.ACTION_NOTE, value),
            _button("Resolve", ids.ACTION_RESOLVE, value, style="primary"),
            _button("Update", ids.ACTION_UPDATE, value),
        ]
    if status in (Status.RESOLVED, Status.POSTMORTEM):
        allowed = allowed_next(Status(status), Severity(card.severity))
        buttons = []
        if Status.POSTMORTEM in allowed:
            buttons.append(_button("Start postmortem", ids.ACTION_POSTMORTEM, value, style="primary"))
        buttons.append(_button("Reopen", ids.ACTION_REOPEN, value))
        if Status.CLOSED in allowed:
            close = _button("Close", ids.ACTION_CLOSE, value, style="primary" if status == Status.POSTMORTEM else None)
            buttons.append(close | {"confirm": _close_confirm(card)})
        return buttons
    return []


def missing_block(card: IncidentCard) -> dict[str, Any]:
    """The warning naming the Slack steps that failed for good, with Retry: people in the channel see what is missing
    and can have it done again without an operator (the CLI's `vigil incidents repair` does the same)."""
    steps = clip(", ".join(esc(label) for label in card.missing), 2800)  # the way out stays whole
    text = f":warning: Vigil could not: {steps}. Retry, or run `vigil incidents repair {card.number}`."
    return {
        "type": "section",
        "block_id": "incident_missing",
        "text": {"type": "mrkdwn", "text": text},
        "accessory": _button("Retry", ids.ACTION_REPAIR, str(card.number)),
    }


PAGE_CONFIRM = {
    "title": {"type": "plain_text", "text": "Page on-call?"},
    "text": {
        "type": "mrkdwn",
        "text": "PagerDuty notifies whoever is on call for this incident's service, by their own notification rules.",
    },
    "confirm": {"type": "plain_text", "text": "Page"},
    "deny": {"type": "plain_text", "text": "Cancel"},
}


def _close_confirm(card: IncidentCard) -> dict[str, Any]:
    return {
        "title": {"type": "plain_text", "text": f"Close {card.ref}?"},
        "text": {
            "type": "mrkdwn",
            "text": "The channel is renamed `…-closed` and archived after the workspace's grace period. "
            "Closed incidents are final.",
        },
        "confirm": {"type": "plain_text", "text": "Close"},
        "deny": {"type": "plain_text", "text": "Cancel"},
    }


def _button(text: str, action_id: str, value: str, *, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    return button


# ---------------------------------------------------------------- the announcement and its thread


def announcement_blocks(card: IncidentCard) -> list[dict[str, Any]]:
    """Edited in place: what is down, how bad, who leads, where to join; once resolved it opens with how long it
    lasted."""
    names = card.names
    title = f"{card.severity} · {card.ref} · {esc(card.title)}"
    if card.status in DONE and card.resolved_at:
        lines = [f":white_check_mark: *Resolved after {_since(card, card.resolved_at)}* · {title}"]
    else:
        lines = [f"{SEVERITY_EMOJI.get(card.severity, '')} *{title}*"]
    impact = card.description.strip().splitlines()[0] if card.description.strip() else ""
    if impact:
        lines.append(f"_Impact:_ {esc(clip(impact, 300))}")
    if card.resolution and card.status in DONE:
        lines.append(f"_Resolution:_ {esc(clip(card.resolution, 500))}")
    lines.append(
        f"{status_label(card.status)} · IC {person(card.commander_id, names, nobody='_none_')} · "
        f"{channel(card.channel_id, none='channel coming')}"
    )
    blocks: list[dict[str, Any]] = [
        _section("\n".join(lines)),
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"Declared {_date(card)} by {person(card.reporter_id, names)}"}],
        },
    ]
    if card.channel_id:
        join = _button("Join channel", ids.ACTION_JOIN, str(card.number), style="primary")
        blocks.append({"type": "actions", "block_id": "announcement_actions", "elements": [join]})
    return blocks


def thread_reply(card: IncidentCard, reply: Note) -> str:
    """A reply in the announcement's thread: an escalation, a downgrade, the resolution, a reopen. Plain values from
    the change (`reply.data`: from, to, after in seconds), words escaped."""
    data = reply.data
    to, was = str(data.get("to") or ""), str(data.get("from") or "")
    if reply.kind in ("escalated", "downgraded"):
        arrow = ":arrow_up:" if reply.kind == "escalated" else ":arrow_down:"
        text = f"{arrow} {card.ref} {reply.kind} to {SEVERITY_EMOJI.get(to, '')} *{to}* (was {was})"
    elif reply.kind == "resolved":
        after = data.get("after")
        lasted = f" after {duration(float(after))}" if isinstance(after, int | float) else ""
        text = f":white_check_mark: {card.ref} resolved{lasted}" + (f": {esc(reply.text)}" if reply.text else "")
    elif reply.kind == "reopened":
        text = f":repeat: {card.ref} reopened" + (f": {esc(reply.text)}" if reply.text else "")
    else:
        text = esc(reply.text)
    return clip(text, 3000)


# ---------------------------------------------------------------- lines in the incident channel


def change_line(*, actor_id: str | None, notes: Sequence[Note], names: Mapping[str, str] | None = None) -> str:
    """One change, one line: `:memo: @carol: rolled back deploy 4411`. The one who acted is named, never mentioned; a
    new commander someone else named is mentioned, so that they hear of it."""
    shown = dict(names or {})
    for note in notes:
        new = note.data.get("to") if note.kind == "commander" else None
        if isinstance(new, str) and new != actor_id:
            shown.pop(new, None)
    who = shown.get(actor_id or "") if actor_id else None
    first = notes[0] if notes else None
    if first is None:
        emoji = ""
    elif first.kind == "status":
        emoji = STATUS_EMOJI.get(str(first.data.get("to")), "")
    elif first.kind == "severity":
        emoji = SEVERITY_EMOJI.get(str(first.data.get("to")), "")
    else:
        emoji = CHANGE_EMOJI.get(first.kind, "")
    said = render_notes(notes, names=shown)
    line = f"@{esc(who)}: {said}" if who else said
    return clip(f"{emoji} {line}" if emoji else line, 3000)


def topic(card: IncidentCard) -> str:
    """The channel topic, readable at a glance: `🔴 P1 · Mitigating · IC @bob`; once closed, how it ended."""
    if card.status == "closed":
        return clip(esc(card.resolution or card.closure_reason or "closed"), 250)
    lead = f"IC {person(card.commander_id, card.names)}" if card.commander_id else "no IC"
    return clip(f"{SEVERITY_CHARACTER.get(card.severity, '')} {card.severity} · {card.status.capitalize()} · {lead}", 250)


# ---------------------------------------------------------------- elsewhere


def confirmation_blocks(card: IncidentCard) -> list[dict[str, Any]]:
    """What the declarer sees where they declared: where the incident is, and the two things they may want next."""
    value = str(card.number)
    text = f":rotating_light: {card.ref} declared: {channel(card.channel_id, none='no channel yet')}"
    return [
        _section(text),
        {
            "type": "actions",
            "block_id": "declared_actions",
            "elements": [
                _button("Page on-call", ids.ACTION_PAGE, value, style="danger") | {"confirm": PAGE_CONFIRM},
                _button("Hand off", ids.ACTION_HANDOFF, value),
            ],
        },
    ]


def deploy_warning_blocks(card: IncidentCard) -> list[dict[str, Any]]:
    text = (
        f":no_entry: *Deploy freeze*: P1 {card.ref} ({esc(card.title)}) is being worked in "
        f"{channel(card.channel_id, none=card.ref)}. "
        "Hold deploys until it is resolved."
    )
    return [_section(text)]


def status_text(card: IncidentCard, *, allowed: list[str]) -> str:
    ack = f"acknowledged by <@{card.acknowledged_by}>" if card.acknowledged_by else "not acknowledged"
    where = f" · {channel(card.channel_id)}" if card.channel_id else ""
    moves = ", ".join(esc(move) for move in allowed) if allowed else "none (closed)"
    lines = [
        f"*{card.ref} · {esc(card.title)}*{where}",
        f"{SEVERITY_EMOJI.get(card.severity, '')} {card.severity} · {STATUS_EMOJI.get(card.status, '')} {card.status} · "
        f"commander {user(card.commander_id)} · {ack}",
        f"Next: {moves}",
    ]
    if card.resolution:
        lines.append(f"Resolution: {esc(card.resolution)}")
    return clip("\n".join(lines), 3000)


def list_line(card: IncidentCard) -> str:
    lock = " :lock:" if card.private else ""
    where = f" {channel(card.channel_id)}" if card.channel_id else ""
    return (
        f"{SEVERITY_EMOJI.get(card.severity, '')} *{card.ref}* {card.severity} · {card.status} · "
        f"{esc(card.title)}{lock}{where}"
    )
