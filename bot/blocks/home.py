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
from bot.blocks.mrkdwn import clip, date, esc, user
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
ACTIVE_ON_OTHER_TABS = 5  # above an admin tab's own content: the rest are on the overview
RESOLVED_SHOWN = 10
LIST_PAGE_SIZE = 20
MAX_PAGE = 10_000

SEVERITY_EMOJI = {
    "P1": ":red_circle:",
    "P2": ":large_orange_circle:",
    "P3": ":large_yellow_circle:",
    "P4": ":large_blue_circle:",
    "P5": ":white_circle:",
}
# What each tag is called where people read it, and what it does.
TAG_LABELS = {
    "tech_incidents": "Announce incidents in",
    "dev_firefighter": "Help channel",
    "it_deploy": "Deploy-freeze warnings in",
    "invited_for_all_public_p1": "Invite to every public P1",
}
TAG_HELP = {
    "tech_incidents": "Every public P1, P2 and P3 incident is announced there, and the announcement kept current.",
    "dev_firefighter": "Where people are sent when they need a hand: named in Vigil's replies and on App Home.",
    "it_deploy": "Every public P1 posts a deploy-freeze warning there.",
    "invited_for_all_public_p1": "This usergroup is invited to every public P1.",
}
KIND_LABELS = {"pagerduty": "PagerDuty", "github": "GitHub", "jira": "Jira", "linear": "Linear", "email": "Email"}


@dataclass(frozen=True)
class IncidentLine:
    number: int
    title: str
    severity: str
    status: str
    channel_id: str | None
    private: bool
    commander_id: str | None = None
    declared_at: datetime | None = None


@dataclass(frozen=True)
class Setup:
    """Whether the basics are set, for the admins' checklist (shown until they are)."""

    announce_channel: bool = False
    help_channel: bool = False
    components: bool = False
    pagerduty: bool = False  # not a basic: offered, never required

    @property
    def done(self) -> bool:
        return self.announce_channel and self.help_channel and self.components


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
    team_id: str = ""
    command: str = "/incident"
    is_admin: bool = False
    tab: str = OVERVIEW
    page: int = 0
    notice: str | None = None
    alert: bool = False  # the notice reports a failure (a test that was not taken)
    # Every tab: the active incidents (the overview pages them), and for admins the setup checklist
    incidents: Sequence[IncidentLine] = ()
    has_more_incidents: bool = False
    setup: Setup | None = None
    # Overview (everyone)
    resolved: Sequence[IncidentLine] = ()
    more_resolved: int = 0
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
    """The Home tab for one user: Declare, the active incidents, then the overview; admins get, above the
    incidents, the setup checklist until the basics are set, and below them a tab bar."""
    tab = data.tab if data.is_admin or data.tab == OVERVIEW else OVERVIEW
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Vigil incident response"}},
        {
            "type": "actions",
            "block_id": ids.BLOCK_HOME_DECLARE,
            "elements": [button(":rotating_light: Declare an incident", ids.ACTION_HOME_DECLARE, style="primary")],
        },
    ]
    if data.is_admin and data.setup is not None and not data.setup.done:
        blocks += _checklist(data.setup)
    blocks += _active(data, overview=tab == OVERVIEW)
    if data.is_admin:
        # Unstyled: only Declare is green; the tab shown says its name in its first line.
        blocks.append(
            {
                "type": "actions",
                "block_id": ids.BLOCK_HOME_TABS,
                "elements": [button(label, action_id, name) for name, (label, action_id) in TABS.items()],
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


def age(declared_at: datetime | None, now: datetime | None) -> str:
    """How long ago an incident was declared: Slack's own `{ago}`, with a fallback computed now."""
    if declared_at is None:
        return ""
    minutes = max(0, int(((now or declared_at) - declared_at).total_seconds()) // 60)
    if minutes < 60:
        fallback = f"{minutes} min ago"
    elif minutes < 48 * 60:
        fallback = f"{minutes // 60} h ago"
    else:
        fallback = f"{minutes // (24 * 60)} days ago"
    return "declared " + date(declared_at, "{ago}", fallback)


def channel_url(team_id: str, channel_id: str) -> str:
    return f"https://slack.com/app_redirect?channel={channel_id}" + (f"&team={team_id}" if team_id else "")


def incident_line(incident: IncidentLine, *, now: datetime | None = None) -> str:
    """An active incident: severity, number and title; then status, channel, commander and age."""
    lock = " :lock:" if incident.private else ""
    details = [
        incident.severity,
        incident.status,
        f"<#{incident.channel_id}>" if incident.channel_id else "_no channel yet_",
    ]
    if incident.commander_id:
        details.append(f"led by {user(incident.commander_id)}")
    if incident.declared_at:
        details.append(age(incident.declared_at, now))
    return (
        f"{SEVERITY_EMOJI.get(incident.severity, '')} *INC-{incident.number}*{lock} · {esc(clip(incident.title, 150))}\n"
        + " · ".join(details)
    )


def resolved_line(incident: IncidentLine) -> str:
    where = f" · <#{incident.channel_id}>" if incident.channel_id else ""
    lock = " :lock:" if incident.private else ""
    return f"*INC-{incident.number}*{lock} · {esc(clip(incident.title, 80))} · {incident.status}{where}"


def _active(data: HomeData, *, overview: bool) -> list[dict[str, Any]]:
    """The active incidents, newest first: paged on the overview, the first few above an admin tab."""
    shown = data.incidents[: INCIDENTS_PAGE_SIZE if overview else ACTIVE_ON_OTHER_TABS]
    if not shown:
        quiet = ":sunny: No active incidents." if data.page == 0 or not overview else "No more active incidents."
        blocks = [_context(quiet)]
    else:
        blocks = [_section("*Active incidents*")]
        for incident in shown:
            open_button = None
            if incident.channel_id:
                open_button = button("Open", ids.ACTION_HOME_OPEN_INCIDENT, str(incident.number))
                open_button["url"] = channel_url(data.team_id, incident.channel_id)
            blocks.append(_section(incident_line(incident, now=data.now), open_button))
    if overview:
        return blocks + _pager(OVERVIEW, data.page, has_prev=data.page > 0, has_next=data.has_more_incidents)
    if data.has_more_incidents or len(data.incidents) > len(shown):
        blocks.append(_context("More on the Overview tab."))
    return blocks


def _checklist(setup: Setup) -> list[dict[str, Any]]:
    def item(done: bool, text: str) -> str:
        return f"{':white_check_mark:' if done else ':white_large_square:'} {text}"

    lines = [
        item(setup.announce_channel, "Choose where incidents are announced (Tags)"),
        item(setup.help_channel, "Choose the help channel people are sent to (Tags)"),
        item(setup.components, "Add a component, so the right people are invited (Components)"),
        item(setup.pagerduty, "Optional: connect PagerDuty to page on-call (Integrations)"),
    ]
    return [
        _section("*Set up Vigil* · shown to admins until the first three are done\n" + "\n".join(lines)),
        {
            "type": "actions",
            "elements": [
                button("Choose channels", ids.ACTION_ADMIN_EDIT_TAGS),
                button("Add component", ids.ACTION_ADMIN_ADD_COMPONENT),
            ],
        },
    ]


def _shifts(data: HomeData) -> str | None:
    if not data.pagerduty or not data.shifts or data.now is None:
        return None
    return "\n".join(shift_line(shift, now=data.now) for shift in data.shifts)


def _overview(data: HomeData) -> list[dict[str, Any]]:
    """Resolved incidents grouped, then the reader's own: on-call, accounts, where to ask; what is empty is folded
    into one line."""
    blocks: list[dict[str, Any]] = []
    if data.resolved and data.page == 0:
        lines = [resolved_line(i) for i in data.resolved[:RESOLVED_SHOWN]]
        if data.more_resolved:
            lines.append(f"…and {data.more_resolved} more: `{esc(data.command)} list`")
        blocks.append(_section("*Resolved, not closed yet*\n" + "\n".join(lines)))
        blocks.append({"type": "divider"})
    empty: list[str] = []
    link_hint = False  # Vigil finds PagerDuty accounts by email; the rest need a link
    shifts = _shifts(data)
    if shifts:
        blocks.append(_section(f"*Your on-call shifts*\n{shifts}"))
    elif data.pagerduty:
        empty.append("no on-call shifts in the next 7 days")
        link_hint = True
    link = f"`{esc(data.command)} link pagerduty {esc('<id>')}`"
    if data.identities:
        lines = [
            f"• {KIND_LABELS.get(i.kind, i.kind)}: `{esc(clip(i.external_id, 200))}`"
            + (" _(matched by email)_" if i.source == "email-match" else "")
            for i in data.identities
        ]
        blocks.append(_section("*Your accounts in other tools*\n" + "\n".join(lines) + f"\n_Change one with_ {link}."))
    else:
        empty.append("no accounts linked yet")
        link_hint = True
    if data.integrations:
        blocks.append(_section("*Connected tools*\n" + ", ".join(esc(name) for name in data.integrations)))
    else:
        empty.append("no tools connected")
    if empty:
        text = "; ".join(empty)
        hint = f" Not right? Link your account: {link}." if link_hint else ""
        blocks.append(_context(text[0].upper() + text[1:] + "." + hint))
    help_line = (
        f"Need a hand? Ask in <#{data.help_channel_id}>."
        if data.help_channel_id
        else "Need a hand? No help channel is set yet: a Slack workspace admin can choose one here, in App Home."
    )
    blocks.append(_section(help_line))
    blocks.append(_context(f"`{esc(data.command)} help` lists every command."))
    return blocks


def _tags(data: HomeData) -> list[dict[str, Any]]:
    blocks = [
        _section(
            "*Tags* · the channels and the usergroup Vigil uses; one channel may do several jobs.",
            button("Edit tags", ids.ACTION_ADMIN_EDIT_TAGS),
        )
    ]
    for tag, conversation_id in data.conversation_tags.items():
        where = f"<#{conversation_id}>" if conversation_id else "_not set_"
        blocks.append(_section(f"*{TAG_LABELS.get(tag, tag)}* → {where}\n{TAG_HELP.get(tag, '')}"))
    for tag, usergroup_id in data.usergroup_tags.items():
        who = _usergroup(usergroup_id) if usergroup_id else "_not set_"
        blocks.append(_section(f"*{TAG_LABELS.get(tag, tag)}* → {who}\n{TAG_HELP.get(tag, '')}"))
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
