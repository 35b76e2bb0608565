"""App Home's back-office through the real doors: every admin modal opened from its button, submitted, and acted on;
answers on the right field; and the same buttons and submissions forged by a non-admin refused with nothing changed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from bot import slack_ids as ids
from bot.emulator.records import AckResult
from bot.emulator.state import ViewRecord
from db.models import Component, ConversationTag, SosTarget, Usergroup, UsergroupTag, Workspace
from db.tags import DEV_FIREFIGHTER, INVITED_FOR_ALL_PUBLIC_P1, IT_DEPLOY, TECH_INCIDENTS
from listeners.admin.tags import MOVED_MEANWHILE
from tests.app.conftest import ALICE, BOB, DAVE, GENERAL, INCIDENTS_CHANNEL, SRE, Vigil
from tests.app.test_declare import declare
from tests.app.test_home import assert_views_within_limits, click, dms_to, open_home, text_of

OPS = "C0OPS"
DBA = "S0DBA"


@pytest.fixture
async def admin(vigil: Vigil) -> Vigil:
    """Vigil with an #ops channel, a `dba` usergroup in Slack, and Alice on her Home tab."""
    vigil.emu.add_channel("ops", members=[ALICE, BOB], channel_id=OPS)
    vigil.emu.add_usergroup(DBA, "dba", name="Database admins", users=[BOB])
    await open_home(vigil, ALICE)
    return vigil


async def open_modal(vigil: Vigil, action_id: str, value: str | None = None, *, user: str = ALICE) -> ViewRecord:
    await click(vigil, user, action_id, value)
    modal = vigil.emu.state.top_modal(user)
    assert modal is not None, f"{action_id} opened no modal"
    return modal


async def submit(vigil: Vigil, modal: ViewRecord, answers: dict[str, Any], *, user: str = ALICE) -> AckResult:
    """Fill the open modal the way a person would (fields by label) and submit it."""
    values = vigil.emu.form_values(user, answers, view_id=modal.id)
    ack = await vigil.emu.send_view_submission(user_id=user, view_id=modal.id, values=values)
    assert ack.acked and not ack.limit_errors, ack.limit_errors
    await vigil.settle()
    return ack


def home_text(vigil: Vigil, user: str = ALICE) -> str:
    home = vigil.emu.state.home_view(user)
    assert home is not None
    return text_of(home)


async def import_group(vigil: Vigil, usergroup_id: str) -> None:
    modal = await open_modal(vigil, ids.ACTION_ADMIN_IMPORT_USERGROUP)
    ack = await submit(vigil, modal, {"Usergroup ID": usergroup_id})
    assert ack.payload is None, ack.payload


async def snapshot(vigil: Vigil) -> dict[str, Any]:
    """Everything the back-office can change, to prove a refused action changed nothing."""
    async with vigil.container.sessions() as session:
        ws = await session.get(Workspace, vigil.team_id)
        assert ws is not None
        return {
            "conversation_tags": sorted((t.tag, t.conversation_id) for t in await session.scalars(select(ConversationTag))),
            "usergroup_tags": sorted((t.tag, t.usergroup_id) for t in await session.scalars(select(UsergroupTag))),
            "sos": sorted((t.name, t.conversation_id, t.usergroup_id) for t in await session.scalars(select(SosTarget))),
            "components": sorted((c.name, tuple(c.usergroup_ids)) for c in await session.scalars(select(Component))),
            "usergroups": sorted((g.id, g.handle, tuple(g.user_ids)) for g in await session.scalars(select(Usergroup))),
            "settings": (ws.archive_grace_days, dict(ws.reminder_minutes)),
        }


# ---------------------------------------------------------------- tags


async def test_tagging_a_channel_from_app_home_moves_the_announcements_there(admin: Vigil) -> None:
    vigil = admin
    await click(vigil, ALICE, ids.ACTION_HOME_TAB_TAGS, "tags")
    assert f"*tech_incidents* → <#{INCIDENTS_CHANNEL}>" in home_text(vigil)
    modal = await open_modal(vigil, ids.ACTION_ADMIN_EDIT_TAGS)
    blocks = {b.get("block_id"): b for b in modal.data["blocks"]}
    assert blocks[ids.BLOCK_TAG_TECH_INCIDENTS]["element"]["initial_conversation"] == INCIDENTS_CHANNEL
    ack = await submit(vigil, modal, {"tech_incidents": OPS, "dev_firefighter": GENERAL, "it_deploy": OPS})
    assert ack.payload is None
    assert vigil.emu.state.top_modal(ALICE) is None
    async with vigil.container.sessions() as session:
        tags = {t.tag: (t.conversation_id, t.set_by) for t in await session.scalars(select(ConversationTag))}
    assert tags == {TECH_INCIDENTS: (OPS, ALICE), DEV_FIREFIGHTER: (GENERAL, ALICE), IT_DEPLOY: (OPS, ALICE)}
    assert f"*tech_incidents* → <#{OPS}>" in home_text(vigil) and "Tags saved (3 changed)." in home_text(vigil)

    incident = await declare(vigil, "Search is slow", "P2", user=BOB)
    assert incident.announcement_channel_id == OPS
    assert vigil.emu.state.history(INCIDENTS_CHANNEL) == []
    [announcement] = vigil.emu.state.history(OPS)
    assert f"<#{incident.channel_id}>" in str(announcement.blocks)

    # The help channel now shows up in usage replies.
    await vigil.command("frobnicate", user=BOB)
    assert any(f"<#{GENERAL}>" in e.text for e in vigil.emu.state.ephemerals_for(BOB, GENERAL))

    # Emptying a field removes the tag.
    modal = await open_modal(vigil, ids.ACTION_ADMIN_EDIT_TAGS)
    ack = await submit(vigil, modal, {"tech_incidents": OPS, "dev_firefighter": GENERAL, "it_deploy": ""})
    assert ack.payload is None
    async with vigil.container.sessions() as session:
        assert await session.get(ConversationTag, (vigil.team_id, IT_DEPLOY)) is None
    assert_views_within_limits(vigil.emu)


async def test_usergroup_tag_invites_the_group_to_public_p1s(admin: Vigil) -> None:
    vigil = admin
    await click(vigil, ALICE, ids.ACTION_HOME_TAB_USERGROUPS, "usergroups")
    await import_group(vigil, SRE)
    modal = await open_modal(vigil, ids.ACTION_ADMIN_EDIT_TAGS)
    ack = await submit(vigil, modal, {"tech_incidents": INCIDENTS_CHANNEL, "invited_for_all_public_p1": SRE})
    assert ack.payload is None
    async with vigil.container.sessions() as session:
        row = await session.get(UsergroupTag, (vigil.team_id, INVITED_FOR_ALL_PUBLIC_P1))
    assert row is not None and row.usergroup_id == SRE
    assert f"*invited_for_all_public_p1* → <!subteam^{SRE}>" in home_text(vigil)

    incident = await declare(vigil, "Everything is down", "P1", user=BOB)
    assert DAVE in vigil.emu.state.channels[incident.channel_id or ""].members


async def test_tag_answers_on_the_field(admin: Vigil) -> None:
    vigil = admin
    archived = vigil.emu.add_channel("old-news", members=[ALICE])
    vigil.emu.state.channels[archived].is_archived = True
    hidden = vigil.emu.add_channel("secret", is_private=True, members=[ALICE], bot_member=False)
    incident = await declare(vigil, "Disk full", "P3")
    before = await snapshot(vigil)

    modal = await open_modal(vigil, ids.ACTION_ADMIN_EDIT_TAGS)
    ack = await submit(
        vigil,
        modal,
        {"tech_incidents": incident.channel_id, "dev_firefighter": archived, "it_deploy": hidden},
    )
    assert ack.response_action == "errors"
    assert ack.payload is not None
    assert ack.payload["errors"] == {
        ids.BLOCK_TAG_TECH_INCIDENTS: f"That is INC-{incident.number}'s channel; pick a standing channel.",
        ids.BLOCK_TAG_DEV_FIREFIGHTER: "That channel is archived; pick another.",
        ids.BLOCK_TAG_IT_DEPLOY: "Vigil can't see that channel. If it is private, invite @Vigil to it first.",
    }
    assert vigil.emu.state.top_modal(ALICE) is not None  # the modal stays open
    assert await snapshot(vigil) == before


async def test_a_tag_moved_by_someone_else_meanwhile_is_not_overwritten(admin: Vigil) -> None:
    vigil = admin
    modal = await open_modal(vigil, ids.ACTION_ADMIN_EDIT_TAGS)  # shows tech_incidents → #incidents
    await vigil.tag(TECH_INCIDENTS, GENERAL)  # another admin moves it
    ack = await submit(vigil, modal, {"tech_incidents": OPS, "dev_firefighter": GENERAL})
    assert ack.payload == {"response_action": "errors", "errors": {ids.BLOCK_TAG_TECH_INCIDENTS: MOVED_MEANWHILE}}
    async with vigil.container.sessions() as session:
        tags = {t.tag: t.conversation_id for t in await session.scalars(select(ConversationTag))}
    assert tags == {TECH_INCIDENTS: GENERAL}  # dev_firefighter was not half-saved either

    # Left untouched, the moved tag stays where the other admin put it.
    modal = await open_modal(vigil, ids.ACTION_ADMIN_EDIT_TAGS)
    await vigil.tag(TECH_INCIDENTS, OPS)
    ack = await submit(vigil, modal, {"tech_incidents": GENERAL, "dev_firefighter": GENERAL})
    assert ack.payload is None
    async with vigil.container.sessions() as session:
        tags = {t.tag: t.conversation_id for t in await session.scalars(select(ConversationTag))}
    assert tags == {TECH_INCIDENTS: OPS, DEV_FIREFIGHTER: GENERAL}


async def test_unknown_usergroup_for_the_tag_is_answered_on_its_field(admin: Vigil) -> None:
    vigil = admin
    await import_group(vigil, SRE)
    modal = await open_modal(vigil, ids.ACTION_ADMIN_EDIT_TAGS)
    values = vigil.emu.form_values(ALICE, {"tech_incidents": INCIDENTS_CHANNEL}, view_id=modal.id)
    values[ids.BLOCK_TAG_P1_USERGROUP][ids.ACTION_TAG_USERGROUP]["selected_option"] = {
        "text": {"type": "plain_text", "text": "x"},
        "value": "S0NOPE",
    }
    ack = await vigil.emu.send_view_submission(user_id=ALICE, view_id=modal.id, values=values)
    assert ack.payload is not None and list(ack.payload["errors"]) == [ids.BLOCK_TAG_P1_USERGROUP]
    assert "import it under Usergroups" in ack.payload["errors"][ids.BLOCK_TAG_P1_USERGROUP]


# ---------------------------------------------------------------- SOS targets


async def test_sos_targets_added_edited_and_removed(admin: Vigil) -> None:
    vigil = admin
    await import_group(vigil, DBA)
    await click(vigil, ALICE, ids.ACTION_HOME_TAB_SOS, "sos")
    modal = await open_modal(vigil, ids.ACTION_ADMIN_ADD_SOS)
    assert ids.BLOCK_REMOVE not in {b.get("block_id") for b in modal.data["blocks"]}
    ack = await submit(vigil, modal, {"Name": "  Database   help ", "Channel": OPS, "Usergroup to mention": DBA})
    assert ack.payload is None
    async with vigil.container.sessions() as session:
        target = (await session.scalars(select(SosTarget))).one()
    assert (target.name, target.conversation_id, target.usergroup_id, target.updated_by) == (
        "Database help",
        OPS,
        DBA,
        ALICE,
    )
    text = home_text(vigil)
    assert f"*Database help* → <#{OPS}> · mentions <!subteam^{DBA}>" in text and "Saved SOS target Database help." in text

    modal = await open_modal(vigil, ids.ACTION_ADMIN_EDIT_SOS, str(target.id))
    blocks = {b.get("block_id"): b for b in modal.data["blocks"]}
    assert blocks[ids.BLOCK_SOS_NAME]["element"]["initial_value"] == "Database help"
    assert blocks[ids.BLOCK_SOS_USERGROUP]["element"]["initial_option"]["value"] == DBA
    ack = await submit(vigil, modal, {"Name": "DB help", "Channel": GENERAL, "Usergroup to mention": ""})
    assert ack.payload is None
    async with vigil.container.sessions() as session:
        target = (await session.scalars(select(SosTarget))).one()
    assert (target.name, target.conversation_id, target.usergroup_id) == ("DB help", GENERAL, None)

    modal = await open_modal(vigil, ids.ACTION_ADMIN_EDIT_SOS, str(target.id))
    ack = await submit(vigil, modal, {"Name": "DB help", "Channel": GENERAL, "Remove": "remove"})
    assert ack.payload is None
    async with vigil.container.sessions() as session:
        assert (await session.scalars(select(SosTarget))).all() == []
    assert "Removed SOS target DB help." in home_text(vigil)
    assert_views_within_limits(vigil.emu)


async def test_sos_target_answers_on_the_field(admin: Vigil) -> None:
    vigil = admin
    modal = await open_modal(vigil, ids.ACTION_ADMIN_ADD_SOS)
    ack = await submit(vigil, modal, {"Name": "   ", "Channel": OPS})
    assert ack.payload == {"response_action": "errors", "errors": {ids.BLOCK_SOS_NAME: "Give the SOS target a name."}}

    ack = await submit(vigil, modal, {"Name": "DB", "Channel": OPS})
    assert ack.payload is None
    modal = await open_modal(vigil, ids.ACTION_ADMIN_ADD_SOS)
    hidden = vigil.emu.add_channel("secret", is_private=True, members=[ALICE], bot_member=False)
    ack = await submit(vigil, modal, {"Name": "db", "Channel": hidden})
    assert ack.payload == {
        "response_action": "errors",
        "errors": {
            ids.BLOCK_SOS_NAME: "There is already an SOS target called DB.",
            ids.BLOCK_SOS_CONVERSATION: "Vigil can't see that channel. If it is private, invite @Vigil to it first.",
        },
    }
    # No usergroup imported yet, so no usergroup field; a forged one is still checked.
    values = vigil.emu.form_values(ALICE, {"Name": "Network", "Channel": OPS}, view_id=modal.id)
    values[ids.BLOCK_SOS_USERGROUP] = {
        ids.ACTION_SOS_USERGROUP: {
            "type": "static_select",
            "selected_option": {"text": {"type": "plain_text", "text": "x"}, "value": "S0NOPE"},
        }
    }
    ack = await vigil.emu.send_view_submission(user_id=ALICE, view_id=modal.id, values=values)
    assert ack.payload is not None and list(ack.payload["errors"]) == [ids.BLOCK_SOS_USERGROUP]
    async with vigil.container.sessions() as session:
        assert [t.name for t in await session.scalars(select(SosTarget))] == ["DB"]


# ---------------------------------------------------------------- components


async def test_components_added_edited_removed_and_their_groups_invited(admin: Vigil) -> None:
    vigil = admin
    await import_group(vigil, DBA)
    await import_group(vigil, SRE)
    await click(vigil, ALICE, ids.ACTION_HOME_TAB_COMPONENTS, "components")
    modal = await open_modal(vigil, ids.ACTION_ADMIN_ADD_COMPONENT)
    ack = await submit(vigil, modal, {"Name": "Payments", "Usergroups to invite": [DBA, SRE]})
    assert ack.payload is None
    async with vigil.container.sessions() as session:
        component = (await session.scalars(select(Component))).one()
    assert (component.name, component.usergroup_ids) == ("Payments", [DBA, SRE])
    assert f"*Payments* · invites <!subteam^{DBA}> <!subteam^{SRE}>" in home_text(vigil)

    incident = await declare(vigil, "Payments down", "P3", user=ALICE, component=component.id)
    assert {BOB, DAVE} <= set(vigil.emu.state.channels[incident.channel_id or ""].members)

    modal = await open_modal(vigil, ids.ACTION_ADMIN_EDIT_COMPONENT, str(component.id))
    initial = modal.data["blocks"][1]["element"]["initial_options"]
    assert [o["value"] for o in initial] == [DBA, SRE]
    ack = await submit(vigil, modal, {"Name": "Payments API", "Usergroups to invite": [SRE]})
    assert ack.payload is None
    async with vigil.container.sessions() as session:
        component = (await session.scalars(select(Component))).one()
    assert (component.name, component.usergroup_ids) == ("Payments API", [SRE])

    modal = await open_modal(vigil, ids.ACTION_ADMIN_EDIT_COMPONENT, str(component.id))
    ack = await submit(vigil, modal, {"Name": "Payments API", "Usergroups to invite": [SRE], "Remove": "remove"})
    assert ack.payload is None
    async with vigil.container.sessions() as session:
        assert (await session.scalars(select(Component))).all() == []
    [kept] = await vigil.incidents()
    assert kept.id == incident.id and kept.component_id is None  # the incident stays, without the component
    assert_views_within_limits(vigil.emu)


async def test_component_answers_on_the_field(admin: Vigil) -> None:
    vigil = admin
    await import_group(vigil, SRE)
    modal = await open_modal(vigil, ids.ACTION_ADMIN_ADD_COMPONENT)
    ack = await submit(vigil, modal, {"Name": ""})
    assert ack.payload == {"response_action": "errors", "errors": {ids.BLOCK_COMPONENT_NAME: "Give the component a name."}}
    assert (await submit(vigil, modal, {"Name": "Search"})).payload is None
    modal = await open_modal(vigil, ids.ACTION_ADMIN_ADD_COMPONENT)
    values = vigil.emu.form_values(ALICE, {"Name": "SEARCH", "Usergroups to invite": [SRE]}, view_id=modal.id)
    values[ids.BLOCK_COMPONENT_USERGROUPS][ids.ACTION_COMPONENT_USERGROUPS]["selected_options"].append(
        {"text": {"type": "plain_text", "text": "x"}, "value": "S0NOPE"}
    )
    ack = await vigil.emu.send_view_submission(user_id=ALICE, view_id=modal.id, values=values)
    assert ack.payload is not None
    assert ack.payload["errors"] == {
        ids.BLOCK_COMPONENT_NAME: "There is already a component called Search.",
        ids.BLOCK_COMPONENT_USERGROUPS: "Vigil doesn't know S0NOPE; import usergroups under Usergroups first.",
    }


# ---------------------------------------------------------------- usergroups


async def test_usergroups_imported_by_id_refreshed_and_removed(admin: Vigil) -> None:
    vigil = admin
    await click(vigil, ALICE, ids.ACTION_HOME_TAB_USERGROUPS, "usergroups")
    modal = await open_modal(vigil, ids.ACTION_ADMIN_IMPORT_USERGROUP)
    ack = await submit(vigil, modal, {"Usergroup ID": " s0dba "})
    assert ack.payload is None
    async with vigil.container.sessions() as session:
        group = await session.get(Usergroup, (vigil.team_id, DBA))
    assert group is not None and (group.handle, group.name, group.user_ids) == ("dba", "Database admins", [BOB])
    assert "*@dba* · Database admins · 1 member" in home_text(vigil)
    assert any(
        c.method == "usergroups.list" and str(c.args.get("include_users")) in ("1", "true", "True") for c in vigil.emu.calls
    )

    vigil.emu.state.usergroups[DBA].users = [BOB, DAVE]
    await click(vigil, ALICE, ids.ACTION_ADMIN_USERGROUP_MENU, f"refresh:{DBA}")
    async with vigil.container.sessions() as session:
        group = await session.get(Usergroup, (vigil.team_id, DBA))
    assert group is not None and group.user_ids == [BOB, DAVE]
    assert "Refreshed @dba (2 members)." in home_text(vigil)

    # In use by a component: removing it is refused with the reason; unused, it goes.
    modal = await open_modal(vigil, ids.ACTION_ADMIN_ADD_COMPONENT)
    assert (await submit(vigil, modal, {"Name": "DB", "Usergroups to invite": [DBA]})).payload is None
    await click(vigil, ALICE, ids.ACTION_HOME_TAB_USERGROUPS, "usergroups")
    await click(vigil, ALICE, ids.ACTION_ADMIN_USERGROUP_MENU, f"remove:{DBA}")
    assert any("@dba is still used by component DB" in t for t in dms_to(vigil.emu, ALICE))
    async with vigil.container.sessions() as session:
        assert await session.get(Usergroup, (vigil.team_id, DBA)) is not None
        component = (await session.scalars(select(Component))).one()
    modal = await open_modal(vigil, ids.ACTION_ADMIN_EDIT_COMPONENT, str(component.id))
    await submit(vigil, modal, {"Name": "DB", "Usergroups to invite": [], "Remove": "remove"})
    await click(vigil, ALICE, ids.ACTION_HOME_TAB_USERGROUPS, "usergroups")
    await click(vigil, ALICE, ids.ACTION_ADMIN_USERGROUP_MENU, f"remove:{DBA}")
    async with vigil.container.sessions() as session:
        assert await session.get(Usergroup, (vigil.team_id, DBA)) is None
    assert "Removed @dba from Vigil" in home_text(vigil)
    assert_views_within_limits(vigil.emu)


async def test_usergroup_import_answers_on_the_field(admin: Vigil) -> None:
    vigil = admin
    modal = await open_modal(vigil, ids.ACTION_ADMIN_IMPORT_USERGROUP)
    ack = await submit(vigil, modal, {"Usergroup ID": "S0NOSUCH"})
    assert ack.payload == {
        "response_action": "errors",
        "errors": {ids.BLOCK_USERGROUP_ID: "Slack has no usergroup S0NOSUCH."},
    }
    ack = await submit(vigil, modal, {"Usergroup ID": "@sre"})
    assert ack.payload is not None and "start with S" in ack.payload["errors"][ids.BLOCK_USERGROUP_ID]
    vigil.emu.fail_next("usergroups.list", error="missing_scope")
    ack = await submit(vigil, modal, {"Usergroup ID": SRE})
    assert ack.payload is not None and "(missing_scope)" in ack.payload["errors"][ids.BLOCK_USERGROUP_ID]
    async with vigil.container.sessions() as session:
        assert (await session.scalars(select(Usergroup))).all() == []


# ---------------------------------------------------------------- settings


async def test_workspace_settings(admin: Vigil) -> None:
    vigil = admin
    await click(vigil, ALICE, ids.ACTION_HOME_TAB_SETTINGS, "settings")
    assert "7 day(s) after closing" in home_text(vigil)
    modal = await open_modal(vigil, ids.ACTION_ADMIN_EDIT_SETTINGS)
    blocks = {b.get("block_id"): b for b in modal.data["blocks"]}
    assert blocks[ids.BLOCK_REMINDER_P3]["element"]["initial_value"] == "240"
    assert blocks[ids.BLOCK_REMINDER_P4]["optional"] is True and blocks[ids.BLOCK_REMINDER_P1]["optional"] is False

    answers = {
        "Archive closed incident channels after (days)": "NEVER",
        "P1 reminder (minutes)": "15",
        "P2 reminder (minutes)": "45",
        "P3 reminder (minutes)": "120",
        "P4 reminder (minutes)": "1440",
        "P5 reminder (minutes)": "",
    }
    ack = await submit(vigil, modal, answers)
    assert ack.payload is None
    async with vigil.container.sessions() as session:
        ws = await session.get(Workspace, vigil.team_id)
    assert ws is not None and (ws.archive_grace_days, ws.reminder_minutes) == (
        None,
        {"P1": 15, "P2": 45, "P3": 120, "P4": 1440},
    )
    assert "never" in home_text(vigil) and "P4 every 1440 min · P5 none" in home_text(vigil)

    modal = await open_modal(vigil, ids.ACTION_ADMIN_EDIT_SETTINGS)
    assert {b.get("block_id"): b for b in modal.data["blocks"]}[ids.BLOCK_ARCHIVE_DAYS]["element"][
        "initial_value"
    ] == "never"
    bad = {
        **answers,
        "Archive closed incident channels after (days)": "a week",
        "P1 reminder (minutes)": "",
        "P4 reminder (minutes)": "3",
    }
    ack = await submit(vigil, modal, bad)
    assert ack.payload == {
        "response_action": "errors",
        "errors": {
            ids.BLOCK_ARCHIVE_DAYS: "Give a number of days from 0 to 365, or never.",
            ids.BLOCK_REMINDER_P1: "Give a number of minutes from 5 to 10080.",
            ids.BLOCK_REMINDER_P4: "Give a number of minutes from 5 to 10080, or leave it empty for no reminders.",
        },
    }
    ack = await submit(vigil, modal, {**answers, "Archive closed incident channels after (days)": "3"})
    assert ack.payload is None
    async with vigil.container.sessions() as session:
        ws = await session.get(Workspace, vigil.team_id)
    assert ws is not None and ws.archive_grace_days == 3
    assert_views_within_limits(vigil.emu)


# ---------------------------------------------------------------- forged by a non-admin

VALID_SUBMISSIONS: dict[str, tuple[str, dict[str, Any], str]] = {
    # callback_id: (where the refusal goes, state values an admin could have sent, what the refusal names)
    ids.VIEW_ADMIN_TAGS: (
        ids.BLOCK_TAG_TECH_INCIDENTS,
        {
            ids.BLOCK_TAG_TECH_INCIDENTS: {
                ids.ACTION_TAG_CONVERSATION: {"type": "conversations_select", "selected_conversation": OPS}
            },
            ids.BLOCK_TAG_IT_DEPLOY: {
                ids.ACTION_TAG_CONVERSATION: {"type": "conversations_select", "selected_conversation": OPS}
            },
        },
        "change tags",
    ),
    ids.VIEW_ADMIN_SOS: (
        ids.BLOCK_SOS_NAME,
        {
            ids.BLOCK_SOS_NAME: {ids.ACTION_SOS_NAME: {"type": "plain_text_input", "value": "Bob's target"}},
            ids.BLOCK_SOS_CONVERSATION: {
                ids.ACTION_SOS_CONVERSATION: {"type": "conversations_select", "selected_conversation": OPS}
            },
        },
        "manage SOS targets",
    ),
    ids.VIEW_ADMIN_COMPONENT: (
        ids.BLOCK_COMPONENT_NAME,
        {ids.BLOCK_COMPONENT_NAME: {ids.ACTION_COMPONENT_NAME: {"type": "plain_text_input", "value": "Bob's component"}}},
        "manage components",
    ),
    ids.VIEW_ADMIN_USERGROUP: (
        ids.BLOCK_USERGROUP_ID,
        {ids.BLOCK_USERGROUP_ID: {ids.ACTION_USERGROUP_ID: {"type": "plain_text_input", "value": DBA}}},
        "manage usergroups",
    ),
    ids.VIEW_ADMIN_SETTINGS: (
        ids.BLOCK_ARCHIVE_DAYS,
        {
            ids.BLOCK_ARCHIVE_DAYS: {ids.ACTION_ARCHIVE_DAYS: {"type": "plain_text_input", "value": "never"}},
            **{
                block: {ids.ACTION_REMINDER: {"type": "plain_text_input", "value": "5"}}
                for block in (ids.BLOCK_REMINDER_P1, ids.BLOCK_REMINDER_P2, ids.BLOCK_REMINDER_P3)
            },
        },
        "change workspace settings",
    ),
}


@pytest.mark.parametrize("callback_id", list(VALID_SUBMISSIONS))
async def test_forged_admin_submission_by_a_non_admin_is_refused_and_changes_nothing(admin: Vigil, callback_id: str) -> None:
    vigil = admin
    block, values, doing = VALID_SUBMISSIONS[callback_id]
    # The same values from Alice would be accepted (so the refusal below is about who, not what).
    before = await snapshot(vigil)
    ack = await vigil.emu.send_view_submission(user_id=BOB, callback_id=callback_id, values=values)
    assert ack.payload == {
        "response_action": "errors",
        "errors": {
            block: f"Only workspace admins can {doing}. Ask a Slack workspace admin or owner (or one of VIGIL_ADMINS)."
        },
    }
    await vigil.settle()
    assert await snapshot(vigil) == before
    assert vigil.emu.state.home_view(BOB) is None  # nothing was republished for Bob

    ack = await vigil.emu.send_view_submission(user_id=ALICE, callback_id=callback_id, values=values)
    assert ack.payload is None, ack.payload
    await vigil.settle()
    assert await snapshot(vigil) != before


async def test_forged_edit_of_an_existing_item_by_a_non_admin_changes_nothing(admin: Vigil) -> None:
    vigil = admin
    modal = await open_modal(vigil, ids.ACTION_ADMIN_ADD_SOS)
    await submit(vigil, modal, {"Name": "DB", "Channel": OPS})
    modal = await open_modal(vigil, ids.ACTION_ADMIN_ADD_COMPONENT)
    await submit(vigil, modal, {"Name": "Search"})
    async with vigil.container.sessions() as session:
        target = (await session.scalars(select(SosTarget))).one()
        component = (await session.scalars(select(Component))).one()
    before = await snapshot(vigil)
    remove = {ids.BLOCK_REMOVE: {ids.ACTION_REMOVE: {"type": "checkboxes", "selected_options": [{"value": "remove"}]}}}
    for callback_id, item in [(ids.VIEW_ADMIN_SOS, target.id), (ids.VIEW_ADMIN_COMPONENT, component.id)]:
        ack = await vigil.emu.send_view_submission(
            user_id=BOB, callback_id=callback_id, values=remove, private_metadata=json.dumps({"id": item})
        )
        assert ack.response_action == "errors"
    await vigil.settle()
    assert await snapshot(vigil) == before


ADMIN_BUTTONS: list[tuple[str, str | None]] = [
    (ids.ACTION_ADMIN_EDIT_TAGS, None),
    (ids.ACTION_ADMIN_ADD_SOS, None),
    (ids.ACTION_ADMIN_EDIT_SOS, "1"),
    (ids.ACTION_ADMIN_ADD_COMPONENT, None),
    (ids.ACTION_ADMIN_EDIT_COMPONENT, "1"),
    (ids.ACTION_ADMIN_IMPORT_USERGROUP, None),
    (ids.ACTION_ADMIN_USERGROUP_MENU, f"remove:{SRE}"),
    (ids.ACTION_ADMIN_USERGROUP_MENU, f"refresh:{SRE}"),
    (ids.ACTION_ADMIN_EDIT_SETTINGS, None),
]


async def test_forged_admin_buttons_by_a_non_admin_are_refused_and_change_nothing(admin: Vigil) -> None:
    vigil = admin
    await import_group(vigil, SRE)
    modal = await open_modal(vigil, ids.ACTION_ADMIN_ADD_SOS)
    await submit(vigil, modal, {"Name": "DB", "Channel": OPS})
    modal = await open_modal(vigil, ids.ACTION_ADMIN_ADD_COMPONENT)
    await submit(vigil, modal, {"Name": "Search"})
    vigil.emu.state.usergroups[SRE].users = [BOB]  # a refresh would change the stored members
    await open_home(vigil, BOB)
    before = await snapshot(vigil)
    opened = len(vigil.emu.calls_to("views.open"))
    published = len(vigil.emu.calls_to("views.publish"))

    for action_id, value in ADMIN_BUTTONS:
        selected = (
            {"selected_option": {"text": {"type": "plain_text", "text": "x"}, "value": value}}
            if "menu" in action_id
            else None
        )
        ack = await vigil.emu.send_block_action(
            user_id=BOB,
            action_id=action_id,
            value=None if selected else value,
            selected=selected,
            view_id=vigil.emu.state.home_view(BOB).id,  # type: ignore[union-attr]
        )
        assert ack.acked
        await vigil.settle()

    assert len(vigil.emu.calls_to("views.open")) == opened
    assert len(vigil.emu.calls_to("views.publish")) == published
    assert await snapshot(vigil) == before
    refusals = [t for t in dms_to(vigil.emu, BOB) if "Only workspace admins can" in t]
    assert len(refusals) == len(ADMIN_BUTTONS)
    assert vigil.emu.state.modal_stack(BOB) == []
