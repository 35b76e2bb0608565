"""App Home's back-office through the real doors: every admin modal opened from its button, filled by label and
submitted as Slack would; what the text alone gets wrong answered under the field before the ack, what needs the
database or Slack answered after it (a DM, nothing saved); the same buttons and submissions forged by a non-admin
refused with nothing changed; and admins saving at once getting answers, not crashes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import select

from bot import slack_ids as ids
from bot.admin.forms import SosTargetForm, TagsForm
from bot.admin.service import (
    DOING_COMPONENTS,
    DOING_SETTINGS,
    DOING_SOS,
    DOING_TAGS,
    DOING_USERGROUPS,
    MOVED_MEANWHILE,
)
from bot.emulator.records import AckResult
from bot.emulator.state import ViewRecord
from bot.permissions import admin_refusal
from db.models import Component, ConversationTag, SosTarget, Usergroup, UsergroupTag, Workspace
from db.tags import DEV_FIREFIGHTER, INVITED_FOR_ALL_PUBLIC_P1, IT_DEPLOY, TECH_INCIDENTS
from listeners.admin import SCREENS
from listeners.admin.screens import Screen
from tests.app.conftest import ALICE, BOB, DAVE, GENERAL, INCIDENTS_CHANNEL, SRE, Vigil
from tests.app.test_declare import declare
from tests.app.test_home import assert_views_within_limits, click, dms_to, open_home, text_of

OPS = "C0OPS"
DBA = "S0DBA"
ERIN = "U0ERIN"  # a second admin
ARCHIVE = "Archive closed incident channels after (days)"
FAILED = "Something went wrong on our side"


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


async def answered_later(vigil: Vigil, ack: AckResult, user: str = ALICE, *, before: int) -> str:
    """The one DM a submission that passed the field checks got instead (the modal closed with the ack)."""
    assert ack.payload is None, ack.payload
    await vigil.settle()
    new = dms_to(vigil.emu, user)[before:]
    assert len(new) == 1, new
    return new[0]


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


def failures(vigil: Vigil, *users: str) -> list[str]:
    return [t for user in users for t in dms_to(vigil.emu, user) if FAILED in t]


# ---------------------------------------------------------------- tags


async def test_tagging_a_channel_from_app_home_moves_the_announcements_there(admin: Vigil) -> None:
    vigil = admin
    await click(vigil, ALICE, ids.ACTION_HOME_TAB_TAGS, "tags")
    assert f"*Announce incidents in* → <#{INCIDENTS_CHANNEL}>" in home_text(vigil)
    modal = await open_modal(vigil, ids.ACTION_ADMIN_EDIT_TAGS)
    blocks = {b.get("block_id"): b for b in modal.data["blocks"]}
    assert blocks[ids.BLOCK_TAG_TECH_INCIDENTS]["element"]["initial_conversation"] == INCIDENTS_CHANNEL
    ack = await submit(
        vigil, modal, {"Announce incidents in": OPS, "Help channel": GENERAL, "Deploy-freeze warnings in": OPS}
    )
    assert ack.payload is None
    assert vigil.emu.state.top_modal(ALICE) is None
    async with vigil.container.sessions() as session:
        tags = {t.tag: (t.conversation_id, t.set_by) for t in await session.scalars(select(ConversationTag))}
    assert tags == {TECH_INCIDENTS: (OPS, ALICE), DEV_FIREFIGHTER: (GENERAL, ALICE), IT_DEPLOY: (OPS, ALICE)}
    assert f"*Announce incidents in* → <#{OPS}>" in home_text(vigil) and "Tags saved (3 changed)." in home_text(vigil)

    incident = await declare(vigil, "Search is slow", "P2", user=BOB)
    assert incident.announcement_channel_id == OPS
    assert vigil.emu.state.history(INCIDENTS_CHANNEL) == []
    [announcement] = vigil.emu.state.history(OPS)
    assert f"<#{incident.channel_id}>" in str(announcement.blocks)

    # The help channel now shows up in usage replies.
    usage = await vigil.command("frobnicate", user=BOB)
    await vigil.settle()
    replies = [usage.text or "", *(r.text for r in vigil.emu.responses_for(BOB))]
    assert any(f"<#{GENERAL}>" in text for text in replies), replies

    # Emptying a field removes the tag.
    modal = await open_modal(vigil, ids.ACTION_ADMIN_EDIT_TAGS)
    ack = await submit(
        vigil, modal, {"Announce incidents in": OPS, "Help channel": GENERAL, "Deploy-freeze warnings in": ""}
    )
    assert ack.payload is None
    async with vigil.container.sessions() as session:
        assert await session.get(ConversationTag, (vigil.team_id, IT_DEPLOY)) is None
    assert_views_within_limits(vigil.emu)


async def test_usergroup_tag_invites_the_group_to_public_p1s(admin: Vigil) -> None:
    vigil = admin
    await click(vigil, ALICE, ids.ACTION_HOME_TAB_USERGROUPS, "usergroups")
    await import_group(vigil, SRE)
    modal = await open_modal(vigil, ids.ACTION_ADMIN_EDIT_TAGS)
    ack = await submit(vigil, modal, {"Announce incidents in": INCIDENTS_CHANNEL, "Invite to every public P1": SRE})
    assert ack.payload is None
    async with vigil.container.sessions() as session:
        row = await session.get(UsergroupTag, (vigil.team_id, INVITED_FOR_ALL_PUBLIC_P1))
    assert row is not None and row.usergroup_id == SRE
    assert f"*Invite to every public P1* → <!subteam^{SRE}>" in home_text(vigil)

    incident = await declare(vigil, "Everything is down", "P1", user=BOB)
    assert DAVE in vigil.emu.state.channels[incident.channel_id or ""].members


async def test_unusable_channels_for_tags_are_answered_by_name_and_nothing_is_saved(admin: Vigil) -> None:
    vigil = admin
    archived = vigil.emu.add_channel("old-news", members=[ALICE])
    vigil.emu.state.channels[archived].is_archived = True
    hidden = vigil.emu.add_channel("secret", is_private=True, members=[ALICE], bot_member=False)
    incident = await declare(vigil, "Disk full", "P3")
    before, dms = await snapshot(vigil), len(dms_to(vigil.emu, ALICE))

    modal = await open_modal(vigil, ids.ACTION_ADMIN_EDIT_TAGS)
    ack = await submit(
        vigil,
        modal,
        {"Announce incidents in": incident.channel_id, "Help channel": archived, "Deploy-freeze warnings in": hidden},
    )
    dm = await answered_later(vigil, ack, before=dms)
    assert dm == (
        ":warning: Nothing was saved.\n"
        f"• *Announce incidents in*: That is INC-{incident.number}'s channel; pick a standing channel.\n"
        "• *Help channel*: That channel is archived; pick another.\n"
        "• *Deploy-freeze warnings in*: Vigil can't see that channel. If it is private, invite @Vigil to it first."
    )
    assert await snapshot(vigil) == before


async def test_a_tag_moved_by_someone_else_meanwhile_is_not_overwritten(admin: Vigil) -> None:
    vigil = admin
    admins = vigil.container.admin
    modal = await open_modal(vigil, ids.ACTION_ADMIN_EDIT_TAGS)  # shows "Announce incidents in" → #incidents
    # Another admin moves it meanwhile.
    await admins.save_tags(team_id=vigil.team_id, user_id=ALICE, form=TagsForm(conversations={TECH_INCIDENTS: GENERAL}))
    dms = len(dms_to(vigil.emu, ALICE))
    ack = await submit(vigil, modal, {"Announce incidents in": OPS, "Help channel": GENERAL})
    assert MOVED_MEANWHILE in await answered_later(vigil, ack, before=dms)
    async with vigil.container.sessions() as session:
        tags = {t.tag: t.conversation_id for t in await session.scalars(select(ConversationTag))}
    assert tags == {TECH_INCIDENTS: GENERAL}  # dev_firefighter was not half-saved either

    # Left untouched, the moved tag stays where the other admin put it.
    modal = await open_modal(vigil, ids.ACTION_ADMIN_EDIT_TAGS)
    await admins.save_tags(team_id=vigil.team_id, user_id=ALICE, form=TagsForm(conversations={TECH_INCIDENTS: OPS}))
    ack = await submit(vigil, modal, {"Announce incidents in": GENERAL, "Help channel": GENERAL})
    assert ack.payload is None
    async with vigil.container.sessions() as session:
        tags = {t.tag: t.conversation_id for t in await session.scalars(select(ConversationTag))}
    assert tags == {TECH_INCIDENTS: OPS, DEV_FIREFIGHTER: GENERAL}


async def test_unknown_usergroup_for_the_tag_is_answered_and_not_saved(admin: Vigil) -> None:
    vigil = admin
    await import_group(vigil, SRE)
    modal = await open_modal(vigil, ids.ACTION_ADMIN_EDIT_TAGS)
    values = vigil.emu.form_values(ALICE, {"Announce incidents in": INCIDENTS_CHANNEL}, view_id=modal.id)
    values[ids.BLOCK_TAG_P1_USERGROUP][ids.ACTION_TAG_USERGROUP]["selected_option"] = {
        "text": {"type": "plain_text", "text": "x"},
        "value": "S0NOPE",
    }
    before, dms = await snapshot(vigil), len(dms_to(vigil.emu, ALICE))
    ack = await vigil.emu.send_view_submission(user_id=ALICE, view_id=modal.id, values=values)
    dm = await answered_later(vigil, ack, before=dms)
    assert "*Invite to every public P1*" in dm and "import it under Usergroups" in dm
    assert await snapshot(vigil) == before


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


async def test_sos_target_answers(admin: Vigil) -> None:
    vigil = admin
    modal = await open_modal(vigil, ids.ACTION_ADMIN_ADD_SOS)
    ack = await submit(vigil, modal, {"Name": "   ", "Channel": OPS})
    assert ack.payload == {"response_action": "errors", "errors": {ids.BLOCK_SOS_NAME: "Give the SOS target a name."}}

    ack = await submit(vigil, modal, {"Name": "DB", "Channel": OPS})
    assert ack.payload is None
    modal = await open_modal(vigil, ids.ACTION_ADMIN_ADD_SOS)
    hidden = vigil.emu.add_channel("secret", is_private=True, members=[ALICE], bot_member=False)
    dms = len(dms_to(vigil.emu, ALICE))
    ack = await submit(vigil, modal, {"Name": "db", "Channel": hidden})
    assert await answered_later(vigil, ack, before=dms) == (
        ":warning: Nothing was saved.\n"
        "• *Name*: There is already an SOS target called DB.\n"
        "• *Channel*: Vigil can't see that channel. If it is private, invite @Vigil to it first."
    )
    # No usergroup imported yet, so no usergroup field; a forged one is still checked.
    modal = await open_modal(vigil, ids.ACTION_ADMIN_ADD_SOS)
    values = vigil.emu.form_values(ALICE, {"Name": "Network", "Channel": OPS}, view_id=modal.id)
    values[ids.BLOCK_SOS_USERGROUP] = {
        ids.ACTION_SOS_USERGROUP: {
            "type": "static_select",
            "selected_option": {"text": {"type": "plain_text", "text": "x"}, "value": "S0NOPE"},
        }
    }
    dms = len(dms_to(vigil.emu, ALICE))
    ack = await vigil.emu.send_view_submission(user_id=ALICE, view_id=modal.id, values=values)
    assert "*Usergroup to mention*: Vigil doesn't know that usergroup" in await answered_later(vigil, ack, before=dms)
    async with vigil.container.sessions() as session:
        assert [t.name for t in await session.scalars(select(SosTarget))] == ["DB"]


async def test_editing_an_item_removed_meanwhile_is_answered(admin: Vigil) -> None:
    vigil = admin
    modal = await open_modal(vigil, ids.ACTION_ADMIN_ADD_SOS)
    assert (await submit(vigil, modal, {"Name": "DB", "Channel": OPS})).payload is None
    [target] = await vigil.container.admin.sos_targets(team_id=vigil.team_id)
    modal = await open_modal(vigil, ids.ACTION_ADMIN_EDIT_SOS, str(target.id))
    await vigil.container.admin.save_sos_target(
        team_id=vigil.team_id, user_id=ALICE, form=SosTargetForm(target_id=target.id, remove=True)
    )
    dms = len(dms_to(vigil.emu, ALICE))
    ack = await submit(vigil, modal, {"Name": "DB again", "Channel": OPS})
    assert "That SOS target no longer exists" in await answered_later(vigil, ack, before=dms)
    assert await vigil.container.admin.sos_targets(team_id=vigil.team_id) == []

    # Its Edit button, pressed from an old Home, answers the same way and opens nothing.
    opened = len(vigil.emu.calls_to("views.open"))
    await click(vigil, ALICE, ids.ACTION_ADMIN_EDIT_SOS, str(target.id))
    assert "That SOS target no longer exists" in dms_to(vigil.emu, ALICE)[-1]
    # A button value that is not an id at all is answered too.
    await click(vigil, ALICE, ids.ACTION_ADMIN_EDIT_SOS, "99999999999999999999")
    assert "does not name an SOS target" in dms_to(vigil.emu, ALICE)[-1]
    assert len(vigil.emu.calls_to("views.open")) == opened


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


async def test_component_answers(admin: Vigil) -> None:
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
    before, dms = await snapshot(vigil), len(dms_to(vigil.emu, ALICE))
    ack = await vigil.emu.send_view_submission(user_id=ALICE, view_id=modal.id, values=values)
    assert await answered_later(vigil, ack, before=dms) == (
        ":warning: Nothing was saved.\n"
        "• *Name*: There is already a component called Search.\n"
        "• *Usergroups to invite*: Vigil doesn't know S0NOPE; import usergroups under Usergroups first."
    )
    assert await snapshot(vigil) == before


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


async def test_usergroup_import_answers(admin: Vigil) -> None:
    vigil = admin
    modal = await open_modal(vigil, ids.ACTION_ADMIN_IMPORT_USERGROUP)
    ack = await submit(vigil, modal, {"Usergroup ID": "@sre"})
    assert ack.payload is not None and "start with S" in ack.payload["errors"][ids.BLOCK_USERGROUP_ID]
    dms = len(dms_to(vigil.emu, ALICE))
    ack = await submit(vigil, modal, {"Usergroup ID": "S0NOSUCH"})
    assert await answered_later(vigil, ack, before=dms) == ":warning: Slack has no usergroup S0NOSUCH."

    modal = await open_modal(vigil, ids.ACTION_ADMIN_IMPORT_USERGROUP)
    vigil.emu.fail_next("usergroups.list", error="missing_scope")
    dms = len(dms_to(vigil.emu, ALICE))
    ack = await submit(vigil, modal, {"Usergroup ID": SRE})
    assert "(missing_scope)" in await answered_later(vigil, ack, before=dms)
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
        ARCHIVE: "NEVER",
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
    bad = {**answers, ARCHIVE: "a week", "P1 reminder (minutes)": "", "P4 reminder (minutes)": "3"}
    ack = await submit(vigil, modal, bad)
    assert ack.payload == {
        "response_action": "errors",
        "errors": {
            ids.BLOCK_ARCHIVE_DAYS: "Give a number of days from 0 to 365, or never.",
            ids.BLOCK_REMINDER_P1: "Give a number of minutes from 5 to 10080.",
            ids.BLOCK_REMINDER_P4: "Give a number of minutes from 5 to 10080, or leave it empty for no reminders.",
        },
    }
    ack = await submit(vigil, modal, {**answers, ARCHIVE: "3"})
    assert ack.payload is None
    async with vigil.container.sessions() as session:
        ws = await session.get(Workspace, vigil.team_id)
    assert ws is not None and ws.archive_grace_days == 3
    assert_views_within_limits(vigil.emu)


@pytest.mark.parametrize("typed", ["²", "2147483648", "99999999999999999999", "-1", "1e3", " 1 0 "])
async def test_settings_numbers_that_are_not_small_whole_numbers_are_answered_on_their_field(
    admin: Vigil, typed: str
) -> None:
    vigil = admin
    modal = await open_modal(vigil, ids.ACTION_ADMIN_EDIT_SETTINGS)
    before = await snapshot(vigil)
    ack = await submit(vigil, modal, {ARCHIVE: typed, "P1 reminder (minutes)": typed, "P5 reminder (minutes)": typed})
    assert ack.payload == {
        "response_action": "errors",
        "errors": {
            ids.BLOCK_ARCHIVE_DAYS: "Give a number of days from 0 to 365, or never.",
            ids.BLOCK_REMINDER_P1: "Give a number of minutes from 5 to 10080.",
            ids.BLOCK_REMINDER_P5: "Give a number of minutes from 5 to 10080, or leave it empty for no reminders.",
        },
    }
    assert vigil.emu.state.top_modal(ALICE) is not None  # the modal stays open for a fix
    assert await snapshot(vigil) == before
    assert failures(vigil, ALICE) == []


# ---------------------------------------------------------------- forged by a non-admin

# Per screen: what an admin could have typed in it (by label), and what the refusal names.
FILLS: dict[str, tuple[dict[str, Any], str]] = {
    "tags": ({"Announce incidents in": OPS, "Deploy-freeze warnings in": OPS}, DOING_TAGS),
    "sos_target": ({"Name": "Bob's target", "Channel": OPS}, DOING_SOS),
    "component": ({"Name": "Bob's component"}, DOING_COMPONENTS),
    "usergroup": ({"Usergroup ID": DBA}, DOING_USERGROUPS),
    "settings": (
        {ARCHIVE: "never", "P1 reminder (minutes)": "5", "P2 reminder (minutes)": "5", "P3 reminder (minutes)": "5"},
        DOING_SETTINGS,
    ),
}


def test_every_screen_has_forgery_data() -> None:
    assert {screen.name for screen in SCREENS} == set(FILLS)


@pytest.mark.parametrize("screen", SCREENS, ids=lambda s: s.name)
async def test_forged_admin_submission_by_a_non_admin_is_refused_and_changes_nothing(
    admin: Vigil, screen: Screen[Any]
) -> None:
    vigil = admin
    answers, doing = FILLS[screen.name]
    # Alice opens the modal and fills it in; Bob sends the very same submission as his own.
    modal = await open_modal(vigil, screen.openers[0].action_id)
    assert modal.callback_id == screen.callback_id
    values = vigil.emu.form_values(ALICE, answers, view_id=modal.id)
    before = await snapshot(vigil)
    ack = await vigil.emu.send_view_submission(
        user_id=BOB, callback_id=screen.callback_id, values=values, private_metadata=modal.data["private_metadata"]
    )
    assert ack.acked and ack.payload is None  # the ack does not wait for the admin check
    await vigil.settle()
    assert dms_to(vigil.emu, BOB) == [f":warning: {admin_refusal(doing)}"]
    assert await snapshot(vigil) == before
    assert vigil.emu.state.home_view(BOB) is None  # nothing was republished for Bob

    # The same values from Alice are accepted: the refusal was about who, not what.
    ack = await vigil.emu.send_view_submission(user_id=ALICE, view_id=modal.id, values=values)
    assert ack.payload is None, ack.payload
    await vigil.settle()
    assert await snapshot(vigil) != before
    assert dms_to(vigil.emu, ALICE) == []


async def test_forged_removal_of_an_existing_item_by_a_non_admin_changes_nothing(admin: Vigil) -> None:
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
        assert ack.acked
    await vigil.settle()
    assert await snapshot(vigil) == before
    assert [t for t in dms_to(vigil.emu, BOB) if "Only workspace admins can" in t] == [
        f":warning: {admin_refusal(DOING_SOS)}",
        f":warning: {admin_refusal(DOING_COMPONENTS)}",
    ]


# Every button of every screen (an edit button carries an id), and the usergroup menu.
ADMIN_BUTTONS: list[tuple[str, str | None]] = [
    (opener.action_id, "1" if opener.item else None) for screen in SCREENS for opener in screen.openers
] + [(ids.ACTION_ADMIN_USERGROUP_MENU, f"remove:{SRE}"), (ids.ACTION_ADMIN_USERGROUP_MENU, f"refresh:{SRE}")]


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
            if action_id == ids.ACTION_ADMIN_USERGROUP_MENU
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


# ---------------------------------------------------------------- two admins at once


async def both(vigil: Vigil, opener: str, answers: dict[str, dict[str, Any]]) -> list[AckResult]:
    """Each admin opens the same screen, fills it in, and they submit at the same moment."""
    modals = {user: await open_modal(vigil, opener, user=user) for user in answers}
    values = {user: vigil.emu.form_values(user, answers[user], view_id=modals[user].id) for user in answers}
    acks = await asyncio.gather(
        *(vigil.emu.send_view_submission(user_id=user, view_id=modals[user].id, values=values[user]) for user in answers)
    )
    await vigil.settle()
    assert all(ack.acked and ack.payload is None for ack in acks), acks
    return list(acks)


async def test_admins_saving_at_once_get_answers_not_crashes(admin: Vigil) -> None:
    vigil = admin
    vigil.emu.add_user(ERIN, "erin", real_name="Erin Admin", is_admin=True)
    await open_home(vigil, ERIN)

    # The same usergroup imported twice at once: one row.
    await both(vigil, ids.ACTION_ADMIN_IMPORT_USERGROUP, {ALICE: {"Usergroup ID": DBA}, ERIN: {"Usergroup ID": DBA}})
    async with vigil.container.sessions() as session:
        assert [g.id for g in await session.scalars(select(Usergroup))] == [DBA]

    # A component of the same name added twice at once: one of them, the other admin told why.
    await both(vigil, ids.ACTION_ADMIN_ADD_COMPONENT, {ALICE: {"Name": "Search"}, ERIN: {"Name": "search"}})
    async with vigil.container.sessions() as session:
        assert [c.name.lower() for c in await session.scalars(select(Component))] == ["search"]
    told = [t for user in (ALICE, ERIN) for t in dms_to(vigil.emu, user)]
    assert len(told) == 1 and ("There is already a component called" in told[0] or "same moment" in told[0]), told

    # SOS targets of different names: both saved.
    await both(
        vigil,
        ids.ACTION_ADMIN_ADD_SOS,
        {ALICE: {"Name": "DB", "Channel": OPS}, ERIN: {"Name": "Network", "Channel": GENERAL}},
    )
    assert sorted(t.name for t in await vigil.container.admin.sos_targets(team_id=vigil.team_id)) == ["DB", "Network"]

    # The same tag moved to two places at once: one wins, the other admin is told it moved.
    await both(
        vigil, ids.ACTION_ADMIN_EDIT_TAGS, {ALICE: {"Announce incidents in": OPS}, ERIN: {"Announce incidents in": GENERAL}}
    )
    async with vigil.container.sessions() as session:
        row = await session.get(ConversationTag, (vigil.team_id, TECH_INCIDENTS))
    assert row is not None and row.conversation_id in (OPS, GENERAL)
    loser = ERIN if row.set_by == ALICE else ALICE
    assert MOVED_MEANWHILE in dms_to(vigil.emu, loser)[-1]

    # Settings saved twice at once: one of the two, whole.
    await both(
        vigil,
        ids.ACTION_ADMIN_EDIT_SETTINGS,
        {ALICE: {ARCHIVE: "3", "P1 reminder (minutes)": "10"}, ERIN: {ARCHIVE: "never", "P1 reminder (minutes)": "20"}},
    )
    async with vigil.container.sessions() as session:
        ws = await session.get(Workspace, vigil.team_id)
    assert ws is not None and (ws.archive_grace_days, ws.reminder_minutes["P1"]) in ((3, 10), (None, 20))
    assert failures(vigil, ALICE, ERIN) == []
