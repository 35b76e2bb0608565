"""Hypothesis against Vigil's Slack doors, through the real Bolt app over Socket Mode: `/incident` text, modal
submissions and block actions, from an admin, a member and a guest, with hostile text and forged ids.

Whatever arrives: Slack gets a clean ack (errors under fields, or a close), Vigil logs no error and no exception,
every mrkdwn text it sends reads as meant (no broadcast, link or mention made from someone's words), the database
keeps its invariants, a refusal changes nothing, nobody changes an incident they may not act on, and only admins
change admin state. One Vigil per test (per database) takes every example, so the state the examples leave behind
is fuzzed too; the incidents the examples move on are replaced before the next one.

For a deeper search raise `max_examples` in FUZZ locally: each example is a round trip through the real socket, so
the suite keeps 50 a test and database.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any, NamedTuple

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import slack_app
from bot import slack_ids as ids
from bot.admin.forms import ComponentForm, SosTargetForm, UsergroupForm
from bot.emulator.records import AckResult
from bot.emulator.state import ViewRecord
from bot.incidents.errors import InvalidInput, VigilError
from bot.incidents.states import Severity, Status
from commands.grammar import parse
from db.models import (
    Component,
    ConversationTag,
    Identity,
    Incident,
    Integration,
    JobSchedule,
    SosTarget,
    TimelineEvent,
    Usergroup,
    UsergroupTag,
    Workspace,
)
from db.tags import TECH_INCIDENTS
from integrations.service import IntegrationInput
from tests.app.conftest import ALICE, BOB, CAROL, DAVE, GENERAL, INCIDENTS_CHANNEL, SRE, StartVigil, Vigil
from tests.app.fuzz_strategies import (
    EVIL_HOST,
    FUZZ_SUBTEAM,
    INTEGRATION,
    MISSING,
    PRIVATE,
    PUBLIC,
    RESOLVED,
    button_values,
    command_texts,
    private_metadata,
    selected_overrides,
    state_values,
)
from tests.app.test_home import open_home
from tests.integrations.platform import key_ring
from tests.mrkdwn import assert_escaped, mrkdwn_texts

FUZZ = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    # No explain phase: it re-runs a failure a hundred times against a Vigil whose state has moved on.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
)
USERS = st.sampled_from([ALICE, BOB, CAROL])  # a Slack admin, a member, a guest
ADMINS = frozenset({ALICE})
GUESTS = frozenset({CAROL})
KNOWN_PEOPLE = frozenset({ALICE, BOB, CAROL, DAVE, "U0VIGILBOT"})
ACTIVE = frozenset({Status.OPEN, Status.INVESTIGATING, Status.MITIGATING})
SENDING = frozenset(
    {"chat.postMessage", "chat.postEphemeral", "chat.update", "views.open", "views.update", "views.push", "views.publish"}
)
CLEAN_ACTIONS = (None, "errors", "update", "push", "clear")
BROADCAST = re.compile(r"<!(?:channel|here|everyone)\b|<!subteam\^" + FUZZ_SUBTEAM, re.IGNORECASE)
FOREIGN_LINK = re.compile(r"<(?:https?://" + re.escape(EVIL_HOST) + r"|mailto:)", re.IGNORECASE)
MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^<>]*)?>")
# A `>` opening a line is a block quote Vigil means (an SOS request quotes its message), not for the text checker.
QUOTE = re.compile(r"^>", re.MULTILINE)


# ---------------------------------------------------------------- what Vigil logged and answered


class Captured(logging.Handler):
    """Every log record at ERROR or above or carrying an exception, from any logger; and every error the app's one
    error handler answered (a refusal is a domain error reaching it)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.answered: list[Exception] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR or record.exc_info:
            self.records.append(record)

    def problems(self, since: int) -> list[str]:
        return [f"{r.name} {r.levelname}: {r.getMessage()} {r.exc_info!r}" for r in self.records[since:]]


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Iterator[Captured]:
    """The answer alone cannot tell a refusal from a warning about a change made (a commander who cannot lead), so
    the error handler is watched too."""
    handler = Captured()
    report_error = slack_app.report_error

    async def recording(error: Exception, *args: Any) -> None:
        handler.answered.append(error)
        await report_error(error, *args)

    monkeypatch.setattr(slack_app, "report_error", recording)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


# ---------------------------------------------------------------- what Vigil said


@dataclass(frozen=True)
class Mark:
    """Where the records stood before one example: what came after is that example's."""

    calls: int
    responses: int
    protocol_errors: int
    logs: int
    answered: int


@dataclass
class Said:
    """Everything Vigil sent for one example: the texts Slack parses as mrkdwn, and the replies to whoever acted."""

    texts: list[str] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)


def mark(vigil: Vigil, captured: Captured) -> Mark:
    emu = vigil.emu
    return Mark(
        len(emu.calls), len(emu.state.responses), len(emu.protocol_errors), len(captured.records), len(captured.answered)
    )


def said_since(vigil: Vigil, at: Mark, ack: dict[str, Any] | None, user: str) -> Said:
    """The ack, every message, ephemeral and view sent through the Web API, every response_url post."""
    said = Said(replies=[str((ack or {}).get("text") or "")])
    bodies: list[dict[str, Any]] = [ack or {}]
    for call in vigil.emu.calls[at.calls :]:
        if call.method in SENDING:
            bodies.append(call.args)
            if call.method == "chat.postMessage" and call.args.get("channel") == user:
                said.replies.append(str(call.args.get("text") or ""))
    for post in vigil.emu.state.responses[at.responses :]:
        bodies.append(post.body)
        said.replies.append(post.text)
    for body in bodies:
        if isinstance(body.get("text"), str) and body.get("mrkdwn") is not False:
            said.texts.append(body["text"])
        said.texts += mrkdwn_texts(body.get("blocks")) + mrkdwn_texts(body.get("view"))
    return said


def picked_people(value: Any) -> set[str]:
    """The users picked in users_selects: Slack's own ids, which Vigil may well mention."""
    if isinstance(value, dict):
        found = {value["selected_user"]} if isinstance(value.get("selected_user"), str) else set()
        return found.union(*(picked_people(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(picked_people(v) for v in value))
    return set()


def assert_said_safely(said: Said, mentioned: set[str]) -> None:
    """Nothing Slack would misread, no broadcast, no foreign link, and a mention only of someone Vigil knows or
    someone `mentioned` (as Slack writes a mention, or picked) by an example so far: a title keeps its mentions, by
    design, and shows on later surfaces."""
    assert_escaped(*(QUOTE.sub("", text) for text in said.texts))
    joined = "\n".join(said.texts)
    assert not BROADCAST.search(joined), BROADCAST.search(joined)
    assert not FOREIGN_LINK.search(joined), FOREIGN_LINK.search(joined)
    unasked = set(MENTION.findall(joined)) - KNOWN_PEOPLE - mentioned
    assert not unasked, unasked


def assert_quiet(vigil: Vigil, captured: Captured, at: Mark) -> None:
    """No error or exception logged, nothing but a refusal reached the error handler, no ack Slack would refuse."""
    assert captured.problems(at.logs) == []
    assert [e for e in captured.answered[at.answered :] if not isinstance(e, VigilError)] == []
    assert vigil.emu.protocol_errors[at.protocol_errors :] == []


def refused(captured: Captured, at: Mark, said: Said) -> bool:
    """The person was told no (a domain error answered, a usage line) or that nothing changed."""
    if any(isinstance(e, VigilError) for e in captured.answered[at.answered :]):
        return True
    return any(r.startswith("Usage:") or "Nothing changed." in r for r in said.replies)


# ---------------------------------------------------------------- the database


class Row(NamedTuple):
    """An incident as the doors may change it (no timestamps)."""

    number: int
    title: str
    description: str
    severity: str
    status: str
    private: bool
    component_id: int | None
    commander_id: str | None
    acknowledged_by: str | None
    closure_reason: str | None
    resolution: str | None
    channel_id: str | None


@dataclass(frozen=True)
class Snapshot:
    """What the doors may change: incidents (and the length of their timelines), linked accounts, the admin state;
    and who is in each incident's channel as Slack says (Vigil's own table of members is a cache it refreshes as it
    reads, so it is not compared)."""

    incidents: dict[int, Row]
    timeline: dict[int, int]
    identities: frozenset[tuple[Any, ...]]
    admin: tuple[Any, ...]
    last_number: int
    members: frozenset[tuple[int, str]] = field(compare=False)

    def incident_changes(self, after: Snapshot) -> set[int]:
        numbers = set(self.incidents) | set(after.incidents)
        return {
            n
            for n in numbers
            if self.incidents.get(n) != after.incidents.get(n) or self.timeline.get(n) != after.timeline.get(n)
        }


async def rows(session: AsyncSession, *columns: Any) -> list[str]:
    """A table's rows (the given columns), sorted and printed: JSON columns compare as text."""
    return sorted(repr(tuple(row)) for row in await session.execute(select(*columns)))


async def admin_state(session: AsyncSession) -> tuple[Any, ...]:
    """Everything App Home's back-office edits."""
    return (
        await rows(session, Workspace.archive_grace_days, Workspace.reminder_minutes),
        await rows(session, ConversationTag.tag, ConversationTag.conversation_id),
        await rows(session, UsergroupTag.tag, UsergroupTag.usergroup_id),
        await rows(session, Component.id, Component.name, Component.usergroup_ids, Component.pagerduty_service_id),
        await rows(session, SosTarget.id, SosTarget.name, SosTarget.conversation_id, SosTarget.usergroup_id),
        await rows(session, Usergroup.id, Usergroup.handle, Usergroup.disabled),
        await rows(session, JobSchedule.name, JobSchedule.interval_minutes, JobSchedule.options),
        await rows(
            session,
            Integration.id,
            Integration.name,
            Integration.config,
            Integration.active,
            Integration.events,
            Integration.min_severity,
            Integration.component_ids,
            Integration.include_private,
            Integration.key_id,
        ),
    )


async def snapshot(vigil: Vigil) -> Snapshot:
    async with vigil.container.sessions() as s:
        incidents = {row[0]: Row(*row) for row in await s.execute(select(*(getattr(Incident, f) for f in Row._fields)))}
        numbers = dict((await s.execute(select(Incident.id, Incident.number))).all())
        counts = await s.execute(select(TimelineEvent.incident_id, func.count()).group_by(TimelineEvent.incident_id))
        identities = await s.execute(select(Identity.user_id, Identity.kind, Identity.external_id, Identity.source))
        last_number = await s.scalar(select(Workspace.last_incident_number))
        admin = await admin_state(s)
    channels = vigil.emu.state.channels
    return Snapshot(
        incidents=incidents,
        timeline={numbers[i]: n for i, n in counts.all()},
        identities=frozenset(tuple(r) for r in identities),
        admin=admin,
        last_number=last_number or 0,
        members=frozenset(
            (row.number, user)
            for row in incidents.values()
            if row.channel_id in channels
            for user in channels[row.channel_id].members
        ),
    )


def assert_invariants(snap: Snapshot) -> None:
    """Incident numbers run 1…N with no gap, the workspace's counter is N, every status and severity is one Vigil
    knows."""
    assert sorted(snap.incidents) == list(range(1, len(snap.incidents) + 1))
    assert snap.last_number == len(snap.incidents)
    for row in snap.incidents.values():
        assert row.status in set(Status) and row.severity in set(Severity), row


def visible_to(user: str, snap: Snapshot, number: int) -> bool:
    return user in ADMINS or not snap.incidents[number].private or (number, user) in snap.members


def may_act(user: str, channel: str, snap: Snapshot, number: int) -> bool:
    """Whether `user`, acting from `channel`, may change incident `number` (bot/incidents/access.py written out):
    anyone who sees it, except a guest outside its channel."""
    if not visible_to(user, snap, number):
        return False
    return user not in GUESTS or (snap.incidents[number].channel_id == channel and (number, user) in snap.members)


async def quiesce(vigil: Vigil) -> None:
    """Wait until Vigil has finished what it started and the emulator has nothing left to deliver: the events a
    change causes (someone joining the new channel) belong to that change."""
    slack = vigil.runtime.slack_app
    assert slack is not None
    while True:
        await vigil.settle()
        await vigil.emu.wait_until(lambda: not vigil.emu.busy, what="the emulator to go quiet")
        await asyncio.sleep(0.01)  # an event acked a moment ago starts its listener now
        if slack.in_flight.count == 0 and not vigil.emu.busy:
            return


# ---------------------------------------------------------------- the workspace being fuzzed


@dataclass
class World:
    """Vigil with an incident of each kind the fuzz text names by a stand-in: public and active, Dave's private one,
    one resolved. One that an example moved on is replaced (declared through the service) before the next."""

    vigil: Vigil
    captured: Captured
    live: dict[str, Incident] = field(default_factory=dict)
    mentioned: set[str] = field(default_factory=set)  # everyone the examples so far mentioned or picked

    def __repr__(self) -> str:
        return f"World(live={ {k.strip(chr(0xE000)): i.number for k, i in self.live.items()} })"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """Hypothesis prints a failing example's fixtures: the numbers, not the whole running Vigil."""
        printer.text(repr(self))

    async def replenish(self) -> None:
        current = {i.number: i for i in await self.vigil.incidents()}
        wanted = {PUBLIC: (ACTIVE, False), PRIVATE: (ACTIVE, True), RESOLVED: ({Status.RESOLVED}, False)}
        declared = False
        for stand_in, (statuses, private) in wanted.items():
            incident = current.get(self.live[stand_in].number) if stand_in in self.live else None
            if incident is None or Status(incident.status) not in statuses:
                self.live[stand_in] = await self.declare(stand_in, private=private, resolve=Status.RESOLVED in statuses)
                declared = True
        if declared:
            await quiesce(self.vigil)

    async def declare(self, stand_in: str, *, private: bool, resolve: bool) -> Incident:
        reporter = DAVE if private else ALICE
        service = self.vigil.container.incidents
        title = f"Fuzzed {stand_in.strip(chr(0xE000))}"
        declaration = await service.declare(
            team_id=self.vigil.team_id, reporter_id=reporter, title=title, severity=Severity.P3, private=private
        )
        if not resolve:
            return declaration.incident
        moved = await service.move(declaration.incident, actor_id=reporter, target=Status.RESOLVED, source="slack")
        return moved.incident

    def channels(self) -> list[str]:
        """Where people act from: #general, each live incident's channel, a channel Vigil never saw, a DM."""
        return [GENERAL, *(i.channel_id or "" for i in self.live.values()), "C0NOPE", "D0DIRECT"]

    def fill(self, text: str) -> str:
        """The fuzz text with the stand-ins replaced by the live incidents' numbers."""
        for stand_in, incident in self.live.items():
            text = text.replace(stand_in, str(incident.number))
        return text.replace(MISSING, str(max(i.number for i in self.live.values()) + 1000))


@pytest.fixture
async def world(vigil: Vigil, captured: Captured) -> World:
    world = World(vigil=vigil, captured=captured)
    await world.replenish()
    return world


# ---------------------------------------------------------------- 1. slash-command text


def parses(text: str) -> bool:
    try:
        parse(text)
    except InvalidInput:
        return False
    return True


async def run_command(world: World, text: str, user: str, where: int) -> None:
    """Type `/incident <text>` as `user` in the `where`-th of the world's channels, and check everything."""
    vigil = world.vigil
    await world.replenish()
    text, channel = world.fill(text), world.channels()[where]
    before, at = await snapshot(vigil), mark(vigil, world.captured)
    ack = await vigil.command(text, user=user, channel=channel)
    assert ack.acked and not ack.limit_errors, (ack, ack.limit_errors)
    await quiesce(vigil)
    after, said = await snapshot(vigil), said_since(vigil, at, ack.payload, user)
    assert_quiet(vigil, world.captured, at)
    world.mentioned |= set(MENTION.findall(text))
    assert_said_safely(said, world.mentioned)
    assert_invariants(after)
    assert before.admin == after.admin, "a slash command changed admin state"
    assert set(before.incidents) == set(after.incidents), "a slash command declared or removed an incident"
    if not parses(text) or refused(world.captured, at, said):
        assert (before.incidents, before.timeline, before.identities) == (after.incidents, after.timeline, after.identities)
    for number in before.incident_changes(after):
        assert may_act(user, channel, before, number), f"{user} changed INC-{number} from {channel}"
    if user not in ADMINS:
        assert {i for i in before.identities ^ after.identities if i[0] != user} == set(), "linked someone else"


@FUZZ
@given(text=command_texts(), user=USERS, where=st.integers(min_value=0, max_value=5))
@example(text="link ", user=ALICE, where=0)  # `link github <login>` in the reply read as a link
@example(text="link email a&b@acme.example", user=BOB, where=0)  # the id went out unescaped
async def test_slash_command_text(world: World, text: str, user: str, where: int) -> None:
    await run_command(world, text, user, where)


# ---------------------------------------------------------------- 2. modal submissions


@dataclass
class Forms:
    """Every modal Vigil handles a submission of, opened once through its own door (a command, a button), so that
    submissions name a view with the real blocks; and the world those forms edit."""

    world: World
    views: dict[str, ViewRecord] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Forms({self.world!r})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def inputs(self, label: str) -> dict[str, dict[str, Any]]:
        """The form's inputs: block_id → its element."""
        blocks = self.views[label].data.get("blocks") or []
        return {str(b["block_id"]): b["element"] for b in blocks if b.get("type") == "input"}


Send = Callable[[], Awaitable[AckResult]]


async def opened_by(vigil: Vigil, send: Send, callback_id: str) -> ViewRecord:
    """The modal a command or a button opened for Alice."""
    before = len(vigil.emu.calls_to("views.open"))
    assert (await send()).acked
    await vigil.settle()
    assert len(vigil.emu.calls_to("views.open")) == before + 1, f"{callback_id} did not open"
    modal = vigil.emu.state.top_modal(ALICE)
    assert modal is not None and modal.callback_id == callback_id, modal
    return modal


async def seed_admin_state(vigil: Vigil) -> tuple[int, int]:
    """An imported usergroup, a component and an SOS target, set up by Alice through the admin service."""
    admin, team = vigil.container.admin, vigil.team_id
    await admin.import_usergroup(team_id=team, user_id=ALICE, form=UsergroupForm(usergroup_id=SRE))
    await admin.save_component(team_id=team, user_id=ALICE, form=ComponentForm(name="API", usergroup_ids=(SRE,)))
    form = SosTargetForm(name="SRE help", conversation_id=INCIDENTS_CHANNEL, usergroup_id=SRE)
    await admin.save_sos_target(team_id=team, user_id=ALICE, form=form)
    async with vigil.container.sessions() as s:
        component, target = await s.scalar(select(Component.id)), await s.scalar(select(SosTarget.id))
    assert component is not None and target is not None
    return component, target


async def open_every_form(world: World) -> dict[str, ViewRecord]:
    vigil = world.vigil
    component, target = await seed_admin_state(vigil)
    public, resolved = world.live[PUBLIC], world.live[RESOLVED]
    home = await open_home(vigil, ALICE)

    def command(text: str, channel: str | None) -> Send:
        return partial(vigil.command, text, user=ALICE, channel=channel or "")

    def button(action_id: str, value: str | None = None, channel: str | None = None) -> Send:
        where: dict[str, Any] = {"channel_id": channel} if channel else {"view_id": home.id}
        return partial(vigil.emu.send_block_action, user_id=ALICE, action_id=action_id, value=value, **where)

    openers: dict[str, tuple[str, Send]] = {
        "declare": (ids.VIEW_DECLARE, command("open P2 Fuzzed", GENERAL)),
        "update": (ids.VIEW_UPDATE, command("update", public.channel_id)),
        "sos": (ids.VIEW_SOS, command("sos", public.channel_id)),
        "resolve": (ids.VIEW_RESOLVE, button(ids.ACTION_RESOLVE, str(public.number), public.channel_id)),
        "note": (ids.VIEW_NOTE, button(ids.ACTION_NOTE, str(public.number), public.channel_id)),
        "handoff": (ids.VIEW_HANDOFF, button(ids.ACTION_HANDOFF, str(public.number), public.channel_id)),
        "reopen": (ids.VIEW_REOPEN, button(ids.ACTION_REOPEN, str(resolved.number), resolved.channel_id)),
        "tags": (ids.VIEW_ADMIN_TAGS, button(ids.ACTION_ADMIN_EDIT_TAGS)),
        "sos target (add)": (ids.VIEW_ADMIN_SOS, button(ids.ACTION_ADMIN_ADD_SOS)),
        "sos target (edit)": (ids.VIEW_ADMIN_SOS, button(ids.ACTION_ADMIN_EDIT_SOS, str(target))),
        "component (add)": (ids.VIEW_ADMIN_COMPONENT, button(ids.ACTION_ADMIN_ADD_COMPONENT)),
        "component (edit)": (ids.VIEW_ADMIN_COMPONENT, button(ids.ACTION_ADMIN_EDIT_COMPONENT, str(component))),
        "usergroup": (ids.VIEW_ADMIN_USERGROUP, button(ids.ACTION_ADMIN_IMPORT_USERGROUP)),
        "settings": (ids.VIEW_ADMIN_SETTINGS, button(ids.ACTION_ADMIN_EDIT_SETTINGS)),
        "jobs": (ids.VIEW_ADMIN_JOBS, button(ids.ACTION_ADMIN_EDIT_JOBS)),
        **{
            f"integration ({kind})": (ids.VIEW_ADMIN_INTEGRATION, button(ids.ACTION_ADMIN_CONNECT_INTEGRATION, kind))
            for kind in vigil.container.integrations.kinds
        },
    }
    return {label: await opened_by(vigil, send, callback_id) for label, (callback_id, send) in openers.items()}


@pytest.fixture
async def forms(start_vigil: StartVigil, captured: Captured) -> Forms:
    """Vigil with a key ring (so integration forms can be saved) and outbound deliveries off (nothing leaves)."""
    vigil = await start_vigil(settings={"VIGIL_ENCRYPTION_KEYS": key_ring(), "VIGIL_OUTBOUND_ENABLED": "false"})
    await vigil.tag(TECH_INCIDENTS, INCIDENTS_CHANNEL)
    world = World(vigil=vigil, captured=captured)
    await world.replenish()
    return Forms(world=world, views=await open_every_form(world))


@dataclass(frozen=True)
class Submission:
    """One view_submission as drawn: which form, by whom, its state.values, its private_metadata (None: the view's
    own), and whether it names no view at all (only the callback_id is real)."""

    label: str
    user: str
    values: Any
    meta: str | None = None
    forged: bool = False


async def submit(forms: Forms, sub: Submission) -> None:
    world, view = forms.world, forms.views[sub.label]
    vigil = world.vigil
    await world.replenish()
    before, at = await snapshot(vigil), mark(vigil, world.captured)
    named = {"callback_id": view.callback_id} if sub.forged else {"view_id": view.id}
    ack = await vigil.emu.send_view_submission(user_id=sub.user, values=sub.values, private_metadata=sub.meta, **named)
    assert ack.acked and not ack.limit_errors, (ack, ack.limit_errors)
    assert ack.response_action in CLEAN_ACTIONS, ack.payload
    await quiesce(vigil)
    after, said = await snapshot(vigil), said_since(vigil, at, ack.payload, sub.user)
    assert_quiet(vigil, world.captured, at)
    world.mentioned |= set(MENTION.findall(json.dumps(sub.values) + str(sub.meta))) | picked_people(sub.values)
    assert_said_safely(said, world.mentioned)
    assert_invariants(after)
    assert before.identities == after.identities
    if ack.response_action == "errors" or refused(world.captured, at, said):
        assert before == after, f"a refused {sub.label} submission changed something"
    if sub.user not in ADMINS:
        assert before.admin == after.admin, f"{sub.user} changed admin state through {sub.label}"
    if view.callback_id != ids.VIEW_DECLARE:
        assert set(before.incidents) == set(after.incidents), f"{sub.label} declared an incident"
    for number in before.incident_changes(after) & set(before.incidents):
        assert visible_to(sub.user, before, number), f"{sub.user} changed INC-{number} through {sub.label}"
        assert sub.user not in GUESTS or (number, sub.user) in before.members, f"a guest changed INC-{number}"


@st.composite
def submissions(draw: st.DrawFn, forms: Forms) -> Submission:
    label = draw(st.sampled_from(sorted(forms.views)))
    return Submission(
        label=label,
        user=draw(USERS),
        values=draw(state_values(forms.inputs(label))),
        meta=draw(private_metadata(forms.views[label].data.get("private_metadata") or "")),
        forged=draw(st.integers(min_value=0, max_value=4)) == 0,
    )


@FUZZ
@given(data=st.data())
async def test_modal_submissions(forms: Forms, data: st.DataObject) -> None:
    await submit(forms, data.draw(submissions(forms), label="submission"))


FOUND_IN_SUBMISSIONS = (
    # state.values not an object: every admin screen's reader raised AttributeError before the ack.
    Submission("component (add)", ALICE, True),
    Submission("jobs", ALICE, 5),
    # selected_options not a list: TypeError reading a multi-select or the declare form's Private box.
    Submission(
        "component (add)",
        ALICE,
        {ids.BLOCK_COMPONENT_USERGROUPS: {ids.ACTION_COMPONENT_USERGROUPS: {"selected_options": 1}}},
    ),
    Submission("declare", BOB, {ids.BLOCK_PRIVATE: {ids.ACTION_PRIVATE: {"selected_options": True}}}),
    # A block's value not an object: AttributeError in bot/blocks/forms.py (update, declare, the one-field prompts).
    Submission("update", BOB, {ids.BLOCK_SEVERITY: "P1", ids.BLOCK_TITLE: {ids.ACTION_TITLE: {"value": "x"}}}),
    Submission("note", BOB, {ids.BLOCK_PROMPT: 7}),
    # A name typed with markup went out raw in the Home's notice ("Saved component <@> …").
    Submission("component (add)", ALICE, {ids.BLOCK_COMPONENT_NAME: {ids.ACTION_COMPONENT_NAME: {"value": "<@> & <b>"}}}),
    Submission(
        "sos target (edit)",
        ALICE,
        {
            ids.BLOCK_SOS_NAME: {ids.ACTION_SOS_NAME: {"value": "a <!here> b"}},
            ids.BLOCK_SOS_CONVERSATION: {ids.ACTION_SOS_CONVERSATION: {"selected_conversation": INCIDENTS_CHANNEL}},
        },
    ),
)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # what they found is not the database's
async def test_what_fuzzing_found_in_modal_submissions(forms: Forms) -> None:
    for sub in FOUND_IN_SUBMISSIONS:
        await submit(forms, sub)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_every_handled_modal_is_fuzzed(forms: Forms) -> None:
    """A modal added later is fuzzed too, or this fails: every callback_id Vigil registers has a form above."""
    slack = forms.world.vigil.runtime.slack_app
    assert slack is not None
    assert slack.registry.views == {view.callback_id for view in forms.views.values()}
    assert slack.registry.views <= {v for k, v in vars(ids).items() if k.startswith("VIEW_")}


# ---------------------------------------------------------------- 3. block actions


async def connect_webhook(vigil: Vigil, name: str) -> str:
    created = await vigil.container.integrations.add(
        team_id=vigil.team_id,
        user_id=ALICE,
        kind="webhook",
        change=IntegrationInput(name=name, settings={"url": "https://hooks.example/in"}),
    )
    return created.integration.id


@dataclass
class Buttons:
    """The forms' world, with a webhook connected (so integration buttons name something) and everyone's Home open;
    `actions`: every action_id Vigil registers."""

    forms: Forms
    integration: str
    homes: dict[str, ViewRecord]
    actions: tuple[str, ...]

    def __repr__(self) -> str:
        return f"Buttons({self.forms.world!r}, integration={self.integration})"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    async def replenish(self) -> None:
        """The incidents, and the webhook again when an example removed it."""
        await self.forms.world.replenish()
        vigil = self.forms.world.vigil
        async with vigil.container.sessions() as session:
            if await session.get(Integration, self.integration) is not None:
                return
        self.integration = await connect_webhook(vigil, f"Fuzz hook {len(vigil.emu.calls)}")

    def fill(self, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return self.forms.world.fill(value.replace(INTEGRATION, self.integration))


@pytest.fixture
async def buttons(forms: Forms) -> Buttons:
    vigil = forms.world.vigil
    integration = await connect_webhook(vigil, "Fuzz hook")
    homes = {user: await open_home(vigil, user) for user in (ALICE, BOB, CAROL)}
    slack = vigil.runtime.slack_app
    assert slack is not None
    return Buttons(forms=forms, integration=integration, homes=homes, actions=tuple(sorted(slack.registry.actions)))


@dataclass(frozen=True)
class Press:
    """One block action as drawn: who, which action_id, where (`channel:<i>` of the world's channels, `home:<user>`,
    `view:<form>`: maybe someone else's), the message_ts, and what it carries."""

    user: str
    action_id: str
    where: str
    value: str | None = None
    selected: dict[str, Any] | None = None
    message_ts: str | None = None


def press_at(buttons: Buttons, p: Press) -> dict[str, Any]:
    kind, _, index = p.where.partition(":")
    if kind == "channel":
        return {"channel_id": buttons.forms.world.channels()[int(index)], "message_ts": p.message_ts}
    if kind == "home":
        return {"view_id": buttons.homes[index].id}
    return {"view_id": buttons.forms.views[index].id}


async def press(buttons: Buttons, p: Press) -> None:
    world = buttons.forms.world
    vigil = world.vigil
    await buttons.replenish()
    where = press_at(buttons, p)
    selected = {k: buttons.fill(v) for k, v in p.selected.items()} if p.selected else p.selected
    before, at = await snapshot(vigil), mark(vigil, world.captured)
    ack = await vigil.emu.send_block_action(
        user_id=p.user, action_id=p.action_id, value=buttons.fill(p.value), selected=selected, **where
    )
    assert ack.acked and not ack.limit_errors, (ack, ack.limit_errors)
    await quiesce(vigil)
    after, said = await snapshot(vigil), said_since(vigil, at, ack.payload, p.user)
    assert_quiet(vigil, world.captured, at)
    world.mentioned |= picked_people(selected) | set(MENTION.findall(str(p.value)))
    assert_said_safely(said, world.mentioned)
    assert_invariants(after)
    assert before.identities == after.identities
    assert set(before.incidents) == set(after.incidents), f"{p.action_id} declared an incident"
    if refused(world.captured, at, said):
        assert before == after, f"a refused {p.action_id} changed something"
    if p.user not in ADMINS:
        assert before.admin == after.admin, f"{p.user} changed admin state with {p.action_id}"
    channel = str(where.get("channel_id") or "")
    for number in before.incident_changes(after):
        assert may_act(p.user, channel, before, number), f"{p.user} changed INC-{number} with {p.action_id}"
    for number, _ in after.members - before.members:
        assert visible_to(p.user, before, number), f"{p.user} got someone into INC-{number} with {p.action_id}"


@st.composite
def presses(draw: st.DrawFn, buttons: Buttons) -> Press:
    channels = st.sampled_from([f"channel:{i}" for i in range(len(buttons.forms.world.channels()))])
    homes = st.sampled_from([f"home:{user}" for user in buttons.homes])
    views = st.sampled_from([f"view:{label}" for label in sorted(buttons.forms.views)])
    action_id = draw(st.sampled_from(buttons.actions))
    return Press(
        user=draw(USERS),
        action_id=action_id,
        where=draw(st.one_of(channels, channels, homes, views)),
        value=draw(button_values(action_id)),
        selected=draw(selected_overrides),
        message_ts=draw(st.none() | st.sampled_from(["1.000001", "9999999999.999999", "x", ""])),
    )


@FUZZ
@given(data=st.data())
async def test_block_actions(buttons: Buttons, data: st.DataObject) -> None:
    await press(buttons, data.draw(presses(buttons), label="press"))


FOUND_IN_BLOCK_ACTIONS = (
    # An incident's buttons pressed in a view (no response_url): respond() raised after the change was made, and the
    # presser was told "something went wrong".
    Press(ALICE, ids.ACTION_ACK, "home:U0ALICE", PUBLIC),
    Press(ALICE, ids.ACTION_ACK, "home:U0ALICE", PUBLIC),  # "already acknowledged"
    Press(BOB, ids.ACTION_JOIN, "view:note", PUBLIC),
    Press(ALICE, ids.ACTION_REPAIR, "home:U0ALICE", PUBLIC),
)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # what they found is not the database's
async def test_what_fuzzing_found_in_block_actions(buttons: Buttons) -> None:
    for p in FOUND_IN_BLOCK_ACTIONS:
        await press(buttons, p)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_every_action_id_is_handled_or_an_input(buttons: Buttons) -> None:
    """The fuzzed action_ids are all that Vigil registers; every other action_id in bot/slack_ids.py is an input's
    (Slack sends no block action for those), so a new button cannot be left out unnoticed."""
    declared = {v for k, v in vars(ids).items() if k.startswith("ACTION_")}
    assert set(buttons.actions) <= declared
    inputs = {e.get("action_id") for label in buttons.forms.views for e in buttons.forms.inputs(label).values()}
    inputs |= {ids.ACTION_COMPONENT_PD_SERVICE, ids.ACTION_COMPONENT_ROUTING_KEY}  # shown with PagerDuty connected
    assert declared - set(buttons.actions) <= inputs, declared - set(buttons.actions) - inputs
