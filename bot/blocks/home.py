"""Block Kit for App Home: everyone's overview, and the admin tabs. Pure functions over plain data.

Every list is paged so that a view stays far below Slack's 100-block limit whatever the workspace holds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot import slack_ids as ids
from bot.blocks.integrations import PAGE_SIZE as INTEGRATIONS_PAGE_SIZE
from bot.blocks.integrations import IntegrationsTab, integrations_tab
from bot.blocks.mrkdwn import esc
from bot.blocks.oncall import Shift, shift_line

OVERVIEW, TAGS, SOS, COMPONENTS, USERGROUPS, SETTINGS = "overview", "tags", "sos", "components", "usergroups", "settings"
INTEGRATIONS = "integrations"
# tab → (button text, action_id), in the order of the tab bar.
TABS: dict[str, tuple[str, str]] = {
    OVERVIEW: ("Overview", ids.ACTION_HOME_TAB_OVERVIEW),
    TAGS: ("Tags", ids.ACTION_HOME_TAB_TAGS),
    SOS: ("SOS targets", ids.ACTION_HOME_TAB_SOS),
    COMPONENTS: ("Components", ids.ACTION_HOME_TAB_COMPONENTS),
    USERGROUPS: ("Usergroups", ids.ACTION_HOME_TAB_USERGROUPS),
    SETTINGS: ("Settings", ids.ACTION_HOME_TAB_SETTINGS),
    INTEGRATIONS: ("Integrations", ids.ACTION_HOME_TAB_INTEGRATIONS),
}
ADMIN_TABS = frozenset(TABS) - {OVERVIEW}
INCIDENTS_PAGE_SIZE = 10
LIST_PAGE_SIZE = 20
MAX_PAGE = 10_000

SEVERITY_EMOJI = {
    "P1": ":red_circle:",
    "P2": ":large_orange_circle:",
    "P3": ":large_yellow_circle:",
    "P4": ":large_blue_circle:",
    "P5": ":white_circle:",
}
TAG_HELP = {
    "tech_incidents": "Gets an announcement of every public P1, P2 and P3 incident, kept current.",
    "dev_firefighter": "The help channel, named in usage replies and on App Home.",
    "it_deploy": "Gets a deploy-freeze warning for every public P1.",
    "invited_for_all_public_p1": "Invited to every public P1.",
}
KIND_LABELS = {"pagerduty": "PagerDuty", "github": "GitHub", "jira": "Jira", "linear": "Linear", "email": "Email"}


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class IncidentLine:
    number: int
    title: str
    severity: str
    status: str
    channel_id: str | None
    private: bool


@dataclass(frozen=True)
class IdentityLine:
    kind: str
    external_id: str
    source: str


@dataclass(frozen=True)
class SosTargetLine:
    id: int
    name: str
    conversation_id: str
    usergroup_id: str | None


@dataclass(frozen=True)
class ComponentLine:
    id: int
    name: str
    usergroup_ids: tuple[str, ...]
    pagerduty_service_id: str | None = None
    has_routing_key: bool = False


@dataclass(frozen=True)
class ServiceOption:
    """A synced PagerDuty service a component may page."""

    pd_id: str
    name: str


@dataclass(frozen=True)
class UsergroupLine:
    id: str
    handle: str
    name: str
    members: int
    disabled: bool


@dataclass(frozen=True)
class SettingsLine:
    archive_grace_days: int | None
    reminder_minutes: Mapping[str, int]


@dataclass(frozen=True)
class HomeData:
    """What one user's Home shows. `items`/`total` are the current tab's page and list size (incidents: `has_more`)."""

    user_id: str
    command: str = "/incident"
    is_admin: bool = False
    tab: str = OVERVIEW
    page: int = 0
    notice: str | None = None
    alert: bool = False  # the notice reports a failure (a test that was not taken)
    # Overview (everyone)
    incidents: Sequence[IncidentLine] = ()
    has_more_incidents: bool = False
    identities: Sequence[IdentityLine] = ()
    help_channel_id: str | None = None
    integrations: Sequence[str] = ()
    pagerduty: bool = False  # a PagerDuty integration is on
    shifts: Sequence[Shift] = ()
    now: datetime | None = None
    # Admin tabs
    conversation_tags: Mapping[str, str | None] = field(default_factory=dict)
    usergroup_tags: Mapping[str, str | None] = field(default_factory=dict)
    sos_targets: Sequence[SosTargetLine] = ()
    components: Sequence[ComponentLine] = ()
    usergroups: Sequence[UsergroupLine] = ()
    total: int = 0
    settings: SettingsLine | None = None
    integrations_tab: IntegrationsTab | None = None


def _text(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, 3000)}


def _section(text: str, accessory: dict[str, Any] | None = None, block_id: str | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": _text(text)}
    if accessory is not None:
        block["accessory"] = accessory
    if block_id is not None:
        block["block_id"] = block_id
    return block


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_text(text)]}


def button(text: str, action_id: str, value: str | None = None, *, style: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": clip(text, 75), "emoji": True},
        "action_id": action_id,
    }
    if value is not None:
        element["value"] = value
    if style:
        element["style"] = style
    return element


def _usergroup(usergroup_id: str) -> str:
    return f"<!subteam^{usergroup_id}>"


def home_metadata(tab: str, page: int) -> str:
    return json.dumps({"tab": tab, "page": page})


def read_home_metadata(raw: str | None) -> tuple[str, int]:
    """The tab and page a Home view was showing (from its private_metadata); the overview when unreadable."""
    try:
        meta = json.loads(raw or "{}")
    except ValueError:
        return OVERVIEW, 0
    if not isinstance(meta, dict):
        return OVERVIEW, 0
    tab = meta.get("tab")
    page = meta.get("page")
    if not isinstance(page, int) or isinstance(page, bool) or not 0 <= page <= MAX_PAGE:
        page = 0
    return (str(tab) if tab in TABS else OVERVIEW), page


def page_count(total: int, size: int) -> int:
    return max(1, -(-total // size))


def home_view(data: HomeData) -> dict[str, Any]:
    """The Home tab for one user; admins get a tab bar, everyone else only the overview."""
    tab = data.tab if data.is_admin or data.tab == OVERVIEW else OVERVIEW
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Vigil incident response"}},
        {
            "type": "actions",
            "block_id": ids.BLOCK_HOME_DECLARE,
            "elements": [button(":rotating_light: Declare an incident", ids.ACTION_HOME_DECLARE, style="primary")],
        },
    ]
    if data.is_admin:
        blocks.append(
            {
                "type": "actions",
                "block_id": ids.BLOCK_HOME_TABS,
                "elements": [
                    button(label, action_id, name, style="primary" if name == tab else None)
                    for name, (label, action_id) in TABS.items()
                ],
            }
        )
    if data.notice:
        blocks.append(_context(f"{':warning:' if data.alert else ':white_check_mark:'} {data.notice}"))
    blocks.append({"type": "divider"})
    render = {
        OVERVIEW: _overview,
        TAGS: _tags,
        SOS: _sos_targets,
        COMPONENTS: _components,
        USERGROUPS: _usergroups,
        SETTINGS: _settings,
        INTEGRATIONS: _integrations,
    }[tab]
    blocks += render(data)
    return {
        "type": "home",
        "callback_id": ids.VIEW_HOME,
        "private_metadata": home_metadata(tab, data.page),
        "blocks": blocks,
    }


def _pager(tab: str, page: int, *, has_prev: bool, has_next: bool, label: str | None = None) -> list[dict[str, Any]]:
    if not has_prev and not has_next:
        return []
    elements = []
    if has_prev:
        elements.append(button("← Previous", ids.ACTION_HOME_PAGE_PREV, json.dumps({"tab": tab, "page": page - 1})))
    if has_next:
        elements.append(button("Next →", ids.ACTION_HOME_PAGE_NEXT, json.dumps({"tab": tab, "page": page + 1})))
    blocks: list[dict[str, Any]] = [{"type": "actions", "block_id": ids.BLOCK_HOME_PAGER, "elements": elements}]
    if label:
        blocks.append(_context(label))
    return blocks


def incident_line(incident: IncidentLine) -> str:
    where = f"<#{incident.channel_id}>" if incident.channel_id else "_no channel_"
    lock = " :lock:" if incident.private else ""
    return (
        f"{SEVERITY_EMOJI.get(incident.severity, '')} *INC-{incident.number}*{lock} · {esc(clip(incident.title, 150))}\n"
        f"{incident.severity} · {incident.status} · {where}"
    )


def _shifts(data: HomeData) -> str:
    if not data.pagerduty:
        return "None to show: PagerDuty is not connected."
    if not data.shifts or data.now is None:
        return (
            "None in the next 7 days. Not right? Your PagerDuty account is found by your email; link it with "
            f"`{data.command} link pagerduty <your PagerDuty user id>`."
        )
    return "\n".join(shift_line(shift, now=data.now) for shift in data.shifts)


def _overview(data: HomeData) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [_section("*Incidents you can see* (not closed, newest first)")]
    if not data.incidents:
        blocks.append(_context("None open. Quiet is good." if data.page == 0 else "No more incidents."))
    blocks += [_section(incident_line(i)) for i in data.incidents[:INCIDENTS_PAGE_SIZE]]
    blocks += _pager(OVERVIEW, data.page, has_prev=data.page > 0, has_next=data.has_more_incidents)
    blocks.append({"type": "divider"})
    blocks.append(_section(f"*Your on-call shifts*\n{_shifts(data)}"))
    if data.identities:
        lines = [
            f"• {KIND_LABELS.get(i.kind, i.kind)}: `{esc(clip(i.external_id, 200))}`"
            + (" _(matched by email)_" if i.source == "email-match" else "")
            for i in data.identities
        ]
        identities = "\n".join(lines)
    else:
        identities = "None yet."
    blocks.append(
        _section(
            f"*Your linked identities*\n{identities}\n"
            f"_Link or change one with_ `{data.command} link [pagerduty|github|jira|linear|email] <id>`."
        )
    )
    help_line = (
        f"Ask in <#{data.help_channel_id}>."
        if data.help_channel_id
        else "No help channel yet: an admin tags one `dev_firefighter` here in App Home."
    )
    blocks.append(_section(f"*Need a hand?*\n{help_line}"))
    active = ", ".join(esc(name) for name in data.integrations) if data.integrations else "None yet."
    blocks.append(_section(f"*Integrations*\n{active}"))
    blocks.append(_context(f"`{data.command} help` lists every command."))
    return blocks


def _tags(data: HomeData) -> list[dict[str, Any]]:
    blocks = [
        _section(
            "*Tags* · a tag is on one conversation (or usergroup); a conversation may carry several tags.",
            button("Edit tags", ids.ACTION_ADMIN_EDIT_TAGS),
        )
    ]
    for tag, conversation_id in data.conversation_tags.items():
        where = f"<#{conversation_id}>" if conversation_id else "_not set_"
        blocks.append(_section(f"*{tag}* → {where}\n{TAG_HELP.get(tag, '')}"))
    for tag, usergroup_id in data.usergroup_tags.items():
        who = _usergroup(usergroup_id) if usergroup_id else "_not set_"
        blocks.append(_section(f"*{tag}* → {who}\n{TAG_HELP.get(tag, '')}"))
    return blocks


def _list_footer(tab: str, data: HomeData) -> list[dict[str, Any]]:
    pages = page_count(data.total, LIST_PAGE_SIZE)
    return _pager(
        tab,
        data.page,
        has_prev=data.page > 0,
        has_next=data.page + 1 < pages,
        label=f"Page {data.page + 1} of {pages} · {data.total} in all",
    )


def _sos_targets(data: HomeData) -> list[dict[str, Any]]:
    blocks = [
        _section(
            f"*SOS targets* · where `{data.command} sos` asks for help",
            button("Add SOS target", ids.ACTION_ADMIN_ADD_SOS, style="primary"),
        )
    ]
    if not data.total:
        blocks.append(_context("None yet."))
    for target in data.sos_targets[:LIST_PAGE_SIZE]:
        mention = f" · mentions {_usergroup(target.usergroup_id)}" if target.usergroup_id else ""
        blocks.append(
            _section(
                f"*{esc(target.name)}* → <#{target.conversation_id}>{mention}",
                button("Edit", ids.ACTION_ADMIN_EDIT_SOS, str(target.id)),
            )
        )
    return blocks + _list_footer(SOS, data)


def _components(data: HomeData) -> list[dict[str, Any]]:
    blocks = [
        _section(
            "*Components* · what an incident affects, and who to invite",
            button("Add component", ids.ACTION_ADMIN_ADD_COMPONENT, style="primary"),
        )
    ]
    if not data.total:
        blocks.append(_context("None yet."))
    for component in data.components[:LIST_PAGE_SIZE]:
        groups = " ".join(_usergroup(g) for g in component.usergroup_ids[:20]) or "_no usergroups_"
        if len(component.usergroup_ids) > 20:
            groups += f" and {len(component.usergroup_ids) - 20} more"
        blocks.append(
            _section(
                f"*{esc(component.name)}* · invites {groups}",
                button("Edit", ids.ACTION_ADMIN_EDIT_COMPONENT, str(component.id)),
            )
        )
    blocks.append(_context("PagerDuty service and routing key per component arrive with the PagerDuty integration."))
    return blocks + _list_footer(COMPONENTS, data)


def _usergroup_menu(group: UsergroupLine) -> dict[str, Any]:
    return {
        "type": "overflow",
        "action_id": ids.ACTION_ADMIN_USERGROUP_MENU,
        "options": [
            {"text": {"type": "plain_text", "text": "Refresh from Slack"}, "value": f"refresh:{group.id}"},
            {"text": {"type": "plain_text", "text": "Remove from Vigil"}, "value": f"remove:{group.id}"},
        ],
    }


def _usergroups(data: HomeData) -> list[dict[str, Any]]:
    blocks = [
        _section(
            "*Usergroups* · imported by id; handle, name and members come from Slack",
            button("Import usergroup", ids.ACTION_ADMIN_IMPORT_USERGROUP, style="primary"),
        )
    ]
    if not data.total:
        blocks.append(_context("None yet."))
    for group in data.usergroups[:LIST_PAGE_SIZE]:
        state = " · :warning: disabled in Slack" if group.disabled else ""
        members = "1 member" if group.members == 1 else f"{group.members} members"
        blocks.append(
            _section(
                f"*@{esc(group.handle)}* · {esc(group.name)} · {members}{state}\n`{group.id}`",
                _usergroup_menu(group),
            )
        )
    return blocks + _list_footer(USERGROUPS, data)


def _integrations(data: HomeData) -> list[dict[str, Any]]:
    """The Integrations tab is drawn in bot/blocks/integrations.py; paged here like every list."""
    pages = page_count(data.total, INTEGRATIONS_PAGE_SIZE)
    pager = _pager(
        INTEGRATIONS,
        data.page,
        has_prev=data.page > 0,
        has_next=data.page + 1 < pages,
        label=f"Page {data.page + 1} of {pages} · {data.total} in all",
    )
    return integrations_tab(data.integrations_tab or IntegrationsTab(), total=data.total, pager=pager)


def reminder_summary(minutes: Mapping[str, int]) -> str:
    parts = []
    for sev in ("P1", "P2", "P3", "P4", "P5"):
        value = minutes.get(sev)
        parts.append(f"{sev} every {value} min" if value else f"{sev} none")
    return " · ".join(parts)


def _settings(data: HomeData) -> list[dict[str, Any]]:
    settings = data.settings or SettingsLine(archive_grace_days=7, reminder_minutes={})
    days = settings.archive_grace_days
    archive = "never" if days is None else ("right after closing" if days == 0 else f"{days} day(s) after closing")
    return [
        _section("*Workspace settings*", button("Edit settings", ids.ACTION_ADMIN_EDIT_SETTINGS)),
        {
            "type": "section",
            "fields": [
                _text(f"*Archive closed incident channels*\n{archive}"),
                _text(f"*Reminders when an incident is idle*\n{reminder_summary(settings.reminder_minutes)}"),
            ],
        },
        _section(
            "*Integrations*\n" + (", ".join(esc(name) for name in data.integrations) if data.integrations else "None yet.")
        ),
        _section(
            "*Scheduled jobs*\nSyncs, reminders, archiving and purges: their schedules and last runs.",
            button("Job schedules", ids.ACTION_ADMIN_EDIT_JOBS),
        ),
    ]
