"""What people see in an incident's channel and the announcement channel, read from what the emulator received: the
scripted incident (declare P1 → ack → note → mitigating → P2 → resolve → postmortem → close), then each rule on its
own: buttons per status, one line per change, no self-mention, notes for everyone, the announcement's thread, the
modals behind Resolve, Reopen, Add note and Hand off, Join channel, the links row."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from bot import slack_ids as ids
from bot.clock import FrozenClock
from bot.emulator.state import Message
from db.models import IncidentPage, Integration, IntegrationLink
from tests.app.conftest import ALICE, BOB, DAVE, GENERAL, INCIDENTS_CHANNEL, StartVigil, Vigil
from tests.app.test_declare import declare
from tests.app.test_work import reload
from tests.mrkdwn import misread, mrkdwn_texts

TITLE = "Checkout <!channel> & co"
DESCRIPTION = "Card payments fail <!here> with HTTP 500 <https://evil.example|see>"


def buttons(message: Message | None) -> list[str]:
    assert message is not None
    return [e["action_id"] for b in message.blocks or [] if b["type"] == "actions" for e in b["elements"]]


def texts_of(message: Message) -> list[str]:
    """The message's text and every mrkdwn text in its blocks: what Slack renders with markup."""
    return [message.text, *mrkdwn_texts(message.blocks or [])]


@dataclass
class Watch:
    """What happens in the incident's channel, the announcement's thread and privately to one person, per change."""

    vigil: Vigil
    channel: str
    user: str = ALICE
    seen: dict[str, int] = field(default_factory=dict)

    def _now(self) -> dict[str, int]:
        emu = self.vigil.emu
        return {
            "lines": len(self.lines()),
            "private": len(emu.state.ephemerals_for(self.user)) + len(emu.responses_for(self.user)),
            "topics": len(emu.calls_to("conversations.setTopic")),
            "thread": len(self.thread()),
        }

    def mark(self) -> None:
        self.seen = self._now()

    def lines(self) -> list[Message]:
        bot = self.vigil.emu.state.identity.bot_user_id
        return [m for m in self.vigil.emu.state.history(self.channel) if m.user == bot and not m.subtype]

    def thread(self) -> list[Message]:
        return [m for m in self.vigil.emu.state.history(INCIDENTS_CHANNEL) if m.is_reply]

    def since(self) -> dict[str, int]:
        now = self._now()
        return {key: now[key] - self.seen.get(key, 0) for key in now}

    def new_line(self) -> str:
        return self.lines()[-1].text


async def press(vigil: Vigil, action_id: str, *, channel: str, ts: str | None = None, user: str = ALICE) -> None:
    ack = await vigil.emu.send_block_action(user_id=user, action_id=action_id, channel_id=channel, message_ts=ts)
    assert ack.acked
    await vigil.settle()


async def submit(vigil: Vigil, label: str, answer: Any, *, user: str = ALICE) -> Any:
    form = vigil.emu.state.top_modal(user)
    assert form is not None
    values = vigil.emu.form_values(user, {label: answer}, view_id=form.id)
    ack = await vigil.emu.send_view_submission(user_id=user, view_id=form.id, values=values)
    assert ack.acked
    await vigil.settle()
    return ack


@pytest.fixture
async def clocked(start_vigil: StartVigil) -> tuple[Vigil, FrozenClock]:
    clock = FrozenClock(datetime(2026, 1, 5, 3, 0, tzinfo=UTC))
    vigil = await start_vigil(clock=clock)
    await vigil.tag("tech_incidents", INCIDENTS_CHANNEL)
    return vigil, clock


async def test_the_scripted_incident_reads_well(clocked: tuple[Vigil, FrozenClock]) -> None:
    vigil, clock = clocked
    emu = vigil.emu
    incident = await declare(vigil, TITLE, "P1", description=DESCRIPTION)
    channel, opening_ts = incident.channel_id or "", incident.opening_message_ts or ""
    watch = Watch(vigil, channel)

    def opening() -> Message:
        message = emu.state.find_message(channel, opening_ts)
        assert message is not None
        return message

    def announcement() -> Message:
        message = emu.state.find_message(INCIDENTS_CHANNEL, incident.announcement_ts or "")
        assert message is not None
        return message

    # Declared: the pinned message, the topic, the announcement, the declarer's confirmation with its two buttons.
    assert buttons(opening()) == [ids.ACTION_ACK, ids.ACTION_PAGE, ids.ACTION_UPDATE]
    assert emu.state.channels[channel].topic == "🔴 P1 · Open · IC @alice"
    assert "Announcement>" in str(opening().blocks)  # the links row points at the announcement
    [confirmation] = emu.state.ephemerals_for(ALICE, GENERAL)
    assert [e["action_id"] for b in confirmation.blocks or [] if b["type"] == "actions" for e in b["elements"]] == [
        ids.ACTION_PAGE,
        ids.ACTION_HANDOFF,
    ]

    # Each change: one line in the channel, nothing private, the topic only when it changed, nobody pinged for
    # their own change.
    async def change(do: Any, *, line: str, topic: str | None, thread: int = 0) -> None:
        watch.mark()
        clock.advance(minutes=2)
        await do()
        await vigil.settle()
        assert watch.since() == {"lines": 1, "private": 0, "topics": int(topic is not None), "thread": thread}
        assert watch.new_line() == line and f"<@{ALICE}>" not in line
        if topic is not None:
            assert emu.state.channels[channel].topic == topic

    await change(
        lambda: press(vigil, ids.ACTION_ACK, channel=channel, ts=opening_ts), line=":eyes: @alice: Acknowledged", topic=None
    )
    assert "*Acknowledged*\n@alice after 2 m" in mrkdwn_texts(opening().blocks or [])

    await change(
        lambda: vigil.command("note rolled back deploy 4411 <!channel>", channel=channel),
        line=":memo: @alice: rolled back deploy 4411 &lt;!channel&gt;",
        topic=None,
    )
    assert any(t.startswith("*Latest note* · @alice · <!date^") for t in mrkdwn_texts(opening().blocks or []))

    await change(
        lambda: vigil.command("mitigating", channel=channel),
        line=":hammer_and_wrench: @alice: Status open → mitigating",
        topic="🔴 P1 · Mitigating · IC @alice",
    )
    assert buttons(opening()) == [ids.ACTION_NOTE, ids.ACTION_RESOLVE, ids.ACTION_UPDATE]

    await change(
        lambda: vigil.command("severity P2", channel=channel),
        line=":large_orange_circle: @alice: Severity P1 → P2",
        topic="🟠 P2 · Mitigating · IC @alice",
        thread=1,
    )
    downgrade = watch.thread()[-1]
    assert downgrade.text.startswith(":arrow_down: INC-1 downgraded") and downgrade.subtype is None  # thread only

    # Resolve asks for the resolution in a modal.
    await press(vigil, ids.ACTION_RESOLVE, channel=channel, ts=opening_ts)
    form = emu.state.top_modal(ALICE)
    assert form is not None and form.callback_id == ids.VIEW_RESOLVE
    await change(
        lambda: submit(vigil, "Resolution", "Rolled back the bad deploy"),
        line=":white_check_mark: @alice: Status mitigating → resolved: Rolled back the bad deploy",
        topic="🟠 P2 · Resolved · IC @alice",
        thread=1,
    )
    resolved = watch.thread()[-1]
    assert resolved.text == ":white_check_mark: INC-1 resolved after 10 m: Rolled back the bad deploy"
    assert resolved.subtype == "thread_broadcast" and resolved in emu.state.history(INCIDENTS_CHANNEL)  # heard there
    [head] = [t for t in mrkdwn_texts(announcement().blocks or []) if t.startswith(":white_check_mark:")]
    assert head.startswith(":white_check_mark: *Resolved after 10 m* · P2 · INC-1 · ")
    assert "_Impact:_ Card payments fail &lt;!here&gt; with HTTP 500" in head
    assert buttons(announcement()) == [ids.ACTION_JOIN]
    assert buttons(opening()) == [ids.ACTION_POSTMORTEM, ids.ACTION_REOPEN]  # a P2 owes its postmortem

    await change(
        lambda: press(vigil, ids.ACTION_POSTMORTEM, channel=channel, ts=opening_ts),
        line=":memo: @alice: Status resolved → postmortem",
        topic="🟠 P2 · Postmortem · IC @alice",
    )
    assert buttons(opening()) == [ids.ACTION_REOPEN, ids.ACTION_CLOSE]

    await change(
        lambda: press(vigil, ids.ACTION_CLOSE, channel=channel, ts=opening_ts),
        line=":lock: @alice: Status postmortem → closed",
        topic="Rolled back the bad deploy",
    )
    assert buttons(opening()) == []
    assert (await reload(vigil, incident)).status == "closed"

    # Nothing Vigil wrote in these surfaces lets user text out as markup.
    bot = emu.state.identity.bot_user_id
    written = [  # Vigil's messages, not the notices Slack itself adds ("set the channel topic")
        m
        for where in (channel, INCIDENTS_CHANNEL)
        for m in emu.state.history(where)
        if m.user == bot and m.subtype in (None, "thread_broadcast")
    ]
    texts = [t for m in written for t in texts_of(m)]
    texts += [t for m in written for edit in m.edits for t in [edit.text, *mrkdwn_texts(edit.blocks or [])]]
    texts += [confirmation.text, *mrkdwn_texts(confirmation.blocks or [])]
    texts += [str(c.args.get("topic")) for c in emu.calls_to("conversations.setTopic")]
    assert len(texts) > 40
    assert [t for t in texts if misread(t) or "<!channel>" in t or "<!here>" in t] == []


async def test_an_escalation_to_p1_is_heard_in_the_channel(vigil: Vigil) -> None:
    incident = await declare(vigil, "Search slow", "P3")
    channel = incident.channel_id or ""
    await vigil.command("severity P2", channel=channel)
    await vigil.settle()
    await vigil.command("severity P1", channel=channel)
    await vigil.settle()
    replies = [m for m in vigil.emu.state.history(INCIDENTS_CHANNEL) if m.is_reply]
    assert [(m.text, m.subtype) for m in replies] == [
        (":arrow_up: INC-1 escalated to :large_orange_circle: *P2* (was P3)", None),
        (":arrow_up: INC-1 escalated to :red_circle: *P1* (was P2)", "thread_broadcast"),
    ]
    assert all(m.thread_ts == incident.announcement_ts for m in replies)
    # The announcement itself stays one message, edited in place.
    row = await reload(vigil, incident)
    assert [m.ts for m in vigil.emu.state.history(INCIDENTS_CHANNEL) if not m.is_reply] == [row.announcement_ts]


async def test_reopen_asks_why_and_is_heard_in_the_channel(vigil: Vigil) -> None:
    incident = await declare(vigil, "Queue stuck", "P3")
    channel, opening_ts = incident.channel_id or "", incident.opening_message_ts or ""
    await vigil.command("resolve drained it", channel=channel)
    await vigil.settle()
    await press(vigil, ids.ACTION_REOPEN, channel=channel, ts=opening_ts)
    refused = await submit(vigil, "Why reopen it?", "again")
    assert refused.payload == {
        "response_action": "errors",
        "errors": {ids.BLOCK_PROMPT: "Say why the incident is reopened, in at least 10 characters."},
    }
    assert (await reload(vigil, incident)).status == "resolved"
    await submit(vigil, "Why reopen it?", "the queue filled up again")
    assert (await reload(vigil, incident)).status == "investigating"
    reply = [m for m in vigil.emu.state.history(INCIDENTS_CHANNEL) if m.is_reply][-1]
    assert (reply.text, reply.subtype) == (":repeat: INC-1 reopened: the queue filled up again", "thread_broadcast")


async def test_add_note_posts_for_everyone(vigil: Vigil) -> None:
    incident = await declare(vigil, "Cache cold", "P3")
    channel, opening_ts = incident.channel_id or "", incident.opening_message_ts or ""
    await vigil.command("investigating", channel=channel)
    await vigil.settle()
    await vigil.emu.user_joins(BOB, channel)
    await press(vigil, ids.ACTION_NOTE, channel=channel, ts=opening_ts, user=BOB)
    empty = await submit(vigil, "Note", "   ", user=BOB)
    assert empty.payload == {"response_action": "errors", "errors": {ids.BLOCK_PROMPT: "Write something first."}}
    await submit(vigil, "Note", "warming it from the replica", user=BOB)
    bot = vigil.emu.state.identity.bot_user_id
    [line] = [m.text for m in vigil.emu.state.history(channel) if m.user == bot and "warming" in m.text]
    assert line == ":memo: @bob: warming it from the replica"
    assert vigil.emu.state.ephemerals_for(BOB) == []


async def test_hand_off_from_the_confirmation(vigil: Vigil) -> None:
    incident = await declare(vigil, "Login errors", "P2")
    channel = incident.channel_id or ""
    await press(vigil, ids.ACTION_HANDOFF, channel=GENERAL)  # on the ephemeral confirmation in #general
    form = vigil.emu.state.top_modal(ALICE)
    assert form is not None and form.callback_id == ids.VIEW_HANDOFF
    await submit(vigil, "New commander", BOB)
    row = await reload(vigil, incident)
    assert row.commander_id == BOB and BOB in vigil.emu.state.channels[channel].members
    bot = vigil.emu.state.identity.bot_user_id
    line = [m.text for m in vigil.emu.state.history(channel) if m.user == bot and not m.subtype][-1]
    assert line == f":bust_in_silhouette: @alice: Commander @alice → <@{BOB}>"  # bob hears of it, alice is named
    assert vigil.emu.state.channels[channel].topic == "🟠 P2 · Open · IC @bob"


async def test_join_channel_from_the_announcement(vigil: Vigil) -> None:
    incident = await declare(vigil, "Payments slow", "P2")
    channel = incident.channel_id or ""
    vigil.emu.state.channels[INCIDENTS_CHANNEL].members.append(DAVE)
    assert DAVE not in vigil.emu.state.channels[channel].members
    await press(vigil, ids.ACTION_JOIN, channel=INCIDENTS_CHANNEL, ts=incident.announcement_ts, user=DAVE)
    assert DAVE in vigil.emu.state.channels[channel].members
    assert vigil.emu.responses_for(DAVE)[-1].text == f"You are in <#{channel}>."


async def test_the_links_row_shows_tickets_and_pages(vigil: Vigil) -> None:
    incident = await declare(vigil, "API down", "P2")
    async with vigil.container.sessions() as session, session.begin():
        session.add(Integration(id="jira1", team_id=vigil.team_id, kind="jira", name="Jira"))
        session.add(Integration(id="pd1", team_id=vigil.team_id, kind="pagerduty", name="PagerDuty"))
        await session.flush()
        session.add(
            IntegrationLink(
                team_id=vigil.team_id,
                incident_id=incident.id,
                integration_id="jira1",
                external_id="OPS-12",
                external_url="https://acme.atlassian.net/browse/OPS-12",
            )
        )
        session.add(
            IncidentPage(
                team_id=vigil.team_id,
                incident_id=incident.id,
                integration_id="pd1",
                target="routing:integration",
                method="events",
                dedup_key="k",
                pd_incident_url="https://acme.pagerduty.com/incidents/Q1",
            )
        )
    await vigil.command("ack", channel=incident.channel_id or "")
    await vigil.settle()
    opening = vigil.emu.state.find_message(incident.channel_id or "", incident.opening_message_ts or "")
    assert opening is not None
    [row] = [t for t in mrkdwn_texts(opening.blocks or []) if t.startswith(":link:")]
    ts = (incident.announcement_ts or "").replace(".", "")
    announcement = f"https://acme.slack.com/archives/{INCIDENTS_CHANNEL}/p{ts}"
    assert row == (
        ":link: <https://acme.atlassian.net/browse/OPS-12|Jira OPS-12> · "
        f"<https://acme.pagerduty.com/incidents/Q1|PagerDuty page> · <{announcement}|Announcement>"
    )


async def test_a_command_typed_elsewhere_is_still_answered(vigil: Vigil) -> None:
    incident = await declare(vigil, "Disk full", "P3")
    before = len(vigil.emu.responses_for(ALICE))
    await vigil.command(f"{incident.number} ack", channel=GENERAL)
    await vigil.settle()
    assert [r.text for r in vigil.emu.responses_for(ALICE)[before:]] == ["INC-1: Acknowledged."]
    await vigil.command("ack", channel=incident.channel_id or "")  # nothing changed: said privately
    await vigil.settle()
    assert "Nothing changed" in vigil.emu.responses_for(ALICE)[-1].text
