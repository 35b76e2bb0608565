"""App Home and back-office Block Kit as pure functions: within Slack's limits for any content, admin parts only for
admins, text people typed unable to mention or link."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import slack_ids as ids
from bot.blocks.admin import (
    component_modal,
    settings_modal,
    sos_request_modal,
    sos_request_text,
    sos_target_modal,
    tags_modal,
    usergroup_import_modal,
)
from bot.blocks.home import (
    ACTIVE_ON_OTHER_TABS,
    ADMIN_TABS,
    INCIDENTS_PAGE_SIZE,
    LIST_PAGE_SIZE,
    OVERVIEW,
    TABS,
    ComponentLine,
    HomeData,
    IdentityLine,
    IncidentLine,
    SettingsLine,
    Setup,
    SosTargetLine,
    UsergroupLine,
    esc,
    home_view,
    read_home_metadata,
)
from bot.emulator import check_view
from tests.mrkdwn import assert_escaped, mrkdwn_texts

LONG = "x" * 400
NOW = datetime(2026, 3, 2, 3, 0, tzinfo=UTC)


def dump(view: dict[str, Any]) -> str:
    return json.dumps(view, ensure_ascii=False)


def action_ids(view: dict[str, Any]) -> set[str]:
    found = set()
    for block in view["blocks"]:
        for element in [*(block.get("elements") or []), block.get("accessory") or {}, block.get("element") or {}]:
            if isinstance(element, dict) and "action_id" in element:
                found.add(element["action_id"])
    return found


def groups(n: int) -> list[UsergroupLine]:
    return [
        UsergroupLine(id=f"S{i:05d}", handle="h" * 80 + str(i), name=LONG, members=i, disabled=i % 2 == 0) for i in range(n)
    ]


def full(tab: str, *, is_admin: bool = True, page: int = 0) -> HomeData:
    """A Home with far more of everything than one view can hold."""
    return HomeData(
        user_id="U1",
        is_admin=is_admin,
        tab=tab,
        page=page,
        notice=LONG * 10,
        incidents=[
            IncidentLine(
                number=n,
                title=LONG,
                severity="P1",
                status="open",
                channel_id=f"C{n}",
                private=n % 2 == 0,
                commander_id="U2",
                declared_at=NOW - timedelta(minutes=n),
            )
            for n in range(300)
        ],
        has_more_incidents=True,
        resolved=[
            IncidentLine(number=n, title=LONG + "<&>", severity="P2", status="resolved", channel_id=None, private=False)
            for n in range(300)
        ],
        more_resolved=290,
        setup=Setup(),
        now=NOW,
        identities=[IdentityLine(kind=k, external_id=LONG, source="email-match") for k in ("pagerduty", "github", "email")],
        help_channel_id="CHELP",
        conversation_tags={"tech_incidents": "C1", "dev_firefighter": None, "it_deploy": "C3"},
        usergroup_tags={"invited_for_all_public_p1": "S1"},
        sos_targets=[SosTargetLine(id=n, name=LONG, conversation_id="C1", usergroup_id="S1") for n in range(300)],
        components=[ComponentLine(id=n, name=LONG, usergroup_ids=tuple(f"S{i}" for i in range(300))) for n in range(300)],
        usergroups=groups(300),
        total=300,
        settings=SettingsLine(archive_grace_days=None, reminder_minutes={"P1": 30}),
    )


@pytest.mark.parametrize("tab", list(TABS))
@pytest.mark.parametrize("page", [0, 1, 14])
def test_every_tab_stays_within_limits_whatever_it_holds(tab: str, page: int) -> None:
    view = home_view(full(tab, page=page))
    assert check_view(view) == []
    assert len(view["blocks"]) <= 75  # of Slack's 100
    assert len(json.dumps(view)) < 250_000
    assert_escaped(*mrkdwn_texts(view))


def test_the_overview_pages_incidents() -> None:
    view = home_view(full(OVERVIEW))
    opens = [b for b in view["blocks"] if (b.get("accessory") or {}).get("action_id") == ids.ACTION_HOME_OPEN_INCIDENT]
    assert len(opens) == INCIDENTS_PAGE_SIZE
    assert ids.ACTION_HOME_PAGE_NEXT in action_ids(view) and ids.ACTION_HOME_PAGE_PREV not in action_ids(view)
    assert ids.ACTION_HOME_PAGE_PREV in action_ids(home_view(full(OVERVIEW, page=2)))


def test_list_tabs_show_one_page_and_say_how_many() -> None:
    view = home_view(full("sos", page=1))
    assert (
        sum(1 for b in view["blocks"] if (b.get("accessory") or {}).get("action_id") == ids.ACTION_ADMIN_EDIT_SOS)
        == LIST_PAGE_SIZE
    )
    assert "Page 2 of 15 · 300 in all" in dump(view)
    last = home_view(full("sos", page=14))
    assert ids.ACTION_HOME_PAGE_NEXT not in action_ids(last) and ids.ACTION_HOME_PAGE_PREV in action_ids(last)


@pytest.mark.parametrize("tab", list(TABS))
def test_non_admins_get_only_the_overview(tab: str) -> None:
    view = home_view(full(tab, is_admin=False))
    assert json.loads(view["private_metadata"])["tab"] == OVERVIEW
    found = action_ids(view)
    assert found <= {
        ids.ACTION_HOME_DECLARE,
        ids.ACTION_HOME_OPEN_INCIDENT,
        ids.ACTION_HOME_PAGE_NEXT,
        ids.ACTION_HOME_PAGE_PREV,
    }
    text = dump(view)
    for jargon in ("tech_incidents", "dev_firefighter", "Set up Vigil", "tag", "Tags", "usergroup", "integration"):
        assert jargon not in text, jargon


def texts(view: dict[str, Any]) -> list[str]:
    """Each block's mrkdwn, in order (sections, contexts), for layout assertions."""
    return [" ".join(mrkdwn_texts(block)) for block in view["blocks"]]


def index_of(view: dict[str, Any], needle: str) -> int:
    return next(i for i, text in enumerate(texts(view)) if needle in text)


def incident(n: int, status: str = "investigating", **kw: Any) -> IncidentLine:
    fields: dict[str, Any] = {
        "number": n,
        "title": f"Incident {n}",
        "severity": "P1",
        "status": status,
        "channel_id": f"C{n}",
        "private": False,
        "commander_id": "U0LEAD",
        "declared_at": NOW - timedelta(hours=2),
    } | kw
    return IncidentLine(**fields)


def test_a_members_home_puts_active_incidents_first_and_folds_what_is_empty() -> None:
    data = HomeData(
        user_id="U1",
        team_id="T1",
        incidents=[incident(7), incident(6, "open", severity="P3", private=True)],
        resolved=[incident(5, "resolved"), incident(4, "postmortem", channel_id=None)],
        help_channel_id="CHELP",
        now=NOW,
    )
    view = home_view(data)
    assert check_view(view) == []
    blocks = view["blocks"]
    lines = texts(view)
    # Declare, then the active incidents, each with its severity, title, commander, age and an Open link.
    assert blocks[1]["block_id"] == ids.BLOCK_HOME_DECLARE
    first = index_of(view, "*INC-7*")
    assert first < index_of(view, "*INC-6*") < index_of(view, "*Resolved, not closed yet*")
    assert "*Active incidents*" in lines[first - 1]
    line = lines[first]
    assert ":red_circle: *INC-7* · Incident 7" in line and "P1 · investigating · <#C7> · led by <@U0LEAD>" in line
    assert f"declared <!date^{int((NOW - timedelta(hours=2)).timestamp())}^{{ago}}|2 h ago>" in line
    open_button = blocks[first]["accessory"]
    assert open_button["action_id"] == ids.ACTION_HOME_OPEN_INCIDENT and open_button["text"]["text"] == "Open"
    assert open_button["url"] == "https://slack.com/app_redirect?channel=C7&team=T1"
    assert ":lock:" in lines[index_of(view, "*INC-6*")]
    # Resolved ones grouped in one section, below.
    resolved = lines[index_of(view, "*Resolved, not closed yet*")]
    assert "*INC-5* · Incident 5 · resolved · <#C5>" in resolved and "*INC-4* · Incident 4 · postmortem" in resolved
    assert sum("INC-5" in text for text in lines) == 1
    # No shifts, no linked accounts, no tools: one line, not three sections.
    empty = [text for text in lines if "no accounts linked yet" in text.lower()]
    assert empty == [
        "No accounts linked yet; no tools connected. Not right? Link your account: `/incident link pagerduty &lt;id&gt;`."
    ]
    assert "Need a hand? Ask in <#CHELP>." in lines
    assert_escaped(*mrkdwn_texts(view))


def test_a_quiet_members_home_is_a_few_lines() -> None:
    view = home_view(HomeData(user_id="U1", pagerduty=True, now=NOW))
    lines = texts(view)
    assert ":sunny: No active incidents." in lines
    assert "Resolved" not in dump(view)
    assert (
        "No on-call shifts in the next 7 days; no accounts linked yet; no tools connected. "
        "Not right? Link your account: `/incident link pagerduty &lt;id&gt;`." in lines
    )
    assert "Need a hand? No help channel is set yet: a Slack workspace admin can choose one here, in App Home." in lines
    assert len(view["blocks"]) <= 8


@pytest.mark.parametrize("tab", list(TABS))
def test_admins_see_the_active_incidents_above_unstyled_tabs_on_every_tab(tab: str) -> None:
    many = [incident(n) for n in range(20, 0, -1)]
    view = home_view(HomeData(user_id="U1", is_admin=True, tab=tab, incidents=many, has_more_incidents=True, now=NOW))
    bar_at = next(i for i, b in enumerate(view["blocks"]) if b.get("block_id") == ids.BLOCK_HOME_TABS)
    assert index_of(view, "*INC-20*") < bar_at
    shown = [n for n in range(1, 21) if any(f"*INC-{n}*" in text for text in texts(view))]
    expected = INCIDENTS_PAGE_SIZE if tab == OVERVIEW else ACTIVE_ON_OTHER_TABS
    assert shown == list(range(21 - expected, 21))
    if tab != OVERVIEW:
        assert "More on the Overview tab." in texts(view)
    bar = view["blocks"][bar_at]
    assert [e["text"]["text"] for e in bar["elements"]] == [label for label, _ in TABS.values()]
    assert all("style" not in e for e in bar["elements"])  # only Declare is green
    assert check_view(view) == []


def test_the_setup_checklist_shows_until_the_basics_are_set() -> None:
    def checklist(setup: Setup | None, *, is_admin: bool = True) -> str:
        view = home_view(HomeData(user_id="U1", is_admin=is_admin, setup=setup, tab="sos"))
        return next((text for text in texts(view) if "*Set up Vigil*" in text), "")

    first = checklist(Setup(help_channel=True))
    assert ":white_large_square: Choose where incidents are announced" in first
    assert ":white_check_mark: Choose the help channel" in first
    assert ":white_large_square: Add a component" in first and "Optional: connect PagerDuty" in first
    assert checklist(Setup(announce_channel=True, help_channel=True, components=True)) == ""
    assert checklist(Setup(), is_admin=False) == ""
    view = home_view(HomeData(user_id="U1", is_admin=True, setup=Setup()))
    assert {ids.ACTION_ADMIN_EDIT_TAGS, ids.ACTION_ADMIN_ADD_COMPONENT} <= action_ids(view)


def test_the_tags_tab_speaks_plainly() -> None:
    view = home_view(full("tags"))
    text = dump(view)
    for label in ("Announce incidents in", "Help channel", "Deploy-freeze warnings in", "Invite to every public P1"):
        assert f"*{label}* → " in text
    for tag in ("*tech_incidents*", "*dev_firefighter*", "*it_deploy*", "*invited_for_all_public_p1*"):
        assert tag not in text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, ("overview", 0)),
        ("", ("overview", 0)),
        ("not json", ("overview", 0)),
        ("[1]", ("overview", 0)),
        ('{"tab": "sos", "page": 3}', ("sos", 3)),
        ('{"tab": "nope", "page": 3}', ("overview", 3)),
        ('{"tab": "tags", "page": -1}', ("tags", 0)),
        ('{"tab": "tags", "page": true}', ("tags", 0)),
        ('{"tab": "tags", "page": "2"}', ("tags", 0)),
        ('{"tab": "tags", "page": 99999999}', ("tags", 0)),
    ],
)
def test_home_metadata_is_read_defensively(raw: str | None, expected: tuple[str, int]) -> None:
    assert read_home_metadata(raw) == expected


@given(st.text())
def test_escaped_text_cannot_open_a_mention_or_link(text: str) -> None:
    escaped = esc(text)
    assert "<" not in escaped and ">" not in escaped
    assert esc(escaped) == escaped  # already escaped text (slash commands) is left as it is


def test_modals_stay_within_limits_with_extreme_content() -> None:
    many = groups(250)
    target = SosTargetLine(id=1, name="n" * 80, conversation_id="C1", usergroup_id="S00003")
    component = ComponentLine(id=1, name="c" * 120, usergroup_ids=tuple(g.id for g in many))
    views = [
        tags_modal(
            conversation_tags={"tech_incidents": "C1", "dev_firefighter": None, "it_deploy": None},
            usergroup_tags={"invited_for_all_public_p1": "S00001"},
            usergroups=many,
        ),
        tags_modal(conversation_tags={}, usergroup_tags={}, usergroups=[]),
        sos_target_modal(target=None, usergroups=[]),
        sos_target_modal(target=target, usergroups=many),
        component_modal(component=None, usergroups=[]),
        component_modal(component=component, usergroups=many),
        usergroup_import_modal(),
        settings_modal(SettingsLine(archive_grace_days=None, reminder_minutes={})),
        settings_modal(
            SettingsLine(archive_grace_days=365, reminder_minutes={s: 10080 for s in ("P1", "P2", "P3", "P4", "P5")})
        ),
        sos_request_modal(number=123456789, title=LONG, targets=[target] * 150, channel_id="C1"),
    ]
    for view in views:
        assert check_view(view) == [], view["callback_id"]
    # The current choice is offered even past the first 100 (an untouched select submits only what it offers).
    tags = tags_modal(conversation_tags={}, usergroup_tags={"invited_for_all_public_p1": "S00200"}, usergroups=many)
    select = next(b for b in tags["blocks"] if b.get("block_id") == ids.BLOCK_TAG_P1_USERGROUP)["element"]
    assert len(select["options"]) == 100 and select["initial_option"]["value"] == "S00200"
    late = component_modal(component=ComponentLine(id=2, name="c", usergroup_ids=("S00249",)), usergroups=many)
    select = next(b for b in late["blocks"] if b.get("block_id") == ids.BLOCK_COMPONENT_USERGROUPS)["element"]
    assert [o["value"] for o in select["initial_options"]] == ["S00249"] and len(select["options"]) == 100
    edit = component_modal(component=component, usergroups=many)
    select = next(b for b in edit["blocks"] if b.get("block_id") == ids.BLOCK_COMPONENT_USERGROUPS)["element"]
    assert len(select["options"]) == 100 and len(select["initial_options"]) == 100


def test_admin_tabs_are_the_ones_with_admin_buttons() -> None:
    assert frozenset(TABS) - {OVERVIEW} == ADMIN_TABS


@pytest.mark.parametrize(
    ("private", "usergroup", "expected_start"),
    [
        (False, "S1", "<!subteam^S1> :sos: <@U1> needs help with *INC-7 · DB &lt;down&gt;* in <#C7>:"),
        (False, None, ":sos: <@U1> needs help with *INC-7 · DB &lt;down&gt;* in <#C7>:"),
        (True, None, ":sos: <@U1> needs help with *private incident INC-7* in <#C7>:"),
    ],
)
def test_sos_request_text(private: bool, usergroup: str | None, expected_start: str) -> None:
    text = sos_request_text(
        number=7,
        title="DB <down>",
        private=private,
        channel_id="C7",
        user_id="U1",
        usergroup_id=usergroup,
        message="a\n<!here> b",
    )
    assert text.startswith(expected_start)
    assert text.endswith("\n> a\n> &lt;!here&gt; b")
    long = sos_request_text(
        number=7, title=LONG, private=False, channel_id="C7", user_id="U1", usergroup_id=None, message="m" * 5000
    )
    assert len(long) <= 3900
