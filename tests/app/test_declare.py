"""Declaring an incident through Slack: the modal, the channel, invites, the pinned opening message, announcements."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot import slack_ids as ids
from bot.emulator import SlackEmulator
from bot.incidents.channel_names import channel_name
from bot.incidents.states import Severity
from bot.incidents.text import clean_line
from bot.people import COMMANDER_REFUSAL
from db.incidents import timeline_of
from db.models import Component, Incident, Integration, Usergroup
from db.tags import INVITED_FOR_ALL_PUBLIC_P1, IT_DEPLOY, set_usergroup_tag
from tests.app.conftest import ALICE, BOB, DAVE, GENERAL, INCIDENTS_CHANNEL, SRE, StartVigil, Vigil
from tests.mrkdwn import assert_escaped, mrkdwn_texts


def declare_values(
    title: str, severity: str = "P2", *, description: str = "", component: int | None = None, private: bool = False
) -> dict[str, Any]:
    values: dict[str, Any] = {
        ids.BLOCK_TITLE: {ids.ACTION_TITLE: {"type": "plain_text_input", "value": title}},
        ids.BLOCK_SEVERITY: {
            ids.ACTION_SEVERITY: {
                "type": "static_select",
                "selected_option": {"text": {"type": "plain_text", "text": severity}, "value": severity}
                if severity
                else None,
            }
        },
        ids.BLOCK_DESCRIPTION: {ids.ACTION_DESCRIPTION: {"type": "plain_text_input", "value": description or None}},
        ids.BLOCK_PRIVATE: {
            ids.ACTION_PRIVATE: {
                "type": "checkboxes",
                "selected_options": [{"text": {"type": "plain_text", "text": "Private"}, "value": "private"}]
                if private
                else [],
            }
        },
    }
    if component is not None:
        values[ids.BLOCK_COMPONENT] = {
            ids.ACTION_COMPONENT: {
                "type": "static_select",
                "selected_option": {"text": {"type": "plain_text", "text": "c"}, "value": str(component)},
            }
        }
    return values


async def declare(
    vigil: Vigil,
    title: str,
    severity: str = "P2",
    *,
    user: str = ALICE,
    description: str = "",
    component: int | None = None,
    private: bool = False,
    channel: str = GENERAL,
) -> Incident:
    """Declare as a person does: `/incident open`, fill the modal Slack shows by its labels, submit; then wait until
    the incident's Slack surfaces are built. A renamed block or action id fails here."""
    before = {i.number for i in await vigil.incidents()}
    opened = await vigil.command("open", user=user, channel=channel)
    assert opened.acked
    modal = await vigil.emu.wait_until(lambda: vigil.emu.state.top_modal(user), what="the declare modal")
    assert modal.callback_id == ids.VIEW_DECLARE
    answers: dict[str, Any] = {"Title": title, "Severity": severity}
    if description:
        answers["Description"] = description
    if component is not None:
        answers["Component"] = str(component)
    if private:
        answers["Visibility"] = ["private"]
    values = vigil.emu.form_values(user, answers, view_id=modal.id)
    ack = await vigil.emu.send_view_submission(user_id=user, view_id=modal.id, values=values)
    assert ack.acked and ack.payload is None and not ack.limit_errors, (ack.payload, ack.limit_errors)

    await vigil.settle()
    [new] = [inc for inc in await vigil.incidents() if inc.number not in before]
    return new


def calls(emu: SlackEmulator, method: str, **match: Any) -> list[Any]:
    return [c for c in emu.calls_to(method) if all(str(c.args.get(k)) == str(v) for k, v in match.items())]


async def test_open_shows_the_prefilled_modal(vigil: Vigil) -> None:
    ack = await vigil.command("open p1 Checkout returns 500s", channel=GENERAL)
    assert ack.acked and ack.payload is None
    await vigil.emu.wait_for_call("views.open")
    modal = vigil.emu.state.top_modal(ALICE)
    assert modal is not None and modal.callback_id == ids.VIEW_DECLARE
    blocks = {b["block_id"]: b for b in modal.data["blocks"] if b["type"] == "input"}
    assert blocks[ids.BLOCK_TITLE]["element"]["initial_value"] == "Checkout returns 500s"
    assert blocks[ids.BLOCK_SEVERITY]["element"]["initial_option"]["value"] == "P1"
    assert ids.BLOCK_COMPONENT not in blocks  # no components configured yet


async def test_declaration_builds_channel_invites_topic_pinned_message_and_announcement(vigil: Vigil) -> None:
    await vigil.command("open P2 Checkout down", channel=GENERAL)
    await vigil.emu.wait_for_call("views.open")
    ack = await vigil.emu.send_view_submission(
        user_id=ALICE, values=declare_values("Checkout down", "P2", description="5xx on /pay")
    )
    assert ack.acked and ack.payload is None
    assert vigil.emu.state.top_modal(ALICE) is None  # the modal closed
    await vigil.settle()

    [incident] = await vigil.incidents()
    assert (incident.number, incident.severity, incident.status, incident.commander_id) == (1, "P2", "open", ALICE)
    channel = vigil.emu.state.channel_by_name("inc-1-checkout-down")
    assert channel is not None and not channel.is_private
    assert incident.channel_id == channel.id and incident.channel_name == "inc-1-checkout-down"
    assert ALICE in channel.members
    assert channel.topic == "🟠 P2 · Open · IC @alice"
    [invite] = calls(vigil.emu, "conversations.invite", channel=channel.id)
    assert str(invite.args["force"]) in ("1", "true", "True")

    opening = vigil.emu.state.find_message(channel.id, incident.opening_message_ts or "")
    assert opening is not None and vigil.emu.state.is_pinned(channel.id, opening.ts)
    actions = next(b for b in opening.blocks or [] if b["type"] == "actions")
    assert [e["action_id"] for e in actions["elements"]] == [ids.ACTION_ACK, ids.ACTION_PAGE, ids.ACTION_UPDATE]
    assert "5xx on /pay" in str(opening.blocks)

    assert incident.announcement_channel_id == INCIDENTS_CHANNEL
    announcement = vigil.emu.state.find_message(INCIDENTS_CHANNEL, incident.announcement_ts or "")
    assert announcement is not None and f"<#{channel.id}>" in str(announcement.blocks)
    [confirm] = vigil.emu.state.ephemerals_for(ALICE, GENERAL)
    assert f"<#{channel.id}>" in confirm.text
    buttons = [e["action_id"] for b in confirm.blocks or [] if b["type"] == "actions" for e in b["elements"]]
    assert buttons == [ids.ACTION_PAGE, ids.ACTION_HANDOFF]

    async with vigil.container.sessions() as session:
        row = await session.get(Incident, incident.id)
        assert row is not None
        [opened] = await timeline_of(session, row)
    assert (opened.kind, opened.actor_id, opened.source) == ("opened", ALICE, "slack")


async def test_invalid_submission_answers_on_the_fields_and_changes_nothing(vigil: Vigil) -> None:
    ack = await vigil.emu.send_view_submission(user_id=BOB, callback_id=ids.VIEW_DECLARE, values=declare_values("   ", ""))
    assert ack.payload == {
        "response_action": "errors",
        "errors": {
            ids.BLOCK_TITLE: "Give the incident a title.",
            ids.BLOCK_SEVERITY: "Pick a severity, P1 (critical) to P5.",
        },
    }
    too_long = await vigil.emu.send_view_submission(
        user_id=BOB, callback_id=ids.VIEW_DECLARE, values=declare_values("x" * 151)
    )
    assert too_long.payload and ids.BLOCK_TITLE in too_long.payload["errors"]
    gone = await vigil.emu.send_view_submission(
        user_id=BOB, callback_id=ids.VIEW_DECLARE, values=declare_values("db", component=999)
    )
    # Whether the component still exists needs the database, which the ack never waits on: the form closes and the
    # declarer is told privately.
    assert gone.acked and gone.payload is None
    await vigil.settle()
    told = [c for c in vigil.emu.calls_to("chat.postMessage") if c.args.get("channel") == BOB]
    assert told and "That component no longer exists" in told[-1].args["text"]
    assert await vigil.incidents() == []
    assert vigil.emu.calls_to("conversations.create") == []


async def test_component_usergroups_p1_group_and_deploy_warning(vigil: Vigil) -> None:
    vigil.emu.add_usergroup("S0DB", "dba", users=[BOB])
    async with vigil.container.sessions() as session, session.begin():
        session.add(Component(team_id=vigil.team_id, name="Payments", usergroup_ids=["S0DB"]))
        session.add(Usergroup(team_id=vigil.team_id, id=SRE, handle="sre", user_ids=[ALICE, DAVE]))
        await set_usergroup_tag(session, team_id=vigil.team_id, tag=INVITED_FOR_ALL_PUBLIC_P1, usergroup_id=SRE, by=None)
    await vigil.tag(IT_DEPLOY, GENERAL)
    async with vigil.container.sessions() as session:
        component = (await session.scalars(select(Component))).one()

    incident = await declare(vigil, "Payments API down", "P1", user=BOB, component=component.id)
    channel = vigil.emu.state.channels[incident.channel_id or ""]
    assert {ALICE, BOB, DAVE} <= set(channel.members)
    # the never-synced component group was read from Slack; the synced P1 group from the database
    assert calls(vigil.emu, "usergroups.users.list", usergroup="S0DB")
    assert not calls(vigil.emu, "usergroups.users.list", usergroup=SRE)
    [warning] = [m for m in vigil.emu.state.history(GENERAL) if "Deploy freeze" in str(m.blocks)]
    assert f"<#{channel.id}>" in str(warning.blocks)

    p2 = await declare(vigil, "Payments slow", "P2", user=BOB, component=component.id)
    p2_channel = vigil.emu.state.channels[p2.channel_id or ""]
    assert DAVE not in p2_channel.members  # the P1 group is for P1s only
    assert len([m for m in vigil.emu.state.history(GENERAL) if "Deploy freeze" in str(m.blocks)]) == 1


async def test_private_incident_gets_a_private_channel_and_no_announcement(vigil: Vigil) -> None:
    await vigil.tag(IT_DEPLOY, GENERAL)
    incident = await declare(vigil, "Security: leaked key", "P1", private=True)
    channel = vigil.emu.state.channels[incident.channel_id or ""]
    assert channel.is_private
    assert incident.announcement_ts is None
    assert vigil.emu.state.history(INCIDENTS_CHANNEL) == []
    assert not [m for m in vigil.emu.state.history(GENERAL) if "Deploy freeze" in str(m.blocks)]


async def test_p4_is_not_announced(vigil: Vigil) -> None:
    incident = await declare(vigil, "Typo on the status page", "P4")
    assert incident.channel_id and incident.announcement_ts is None


async def test_name_taken_gets_a_numbered_suffix(vigil: Vigil) -> None:
    vigil.emu.add_channel("inc-1-db-down", members=[BOB])  # someone else's channels
    vigil.emu.add_channel("inc-1-db-down-2", members=[BOB])
    incident = await declare(vigil, "DB down", "P3")
    assert incident.channel_name == "inc-1-db-down-3"
    assert vigil.emu.state.channels[incident.channel_id or ""].name == "inc-1-db-down-3"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title=st.text(min_size=1, max_size=200).filter(clean_line))
async def test_channel_names_for_any_title(vigil: Vigil, title: str) -> None:
    incident = await declare(vigil, title, "P3")
    name = vigil.emu.state.channels[incident.channel_id or ""].name
    assert re.fullmatch(r"inc-\d+-[a-z0-9][a-z0-9-]*", name), name
    assert len(name) <= 80 - len("-closed") - len("-99")
    assert name == channel_name(incident.number, clean_line(title))
    assert incident.title == clean_line(title)


async def test_dedup_key_returns_the_active_incident_until_it_is_resolved(vigil: Vigil) -> None:
    service = vigil.container.incidents
    first = await service.declare(
        team_id=vigil.team_id,
        reporter_id=ALICE,
        title="CPU high",
        severity=Severity.P3,
        dedup_key="alert-1",
        source="webhook:webhook",
    )
    again = await service.declare(
        team_id=vigil.team_id,
        reporter_id=ALICE,
        title="CPU high",
        severity=Severity.P3,
        dedup_key="alert-1",
        source="webhook:webhook",
    )
    assert first.created and not again.created and again.incident.id == first.incident.id
    assert len(vigil.emu.calls_to("conversations.create")) == 1
    async with vigil.container.sessions() as session, session.begin():
        row = await session.get(Incident, first.incident.id)
        assert row is not None
        row.status = "resolved"
    third = await service.declare(
        team_id=vigil.team_id,
        reporter_id=ALICE,
        title="CPU high",
        severity=Severity.P3,
        dedup_key="alert-1",
        source="webhook:webhook",
    )
    assert third.created and third.incident.number == 2


# ---------------------------------------------------------------- what the form says, and its Commander field


def modal_texts(modal: Any) -> str:
    return "\n".join(mrkdwn_texts(modal.data["blocks"]))


async def test_the_form_says_what_declaring_will_do(vigil: Vigil) -> None:
    await vigil.tag(IT_DEPLOY, GENERAL)
    async with vigil.container.sessions() as session, session.begin():
        session.add(Usergroup(team_id=vigil.team_id, id=SRE, handle="sre", user_ids=[ALICE, DAVE]))
        await set_usergroup_tag(session, team_id=vigil.team_id, tag=INVITED_FOR_ALL_PUBLIC_P1, usergroup_id=SRE, by=None)
        session.add(
            Integration(id="pd1", team_id=vigil.team_id, kind="pagerduty", name="pd", config={"severity_threshold": "P2"})
        )
    await vigil.command("open", channel=GENERAL)
    modal = await vigil.emu.wait_until(lambda: vigil.emu.state.top_modal(ALICE), what="the declare modal")
    said = modal_texts(modal)
    assert "invites you, the commander and the component's usergroups, and the component's PagerDuty on-call" in said
    assert (
        f"*P1* pages on-call through PagerDuty · invites <!subteam^{SRE}> · announced in <#{INCIDENTS_CHANNEL}> · "
        f"deploy-freeze warning in <#{GENERAL}>\n"
        f"*P2* pages on-call through PagerDuty · announced in <#{INCIDENTS_CHANNEL}>\n"
        f"*P3* announced in <#{INCIDENTS_CHANNEL}>\n"
        "*P4-P5* its channel only: no page, no announcement"
    ) in said
    assert "A private incident gets a private channel, invites no on-call, and is never announced." in said
    assert_escaped(*mrkdwn_texts(modal.data))
    labels = [b["label"]["text"] for b in modal.data["blocks"] if b["type"] == "input"]
    assert labels == ["Title", "Severity", "Commander", "Description", "Visibility"]  # no components yet


async def test_with_nothing_set_up_the_form_says_nothing_is_announced_or_paged(start_vigil: StartVigil) -> None:
    vigil = await start_vigil()  # no announcement channel tagged
    await vigil.command("open", channel=GENERAL)
    modal = await vigil.emu.wait_until(lambda: vigil.emu.state.top_modal(ALICE), what="the declare modal")
    said = modal_texts(modal)
    assert "*P1-P5* its channel only: no page, no announcement" in said
    assert "No channel is set for announcements yet, so nothing is announced" in said
    assert "PagerDuty" not in said


async def pick(vigil: Vigil, modal: Any, user_id: str, *, by: str = ALICE) -> None:
    """Pick someone in the Commander select: the input dispatches the choice to Vigil, as Slack does."""
    ack = await vigil.emu.send_block_action(
        user_id=by, action_id=ids.ACTION_COMMANDER, view_id=modal.id, selected={"selected_user": user_id}
    )
    assert ack.acked
    await vigil.settle()


async def test_the_commander_and_component_picked_in_the_form_are_the_incidents(vigil: Vigil) -> None:
    vigil.emu.add_usergroup("S0DB", "dba", users=[BOB])
    async with vigil.container.sessions() as session, session.begin():
        session.add(Component(team_id=vigil.team_id, name="Payments", usergroup_ids=["S0DB"]))
    await vigil.command("open P2 Payments slow", channel=GENERAL)
    modal = await vigil.emu.wait_until(lambda: vigil.emu.state.top_modal(ALICE), what="the declare modal")
    blocks = {b.get("block_id"): b for b in modal.data["blocks"]}
    assert blocks[ids.BLOCK_COMMANDER]["element"]["type"] == "users_select" and blocks[ids.BLOCK_COMMANDER]["optional"]
    assert blocks[ids.BLOCK_COMPONENT]["optional"]
    await pick(vigil, modal, DAVE)
    values = vigil.emu.form_values(ALICE, {"Commander": DAVE, "Component": "Payments"}, view_id=modal.id)
    ack = await vigil.emu.send_view_submission(user_id=ALICE, view_id=modal.id, values=values)
    assert ack.acked and ack.payload is None
    await vigil.settle()
    [incident] = await vigil.incidents()
    assert (incident.reporter_id, incident.commander_id, incident.title) == (ALICE, DAVE, "Payments slow")
    assert incident.component_id is not None
    members = vigil.emu.state.channels[incident.channel_id or ""].members
    assert {ALICE, DAVE, BOB} <= set(members)  # reporter, commander, the component's usergroup


async def test_no_commander_picked_means_the_declarer_leads(vigil: Vigil) -> None:
    incident = await declare(vigil, "Nobody picked", "P3", user=BOB)
    assert incident.commander_id == BOB


@pytest.mark.parametrize("kind", ["bot", "deactivated"])
async def test_a_commander_who_is_not_a_person_is_refused_under_the_field(vigil: Vigil, kind: str) -> None:
    vigil.emu.add_user("U0ROBO", "robo", is_bot=kind == "bot", deleted=kind == "deactivated")
    await vigil.command("open P2 Robots", channel=GENERAL)
    modal = await vigil.emu.wait_until(lambda: vigil.emu.state.top_modal(ALICE), what="the declare modal")
    await pick(vigil, modal, "U0ROBO")
    lookups = len(vigil.emu.calls_to("users.info"))
    values = vigil.emu.form_values(ALICE, {"Commander": "U0ROBO"}, view_id=modal.id)
    ack = await vigil.emu.send_view_submission(user_id=ALICE, view_id=modal.id, values=values)
    assert ack.payload == {"response_action": "errors", "errors": {ids.BLOCK_COMMANDER: COMMANDER_REFUSAL}}
    assert len(vigil.emu.calls_to("users.info")) == lookups  # the ack asked Slack nothing
    await vigil.settle()
    assert await vigil.incidents() == []
    # Picking a person instead declares it.
    await pick(vigil, modal, DAVE)
    values = vigil.emu.form_values(ALICE, {"Commander": DAVE}, view_id=modal.id)
    ack = await vigil.emu.send_view_submission(user_id=ALICE, view_id=modal.id, values=values)
    assert ack.payload is None
    await vigil.settle()
    [incident] = await vigil.incidents()
    assert incident.commander_id == DAVE


async def test_a_commander_not_looked_up_in_time_is_checked_after_the_ack(vigil: Vigil) -> None:
    """The pick's lookup never arrived (a lost action): the incident is declared all the same, led by the declarer,
    who is told why."""
    vigil.emu.add_user("U0ROBO", "robo", is_bot=True)
    await vigil.command("open P3 Robots again", channel=GENERAL)
    modal = await vigil.emu.wait_until(lambda: vigil.emu.state.top_modal(ALICE), what="the declare modal")
    values = vigil.emu.form_values(ALICE, {"Commander": "U0ROBO"}, view_id=modal.id)
    ack = await vigil.emu.send_view_submission(user_id=ALICE, view_id=modal.id, values=values)
    assert ack.acked and ack.payload is None
    await vigil.settle()
    [incident] = await vigil.incidents()
    assert incident.commander_id == ALICE
    told = [c.args["text"] for c in vigil.emu.calls_to("chat.postMessage") if c.args.get("channel") == ALICE]
    assert any(t.startswith(f":warning: <@U0ROBO> cannot lead INC-{incident.number}") for t in told), told
