"""App Home through the real doors: published for the one user who opened it or acted, the overview everyone sees
(incidents they may see, identities, help channel, integrations), the admin tabs and paging, within Slack's limits."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from bot import slack_ids as ids
from bot.admin.forms import ComponentForm, SosTargetForm, UsergroupForm
from bot.blocks.home import TABS
from bot.emulator import SlackEmulator, check_view
from bot.emulator.state import ViewRecord
from bot.incidents.states import Severity, Status
from db.identities import EMAIL_MATCH, link_identity
from db.models import Incident
from db.tags import DEV_FIREFIGHTER
from tests.app.conftest import ALICE, BOB, CAROL, GENERAL, StartVigil, Vigil
from tests.app.test_declare import declare_values
from tests.mrkdwn import assert_escaped, mrkdwn_texts

ADMIN_ACTIONS = {
    ids.ACTION_HOME_TAB_TAGS,
    ids.ACTION_HOME_TAB_SOS,
    ids.ACTION_HOME_TAB_COMPONENTS,
    ids.ACTION_HOME_TAB_USERGROUPS,
    ids.ACTION_HOME_TAB_SETTINGS,
    ids.ACTION_ADMIN_EDIT_TAGS,
    ids.ACTION_ADMIN_ADD_SOS,
    ids.ACTION_ADMIN_ADD_COMPONENT,
    ids.ACTION_ADMIN_IMPORT_USERGROUP,
    ids.ACTION_ADMIN_EDIT_SETTINGS,
}


def views_sent(emu: SlackEmulator) -> list[dict[str, Any]]:
    """Every view Vigil published or opened so far."""
    return [c.args["view"] for c in emu.calls if c.method in ("views.publish", "views.open", "views.push", "views.update")]


def assert_views_within_limits(emu: SlackEmulator) -> None:
    """Every view and modal Vigil sent passes Slack's Block Kit limits (blocks, texts, options) and was accepted."""
    sent = [c for c in emu.calls if c.method.startswith("views.")]
    assert sent, "no view was sent"
    for call in sent:
        view = call.args["view"]
        assert isinstance(view, dict)
        assert check_view(view) == [], (call.method, check_view(view))
        assert len(view["blocks"]) <= 100
        assert call.ok, (call.method, call.response)


def action_ids(blocks: list[Any] | None) -> set[str]:
    found: set[str] = set()
    for block in blocks or []:
        for element in [*(block.get("elements") or []), block.get("accessory") or {}]:
            if isinstance(element, dict) and element.get("action_id"):
                found.add(element["action_id"])
    return found


async def open_home(vigil: Vigil, user: str) -> ViewRecord:
    ack = await vigil.emu.send_app_home_opened(user_id=user)
    assert ack.acked
    await vigil.settle()
    home = vigil.emu.state.home_view(user)
    assert home is not None
    return home


async def click(vigil: Vigil, user: str, action_id: str, value: str | None = None, **kw: Any) -> None:
    """Press a button (or pick an overflow option) on the user's Home tab and wait for Vigil to finish."""
    home = vigil.emu.state.home_view(user)
    assert home is not None
    ack = await vigil.emu.send_block_action(user_id=user, action_id=action_id, value=value, view_id=home.id, **kw)
    assert ack.acked
    await vigil.settle()


def text_of(view: ViewRecord) -> str:
    return json.dumps(view.data["blocks"], ensure_ascii=False)


def dms_to(emu: SlackEmulator, user: str) -> list[str]:
    channel = emu.state.ims.get(user)
    return [m.text for m in emu.state.history(channel)] if channel else []


async def declare(vigil: Vigil, title: str, severity: str = "P2", *, user: str = ALICE, private: bool = False) -> Incident:
    declaration = await vigil.container.incidents.declare(
        team_id=vigil.team_id, reporter_id=user, title=title, severity=Severity(severity), private=private
    )
    await vigil.settle()
    return declaration.incident


async def test_non_admin_home_shows_their_world_and_no_admin_sections(vigil: Vigil) -> None:
    public = await declare(vigil, "Checkout <down> & slow", "P2")
    secret = await declare(vigil, "Leaked key", "P1", private=True)
    await vigil.tag(DEV_FIREFIGHTER, GENERAL)
    await vigil.container.identities.link(
        team_id=vigil.team_id, user_id=BOB, subject=BOB, kind="github", external_id="bobby"
    )
    # Email matches come from integration syncs, which write through the repository.
    async with vigil.container.sessions() as session, session.begin():
        now = datetime.now(UTC)
        await link_identity(
            session,
            team_id=vigil.team_id,
            user_id=BOB,
            kind="pagerduty",
            external_id="PBOB123",
            source=EMAIL_MATCH,
            by=None,
            at=now,
        )

    home = await open_home(vigil, BOB)
    text = text_of(home)
    assert ids.ACTION_HOME_DECLARE in action_ids(home.data["blocks"])
    assert action_ids(home.data["blocks"]).isdisjoint(ADMIN_ACTIONS)
    assert "*INC-1*" in text and f"<#{public.channel_id}>" in text
    assert "Checkout &lt;down&gt; &amp; slow" in text  # typed text cannot become a mention or a link
    assert "INC-2" not in text and "Leaked key" not in text and (secret.channel_id or "?") not in text
    assert "`bobby`" in text and "`PBOB123` _(matched by email)_" in text
    assert f"<#{GENERAL}>" in text  # the help channel
    assert "Your on-call shifts" not in text and "No tools connected." in text  # empty states, folded
    # Published for Bob alone.
    assert {c.args["user_id"] for c in vigil.emu.calls_to("views.publish")} == {BOB}
    assert vigil.emu.state.home_view(ALICE) is None
    assert_views_within_limits(vigil.emu)

    admin_home = await open_home(vigil, ALICE)
    assert "Leaked key" in text_of(admin_home)  # admins see private incidents
    assert ADMIN_ACTIONS & action_ids(admin_home.data["blocks"]) == {
        ids.ACTION_HOME_TAB_TAGS,
        ids.ACTION_HOME_TAB_SOS,
        ids.ACTION_HOME_TAB_COMPONENTS,
        ids.ACTION_HOME_TAB_USERGROUPS,
        ids.ACTION_HOME_TAB_SETTINGS,
        # the setup checklist's buttons: no component yet
        ids.ACTION_ADMIN_EDIT_TAGS,
        ids.ACTION_ADMIN_ADD_COMPONENT,
    }
    assert "No help channel yet" not in text_of(admin_home)


async def test_member_of_a_private_incident_sees_it_and_a_guest_sees_only_their_channels(vigil: Vigil) -> None:
    secret = await declare(vigil, "Leaked key", "P1", private=True)
    await declare(vigil, "Public outage", "P3")
    await vigil.emu.user_joins(BOB, secret.channel_id or "", inviter=ALICE)
    await vigil.settle()
    assert "Leaked key" in text_of(await open_home(vigil, BOB))

    carol = text_of(await open_home(vigil, CAROL))
    assert "Public outage" not in carol and "Leaked key" not in carol
    await vigil.emu.user_joins(CAROL, secret.channel_id or "", inviter=ALICE)
    await vigil.settle()
    carol = text_of(await open_home(vigil, CAROL))
    assert "Leaked key" in carol and "Public outage" not in carol
    assert action_ids((await open_home(vigil, CAROL)).data["blocks"]).isdisjoint(ADMIN_ACTIONS)


async def test_declare_button_opens_the_declare_modal(vigil: Vigil) -> None:
    await vigil.container.admin.save_component(team_id=vigil.team_id, user_id=ALICE, form=ComponentForm(name="Payments"))
    await open_home(vigil, BOB)
    await click(vigil, BOB, ids.ACTION_HOME_DECLARE)
    modal = vigil.emu.state.top_modal(BOB)
    assert modal is not None and modal.callback_id == ids.VIEW_DECLARE
    assert "Payments" in json.dumps(modal.data["blocks"])
    ack = await vigil.emu.send_view_submission(user_id=BOB, view_id=modal.id, values=declare_values("From home", "P3"))
    assert ack.payload is None
    await vigil.settle()
    [incident] = await vigil.incidents()
    assert (incident.title, incident.reporter_id) == ("From home", BOB)
    assert_views_within_limits(vigil.emu)


async def test_admin_tabs_render_and_republish_only_for_the_admin(vigil: Vigil) -> None:
    await open_home(vigil, ALICE)
    await open_home(vigil, BOB)
    bob_before = vigil.emu.state.home_view(BOB)
    assert bob_before is not None
    bob_hash = bob_before.hash
    for action_id, marker in [
        (ids.ACTION_HOME_TAB_TAGS, "*Announce incidents in*"),
        (ids.ACTION_HOME_TAB_SOS, "*SOS targets*"),
        (ids.ACTION_HOME_TAB_COMPONENTS, "*Components*"),
        (ids.ACTION_HOME_TAB_USERGROUPS, "*Usergroups*"),
        (ids.ACTION_HOME_TAB_SETTINGS, "P1 every 30 min · P2 every 60 min · P3 every 240 min · P4 none · P5 none"),
        (ids.ACTION_HOME_TAB_OVERVIEW, "lists every command"),
    ]:
        tab = next(name for name, (_, aid) in TABS.items() if aid == action_id)
        await click(vigil, ALICE, action_id, tab)
        home = vigil.emu.state.home_view(ALICE)
        assert home is not None and marker in text_of(home), action_id
        assert json.loads(home.data["private_metadata"])["tab"] == tab
    assert {c.args["user_id"] for c in vigil.emu.calls_to("views.publish")[2:]} == {ALICE}
    assert vigil.emu.state.home_view(BOB).hash == bob_hash  # type: ignore[union-attr]
    assert_views_within_limits(vigil.emu)

    # Reopening the Home keeps the tab the admin was on.
    await click(vigil, ALICE, ids.ACTION_HOME_TAB_SOS, "sos")
    home = await open_home(vigil, ALICE)
    assert "*SOS targets*" in text_of(home)


async def test_a_non_admin_pressing_an_admin_tab_is_refused(vigil: Vigil) -> None:
    await open_home(vigil, BOB)
    publishes = len(vigil.emu.calls_to("views.publish"))
    await click(vigil, BOB, ids.ACTION_HOME_TAB_SOS, "sos")
    await click(vigil, BOB, ids.ACTION_HOME_PAGE_NEXT, json.dumps({"tab": "components", "page": 1}))
    assert len(vigil.emu.calls_to("views.publish")) == publishes
    refusals = [t for t in dms_to(vigil.emu, BOB) if "Only workspace admins can open the admin tabs" in t]
    assert len(refusals) == 2


async def test_vigil_admins_count_as_admins(start_vigil: StartVigil) -> None:
    vigil = await start_vigil(settings={"VIGIL_ADMINS": BOB})
    home = await open_home(vigil, BOB)
    assert ids.ACTION_HOME_TAB_SETTINGS in action_ids(home.data["blocks"])


async def test_long_lists_are_paged_within_the_block_limit(vigil: Vigil) -> None:
    incidents, admin, team = vigil.container.incidents, vigil.container.admin, vigil.team_id
    for n in range(1, 36):
        title = f"Incident {n} " + "x" * 130
        await incidents.declare(team_id=team, reporter_id=ALICE, title=title, severity=Severity.P3, private=False)
    groups = [f"S0G{n:03d}" for n in range(45)]
    for n, group_id in enumerate(groups):
        vigil.emu.add_usergroup(group_id, f"group-{n:02d}" + "h" * 60, name="N" * 200)
    await asyncio.gather(
        *(admin.import_usergroup(team_id=team, user_id=ALICE, form=UsergroupForm(usergroup_id=g)) for g in groups)
    )
    targets = [
        SosTargetForm(name=f"Target {n:02d} " + "t" * 60, conversation_id=GENERAL, usergroup_id=g)
        for n, g in enumerate(groups)
    ]
    components = [ComponentForm(name=f"Component {n:02d} " + "c" * 100, usergroup_ids=tuple(groups)) for n in range(45)]
    await asyncio.gather(
        *(admin.save_sos_target(team_id=team, user_id=ALICE, form=form) for form in targets),
        *(admin.save_component(team_id=team, user_id=ALICE, form=form) for form in components),
    )
    await vigil.settle()

    home = await open_home(vigil, ALICE)
    seen = [n for n in range(1, 36) if f"*INC-{n}*" in text_of(home)]
    assert sorted(seen) == list(range(26, 36))  # the newest first
    pages = 1
    while ids.ACTION_HOME_PAGE_NEXT in action_ids(home.data["blocks"]):
        pager = next(b for b in home.data["blocks"] if b.get("block_id") == ids.BLOCK_HOME_PAGER)
        value = next(e["value"] for e in pager["elements"] if e["action_id"] == ids.ACTION_HOME_PAGE_NEXT)
        await click(vigil, ALICE, ids.ACTION_HOME_PAGE_NEXT, value)
        home = vigil.emu.state.home_view(ALICE)
        assert home is not None
        seen += [n for n in range(1, 36) if f"*INC-{n}*" in text_of(home)]
        pages += 1
    assert pages == 4 and sorted(seen) == list(range(1, 36))

    for tab_action, tab, item in [
        (ids.ACTION_HOME_TAB_SOS, "sos", "*Target "),
        (ids.ACTION_HOME_TAB_COMPONENTS, "components", "*Component "),
        (ids.ACTION_HOME_TAB_USERGROUPS, "usergroups", "*@group-"),
    ]:
        await click(vigil, ALICE, tab_action, tab)
        counted = 0
        for page in range(3):
            home = vigil.emu.state.home_view(ALICE)
            assert home is not None
            counted += text_of(home).count(item)
            assert f"Page {page + 1} of 3 · 45 in all" in text_of(home)
            if page < 2:
                await click(vigil, ALICE, ids.ACTION_HOME_PAGE_NEXT, json.dumps({"tab": tab, "page": page + 1}))
        assert counted == 45, tab
    assert_views_within_limits(vigil.emu)


async def test_a_members_home_reads_active_first_then_resolved(vigil: Vigil) -> None:
    resolved = await declare(vigil, "Search was slow", "P3")
    await vigil.container.incidents.move(resolved, actor_id=ALICE, target=Status.RESOLVED, source="slack")
    active = await declare(vigil, "Checkout <down>", "P1")
    await vigil.settle()
    home = await open_home(vigil, BOB)
    blocks = home.data["blocks"]
    texts = [" ".join(mrkdwn_texts(b)) for b in blocks]
    at = next(i for i, t in enumerate(texts) if f"*INC-{active.number}*" in t)
    assert texts[at - 1] == "*Active incidents*"
    assert f"P1 · open · <#{active.channel_id}> · led by <@{ALICE}> · declared <!date^" in texts[at]
    button = blocks[at]["accessory"]
    assert (button["text"]["text"], button["action_id"]) == ("Open", ids.ACTION_HOME_OPEN_INCIDENT)
    assert button["url"] == f"https://slack.com/app_redirect?channel={active.channel_id}&team={vigil.team_id}"
    grouped = next(i for i, t in enumerate(texts) if t.startswith("*Resolved, not closed yet*"))
    assert grouped > at and f"*INC-{resolved.number}* · Search was slow · resolved" in texts[grouped]
    assert sum(f"INC-{resolved.number}" in t for t in texts) == 1
    assert [t for t in texts if "no accounts linked yet" in t.lower()] == [
        "No accounts linked yet; no tools connected. Not right? Link your account: `/incident link pagerduty &lt;id&gt;`."
    ]
    assert_escaped(*mrkdwn_texts(home.data))
    # Pressing Open follows the link in Slack; Vigil only acks it, and nothing else happens.
    calls = len(vigil.emu.calls)
    await click(vigil, BOB, ids.ACTION_HOME_OPEN_INCIDENT, str(active.number))
    assert len(vigil.emu.calls) == calls and vigil.emu.protocol_errors == []


async def test_admins_keep_the_active_incidents_above_the_tabs_and_a_checklist_until_set_up(vigil: Vigil) -> None:
    incident = await declare(vigil, "Payments down", "P2")
    await open_home(vigil, ALICE)
    await click(vigil, ALICE, ids.ACTION_HOME_TAB_SETTINGS, "settings")
    home = vigil.emu.state.home_view(ALICE)
    assert home is not None
    blocks = home.data["blocks"]
    bar = next(i for i, b in enumerate(blocks) if b.get("block_id") == ids.BLOCK_HOME_TABS)
    at = next(i for i, b in enumerate(blocks) if f"*INC-{incident.number}*" in json.dumps(b))
    assert at < bar and "*Workspace settings*" in text_of(home)
    assert all("style" not in e for e in blocks[bar]["elements"])
    assert "*Set up Vigil*" in text_of(home)  # no help channel, no component yet
    await vigil.tag(DEV_FIREFIGHTER, GENERAL)
    await vigil.container.admin.save_component(team_id=vigil.team_id, user_id=ALICE, form=ComponentForm(name="Payments"))
    home = await open_home(vigil, ALICE)
    assert "*Set up Vigil*" not in text_of(home) and f"*INC-{incident.number}*" in text_of(home)
    assert_views_within_limits(vigil.emu)
