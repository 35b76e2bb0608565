"""Cross-workspace rows are unreachable. Vigil serves one workspace per install, but every row carries its
workspace's id; here a second workspace ("Zebra", its strings all marked `zebra`) has its rows in the same database,
written through db/ (and the integration service, as `vigil integrations add` would): users, tags, a usergroup, a
component, an SOS target, incidents numbered 1 to 3 (INC-1 overlapping the served workspace's INC-1, INC-2 in a channel
whose id is also one of ours), their timelines, a linked account, an integration, a failed delivery, a failed
inbound delivery and a failed Slack step.

Through every door of the served workspace — `/incident` naming Zebra's numbers, buttons and forms carrying its
incident numbers, component, SOS target, usergroup, integration, delivery and inbound ids, App Home, the CLI and the
sidecar's webhooks — Zebra's rows stay as they were, the person is told "not found", and nothing Vigil sends to the
served workspace's Slack ever carries a Zebra string. A webhook to Zebra's integration naming INC-1 changes Zebra's
INC-1, never ours; one integration's secret never verifies another's hook.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from click.testing import CliRunner, Result
from sqlalchemy import select

from bot import slack_ids as ids
from bot.blocks.home import TABS
from bot.cli.main import cli
from bot.emulator.records import AckResult
from bot.incidents.states import Severity
from bot.incidents.steps import UPDATE_OPENING
from db.components import save_component
from db.identities import MANUAL, link_identity
from db.incidents import add_timeline, allocate_number
from db.members import add_member
from db.models import Base, Delivery, InboundDelivery, Incident, SurfaceStep
from db.sos import save_sos_target
from db.tags import DEV_FIREFIGHTER, INVITED_FOR_ALL_PUBLIC_P1, TECH_INCIDENTS, set_conversation_tag, set_usergroup_tag
from db.usergroups import upsert_usergroup
from db.users import upsert_user
from db.workspaces import record_workspace
from integrations.service import IntegrationInput
from tests.app.conftest import (
    ALICE,
    BOB,
    GENERAL,
    INCIDENTS_CHANNEL,
    StartVigil,
    Vigil,
)
from tests.app.test_home import click, dms_to, open_home

ZEBRA = "T0ZEBRA"
MARK = "zebra"  # in every string of Zebra's rows (and its team id): it must never reach our Slack
OWEN = "U0OWEN"  # our workspace owner (every admin button, Rotate included)
ZGROUP = "S0ZEBRA"
HOOK_URL = "https://hooks.invalid/vigil"
# What a person is told when a door names something that is not ours.
NOT_OURS = (
    "not found",
    "no longer exists",
    "no longer in the log",
    "not an incident channel",
    "not imported",
    "No delivery",
    "No inbound delivery",
    "No integration",
)


@dataclass
class Zebra:
    """The other workspace's rows, as the test wrote them."""

    component_id: int = 0
    sos_target_id: int = 0
    incident_ids: dict[int, int] = field(default_factory=dict)  # number -> id
    integration_id: str = ""
    inbound_secret: str = ""
    delivery_id: str = ""
    inbound_entry_id: int = 0


@dataclass
class Ours:
    """What the served workspace has: INC-1, and an integration with its inbound secret."""

    incident: Incident
    integration_id: str
    inbound_secret: str


# ---------------------------------------------------------------- the two workspaces


async def start(launch: StartVigil) -> tuple[Vigil, Ours, Zebra, str]:
    """Our Vigil (with INC-1, a component and an integration) and Zebra's rows beside ours; the key ring too."""
    keys = f"k1:{base64.b64encode(os.urandom(32)).decode()}"
    vigil = await launch(settings={"VIGIL_ENCRYPTION_KEYS": keys})
    vigil.emu.add_user(OWEN, "owen", real_name="Owen Owner", is_owner=True)
    await vigil.tag(TECH_INCIDENTS, INCIDENTS_CHANNEL)
    team = vigil.team_id
    incident = (
        await vigil.container.incidents.declare(team_id=team, reporter_id=ALICE, title="Checkout down", severity=Severity.P2)
    ).incident
    async with vigil.container.sessions() as session, session.begin():
        assert await save_component(session, team_id=team, component_id=None, name="Search", usergroup_ids=[])
    created = await vigil.container.integrations.add(
        team_id=team, user_id=None, kind="webhook", change=IntegrationInput(name="alerts", settings={"url": HOOK_URL})
    )
    zebra = await seed_zebra(vigil)
    await vigil.settle()
    ours = Ours(incident, created.integration.id, created.shown_once["inbound_secret"])
    return vigil, ours, zebra, keys


async def seed_zebra(vigil: Vigil) -> Zebra:
    zebra = Zebra()
    now = vigil.container.clock.now()
    async with vigil.container.sessions() as session, session.begin():
        await record_workspace(
            session, team_id=ZEBRA, name="Zebra Corp", url="https://zebra.slack.com/", bot_user_id="U0ZBOT"
        )
        # The same Slack user ids as ours (Enterprise Grid), Bob an admin over there.
        for user_id, admin in ((ALICE, False), (BOB, True)):
            info = {"id": user_id, "name": f"zebra-{user_id.lower()}", "real_name": "Zebra Person", "is_admin": admin}
            await upsert_user(session, team_id=ZEBRA, info=info, at=now)
        await upsert_usergroup(
            session, team_id=ZEBRA, usergroup_id=ZGROUP, handle="zebra-oncall", name="Zebra on-call", user_ids=[BOB],
            disabled=False, at=now,
        )  # fmt: skip
        await set_conversation_tag(session, team_id=ZEBRA, tag=TECH_INCIDENTS, conversation_id="C0ZEBRANEWS", by=BOB)
        await set_conversation_tag(session, team_id=ZEBRA, tag=DEV_FIREFIGHTER, conversation_id="C0ZEBRAHELP", by=BOB)
        await set_usergroup_tag(session, team_id=ZEBRA, tag=INVITED_FOR_ALL_PUBLIC_P1, usergroup_id=ZGROUP, by=BOB)
        component = await save_component(
            session, team_id=ZEBRA, component_id=None, name="Zebra payments", usergroup_ids=[ZGROUP]
        )
        target = await save_sos_target(
            session, team_id=ZEBRA, target_id=None, name="Zebra DBA", conversation_id="C0ZEBRASOS", usergroup_id=ZGROUP,
            by=BOB,
        )  # fmt: skip
        assert component is not None and target is not None
        zebra.component_id, zebra.sos_target_id = component.id, target.id
        await link_identity(
            session, team_id=ZEBRA, user_id=BOB, kind="github", external_id="zebra-bob", source=MANUAL, by=BOB, at=now
        )
        # INC-2's channel id is one of ours (#general): a lookup by channel must not cross over.
        for channel_id, private in (("C0ZEBRAINC1", False), (GENERAL, False), ("C0ZEBRAINC3", True)):
            number = await allocate_number(session, team_id=ZEBRA)
            row = Incident(
                team_id=ZEBRA, number=number, title=f"Zebra outage {number}", severity="P1", private=private,
                component_id=component.id, reporter_id=BOB, commander_id=BOB, channel_id=channel_id,
                channel_name=f"inc-{number}-zebra-outage", description="zebra secrets",
            )  # fmt: skip
            session.add(row)
            await session.flush()
            zebra.incident_ids[number] = row.id
            await add_timeline(session, row, kind="opened", source="slack", at=now, actor_id=BOB, text="zebra opened")
            await add_member(session, team_id=ZEBRA, incident_id=row.id, user_id=BOB, at=now)
        # A Slack step that failed for good, as a crash or an outage would leave it.
        session.add(
            SurfaceStep(
                team_id=ZEBRA, incident_id=zebra.incident_ids[1], kind=UPDATE_OPENING, args={}, status="failed",
                attempts=5, next_attempt_at=now, error="zebra: channel_not_found",
            )
        )  # fmt: skip
    created = await vigil.container.integrations.add(
        team_id=ZEBRA,
        user_id=None,
        kind="webhook",
        change=IntegrationInput(name="zebra-hook", settings={"url": HOOK_URL + "/zebra"}, events=["incident.opened"]),
    )
    zebra.integration_id, zebra.inbound_secret = created.integration.id, created.shown_once["inbound_secret"]
    zebra.delivery_id = str(uuid.uuid4())
    async with vigil.container.sessions() as session, session.begin():
        session.add(
            Delivery(
                delivery_id=zebra.delivery_id, team_id=ZEBRA, integration_id=zebra.integration_id,
                incident_id=zebra.incident_ids[1], event="incident.opened", occurred_at=now, status="failed",
                attempts=5, http_status=500, error="zebra receiver down",
            )
        )  # fmt: skip
        entry = InboundDelivery(
            team_id=ZEBRA, integration_id=zebra.integration_id, kind="webhook", dedup_id="zebra-1", received_at=now,
            verified=True, status="failed", http_status=202, outcome="zebra failed", instructions=[],
        )  # fmt: skip
        session.add(entry)
        await session.flush()
        zebra.inbound_entry_id = entry.id
    return zebra


async def zebra_rows(vigil: Vigil) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of Zebra's, table by table (rows carry `team_id`; the workspace row is keyed by it)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    async with vigil.container.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if "team_id" not in table.c:
                continue
            stmt = select(table).where(table.c.team_id == ZEBRA).order_by(*table.primary_key.columns)
            out[table.name] = [tuple(row) for row in await conn.execute(stmt)]
    return out


async def our_incident(vigil: Vigil, ours: Ours) -> tuple[Any, ...]:
    async with vigil.container.sessions() as session:
        row = await session.get(Incident, ours.incident.id, populate_existing=True)
        assert row is not None
        return (row.status, row.acknowledged_at, row.title, row.severity, row.commander_id, row.resolution)


def sent_to_slack(vigil: Vigil, doors: Doors | None = None) -> str:
    """Everything Vigil sent our Slack (Web API calls, response_url posts, what it acked with), lower-cased; in a
    door's answer, the Zebra names the person typed there are blanked (quoting someone's own words back is fine)."""
    echoes = doors.echoes if doors is not None else Echoes()
    parts = [echoes.masked(echoes.calls, i, [c.method, c.args]) for i, c in enumerate(vigil.emu.calls)]
    parts += [echoes.masked(echoes.responses, i, r.body) for i, r in enumerate(vigil.emu.state.responses)]
    parts += [echoes.masked(echoes.acks, i, a.payload) for i, a in enumerate(doors.acks if doors else [])]
    return "\n".join(parts)


def assert_nothing_of_zebra(vigil: Vigil, zebra: Zebra, doors: Doors | None = None) -> None:
    sent = sent_to_slack(vigil, doors)
    at = sent.find(MARK)
    assert at < 0, sent[max(0, at - 300) : at + 200]
    assert zebra.integration_id not in sent and zebra.delivery_id not in sent


@dataclass
class Echoes:
    """Per item sent (by its index among the calls, the response posts, the acks): the strings typed at the door
    it answers."""

    calls: dict[int, tuple[str, ...]] = field(default_factory=dict)
    responses: dict[int, tuple[str, ...]] = field(default_factory=dict)
    acks: dict[int, tuple[str, ...]] = field(default_factory=dict)

    @staticmethod
    def masked(typed: dict[int, tuple[str, ...]], index: int, item: Any) -> str:
        text = json.dumps(item, default=str).lower()
        for echo in typed.get(index, ()):
            text = text.replace(echo.lower(), "")
        return text


# ---------------------------------------------------------------- asking through the doors


@dataclass
class Doors:
    """Sends through our Slack doors and collects what the person was told."""

    vigil: Vigil
    acks: list[AckResult] = field(default_factory=list)
    echoes: Echoes = field(default_factory=Echoes)

    async def told(self, user: str, send: Callable[[], Awaitable[AckResult]], typed: tuple[str, ...] = ()) -> str:
        """What `user` was told in answer: the ack's text, response_url posts and DMs, joined. `typed`: the Zebra
        names the person typed at this door, which the answer may quote."""
        emu = self.vigil.emu
        calls, responses, dms = len(emu.calls), len(emu.state.responses), len(dms_to(emu, user))
        ack = await send()
        assert ack.acked
        self.acks.append(ack)
        await self.vigil.settle()
        self.echoes.calls |= dict.fromkeys(range(calls, len(emu.calls)), typed)
        self.echoes.responses |= dict.fromkeys(range(responses, len(emu.state.responses)), typed)
        self.echoes.acks[len(self.acks) - 1] = typed
        texts = [json.dumps(ack.payload)] if ack.payload else []
        texts += [json.dumps(r.body) for r in emu.state.responses[responses:] if r.user_id == user]
        return "\n".join([*texts, *dms_to(emu, user)[dms:]])

    async def command(self, text: str, *, user: str = ALICE, channel: str = GENERAL) -> str:
        return await self.told(user, lambda: self.vigil.command(text, user=user, channel=channel))

    async def button(self, action_id: str, value: str, *, user: str = ALICE, channel: str = GENERAL) -> str:
        emu = self.vigil.emu
        return await self.told(
            user, lambda: emu.send_block_action(user_id=user, action_id=action_id, value=value, channel_id=channel)
        )

    async def home_button(self, action_id: str, value: str, *, user: str = OWEN) -> str:
        home = self.vigil.emu.state.home_view(user)
        assert home is not None
        selected = None
        if action_id == ids.ACTION_ADMIN_USERGROUP_MENU:
            selected = {"selected_option": {"text": {"type": "plain_text", "text": value}, "value": value}}
        return await self.told(
            user,
            lambda: self.vigil.emu.send_block_action(
                user_id=user, action_id=action_id, value=None if selected else value, selected=selected, view_id=home.id
            ),
            typed=(value, *value.split(":")),  # refs the answer may quote ("No integration 'zebra-hook'.")
        )

    async def form(
        self,
        callback_id: str,
        values: dict[str, Any],
        metadata: dict[str, Any],
        *,
        user: str = ALICE,
        typed: tuple[str, ...] = (),
    ) -> str:
        return await self.told(
            user,
            lambda: self.vigil.emu.send_view_submission(
                user_id=user, callback_id=callback_id, values=values, private_metadata=json.dumps(metadata)
            ),
            typed,
        )


def assert_not_ours(answer: str, door: str) -> None:
    assert any(phrase.lower() in answer.lower() for phrase in NOT_OURS), (door, answer)


def text_input(block_id: str, action_id: str, value: str) -> dict[str, Any]:
    return {block_id: {action_id: {"type": "plain_text_input", "value": value}}}


def picked(block_id: str, action_id: str, value: str) -> dict[str, Any]:
    option = {"text": {"type": "plain_text", "text": value}, "value": value}
    return {block_id: {action_id: {"type": "static_select", "selected_option": option}}}


# ---------------------------------------------------------------- Slack


async def test_slack_doors_never_reach_the_other_workspaces_rows(
    start_vigil: StartVigil,
) -> None:
    vigil, ours, zebra, _ = await start(start_vigil)
    doors = Doors(vigil)
    zebra_before, ours_before = await zebra_rows(vigil), await our_incident(vigil, ours)

    # `/incident` naming Zebra's numbers (ours has INC-1 only), from #general (Zebra's INC-2 channel id), by an admin
    # of ours; and a few by Bob, who is an admin over there.
    asked = [
        (ALICE, text)
        for text in (
            "2", "3 status", "2 update", "3 resolve fixed it", "2 ack", "2 note hi", "3 timeline", "2 page",
            "2 severity P1", f"3 lead <@{ALICE}>", "2 close duplicate", "2 reopen it came back again", "2 sos",
            "status", "timeline",
        )
    ] + [(BOB, text) for text in ("3", "2 timeline", "3 resolve fixed it", "status")]  # fmt: skip
    for user, text in asked:
        assert_not_ours(await doors.command(text, user=user), f"{user} /incident {text}")
    # The commands that list or show something show ours only (and the check at the end: nothing of Zebra's).
    assert "Checkout down" in await doors.command("list") and "Checkout down" in await doors.command("1 status")
    assert "declared" in await doors.command("1 timeline")
    for text, user in (("link", BOB), (f"link <@{BOB}>", ALICE)):
        assert "linked accounts: none yet" in await doors.command(text, user=user)
    await doors.command("oncall")

    # Buttons carrying Zebra's incident numbers, pressed in #general.
    for action_id in (
        ids.ACTION_ACK, ids.ACTION_UPDATE, ids.ACTION_RESOLVE, ids.ACTION_NOTE, ids.ACTION_HANDOFF, ids.ACTION_PAGE,
        ids.ACTION_POSTMORTEM, ids.ACTION_CLOSE, ids.ACTION_REOPEN, ids.ACTION_JOIN, ids.ACTION_REPAIR,
        ids.ACTION_REMINDER_SNOOZE_30,
    ):  # fmt: skip
        assert_not_ours(await doors.button(action_id, "2"), f"{action_id} 2")
    assert_not_ours(await doors.button(ids.ACTION_ACK, "3"), "ack 3 (private)")

    # Forms carrying Zebra's numbers, component and SOS target.
    title = text_input(ids.BLOCK_TITLE, ids.ACTION_TITLE, "forged title")
    severity = picked(ids.BLOCK_SEVERITY, ids.ACTION_SEVERITY, "P1")
    prompt = text_input(ids.BLOCK_PROMPT, ids.ACTION_PROMPT, "forged note text")
    update = await doors.form(ids.VIEW_UPDATE, {**title, **severity}, {"number": 2, "channel_id": GENERAL})
    assert_not_ours(update, "update form")
    for callback_id in (ids.VIEW_RESOLVE, ids.VIEW_NOTE, ids.VIEW_REOPEN):
        assert_not_ours(await doors.form(callback_id, prompt, {"number": 3}), callback_id)
    component = picked(ids.BLOCK_COMPONENT, ids.ACTION_COMPONENT, str(zebra.component_id))
    declared = await doors.form(ids.VIEW_DECLARE, {**title, **severity, **component}, {}, user=BOB)
    assert_not_ours(declared, "declare with Zebra's component")
    target = picked(ids.BLOCK_SOS_TARGET, ids.ACTION_SOS_TARGET, str(zebra.sos_target_id))
    message = text_input(ids.BLOCK_SOS_MESSAGE, ids.ACTION_SOS_MESSAGE, "help please")
    channel = ours.incident.channel_id
    sos = await doors.form(ids.VIEW_SOS, {**target, **message}, {"number": 1, "channel_id": channel}, user=BOB)
    assert_not_ours(sos, "SOS to Zebra's target")
    assert_not_ours(await doors.form(ids.VIEW_SOS, {**target, **message}, {"number": 2}, user=BOB), "SOS, Zebra's INC-2")

    # Our own INC-1, by number: ours changes, Zebra's INC-1 does not.
    await doors.button(ids.ACTION_ACK, "1", user=BOB)
    assert (await our_incident(vigil, ours))[1] is not None
    assert (await our_incident(vigil, ours))[2:] == ours_before[2:]
    assert await zebra_rows(vigil) == zebra_before
    assert [i.team_id for i in await vigil.incidents()].count(vigil.team_id) == 1  # nothing declared
    assert_nothing_of_zebra(vigil, zebra, doors)


async def test_app_home_and_admin_doors_never_reach_the_other_workspaces_rows(
    start_vigil: StartVigil,
) -> None:
    vigil, ours, zebra, _ = await start(start_vigil)
    doors = Doors(vigil)
    zebra_before = await zebra_rows(vigil)
    await open_home(vigil, BOB)  # an admin over there, not here: no admin tabs
    bob_home = vigil.emu.state.home_view(BOB)
    assert bob_home is not None and ids.ACTION_HOME_TAB_TAGS not in json.dumps(bob_home.data["blocks"])
    await open_home(vigil, OWEN)
    for tab in TABS:  # every list App Home shows an owner
        await home_tab(vigil, tab)

    assert "Search" in json.dumps(await home_tab(vigil, "components")) and "alerts" in json.dumps(
        await home_tab(vigil, "integrations")
    )

    # Buttons carrying Zebra's ids (and its integration's name, which finds an integration too).
    opened = len(vigil.emu.calls_to("views.open"))
    by_ref = (
        ids.ACTION_ADMIN_EDIT_INTEGRATION, ids.ACTION_ADMIN_TEST_INTEGRATION, ids.ACTION_ADMIN_DISABLE_INTEGRATION,
        ids.ACTION_ADMIN_ENABLE_INTEGRATION, ids.ACTION_ADMIN_ROTATE_INTEGRATION_SECRET,
        ids.ACTION_ADMIN_REMOVE_INTEGRATION, ids.ACTION_ADMIN_INBOUND_LOG,
    )  # fmt: skip
    for action_id, value in (
        (ids.ACTION_ADMIN_EDIT_COMPONENT, str(zebra.component_id)),
        (ids.ACTION_ADMIN_EDIT_SOS, str(zebra.sos_target_id)),
        (ids.ACTION_ADMIN_USERGROUP_MENU, f"refresh:{ZGROUP}"),
        (ids.ACTION_ADMIN_USERGROUP_MENU, f"remove:{ZGROUP}"),
        *((action_id, ref) for action_id in by_ref for ref in (zebra.integration_id, "zebra-hook")),
        (ids.ACTION_ADMIN_RETRY_DELIVERY, zebra.delivery_id),
        (ids.ACTION_ADMIN_RETRY_INBOUND, f"{zebra.integration_id}:{zebra.inbound_entry_id}"),
        (ids.ACTION_ADMIN_RETRY_INBOUND, f"{ours.integration_id}:{zebra.inbound_entry_id}"),
    ):
        assert_not_ours(await doors.home_button(action_id, value), f"{action_id} {value}")
    assert len(vigil.emu.calls_to("views.open")) == opened

    # Admin forms whose metadata names Zebra's items.
    name = text_input(ids.BLOCK_COMPONENT_NAME, ids.ACTION_COMPONENT_NAME, "renamed")
    remove = {ids.BLOCK_REMOVE: {ids.ACTION_REMOVE: {"type": "checkboxes", "selected_options": [{"value": "remove"}]}}}
    for values in (name, {**name, **remove}):
        told = await doors.form(ids.VIEW_ADMIN_COMPONENT, values, {"id": zebra.component_id}, user=OWEN)
        assert_not_ours(told, "component form")
    sos_name = text_input(ids.BLOCK_SOS_NAME, ids.ACTION_SOS_NAME, "renamed")
    sos_channel = {
        ids.BLOCK_SOS_CONVERSATION: {
            ids.ACTION_SOS_CONVERSATION: {"type": "conversations_select", "selected_conversation": GENERAL}
        }
    }
    for values in ({**sos_name, **sos_channel}, {**sos_name, **sos_channel, **remove}):
        told = await doors.form(ids.VIEW_ADMIN_SOS, values, {"id": zebra.sos_target_id}, user=OWEN)
        assert_not_ours(told, "SOS target form")
    hook_name = text_input(ids.BLOCK_INTEGRATION_NAME, ids.ACTION_INTEGRATION_NAME, "renamed")
    meta = {"id": zebra.integration_id, "kind": "webhook"}
    assert_not_ours(await doors.form(ids.VIEW_ADMIN_INTEGRATION, hook_name, meta, user=OWEN), "integration form")
    # A component picked for our integration by Zebra's component name is not one of ours either.
    events = {ids.BLOCK_INTEGRATION_COMPONENTS: {ids.ACTION_INTEGRATION_COMPONENTS: {
        "type": "multi_static_select", "selected_options": [{"value": "Zebra payments"}]}}}  # fmt: skip
    ours_meta = {"id": ours.integration_id, "kind": "webhook"}
    told = await doors.form(
        ids.VIEW_ADMIN_INTEGRATION, {**hook_name, **events}, ours_meta, user=OWEN, typed=("Zebra payments",)
    )
    assert "Zebra payments" in told and "Nothing was saved" in told, told

    assert await zebra_rows(vigil) == zebra_before
    assert_nothing_of_zebra(vigil, zebra, doors)


async def home_tab(vigil: Vigil, tab: str) -> list[Any]:
    """Owen's Home on `tab`: its blocks."""
    await click(vigil, OWEN, TABS[tab][1], tab)
    home = vigil.emu.state.home_view(OWEN)
    assert home is not None
    return list(home.data["blocks"])


# ---------------------------------------------------------------- the CLI


async def test_cli_verbs_are_scoped_to_the_workspace_the_cli_learns(
    start_vigil: StartVigil,
) -> None:
    vigil, _, zebra, keys = await start(start_vigil)
    zebra_before = await zebra_rows(vigil)
    calls = len(vigil.emu.calls)
    env = {
        "VIGIL_DATABASE_URL": vigil.container.settings.db_url.render_as_string(hide_password=False),
        "VIGIL_ENCRYPTION_KEYS": keys,
        "SLACK_BOT_TOKEN": vigil.emu.bot_token,
        "SLACK_API_URL": vigil.emu.api_url,
    }

    listed = await vigil_cli(env, "integrations", "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert "alerts" in listed.stdout and MARK not in listed.stdout.lower()
    delivered = await vigil_cli(env, "deliveries", "list", "--json")
    assert delivered.exit_code == 0 and MARK not in delivered.stdout.lower(), delivered.output
    for ref in (zebra.integration_id, "zebra-hook"):
        for args in (
            ("integrations", "update", ref, "--name", "zebra-renamed"),
            ("integrations", "disable", ref),
            ("integrations", "enable", ref),
            ("integrations", "test", ref),
            ("integrations", "rotate-secret", ref),
            ("integrations", "remove", ref, "--yes"),
            ("integrations", "inbound", ref),
        ):
            result = await vigil_cli(env, *args)
            assert result.exit_code == 1, (args, result.output)
            assert_not_ours(result.output, " ".join(args))
    for args in (
        ("deliveries", "show", zebra.delivery_id),
        ("deliveries", "retry", zebra.delivery_id),
        ("incidents", "repair", "2"),
        ("incidents", "repair", "INC-3"),
    ):
        result = await vigil_cli(env, *args)
        assert result.exit_code == 1 and MARK not in result.output.lower(), (args, result.output)
        assert_not_ours(result.output, " ".join(args))

    # Repairing every incident repairs ours only: Zebra's failed step stays as it was, and nothing of it is sent.
    repaired = await vigil_cli(env, "incidents", "repair", "--json")
    assert repaired.exit_code == 0 and json.loads(repaired.stdout) == [], repaired.output
    assert await zebra_rows(vigil) == zebra_before
    assert all(MARK not in json.dumps(c.args, default=str).lower() for c in vigil.emu.calls[calls:])


async def vigil_cli(env: dict[str, str], *args: str) -> Result:
    """`vigil ARGS` in-process, in a thread (the emulator on this loop answers its Slack calls)."""
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith(("SLACK_", "VIGIL_"))}

    def run() -> Result:
        return CliRunner().invoke(cli, list(args), env={**unset, **env}, prog_name="vigil", catch_exceptions=False)

    result = await asyncio.to_thread(run)
    assert "Traceback" not in result.output, result.output
    return result


# ---------------------------------------------------------------- the sidecar


def signed(secret: str, body: bytes) -> dict[str, str]:
    """`X-Vigil-Signature` as docs/integrations describe it, computed here independently of Vigil's code."""
    at = int(time.time())
    digest = hmac.new(secret.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Vigil-Signature": f"t={at},v1={digest}"}


async def test_webhooks_change_their_own_workspaces_incident_and_secrets_do_not_cross(
    start_vigil: StartVigil,
) -> None:
    vigil, ours, zebra, _ = await start(start_vigil)
    ours_before = await our_incident(vigil, ours)
    ack = json.dumps({"external_ref": "INC-1", "status": "acknowledged", "note": "zebra on it"}).encode()
    ours_key = json.dumps({"external_ref": ours.incident.external_key, "status": "resolved"}).encode()

    async def post(integration_id: str, body: bytes, secret: str) -> int:
        async with (
            aiohttp.ClientSession() as http,
            http.post(f"{vigil.http}/hooks/webhook/{integration_id}", data=body, headers=signed(secret, body)) as resp,
        ):
            return resp.status

    # One integration's secret never verifies another's hook, either way.
    assert await post(zebra.integration_id, ack, ours.inbound_secret) == 401
    assert await post(ours.integration_id, ack, zebra.inbound_secret) == 401
    # Zebra's hook naming our incident by its key reaches nothing.
    assert await post(zebra.integration_id, ours_key, zebra.inbound_secret) == 202
    await vigil.container.inbound.drain()
    assert await our_incident(vigil, ours) == ours_before

    # Zebra's hook naming INC-1 acknowledges Zebra's INC-1, never ours.
    assert await post(zebra.integration_id, ack, zebra.inbound_secret) == 202
    await vigil.container.inbound.drain()
    await vigil.settle()
    async with vigil.container.sessions() as session:
        theirs = await session.get(Incident, zebra.incident_ids[1], populate_existing=True)
    assert theirs is not None and theirs.acknowledged_at is not None
    assert await our_incident(vigil, ours) == ours_before
    # Its Slack steps are Zebra's own Vigil's to run, with Zebra's token: left waiting, unclaimed, here.
    async with vigil.container.sessions() as session:
        left = (await session.scalars(select(SurfaceStep).where(SurfaceStep.status == "pending"))).all()
    assert left and {(s.team_id, s.claim_token) for s in left} == {(ZEBRA, None)}
    assert await vigil.container.incidents.steps.resume_once() == 0  # nor does this bot's step worker take them
    assert_nothing_of_zebra(vigil, zebra)
