"""Forged admin payloads, systematically: the set of admin-only doors is derived from the code (whatever
`listeners.admin` registers, plus the admin tabs of App Home), and every one of them is forged by a non-admin with a
payload built from what Vigil really published for an admin. Each is refused with a message naming what was
refused, no modal opens, nothing is republished, and no row of any table changes; the same submission from the
admin then goes through, so the refusal was about who sent it, not about a malformed payload.

Admin rights also end with the account or the role: a deactivated admin, an admin demoted in Slack since Vigil last
looked (the stored row says admin), and a member of VIGIL_ADMINS removed from it by a restart are all refused.

A forged `user.id` inside a payload whose real sender differs is not modelled: over Socket Mode every payload comes
from Slack on the app's own authenticated connection, and `user` is Slack's statement of who acted (the emulator
builds it from the acting user). What a non-admin can forge is the rest of the payload, which is what is tested.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import select

import listeners as all_listeners
from bot import slack_ids as ids
from bot.admin.forms import ComponentForm, SosTargetForm, TagsForm, UsergroupForm
from bot.blocks.home import ADMIN_TABS, TABS
from bot.blocks.jobs import job_block
from bot.clock import FrozenClock
from bot.directory import FRESH_FOR
from bot.emulator.state import ViewRecord
from db.models import Base, Delivery, InboundDelivery
from db.tags import TECH_INCIDENTS
from integrations.service import IntegrationInput
from listeners import admin as admin_listeners
from tests.app.conftest import (
    ALICE,
    BOB,
    DAVE,
    GENERAL,
    INCIDENTS_CHANNEL,
    SRE,
    StartVigil,
    Vigil,
)
from tests.app.test_home import click, dms_to, open_home

OWEN = "U0OWEN"  # a workspace owner: every admin button is on his Home, Rotate included
ERIN = "U0ERIN"  # an admin demoted in Slack after Vigil last looked
FRANK = "U0FRANK"  # an admin whose account is deactivated
OPS = "C0OPS"
DBA = "S0DBA"
ARCHIVE = "Archive closed incident channels after (days)"
REFUSED = "Only workspace admins can"
HOOK_URL = "https://hooks.invalid/vigil"
VIEW_CALLS = ("views.open", "views.push", "views.update", "views.publish")


# ---------------------------------------------------------------- the admin doors, from the code


class Recorder:
    """Stands in for the app's registry: records what a listener module registers, and nothing else."""

    def __init__(self) -> None:
        self.actions: set[str] = set()
        self.views: set[str] = set()

    def action(self, action_id: str) -> Any:
        self.actions.add(action_id)
        return lambda func: func

    def view(self, callback_id: str) -> Any:
        self.views.add(callback_id)
        return lambda func: func

    def event(self, event_type: str) -> Any:
        return lambda func: func


def admin_doors() -> tuple[frozenset[str], frozenset[str]]:
    """(action_ids, callback_ids) only admins may use: every listener of `listeners.admin` (the back-office) and
    the tab buttons of App Home's admin tabs (listeners/home.py; HomePublisher.show refuses them to others)."""
    recorder = Recorder()
    admin_listeners.register(recorder)
    tabs = {TABS[tab][1] for tab in ADMIN_TABS}
    return frozenset(recorder.actions | tabs), frozenset(recorder.views)


ADMIN_ACTIONS, ADMIN_VIEWS = admin_doors()

# Per admin modal: the button that opens it (its value taken from the admin's Home), and what an admin types in it.
VIEW_FORGERIES: dict[str, tuple[str, dict[str, Any]]] = {
    ids.VIEW_ADMIN_TAGS: (ids.ACTION_ADMIN_EDIT_TAGS, {"Announce incidents in": OPS}),
    ids.VIEW_ADMIN_SOS: (ids.ACTION_ADMIN_EDIT_SOS, {"Name": "Database help", "Channel": GENERAL}),
    ids.VIEW_ADMIN_COMPONENT: (ids.ACTION_ADMIN_EDIT_COMPONENT, {"Name": "Search API"}),
    ids.VIEW_ADMIN_USERGROUP: (ids.ACTION_ADMIN_IMPORT_USERGROUP, {"Usergroup ID": DBA}),
    ids.VIEW_ADMIN_SETTINGS: (ids.ACTION_ADMIN_EDIT_SETTINGS, {ARCHIVE: "never"}),
    ids.VIEW_ADMIN_JOBS: (ids.ACTION_ADMIN_EDIT_JOBS, {job_block("send_reminders"): "15"}),
    ids.VIEW_ADMIN_INTEGRATION: (ids.ACTION_ADMIN_EDIT_INTEGRATION, {"Name": "renamed-hook"}),
}
# A read-only modal (the inbound log): it has no submit button and Vigil registers no handler for it.
NOT_SUBMITTABLE = {ids.VIEW_ADMIN_INBOUND_LOG}


def slack_id_constants(prefix: str) -> set[str]:
    return {value for name, value in vars(ids).items() if name.startswith(prefix) and isinstance(value, str)}


def test_the_forged_doors_are_every_admin_door_the_code_registers() -> None:
    """A new admin button or form added later without a forgery here fails this test."""
    assert set(VIEW_FORGERIES) == ADMIN_VIEWS
    assert {ids.ACTION_HOME_TAB_OVERVIEW, ids.ACTION_HOME_OPEN_INCIDENT, ids.ACTION_HOME_DECLARE}.isdisjoint(ADMIN_ACTIONS)
    # Every id named as an admin one in bot/slack_ids.py is behind one of these doors (or cannot be submitted).
    assert slack_id_constants("ACTION_ADMIN_") <= ADMIN_ACTIONS
    assert slack_id_constants("VIEW_ADMIN_") == ADMIN_VIEWS | NOT_SUBMITTABLE
    everything = Recorder()
    all_listeners.register(cast(Any, everything))  # a stand-in for the app's registry
    assert everything.actions >= ADMIN_ACTIONS and NOT_SUBMITTABLE.isdisjoint(everything.views)


# ---------------------------------------------------------------- helpers


async def every_row(vigil: Vigil, *, but: tuple[str, ...] = ()) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (`but` those named), to prove a refused payload changed nothing at all."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    async with vigil.container.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name in but:
                continue
            rows = await conn.execute(select(table).order_by(*table.primary_key.columns))
            out[table.name] = [tuple(row) for row in rows]
    return out


def interactive(blocks: list[Any] | None) -> Iterator[dict[str, Any]]:
    """The buttons and menus of a view (inputs of a modal are not pressed, so not included)."""
    for block in blocks or []:
        for element in [*(block.get("elements") or []), block.get("accessory") or {}]:
            if isinstance(element, dict) and element.get("action_id"):
                yield element


def presses(element: dict[str, Any]) -> list[str | None]:
    """The values a person can send from an element: a button's value, each option of a menu."""
    if element.get("type") == "overflow":
        return [str(o["value"]) for o in element.get("options") or []]
    return [element.get("value")]


def view_calls(vigil: Vigil) -> int:
    return sum(len(vigil.emu.calls_to(method)) for method in VIEW_CALLS)


def admin_presses_on(view: ViewRecord) -> list[tuple[str, str | None]]:
    return [
        (e["action_id"], v) for e in interactive(view.data["blocks"]) if e["action_id"] in ADMIN_ACTIONS for v in presses(e)
    ]


async def back_office(launch: StartVigil) -> Vigil:
    """Vigil with something behind every admin button: tags, a usergroup, an SOS target, a component, an active
    and a disabled integration, a failed delivery and a failed inbound delivery; Owen (an owner) and Bob on Home."""
    keys = f"k1:{base64.b64encode(os.urandom(32)).decode()}"
    vigil = await launch(settings={"VIGIL_ENCRYPTION_KEYS": keys})
    emu, team = vigil.emu, vigil.team_id
    emu.add_user(OWEN, "owen", real_name="Owen Owner", is_owner=True)
    emu.add_channel("ops", members=[ALICE, BOB, OWEN], channel_id=OPS)
    emu.add_usergroup(DBA, "dba", name="Database admins", users=[BOB])
    await vigil.tag(TECH_INCIDENTS, INCIDENTS_CHANNEL)
    admin = vigil.container.admin
    await admin.import_usergroup(team_id=team, user_id=OWEN, form=UsergroupForm(usergroup_id=SRE))
    await admin.save_sos_target(team_id=team, user_id=OWEN, form=SosTargetForm(name="DB", conversation_id=OPS))
    await admin.save_component(team_id=team, user_id=OWEN, form=ComponentForm(name="Search"))
    await admin.save_tags(team_id=team, user_id=OWEN, form=TagsForm(conversations={TECH_INCIDENTS: INCIDENTS_CHANNEL}))
    service = vigil.container.integrations
    hook, spare = [
        (await service.add(team_id=team, user_id=None, kind="webhook", change=change)).integration.id
        for change in (
            IntegrationInput(name=name, settings={"url": HOOK_URL}, events=["incident.opened"])
            for name in ("hook", "spare-hook")
        )
    ]
    await service.set_active(team_id=team, user_id=None, ref=spare, active=False)
    await add_failures(vigil, hook)
    await open_home(vigil, OWEN)
    await open_home(vigil, BOB)
    return vigil


async def add_failures(vigil: Vigil, integration_id: str) -> None:
    """A failed delivery (Retry in the delivery log) and a failed inbound delivery (Retry in the inbound log), as the
    workers leave them."""
    now = vigil.container.clock.now()
    async with vigil.container.sessions() as session, session.begin():
        session.add(
            Delivery(
                delivery_id=str(uuid.uuid4()),
                team_id=vigil.team_id,
                integration_id=integration_id,
                event="incident.opened",
                occurred_at=now,
                status="failed",
                attempts=5,
                http_status=500,
                error="HTTP 500",
            )
        )
        session.add(
            InboundDelivery(
                team_id=vigil.team_id,
                integration_id=integration_id,
                kind="webhook",
                dedup_id="d1",
                received_at=now,
                verified=True,
                status="failed",
                http_status=202,
                outcome="failed",
                instructions=[],
            )
        )


async def owners_presses(vigil: Vigil) -> list[tuple[str, str | None]]:
    """Every admin button and menu option Vigil published for Owen: on each tab of his Home, and in an inbound log."""
    found: list[tuple[str, str | None]] = []
    for tab in sorted(TABS):
        await click(vigil, OWEN, TABS[tab][1], tab)
        home = vigil.emu.state.home_view(OWEN)
        assert home is not None
        found += admin_presses_on(home)
    log_button = next(value for action_id, value in found if action_id == ids.ACTION_ADMIN_INBOUND_LOG)
    await click(vigil, OWEN, ids.ACTION_ADMIN_INBOUND_LOG, log_button)
    modal = vigil.emu.state.top_modal(OWEN)
    assert modal is not None and modal.callback_id == ids.VIEW_ADMIN_INBOUND_LOG and not modal.data.get("submit")
    found += admin_presses_on(modal)
    await vigil.emu.send_view_closed(user_id=OWEN, view_id=modal.id)
    return list(dict.fromkeys(found))


async def press(vigil: Vigil, user: str, action_id: str, value: str | None) -> None:
    """A press from the user's Home; a menu option travels as Slack sends it (`selected_option`)."""
    home = vigil.emu.state.home_view(user)
    assert home is not None
    selected = None
    if action_id == ids.ACTION_ADMIN_USERGROUP_MENU:
        selected = {"selected_option": {"text": {"type": "plain_text", "text": str(value)}, "value": value}}
    ack = await vigil.emu.send_block_action(
        user_id=user, action_id=action_id, value=None if selected else value, selected=selected, view_id=home.id
    )
    assert ack.acked
    await vigil.settle()


async def opened_by(vigil: Vigil, user: str, action_id: str, value: str | None = None) -> ViewRecord | None:
    """Press a button on the user's Home; the modal it opened, if any."""
    opened = len(vigil.emu.calls_to("views.open"))
    await press(vigil, user, action_id, value)
    if len(vigil.emu.calls_to("views.open")) == opened:
        return None
    return vigil.emu.state.top_modal(user)


def refusals(vigil: Vigil, user: str) -> list[str]:
    return [t for t in dms_to(vigil.emu, user) if REFUSED in t]


# ---------------------------------------------------------------- forged buttons


async def test_every_admin_button_pressed_by_a_non_admin_is_refused_and_changes_nothing(
    start_vigil: StartVigil,
) -> None:
    vigil = await back_office(start_vigil)
    found = await owners_presses(vigil)
    assert {action_id for action_id, _ in found} == ADMIN_ACTIONS, "every admin door is on an admin's real surfaces"

    before, views, dms = await every_row(vigil), view_calls(vigil), len(dms_to(vigil.emu, BOB))
    for action_id, value in found:
        await press(vigil, BOB, action_id, value)
        told = dms_to(vigil.emu, BOB)[dms:]
        assert len(told) == 1 and told[0].startswith(f":warning: {REFUSED}"), (action_id, told)
        dms += 1
    assert view_calls(vigil) == views, "no modal opened and nothing republished for Bob"
    assert vigil.emu.state.modal_stack(BOB) == []
    assert await every_row(vigil) == before
    assert vigil.emu.protocol_errors == []


# ---------------------------------------------------------------- forged submissions


async def test_every_admin_form_submitted_by_a_non_admin_is_refused_and_changes_nothing(
    start_vigil: StartVigil,
) -> None:
    vigil = await back_office(start_vigil)
    buttons = dict(reversed(await owners_presses(vigil)))  # the first value Owen's Home shows for each button
    for callback_id, (opener, answers) in VIEW_FORGERIES.items():
        modal = await opened_by(vigil, OWEN, opener, buttons[opener])
        assert modal is not None and modal.callback_id == callback_id
        values = vigil.emu.form_values(OWEN, answers, view_id=modal.id)
        before, views, dms = await every_row(vigil), view_calls(vigil), len(dms_to(vigil.emu, BOB))

        ack = await vigil.emu.send_view_submission(
            user_id=BOB, callback_id=callback_id, values=values, private_metadata=modal.data.get("private_metadata", "")
        )
        assert ack.acked and ack.payload is None, (callback_id, ack.payload)  # well-formed: past the field checks
        await vigil.settle()
        assert dms_to(vigil.emu, BOB)[dms:] == [refusal_of(vigil, BOB, callback_id)]
        assert view_calls(vigil) == views, callback_id
        assert await every_row(vigil) == before, callback_id

        # The very same values from Owen are saved: the refusal was about who sent them.
        ack = await vigil.emu.send_view_submission(user_id=OWEN, view_id=modal.id, values=values)
        assert ack.acked and ack.payload is None, (callback_id, ack.payload)
        await vigil.settle()
        assert await every_row(vigil) != before, callback_id
    assert refusals(vigil, OWEN) == []


def refusal_of(vigil: Vigil, user: str, callback_id: str) -> str:
    """The newest DM to the user, checked to be an admin refusal (what it names differs per form)."""
    told = dms_to(vigil.emu, user)[-1]
    assert told.startswith(f":warning: {REFUSED}"), (callback_id, told)
    return told


# ---------------------------------------------------------------- rights that ended


# What looking people up refreshes (users.info answers, Home events handled): not what an admin action changes.
LOOKED_UP = ("slack_user", "processed_event")


async def test_admin_rights_end_with_the_account_or_the_role(
    start_vigil: StartVigil,
) -> None:
    clock = FrozenClock()
    vigil = await start_vigil(clock=clock, settings={"VIGIL_ADMINS": DAVE})
    emu = vigil.emu
    emu.add_user(ERIN, "erin", real_name="Erin Admin", is_admin=True)
    emu.add_user(FRANK, "frank", real_name="Frank Leaving", is_admin=True)
    emu.add_channel("ops", members=[ALICE, BOB], channel_id=OPS)
    forms: dict[str, ViewRecord] = {}
    for user in (ERIN, FRANK, DAVE):  # each opens the tags form while an admin
        await open_home(vigil, user)
        modal = await opened_by(vigil, user, ids.ACTION_ADMIN_EDIT_TAGS)
        assert modal is not None
        forms[user] = modal
    before = await every_row(vigil, but=LOOKED_UP)

    # Then Erin is demoted in Slack and Frank's account is deactivated (Slack still lists him as an admin). Once
    # their stored rows are older than Vigil trusts, Slack's answer counts: the forms they have open and the button
    # on their Home are refused.
    emu.state.users[ERIN].is_admin = False
    emu.state.users[FRANK].deleted = True
    clock.advance(seconds=(FRESH_FOR + timedelta(minutes=1)).total_seconds())
    for user in (ERIN, FRANK):
        await submit_tags(vigil, user, forms[user])
        assert await opened_by(vigil, user, ids.ACTION_ADMIN_EDIT_TAGS) is None
        assert len(refusals(vigil, user)) == 2, user
    assert await every_row(vigil, but=LOOKED_UP) == before

    # Dave is taken out of VIGIL_ADMINS by a restart: the form he opened before is refused, and so is the button.
    await vigil.runtime.stop()
    vigil = await start_vigil(clock=clock)
    await submit_tags(vigil, DAVE, forms[DAVE])
    assert await opened_by(vigil, DAVE, ids.ACTION_ADMIN_EDIT_TAGS) is None
    assert len(refusals(vigil, DAVE)) == 2
    assert await every_row(vigil, but=LOOKED_UP) == before


async def submit_tags(vigil: Vigil, user: str, modal: ViewRecord) -> None:
    """Submit the tags form the user has open, moving the announcements to #ops."""
    values = vigil.emu.form_values(user, {"Announce incidents in": OPS}, view_id=modal.id)
    ack = await vigil.emu.send_view_submission(user_id=user, view_id=modal.id, values=values)
    assert ack.acked and ack.payload is None
    await vigil.settle()
