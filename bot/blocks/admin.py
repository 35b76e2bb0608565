"""Block Kit for the App Home back-office modals (tags, SOS targets, components, usergroups, settings) and for the
`/incident sos` request. Pure functions; listeners/admin/ and listeners/sos.py read the submissions back. The
length limits here are the ones the checks enforce too (bot/admin/forms.py, bot/sos.py)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from bot import slack_ids as ids
from bot.blocks.home import (
    TAG_HELP,
    TAG_LABELS,
    ComponentLine,
    ServiceOption,
    SettingsLine,
    SosTargetLine,
    UsergroupLine,
    clip,
    esc,
)

MAX_SOS_NAME = 80
MAX_COMPONENT_NAME = 120
MAX_SOS_MESSAGE = 2000
MAX_OPTIONS = 100
NO_SERVICE = "none"  # the PagerDuty service select's option for "no service"
MASKED = "••••"  # a stored routing key, never shown
# Which modal field holds which tag.
CONVERSATION_TAG_BLOCKS = {
    "tech_incidents": ids.BLOCK_TAG_TECH_INCIDENTS,
    "dev_firefighter": ids.BLOCK_TAG_DEV_FIREFIGHTER,
    "it_deploy": ids.BLOCK_TAG_IT_DEPLOY,
}
USERGROUP_TAG_BLOCKS = {"invited_for_all_public_p1": ids.BLOCK_TAG_P1_USERGROUP}
REMINDER_BLOCKS = {
    "P1": ids.BLOCK_REMINDER_P1,
    "P2": ids.BLOCK_REMINDER_P2,
    "P3": ids.BLOCK_REMINDER_P3,
    "P4": ids.BLOCK_REMINDER_P4,
    "P5": ids.BLOCK_REMINDER_P5,
}
OPTIONAL_REMINDERS = frozenset({"P4", "P5"})
# A conversations select that offers channels only (no DMs, no shared channels Vigil cannot post in).
CHANNEL_FILTER = {"include": ["public", "private"], "exclude_bot_users": True, "exclude_external_shared_channels": True}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def option(text: str, value: str) -> dict[str, Any]:
    return {"text": _plain(clip(text, 75)), "value": value}


def usergroup_option(group: UsergroupLine) -> dict[str, Any]:
    label = f"@{group.handle}" + (f" · {group.name}" if group.name and group.name != group.handle else "")
    return option(label, group.id)


def _modal(
    callback_id: str, title: str, blocks: list[dict[str, Any]], *, submit: str, meta: dict[str, Any]
) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": _plain(clip(title, 24)),
        "submit": _plain(submit),
        "close": _plain("Cancel"),
        "private_metadata": json.dumps(meta),
        "blocks": blocks,
    }


def _input(
    block_id: str, label: str, element: dict[str, Any], *, optional: bool = False, hint: str | None = None
) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "label": _plain(label),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = _plain(hint)
    return block


def _text_input(action_id: str, *, initial: str | None, max_length: int, placeholder: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": action_id, "max_length": max_length}
    if initial:
        element["initial_value"] = initial[:max_length]
    if placeholder:
        element["placeholder"] = _plain(placeholder)
    return element


def _conversation_select(action_id: str, initial: str | None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "conversations_select",
        "action_id": action_id,
        "placeholder": _plain("Pick a channel"),
        "filter": CHANNEL_FILTER,
    }
    if initial:
        element["initial_conversation"] = initial
    return element


def _usergroup_select(
    action_id: str,
    usergroups: Sequence[UsergroupLine],
    initial: str | None,
    *,
    multi: bool = False,
    initial_many: Sequence[str] = (),
) -> dict[str, Any]:
    """A select over the imported usergroups (Slack has no usergroups select): the first 100 when there are more, always
    including the current choice, since an untouched select submits only what it offers."""
    current = {initial} if initial else set(initial_many)
    chosen = [g for g in usergroups if g.id in current][:MAX_OPTIONS]
    others = [g for g in usergroups if g.id not in current][: MAX_OPTIONS - len(chosen)]
    keep = {g.id for g in chosen + others}
    options = [usergroup_option(g) for g in usergroups if g.id in keep]
    element: dict[str, Any] = {
        "type": "multi_static_select" if multi else "static_select",
        "action_id": action_id,
        "placeholder": _plain("Pick usergroups" if multi else "Pick a usergroup"),
        "options": options,
    }
    if multi:
        initial_options = [o for o in options if o["value"] in current]
        if initial_options:
            element["initial_options"] = initial_options
    elif initial:
        chosen_one = next((o for o in options if o["value"] == initial), None)
        if chosen_one:
            element["initial_option"] = chosen_one
    return element


def _no_usergroups(what: str) -> dict[str, Any]:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": f"No usergroups imported yet: import one under *Usergroups* to {what}."}],
    }


def _remove_checkbox(what: str) -> dict[str, Any]:
    return _input(
        ids.BLOCK_REMOVE,
        "Remove",
        {
            "type": "checkboxes",
            "action_id": ids.ACTION_REMOVE,
            "options": [
                {
                    "text": _plain(f"Remove this {what}"),
                    "description": _plain("Ticked and submitted, it is gone; nothing else changes."),
                    "value": "remove",
                }
            ],
        },
        optional=True,
    )


# ---------------------------------------------------------------- tags


def tags_modal(
    *,
    conversation_tags: Mapping[str, str | None],
    usergroup_tags: Mapping[str, str | None],
    usergroups: Sequence[UsergroupLine],
) -> dict[str, Any]:
    """One field per tag, showing the current value; what was shown goes in the metadata, so that a tag moved by
    someone else meanwhile is answered on its field rather than silently overwritten."""
    blocks: list[dict[str, Any]] = []
    for tag, block_id in CONVERSATION_TAG_BLOCKS.items():
        blocks.append(
            _input(
                block_id,
                TAG_LABELS[tag],
                _conversation_select(ids.ACTION_TAG_CONVERSATION, conversation_tags.get(tag)),
                optional=True,
                hint=TAG_HELP[tag] + " Leave empty to remove the tag.",
            )
        )
    for tag, block_id in USERGROUP_TAG_BLOCKS.items():
        if usergroups:
            blocks.append(
                _input(
                    block_id,
                    TAG_LABELS[tag],
                    _usergroup_select(ids.ACTION_TAG_USERGROUP, usergroups, usergroup_tags.get(tag)),
                    optional=True,
                    hint=TAG_HELP[tag] + " Leave empty to remove the tag.",
                )
            )
        else:
            blocks.append(_no_usergroups(f"choose one for “{TAG_LABELS[tag]}”"))
    meta = {"shown": {**conversation_tags, **usergroup_tags}}
    return _modal(ids.VIEW_ADMIN_TAGS, "Tags", blocks, submit="Save", meta=meta)


# ---------------------------------------------------------------- SOS targets


def sos_target_modal(*, target: SosTargetLine | None, usergroups: Sequence[UsergroupLine]) -> dict[str, Any]:
    blocks = [
        _input(
            ids.BLOCK_SOS_NAME,
            "Name",
            _text_input(
                ids.ACTION_SOS_NAME,
                initial=target.name if target else None,
                max_length=MAX_SOS_NAME,
                placeholder="Database help",
            ),
            hint="What people pick in the SOS form.",
        ),
        _input(
            ids.BLOCK_SOS_CONVERSATION,
            "Channel",
            _conversation_select(ids.ACTION_SOS_CONVERSATION, target.conversation_id if target else None),
            hint="Where the help request is posted. For a private channel, invite @Vigil there first.",
        ),
    ]
    if usergroups:
        blocks.append(
            _input(
                ids.BLOCK_SOS_USERGROUP,
                "Usergroup to mention",
                _usergroup_select(ids.ACTION_SOS_USERGROUP, usergroups, target.usergroup_id if target else None),
                optional=True,
            )
        )
    else:
        blocks.append(_no_usergroups("mention one"))
    if target is not None:
        blocks.append(_remove_checkbox("SOS target"))
    title = "Edit SOS target" if target else "Add SOS target"
    return _modal(ids.VIEW_ADMIN_SOS, title, blocks, submit="Save", meta={"id": target.id if target else None})


# ---------------------------------------------------------------- components


def component_modal(
    *,
    component: ComponentLine | None,
    usergroups: Sequence[UsergroupLine],
    services: Sequence[ServiceOption] | None = None,
) -> dict[str, Any]:
    """`services` None: PagerDuty is not connected, so the component has no PagerDuty fields."""
    blocks = [
        _input(
            ids.BLOCK_COMPONENT_NAME,
            "Name",
            _text_input(
                ids.ACTION_COMPONENT_NAME,
                initial=component.name if component else None,
                max_length=MAX_COMPONENT_NAME,
                placeholder="Payments API",
            ),
        )
    ]
    if usergroups:
        blocks.append(
            _input(
                ids.BLOCK_COMPONENT_USERGROUPS,
                "Usergroups to invite",
                _usergroup_select(
                    ids.ACTION_COMPONENT_USERGROUPS,
                    usergroups,
                    None,
                    multi=True,
                    initial_many=component.usergroup_ids if component else (),
                ),
                optional=True,
                hint="Their members are invited to every incident on this component.",
            )
        )
    else:
        blocks.append(_no_usergroups("invite one"))
    if services is None:
        blocks.append(_context("Connect PagerDuty to page and invite a component's on-call."))
    else:
        blocks += _pagerduty_fields(component, services)
    if component is not None:
        blocks.append(_remove_checkbox("component"))
    title = "Edit component" if component else "Add component"
    return _modal(ids.VIEW_ADMIN_COMPONENT, title, blocks, submit="Save", meta={"id": component.id if component else None})


# ---------------------------------------------------------------- usergroups


def usergroup_import_modal() -> dict[str, Any]:
    blocks = [
        _input(
            ids.BLOCK_USERGROUP_ID,
            "Usergroup ID",
            _text_input(ids.ACTION_USERGROUP_ID, initial=None, max_length=32, placeholder="S0123ABCD"),
            hint="In Slack: the usergroup's profile → ⋮ → Copy group ID. Handle, name and members are fetched.",
        )
    ]
    return _modal(ids.VIEW_ADMIN_USERGROUP, "Import usergroup", blocks, submit="Import", meta={})


# ---------------------------------------------------------------- settings


def settings_modal(settings: SettingsLine) -> dict[str, Any]:
    days = settings.archive_grace_days
    blocks = [
        _input(
            ids.BLOCK_ARCHIVE_DAYS,
            "Archive closed incident channels after (days)",
            _text_input(ids.ACTION_ARCHIVE_DAYS, initial="never" if days is None else str(days), max_length=10),
            hint="A number of days from 0 to 365, or never.",
        )
    ]
    for sev, block_id in REMINDER_BLOCKS.items():
        value = settings.reminder_minutes.get(sev)
        optional = sev in OPTIONAL_REMINDERS
        blocks.append(
            _input(
                block_id,
                f"{sev} reminder (minutes)",
                _text_input(ids.ACTION_REMINDER, initial=str(value) if value else None, max_length=6),
                optional=optional,
                hint="Remind the channel after this long without an update"
                + ("; empty for no reminders." if optional else "."),
            )
        )
    return _modal(ids.VIEW_ADMIN_SETTINGS, "Workspace settings", blocks, submit="Save", meta={})


# ---------------------------------------------------------------- /incident sos


def sos_request_modal(
    *, number: int, title: str, targets: Sequence[SosTargetLine], channel_id: str | None
) -> dict[str, Any]:
    blocks = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": clip(f"Ask for help with *INC-{number}* · {esc(title)}", 3000)},
        },
        _input(
            ids.BLOCK_SOS_TARGET,
            "Who should help?",
            {
                "type": "static_select",
                "action_id": ids.ACTION_SOS_TARGET,
                "placeholder": _plain("Pick an SOS target"),
                "options": [option(t.name, str(t.id)) for t in targets[:MAX_OPTIONS]],
            },
        ),
        _input(
            ids.BLOCK_SOS_MESSAGE,
            "What do you need?",
            {
                "type": "plain_text_input",
                "action_id": ids.ACTION_SOS_MESSAGE,
                "multiline": True,
                "max_length": MAX_SOS_MESSAGE,
                "placeholder": _plain("The replica lags 20 min behind; we need someone who knows Postgres."),
            },
        ),
    ]
    return _modal(
        ids.VIEW_SOS, "Ask for help (SOS)", blocks, submit="Send", meta={"number": number, "channel_id": channel_id}
    )


def sos_request_text(
    *, number: int, title: str, private: bool, channel_id: str | None, user_id: str, usergroup_id: str | None, message: str
) -> str:
    """The help request posted in the target conversation. A private incident's title stays out of it."""
    mention = f"<!subteam^{usergroup_id}> " if usergroup_id else ""
    what = f"private incident INC-{number}" if private else f"INC-{number} · {esc(title)}"
    where = f" in <#{channel_id}>" if channel_id else ""
    quoted = "\n".join(f"> {line}" for line in esc(message).splitlines() or [""])
    return clip(f"{mention}:sos: <@{user_id}> needs help with *{what}*{where}:\n{quoted}", 3900)


def _pagerduty_fields(component: ComponentLine | None, services: Sequence[ServiceOption]) -> list[dict[str, Any]]:
    """The service its incidents page (and whose on-call joins), and optionally its own Events routing key."""
    none = {"text": _plain("No PagerDuty service"), "value": NO_SERVICE}
    options = [none] + [{"text": _plain(clip(s.name, 75)), "value": s.pd_id} for s in services[: MAX_OPTIONS - 1]]
    current = component.pagerduty_service_id if component else None
    select: dict[str, Any] = {"type": "static_select", "action_id": ids.ACTION_COMPONENT_PD_SERVICE, "options": options}
    chosen = next((o for o in options if o["value"] == current), none)
    select["initial_option"] = chosen
    blocks = [
        _input(
            ids.BLOCK_COMPONENT_PD_SERVICE,
            "PagerDuty service",
            select,
            hint="Paged for this component's incidents (by its escalation policy); its on-call joins their channels.",
        )
    ]
    has_key = component is not None and component.has_routing_key
    blocks.append(
        _input(
            ids.BLOCK_COMPONENT_ROUTING_KEY,
            "Own routing key",
            _text_input(ids.ACTION_COMPONENT_ROUTING_KEY, initial=MASKED if has_key else None, max_length=64),
            optional=True,
            hint="An Events API v2 integration key that pages this component instead; stored encrypted. "
            "Leave •••• to keep it, empty to remove it.",
        )
    )
    if not services:
        blocks.append(_context("No PagerDuty services synced yet: they appear after the first `sync_pagerduty`."))
    return blocks


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}
