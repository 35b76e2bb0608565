"""Replies that teach, read from what the emulator received: the help, short and grouped in blocks with the
incident-number tip last; "did you mean" for an unknown subcommand; a help-channel line that is never a dead end;
a timeline that fits Slack's limits however long the incident; and no `<`, `>` or `&` Slack would misread."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.clock import FrozenClock
from bot.emulator.limits import SECTION_TEXT_MAX, check_message_blocks
from bot.incidents.states import Severity, Status
from db.incidents import add_timeline
from db.models import Incident
from db.tags import DEV_FIREFIGHTER
from tests.app.conftest import ALICE, BOB, GENERAL, INCIDENTS_CHANNEL, StartVigil, Vigil
from tests.mrkdwn import assert_escaped, mrkdwn_texts

CORE = "The ones you need most: `open`, `ack`, `status`, `note`, `resolve`. `/incident help` lists them all."


@dataclass
class Told:
    """Everything one command got back: the ack's text and blocks, then what followed through the response_url."""

    texts: list[str] = field(default_factory=list)
    blocks: list[list[dict[str, Any]]] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.texts)

    def mrkdwn(self) -> list[str]:
        return [*self.texts, *(t for b in self.blocks for t in mrkdwn_texts(b))]


async def told(vigil: Vigil, command: str, *, user: str = ALICE, channel: str = GENERAL) -> Told:
    before = len(vigil.emu.responses_for(user))
    ack = await vigil.command(command, user=user, channel=channel)
    assert ack.acked and not ack.limit_errors, ack.limit_errors
    await vigil.settle()
    answer = Told()
    for body in [ack.payload or {}, *(r.body for r in vigil.emu.responses_for(user)[before:])]:
        if body.get("text"):
            answer.texts.append(str(body["text"]))
        if body.get("blocks"):
            answer.blocks.append(body["blocks"])
    return answer


async def test_help_is_short_grouped_in_blocks_with_the_tip_last(vigil: Vigil) -> None:
    await vigil.tag(DEV_FIREFIGHTER, INCIDENTS_CHANNEL)
    await told(vigil, "help")  # the first reply may look the help channel up after the ack
    ack = await vigil.command("help")
    assert ack.payload is not None and not ack.limit_errors
    blocks = ack.payload["blocks"]  # rides on the ack: nothing waited on the database
    assert check_message_blocks(blocks) == [] and len(blocks) == 4
    groups = blocks[1]["text"]["text"].splitlines()
    assert groups == [
        "*Declare*  `open [P1-P5] [title]`",
        "*Now*  `ack` · `status` · `note &lt;text&gt;` · `mitigating` · `resolve [note]`",
        "*Change*  `severity P1-P5` · `lead @user` · `update`",
        "*After*  `postmortem` · `close [reason] [text]` · `reopen &lt;reason&gt;`",
        "*More*  `investigating` · `timeline` · `list` · `oncall` · `page [service]` · `sos` · `link` · `help [subcommand]`",
    ]
    assert blocks[2]["elements"][0]["text"] == f"Need a hand? Ask in <#{INCIDENTS_CHANNEL}>."
    tip = blocks[-1]["elements"][0]["text"]
    assert tip.startswith("Outside an incident channel, put its number first: `/incident 104 status`")
    assert f"<#{INCIDENTS_CHANNEL}>" in ack.text and "Now" in ack.text  # the text a notification shows
    assert_escaped(ack.text, *mrkdwn_texts(blocks))

    one = await told(vigil, "help reopen")
    assert one.text.startswith("`/incident reopen &lt;reason&gt;` — reopen a resolved incident")
    assert_escaped(*one.mrkdwn())


async def test_an_unknown_subcommand_gets_did_you_mean_and_the_core_five(vigil: Vigil) -> None:
    near = await told(vigil, "resovle the outage")
    assert near.text.startswith(f"Unknown subcommand `resovle`. Did you mean `/incident resolve`? {CORE}")
    far = await told(vigil, "104 frobnicate")
    assert far.text.startswith(f"Unknown subcommand `frobnicate`. {CORE}")
    other_name = await told(vigil, "acknowledge")
    assert "Did you mean `/incident ack`?" in other_name.text
    assert_escaped(*near.mrkdwn(), *far.mrkdwn(), *other_name.mrkdwn())


async def test_without_a_help_channel_the_reply_still_says_where_to_turn(start_vigil: StartVigil) -> None:
    vigil = await start_vigil()
    answer = await told(vigil, "severity", user=BOB)
    assert answer.text == (
        "Usage: `/incident severity P1-P5`\n"
        "Need a hand? `/incident oncall` shows who is on call now. No help channel is set yet: a Slack workspace admin "
        "can choose one in Vigil's App Home, under Tags."
    )
    named = await start_vigil(settings={"VIGIL_ADMINS": f"{BOB},{ALICE}"})
    answer = await told(named, "severity", user=BOB)
    assert f"<@{ALICE}>, <@{BOB}> or a Slack workspace admin can choose one" in answer.text


async def test_usage_lines_and_refusals_are_escaped(vigil: Vigil) -> None:
    declaration = await vigil.container.incidents.declare(
        team_id=vigil.team_id, reporter_id=ALICE, title="Cache <stampede> & co", severity=Severity.P3
    )
    incident = declaration.incident
    await vigil.container.incidents.move(incident, actor_id=ALICE, target=Status.RESOLVED, source="slack")
    short = await told(vigil, f"{incident.number} reopen short")
    assert short.text.startswith("Usage: `/incident reopen &lt;reason&gt;` The reason needs at least 10 characters.")
    refused = await told(vigil, f"{incident.number} investigating")
    assert "`reopen &lt;reason&gt;`" in refused.text
    note = await told(vigil, "note")
    assert note.text.startswith("Usage: `/incident note &lt;text&gt;`")
    assert_escaped(*short.mrkdwn(), *refused.mrkdwn(), *note.mrkdwn())


async def test_a_300_entry_timeline_fits_slacks_limits(start_vigil: StartVigil) -> None:
    declared = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)
    vigil = await start_vigil(clock=FrozenClock(declared))
    declaration = await vigil.container.incidents.declare(
        team_id=vigil.team_id, reporter_id=ALICE, title="The long night", severity=Severity.P1
    )
    await vigil.settle()
    hostile = "<!here> rolled back <https://evil.example|the fix> & retried "
    async with vigil.container.sessions() as session, session.begin():
        row = await session.get(Incident, declaration.incident.id)
        assert row is not None
        for n in range(1, 300):
            await add_timeline(
                session,
                row,
                kind="note",
                source="slack" if n % 3 else "cli",
                at=declared + timedelta(minutes=10 * n),
                actor_id=BOB,
                text=f"{n}: {hostile * (6 + n % 4)}",
            )
    answer = await told(vigil, f"{declaration.incident.number} timeline", user=BOB)  # Bob is in New York
    [blocks] = answer.blocks
    assert check_message_blocks(blocks) == [] and len(blocks) <= 50
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert len(sections) > 5 and all(len(s) <= SECTION_TEXT_MAX for s in sections)
    assert_escaped(*answer.mrkdwn())
    text = "\n".join(sections)
    # The latest entries are there, each once, with its offset from the declaration; the first ones gave way.
    assert "`+49 h 50 m`" not in text and "`+2 d 1 h`" in text  # 299 entries 10 min apart: 2 d 1 h 50 m
    assert text.count("299: ") == 1
    [left_out] = [b for b in blocks if b["type"] == "context" and "left out" in b["elements"][0]["text"]]
    dropped = int(left_out["elements"][0]["text"].split()[2])  # "The first N entries are left out…"
    assert f"· {dropped}: &lt;!here&gt;" in text and f"· {dropped - 1}: &lt;" not in text
    # The date once per day in Bob's zone (bold), never on each line.
    new_york = ZoneInfo("America/New_York")
    days = {(declared + timedelta(minutes=10 * n)).astimezone(new_york).date() for n in range(dropped, 300)}
    assert text.count("{date_long_pretty}") == len(days)
    assert "Declared <!date^" in blocks[1]["elements"][0]["text"]
    assert blocks[-1]["elements"][0]["text"] == "Times in your time zone (America/New_York)"


async def test_the_status_reply_escapes_its_hints(vigil: Vigil) -> None:
    declaration = await vigil.container.incidents.declare(
        team_id=vigil.team_id, reporter_id=ALICE, title="Search <slow> & flaky", severity=Severity.P3
    )
    incident = declaration.incident
    await vigil.container.incidents.move(incident, actor_id=ALICE, target=Status.RESOLVED, source="slack")
    reply = await told(vigil, f"{incident.number} status")
    assert "reopen &lt;reason&gt;" in reply.text
    assert_escaped(*reply.mrkdwn())
