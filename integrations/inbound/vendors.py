"""The vendors' own webhook bodies, read into instructions (pure; see `instructions`). One function per kind, each
given the verified request and the integration's settings."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from typing import Any

from integrations.base import Configured
from integrations.inbound.instructions import (
    REF_LIMIT,
    Actor,
    Instruction,
    Malformed,
    Ref,
    clip,
    numbers_in,
)
from integrations.inbound.request import Request, mapping

# ---------------------------------------------------------------- PagerDuty (V3 webhooks)


def pagerduty(request: Request, integration: Configured) -> list[Instruction]:
    event = mapping(request.json().get("event"))
    event_type = event.get("event_type")
    if not isinstance(event_type, str):
        raise Malformed("event.event_type: missing")
    data = mapping(event.get("data"))
    if event_type == "pagey.ping" or event.get("resource_type") != "incident":
        return []
    agent = mapping(event.get("agent"))
    actor = Actor("pagerduty", clip(agent.get("id"), 32), name=clip(agent.get("summary"), 120)) if agent else None
    if event_type == "incident.annotated":
        incident = mapping(data.get("incident"))
        ref = _pd_ref(incident)
        text = clip(data.get("content"))
        return [Instruction("note", ref, text=f"PagerDuty note: {text}", actor=actor)] if ref and text else []
    ref = _pd_ref(data)
    if ref is None:
        return []  # not one of Vigil's pages: nothing to do
    pd = {"pd_incident_id": clip(data.get("id"), 32), "pd_incident_url": clip(data.get("html_url"), 1024)}

    def page(status: str) -> Instruction:
        """Keeps Vigil's page row in step: PagerDuty's incident id, and the state PagerDuty reports."""
        return Instruction("record_page", ref, data={**pd, "status": status})

    if event_type == "incident.triggered":
        return [page("triggered")]
    if event_type == "incident.acknowledged":
        return [page("acknowledged"), Instruction("acknowledge", ref, actor=actor)]
    if event_type == "incident.resolved":
        text = clip(data.get("resolve_reason")) or "Resolved in PagerDuty"
        steps = [page("resolved"), Instruction("resolve", ref, text=text, actor=actor)]
        if integration.config.get("auto_close", True):
            steps.append(Instruction("close", ref, text="Closed with its PagerDuty incident", actor=actor))
        return steps
    if event_type == "incident.reopened":
        return [page("triggered"), Instruction("reopen", ref, text="Reopened in PagerDuty", actor=actor)]
    return []


def _pd_ref(data: Mapping[str, Any]) -> Ref | None:
    """Vigil pages with its external key as the dedup key, which PagerDuty shows as the incident key."""
    key = clip(data.get("incident_key"), REF_LIMIT)
    return Ref("key", key) if key.startswith("vigil-") else None


# ---------------------------------------------------------------- Jira (`jira:issue_updated`)

DEFAULT_JIRA_STATUS_MAP = {"done": "resolved"}
MOVES = ("investigating", "mitigating", "resolved", "postmortem", "closed")


def jira(request: Request, integration: Configured) -> list[Instruction]:
    body = request.json()
    event = body.get("webhookEvent")
    if not isinstance(event, str):
        raise Malformed("webhookEvent: missing")
    if event != "jira:issue_updated":
        return []
    issue = mapping(body.get("issue"))
    key = clip(issue.get("key"), REF_LIMIT)
    if not key:
        raise Malformed("issue.key: missing")
    if not any(mapping(item).get("field") == "status" for item in mapping(body.get("changelog")).get("items") or []):
        return []  # an edit that did not move the issue
    status = mapping(mapping(issue.get("fields")).get("status"))
    name = clip(status.get("name"), 120)
    category = clip(mapping(status.get("statusCategory")).get("key"), 40)
    target = _jira_target(integration, name=name, category=category)
    if target is None:
        return []
    user = mapping(body.get("user"))
    actor = Actor(
        "jira",
        clip(user.get("accountId"), 128),
        email=clip(user.get("emailAddress"), 320),
        name=clip(user.get("displayName"), 120),
    )
    labels = [label for label in mapping(issue.get("fields")).get("labels") or [] if isinstance(label, str)]
    vigil_key = next((label for label in labels if label.startswith("vigil-")), None)
    ref = Ref("key", vigil_key) if vigil_key else Ref("link", key)
    return [move(target, ref, text=f"{name or category} in Jira ({key})", actor=actor)]


def _jira_target(integration: Configured, *, name: str, category: str) -> str | None:
    """The Vigil status `inbound_status_map` gives the issue's status name, else its category (`done`…)."""
    raw = integration.config.get("inbound_status_map")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raw = None
    table = raw if isinstance(raw, Mapping) else DEFAULT_JIRA_STATUS_MAP
    lowered = {str(k).lower(): str(v).lower() for k, v in table.items()}
    status = lowered.get(name.lower()) or lowered.get(category.lower())
    return status if status in MOVES else None


def move(status: str, ref: Ref, *, text: str = "", actor: Actor | None = None) -> Instruction:
    """The instruction that moves an incident to `status` (one of MOVES)."""
    if status == "resolved":
        return Instruction("resolve", ref, text=text, actor=actor)
    if status == "closed":
        return Instruction("close", ref, text=text, actor=actor)
    return Instruction("move", ref, text=text, actor=actor, data={"status": status})


# ---------------------------------------------------------------- Linear (Issue updates)


def linear_timestamp(request: Request) -> int | None:
    """The body's `webhookTimestamp` (ms), which Linear signs with the body; None when absent or not a number."""
    try:
        value = request.json().get("webhookTimestamp")
    except Malformed:
        return None
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**15 else None


def linear(request: Request, integration: Configured) -> list[Instruction]:
    body = request.json()
    if body.get("type") != "Issue" or body.get("action") != "update":
        return []
    data = mapping(body.get("data"))
    issue_id = clip(data.get("id"), REF_LIMIT)
    if not issue_id:
        raise Malformed("data.id: missing")
    if "stateId" not in mapping(body.get("updatedFrom")):
        return []  # not a state change
    if mapping(data.get("state")).get("type") != "completed":
        return []
    actor_raw = mapping(body.get("actor"))
    actor = Actor(
        "linear",
        clip(actor_raw.get("id"), 64),
        email=clip(actor_raw.get("email"), 320),
        name=clip(actor_raw.get("name"), 120),
    )
    identifier = clip(data.get("identifier"), 40) or issue_id
    return [Instruction("resolve", Ref("link", issue_id), text=f"Completed in Linear ({identifier})", actor=actor)]


# ---------------------------------------------------------------- ServiceNow (a Business Rule posting the record)

SERVICENOW_RESOLVED = ("6", "7")


def servicenow(request: Request, integration: Configured) -> list[Instruction]:
    body = request.json()
    state = str(body.get("state") or "")
    if not state:
        raise Malformed("state: missing")
    correlation = clip(body.get("correlation_id"), REF_LIMIT)
    sys_id = clip(body.get("sys_id"), REF_LIMIT)
    if not correlation and not sys_id:
        raise Malformed("correlation_id or sys_id: one is needed")
    if state not in SERVICENOW_RESOLVED:
        return []
    ref = Ref("key", correlation) if correlation else Ref("link", sys_id)
    note = clip(body.get("close_notes")) or ("Resolved in ServiceNow" if state == "6" else "Closed in ServiceNow")
    return [Instruction("resolve", ref, text=note)]


# ---------------------------------------------------------------- GitHub (merged pull requests)


def github(request: Request, integration: Configured) -> list[Instruction]:
    event = request.header("X-GitHub-Event")
    body = request.json()
    if event != "pull_request":
        return []  # ping and anything else
    if body.get("action") != "closed":
        return []
    pr = mapping(body.get("pull_request"))
    if pr.get("merged") is not True:
        return []
    repo = clip(mapping(body.get("repository")).get("full_name"), 200)
    allowed = integration.config.get("repos") or []
    if allowed and repo.lower() not in {str(r).lower() for r in allowed}:
        return []
    title = clip(pr.get("title"), 300)
    numbers = numbers_in(title, clip(pr.get("body"), 65536), clip(mapping(pr.get("head")).get("ref"), 255))
    sender = mapping(body.get("sender"))
    actor = Actor("github", clip(sender.get("login"), 64), name=clip(sender.get("login"), 64))
    url = clip(pr.get("html_url"), 1024)
    text = f"PR merged: {title} ({url})" if url else f"PR merged: {title}"
    steps: list[Instruction] = []
    for number in numbers[:10]:
        ref = Ref("number", str(number))
        steps.append(Instruction("note", ref, text=text, actor=actor))
        if integration.config.get("resolve_on_merge"):
            steps.append(Instruction("resolve", ref, text=f"Resolved by a merged PR: {title}", actor=actor))
    return steps


# ---------------------------------------------------------------- Teams (outgoing webhook messages)

AT_MENTION = re.compile(r"<at>.*?</at>", re.IGNORECASE | re.DOTALL)
TAG = re.compile(r"<[^>]{0,200}>")


def teams(request: Request, integration: Configured) -> list[Instruction]:
    body = request.json()
    if body.get("type") != "message":
        return []
    text = _teams_text(clip(body.get("text"), 4000))
    numbers = numbers_in(text)
    if not numbers:
        return []
    sender = mapping(body.get("from"))
    actor = Actor("email", name=clip(sender.get("name"), 120))
    return [Instruction("relay", Ref("number", str(numbers[0])), text=text, actor=actor)]


def _teams_text(text: str) -> str:
    """The message as plain words: without the `<at>Vigil</at>` mention Teams puts first, other tags and HTML
    entities (escaping for Slack happens where it is posted)."""
    text = TAG.sub(" ", AT_MENTION.sub(" ", text))
    return " ".join(html.unescape(text).split())
