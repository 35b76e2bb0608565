"""The declare modal: title, severity, commander, component, description, private; and, under them, what pressing
Declare will do, in plain words from what is known when the form opens (a short line per severity, computed once:
the form is not redrawn as the choices change)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot import slack_ids as ids
from bot.blocks.mrkdwn import channel
from bot.incidents.surfaces import ANNOUNCED_SEVERITIES

SEVERITY_HINTS = {
    "P1": "P1 · critical, customers down",
    "P2": "P2 · major, degraded for many",
    "P3": "P3 · minor, degraded for some",
    "P4": "P4 · low, no customer impact",
    "P5": "P5 · informational",
}
SEVERITIES = tuple(SEVERITY_HINTS)


@dataclass(frozen=True)
class DeclareContext:
    """What the workspace has set up, read when the form opens."""

    components: Sequence[tuple[int, str]] = ()
    announce_channel_id: str | None = None  # tagged tech_incidents
    deploy_channel_id: str | None = None  # tagged it_deploy
    p1_usergroup_id: str | None = None  # tagged invited_for_all_public_p1
    pages_up_to: str | None = None  # the least severe severity a PagerDuty integration pages on declaring
    oncall_invited: bool = False  # PagerDuty is connected: a component's on-call joins its public incidents


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": text[:75], "emoji": True}, "value": value}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def severity_effects(context: DeclareContext) -> list[tuple[str, str]]:
    """(severities, what they add) for a public incident: `P1` → "pages on-call · invites @sre · …"; neighbours
    that do the same share a line (`P4-P5`)."""
    rows: list[tuple[list[str], str]] = []
    for sev in SEVERITIES:
        parts = []
        if context.pages_up_to and SEVERITIES.index(sev) <= SEVERITIES.index(context.pages_up_to):
            parts.append("pages on-call through PagerDuty")
        if sev == "P1" and context.p1_usergroup_id:
            parts.append(f"invites <!subteam^{context.p1_usergroup_id}>")
        if sev in ANNOUNCED_SEVERITIES and context.announce_channel_id:
            parts.append(f"announced in {channel(context.announce_channel_id)}")
        if sev == "P1" and context.deploy_channel_id:
            parts.append(f"deploy-freeze warning in {channel(context.deploy_channel_id)}")
        said = " · ".join(parts) or "its channel only: no page, no announcement"
        if rows and rows[-1][1] == said:
            rows[-1][0].append(sev)
        else:
            rows.append(([sev], said))
    return [(sevs[0] if len(sevs) == 1 else f"{sevs[0]}-{sevs[-1]}", said) for sevs, said in rows]


def what_happens(context: DeclareContext) -> list[dict[str, Any]]:
    """Under the fields: the channel, who is invited, then per severity the page, announcement and warning."""
    invited = "you, the commander and the component's usergroups"
    private = "A private incident gets a private channel, and is never announced"
    if context.oncall_invited:
        invited += ", and the component's PagerDuty on-call"
        private = "A private incident gets a private channel, invites no on-call, and is never announced"
    lines = [f"*{sevs}* {said}" for sevs, said in severity_effects(context)]
    blocks: list[dict[str, Any]] = [
        {"type": "divider"},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": f"*When you press Declare*\nVigil opens a channel for the incident and invites {invited}.",
            },
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"{private}."}]},
    ]
    if not context.announce_channel_id:
        note = "No channel is set for announcements yet, so nothing is announced: an admin sets one in App Home."
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note}]})
    return blocks


def _input(block_id: str, label: str, element: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "input", "block_id": block_id, "label": _plain(label), "element": element, **extra}


def declare_modal(
    *,
    title: str = "",
    severity: str | None = None,
    context: DeclareContext | None = None,
    origin_channel_id: str | None = None,
) -> dict[str, Any]:
    context = context or DeclareContext()
    severity_select: dict[str, Any] = {
        "type": "static_select",
        "action_id": ids.ACTION_SEVERITY,
        "placeholder": _plain("How bad is it?"),
        "options": [_option(hint, sev) for sev, hint in SEVERITY_HINTS.items()],
    }
    if severity in SEVERITY_HINTS:
        severity_select["initial_option"] = _option(SEVERITY_HINTS[severity], severity)
    title_input: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ids.ACTION_TITLE,
        "max_length": 150,
        "placeholder": _plain("Checkout returns 500s"),
    }
    if title:
        title_input["initial_value"] = title[:150]
    blocks: list[dict[str, Any]] = [
        _input(ids.BLOCK_TITLE, "Title", title_input),
        _input(ids.BLOCK_SEVERITY, "Severity", severity_select),
        # dispatch_action: picking someone tells Vigil at once, so a bot or deactivated account is refused under
        # this field when the form is submitted, without the submission waiting on Slack.
        _input(
            ids.BLOCK_COMMANDER,
            "Commander",
            {
                "type": "users_select",
                "action_id": ids.ACTION_COMMANDER,
                "placeholder": _plain("Pick someone (default: you)"),
            },
            optional=True,
            dispatch_action=True,
            hint=_plain("Who leads the incident. Empty: you do."),
        ),
    ]
    if context.components:
        blocks.append(
            _input(
                ids.BLOCK_COMPONENT,
                "Component",
                {
                    "type": "static_select",
                    "action_id": ids.ACTION_COMPONENT,
                    "placeholder": _plain("What is affected?"),
                    "options": [_option(name, str(cid)) for cid, name in context.components[:100]],
                },
                optional=True,
                hint=_plain("Its usergroups are invited, and its PagerDuty service is the one paged."),
            )
        )
    blocks += [
        _input(
            ids.BLOCK_DESCRIPTION,
            "Description",
            {"type": "plain_text_input", "action_id": ids.ACTION_DESCRIPTION, "multiline": True, "max_length": 2900},
            optional=True,
        ),
        _input(
            ids.BLOCK_PRIVATE,
            "Visibility",
            {
                "type": "checkboxes",
                "action_id": ids.ACTION_PRIVATE,
                "options": [
                    {
                        "text": _plain("Private incident"),
                        "description": _plain("Private channel, never announced"),
                        "value": "private",
                    }
                ],
            },
            optional=True,
        ),
        *what_happens(context),
    ]
    return {
        "type": "modal",
        "callback_id": ids.VIEW_DECLARE,
        "title": _plain("Declare an incident"),
        "submit": _plain("Declare"),
        "close": _plain("Cancel"),
        "private_metadata": json.dumps({"channel_id": origin_channel_id}) if origin_channel_id else "",
        "blocks": blocks,
    }
