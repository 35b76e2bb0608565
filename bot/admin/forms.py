"""What an admin submits from App Home's back-office, and the checks that need nothing but the text itself.

The checks are pure so a door can run them before its 3-second ack and answer under the field; the service runs them
again, so no door can skip them. Anything that needs the database or Slack (a name in use, a channel Vigil cannot
see) is the service's, after the ack. Field names here are the form's own; each screen maps them to its block_ids.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from bot.blocks.admin import MAX_COMPONENT_NAME, MAX_SOS_NAME, NO_SERVICE, OPTIONAL_REMINDERS
from bot.incidents.errors import InvalidInput
from bot.incidents.fields import MAX_ID, parse_bounded_int
from bot.incidents.text import clean_line
from db.workspaces import SEVERITIES, WorkspaceSettings
from integrations.pagerduty.provider import routing_key_problem

MAX_GRACE_DAYS = 365
MIN_REMINDER, MAX_REMINDER = 5, 7 * 24 * 60
USERGROUP_ID = re.compile(r"S[A-Z0-9]{2,31}", re.ASCII)
CONVERSATION_ID = re.compile(r"[CG][A-Z0-9]{2,31}", re.ASCII)

# Form fields (each screen maps them to the block_ids of its modal).
NAME, CONVERSATION, USERGROUP, USERGROUPS = "name", "conversation", "usergroup", "usergroups"
PD_SERVICE, ROUTING_KEY = "pagerduty_service", "routing_key"
USERGROUP_ID_FIELD = "usergroup_id"
ARCHIVE_DAYS = "archive_days"
# How the fields are called where the admin typed them, for answers that arrive after the modal closed.
SOS_LABELS = {NAME: "Name", CONVERSATION: "Channel", USERGROUP: "Usergroup to mention"}
COMPONENT_LABELS = {
    NAME: "Name",
    USERGROUPS: "Usergroups to invite",
    PD_SERVICE: "PagerDuty service",
    ROUTING_KEY: "Own routing key",
}
USERGROUP_LABELS = {USERGROUP_ID_FIELD: "Usergroup ID"}
SETTINGS_LABELS = {ARCHIVE_DAYS: "Archive closed incident channels after (days)"} | {
    sev: f"{sev} reminder (minutes)" for sev in SEVERITIES
}
LOST_TRACK = "This form lost track of what it edits; close it and open it again from App Home."


class FieldErrors(InvalidInput):
    """Several fields wrong at once. Before the ack a door shows each of `errors` under its field; found after it
    (the modal is closed by then), the message names every field, for the reply or DM."""

    def __init__(self, errors: Mapping[str, str], labels: Mapping[str, str] | None = None) -> None:
        lines = [f"• *{(labels or {}).get(name, name)}*: {message}" for name, message in errors.items()]
        super().__init__("Nothing was saved.\n" + "\n".join(lines))
        self.errors = dict(errors)


PD_SERVICE_ID = re.compile(r"P[A-Z0-9]{1,31}", re.ASCII)


@dataclass(frozen=True)
class TagsForm:
    """Only the tags whose field was in the form; None clears a tag. `shown` is what the form showed when opened."""

    conversations: Mapping[str, str | None] = field(default_factory=dict)
    usergroups: Mapping[str, str | None] = field(default_factory=dict)
    shown: Mapping[str, str | None] | None = None


@dataclass(frozen=True)
class SosTargetForm:
    target_id: int | None = None
    name: str = ""
    conversation_id: str | None = None
    usergroup_id: str | None = None
    remove: bool = False


@dataclass(frozen=True)
class ComponentForm:
    component_id: int | None = None
    name: str = ""
    # None: the form had no usergroups field (none imported yet), so the component keeps what it had.
    usergroup_ids: tuple[str, ...] | None = None
    remove: bool = False
    # None: not in the form (PagerDuty not connected), kept as it is; NO_SERVICE clears it.
    pagerduty_service: str | None = None
    # None: kept (the field still shows ••••, or is not in the form); "": removed; otherwise the new key.
    routing_key: str | None = None


@dataclass(frozen=True)
class UsergroupForm:
    usergroup_id: str = ""


@dataclass(frozen=True)
class SettingsForm:
    archive_days: str = ""
    # Severity → the minutes as typed; a severity left out counts as an empty field.
    reminders: Mapping[str, str] = field(default_factory=dict)


def check_tags(form: TagsForm) -> TagsForm:
    errors = {
        tag: "Pick a channel from the list."
        for tag, conversation_id in form.conversations.items()
        if conversation_id and not CONVERSATION_ID.fullmatch(conversation_id)
    }
    errors |= {
        tag: "Pick a usergroup from the list."
        for tag, usergroup_id in form.usergroups.items()
        if usergroup_id and not USERGROUP_ID.fullmatch(usergroup_id)
    }
    if errors:
        raise FieldErrors(errors)
    return form


def _check_item(item_id: int | None) -> None:
    """An id carried in the modal's metadata: a forged one out of range is answered, not sent to the database."""
    if item_id is not None and not 1 <= item_id <= MAX_ID:
        raise FieldErrors({NAME: LOST_TRACK})


def _check_name(name: str, *, limit: int, what: str, errors: dict[str, str]) -> str:
    cleaned = clean_line(name)
    if not cleaned:
        errors[NAME] = f"Give the {what} a name."
    elif len(cleaned) > limit:
        errors[NAME] = f"Keep the name under {limit} characters."
    return cleaned


def check_sos_target(form: SosTargetForm) -> SosTargetForm:
    """The target as it will be stored (name tidied); a ticked Remove needs nothing else."""
    _check_item(form.target_id)
    if form.remove and form.target_id is not None:
        return form
    errors: dict[str, str] = {}
    name = _check_name(form.name, limit=MAX_SOS_NAME, what="SOS target", errors=errors)
    if not form.conversation_id:
        errors[CONVERSATION] = "Pick the channel where help requests go."
    elif not CONVERSATION_ID.fullmatch(form.conversation_id):
        errors[CONVERSATION] = "Pick a channel from the list."
    if form.usergroup_id and not USERGROUP_ID.fullmatch(form.usergroup_id):
        errors[USERGROUP] = "Pick a usergroup from the list."
    if errors:
        raise FieldErrors(errors, SOS_LABELS)
    return replace(form, name=name)


def check_component(form: ComponentForm) -> ComponentForm:
    _check_item(form.component_id)
    if form.remove and form.component_id is not None:
        return form
    errors: dict[str, str] = {}
    name = _check_name(form.name, limit=MAX_COMPONENT_NAME, what="component", errors=errors)
    bad = [g for g in form.usergroup_ids or () if not USERGROUP_ID.fullmatch(g)]
    if bad:
        errors[USERGROUPS] = "Pick usergroups from the list."
    service = form.pagerduty_service
    if service is not None and service != NO_SERVICE and not PD_SERVICE_ID.fullmatch(service):
        errors[PD_SERVICE] = "Pick a service from the list."
    if form.routing_key and (problem := routing_key_problem(form.routing_key)):
        errors[ROUTING_KEY] = f"{problem[0].upper()}{problem[1:]}, from the service's Events API v2 integration."
    if errors:
        raise FieldErrors(errors, COMPONENT_LABELS)
    usergroup_ids = tuple(dict.fromkeys(form.usergroup_ids)) if form.usergroup_ids is not None else None
    return replace(form, name=name, usergroup_ids=usergroup_ids)


def check_usergroup_id(form: UsergroupForm) -> str:
    """The usergroup id as Slack spells it (upper case); people often paste the @handle instead."""
    raw = form.usergroup_id.strip().upper()
    if not USERGROUP_ID.fullmatch(raw):
        raise FieldErrors(
            {USERGROUP_ID_FIELD: "Usergroup IDs start with S, like S0123ABCD (not the @handle)."}, USERGROUP_LABELS
        )
    return raw


def reminder_problem(severity: str) -> str:
    return f"Give a number of minutes from {MIN_REMINDER} to {MAX_REMINDER}" + (
        ", or leave it empty for no reminders." if severity in OPTIONAL_REMINDERS else "."
    )


def check_settings(form: SettingsForm) -> WorkspaceSettings:
    """The settings to store. Numbers are bounded whole ASCII numbers: `²`, `2147483648` or twenty nines are
    answered on their field, never stored or turned into an overflow."""
    errors: dict[str, str] = {}
    raw_days = form.archive_days.strip()
    days: int | None = None
    if raw_days.lower() != "never":
        try:
            days = parse_bounded_int(raw_days, low=0, high=MAX_GRACE_DAYS, what="Days")
        except InvalidInput:
            errors[ARCHIVE_DAYS] = f"Give a number of days from 0 to {MAX_GRACE_DAYS}, or never."
    minutes: dict[str, int] = {}
    for severity in SEVERITIES:
        raw = (form.reminders.get(severity) or "").strip()
        if not raw and severity in OPTIONAL_REMINDERS:
            continue
        try:
            minutes[severity] = parse_bounded_int(raw, low=MIN_REMINDER, high=MAX_REMINDER, what="Minutes")
        except InvalidInput:
            errors[severity] = reminder_problem(severity)
    if errors:
        raise FieldErrors(errors, SETTINGS_LABELS)
    return WorkspaceSettings(archive_grace_days=days, reminder_minutes=minutes)
