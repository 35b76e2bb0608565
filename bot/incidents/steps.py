"""The Slack steps of incident changes, as data: their kinds, what each is called when it fails, which depend on
which, and when a failed one is tried again.

Pure: the plans are written to the database with the change (db/steps.py) and run by `StepRunner`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.incidents.ports import Note
from bot.incidents.states import Severity, Status

CREATE_CHANNEL = "create_channel"
INVITE = "invite"  # the responders the invite strategies find
INVITE_USERS = "invite_users"  # named people (a new commander)
SET_TOPIC = "set_topic"
POST_OPENING = "post_opening"
PIN_OPENING = "pin_opening"
CONFIRM = "confirm"
ANNOUNCE = "announce"
WARN_DEPLOY = "warn_deploy"
UPDATE_OPENING = "update_opening"
UPDATE_ANNOUNCEMENT = "update_announcement"
ANNOUNCE_REPLY = "announce_reply"  # an escalation, a downgrade, a resolution, a reopen, in the announcement's thread
POST_CHANGE = "post_change"
RENAME_CLOSED = "rename_closed"

# What a step is called where people read it: "Vigil could not <label>".
LABELS = {
    CREATE_CHANNEL: "create the incident channel",
    INVITE: "invite responders",
    INVITE_USERS: "invite the new commander",
    SET_TOPIC: "set the channel topic",
    POST_OPENING: "post the opening message",
    PIN_OPENING: "pin the opening message",
    CONFIRM: "confirm the declaration to you",
    ANNOUNCE: "announce the incident",
    WARN_DEPLOY: "warn about a deploy freeze",
    UPDATE_OPENING: "update the opening message",
    UPDATE_ANNOUNCEMENT: "update the announcement",
    ANNOUNCE_REPLY: "reply in the announcement's thread",
    POST_CHANGE: "post the change in the channel",
    RENAME_CLOSED: "rename the channel",
}

# Steps that bring a surface in line with the incident as it is when they run: one waiting is enough.
COALESCED = frozenset({SET_TOPIC, UPDATE_OPENING, UPDATE_ANNOUNCEMENT})
# A later change's step waits for the declaration's step it needs (no topic before the channel exists).
NEEDS = {
    INVITE: CREATE_CHANNEL,
    INVITE_USERS: CREATE_CHANNEL,
    SET_TOPIC: CREATE_CHANNEL,
    POST_CHANGE: CREATE_CHANNEL,
    RENAME_CLOSED: CREATE_CHANNEL,
    UPDATE_OPENING: POST_OPENING,
    UPDATE_ANNOUNCEMENT: ANNOUNCE,
    ANNOUNCE_REPLY: ANNOUNCE,
}

# Slack answers worth another try; anything else (channel_not_found, not_in_channel, invalid_blocks, missing_scope…)
# would fail the same way again, so the step fails at once and is shown.
RETRYABLE = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"})
RETRY_DELAYS = (
    timedelta(seconds=1),
    timedelta(seconds=5),
    timedelta(seconds=15),
    timedelta(minutes=1),
    timedelta(minutes=5),
)


def retryable(code: str) -> bool:
    return code in RETRYABLE or code.startswith(("http_5", "unreachable"))


def next_attempt(*, attempts: int, code: str, now: datetime) -> datetime | None:
    """When to try a step again after its `attempts`-th failure with `code`, or None: give up and show it."""
    if not retryable(code) or attempts > len(RETRY_DELAYS):
        return None
    return now + RETRY_DELAYS[attempts - 1]


@dataclass(frozen=True)
class Planned:
    """A step to write: `key` names it within its plan, `after` the key of the step it waits for."""

    key: str
    kind: str
    args: Mapping[str, Any] = field(default_factory=dict)
    after: str | None = None


def declaration_plan(
    *, name: str, private: bool, confirm_in: str | None, announce_to: str | None, warn_deploy_in: str | None
) -> list[Planned]:
    """create → (invite ‖ topic ‖ post → pin ‖ confirm ‖ announce → opening ‖ warn): three round trips when every
    call takes one. The announcement and the deploy warning wait for the channel, which they link to; the opening
    message is edited once the announcement is there (and the message posted), to link to it."""
    plan = [
        Planned("create", CREATE_CHANNEL, {"name": name, "private": private}),
        Planned("invite", INVITE, after="create"),
        Planned("topic", SET_TOPIC, after="create"),
        Planned("post", POST_OPENING, after="create"),
        Planned("pin", PIN_OPENING, after="post"),
    ]
    if confirm_in:
        plan.append(Planned("confirm", CONFIRM, {"channel_id": confirm_in}, after="create"))
    if announce_to:
        plan.append(Planned("announce", ANNOUNCE, {"channel_id": announce_to}, after="create"))
        plan.append(Planned("opening", UPDATE_OPENING, after="announce"))
    if warn_deploy_in:
        plan.append(Planned("warn", WARN_DEPLOY, {"channel_id": warn_deploy_in}, after="create"))
    return plan


def line_plan(*, note: Note, actor_id: str | None) -> list[Planned]:
    """One line in the incident channel (a relayed message), once the channel exists."""
    return [Planned("change", POST_CHANGE, {"actor_id": actor_id, "notes": [note_args(note)]})]


def refresh_plan(
    *,
    notes: Sequence[Note],
    actor_id: str | None,
    closing: bool = False,
    reinvite: bool = False,
    invite_users: Sequence[str] = (),
    announce_to: str | None = None,
    warn_deploy_in: str | None = None,
    replies: Sequence[tuple[Note, bool]] = (),
    announcement: bool = True,
) -> list[Planned]:
    """What Slack needs after a change: the opening message, topic and announcement brought in line, a line in the
    channel saying what changed, and what the change itself calls for (`replies`: in the announcement's thread, each
    with whether it is also sent to the channel). Without `announcement`, the change shows nowhere on it (an ack)."""
    plan = [Planned("opening", UPDATE_OPENING), Planned("topic", SET_TOPIC)]
    if announcement and not announce_to:  # a first announcement shows the incident as it is: nothing to edit yet
        plan.append(Planned("announcement", UPDATE_ANNOUNCEMENT))
    if notes:
        plan.append(Planned("change", POST_CHANGE, {"actor_id": actor_id, "notes": [note_args(n) for n in notes]}))
    if closing:
        plan.append(Planned("rename", RENAME_CLOSED))
    if invite_users:
        plan.append(Planned("commander", INVITE_USERS, {"user_ids": list(invite_users)}))
    if reinvite:
        plan.append(Planned("invite", INVITE))
    if announce_to:
        plan.append(Planned("announce", ANNOUNCE, {"channel_id": announce_to}))
    if warn_deploy_in:
        plan.append(Planned("warn", WARN_DEPLOY, {"channel_id": warn_deploy_in}))
    for n, (reply, broadcast) in enumerate(replies):
        plan.append(Planned(f"reply{n}", ANNOUNCE_REPLY, {"reply": note_args(reply), "broadcast": broadcast}))
    return plan


def announcement_replies(
    notes: Sequence[Note], *, created_at: datetime, resolved_at: datetime | None, resolution: str | None
) -> list[tuple[Note, bool]]:
    """What of a change goes into the announcement's thread, so that people watching the channel hear of it: each
    escalation and downgrade, the resolution and a reopen; the resolution, a reopen and an escalation to P1 are also
    sent to the channel. Each with the plain facts its line shows (from, to, how long it lasted)."""
    replies: list[tuple[Note, bool]] = []
    for note in notes:
        data = note.data
        was, to = str(data.get("from") or ""), str(data.get("to") or "")
        if note.kind == "severity" and was in Severity.__members__ and to in Severity.__members__:
            up = Severity(to).rank < Severity(was).rank
            kind = "escalated" if up else "downgraded"
            replies.append((Note(kind, note.text, {"from": was, "to": to}), up and to == Severity.P1))
        elif note.kind == "status" and data.get("reopen"):
            replies.append((Note("reopened", str(data.get("note") or ""), {"from": was, "to": to}), True))
        elif note.kind == "status" and to == Status.RESOLVED:
            after = int((resolved_at - created_at).total_seconds()) if resolved_at else None
            replies.append((Note("resolved", resolution or "", {"from": was, "to": to, "after": after}), True))
    return replies


def note_args(note: Note) -> dict[str, Any]:
    return {"kind": note.kind, "text": note.text, "data": dict(note.data)}


def notes_of(args: Mapping[str, Any]) -> list[Note]:
    return [Note(str(n["kind"]), str(n["text"]), dict(n.get("data") or {})) for n in args.get("notes") or []]


def marker(external_key: str, what: str) -> str:
    """What a posted message carries in its metadata so that a retry finds it instead of posting again."""
    return f"{external_key}:{what}"
