"""Working an incident through Slack: every move of the move table, the subcommands, acks, pins, double clicks,
private visibility and close."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import slack_ids as ids
from bot.clock import FrozenClock
from bot.incidents.states import ClosureReason, Severity, Status
from db.incidents import timeline_of
from db.models import Incident, TimelineEvent, Usergroup
from db.tags import INVITED_FOR_ALL_PUBLIC_P1, IT_DEPLOY, set_usergroup_tag
from tests.app.conftest import ALICE, BOB, CAROL, DAVE, GENERAL, INCIDENTS_CHANNEL, SRE, StartVigil, Vigil

# The move table, written out: (from, command) → resulting status, or None when refused. P3 unless a key says P1.
MOVES: dict[tuple[str, str], str | None] = {
    ("open", "investigating"): "investigating",
    ("open", "mitigating"): "mitigating",
    ("open", "resolve"): "resolved",
    ("open", "postmortem"): None,
    ("open", "close"): None,  # needs a reason
    ("open", "close duplicate"): "closed",
    ("investigating", "mitigating"): "mitigating",
    ("investigating", "resolve"): "resolved",
    ("investigating", "postmortem"): None,
    ("investigating", "close"): None,
    ("investigating", "close false_positive"): "closed",
    ("mitigating", "investigating"): "investigating",
    ("mitigating", "resolve"): "resolved",
    ("mitigating", "postmortem"): None,
    ("mitigating", "close superseded"): "closed",
    ("resolved", "investigating"): None,  # pointer to reopen
    ("resolved", "mitigating"): None,
    ("resolved", "postmortem"): "postmortem",
    ("resolved", "close"): "closed",  # P3
    ("resolved", "reopen the fix did not hold at all"): "investigating",
    ("resolved", "reopen short"): None,
    ("postmortem", "close"): "closed",
    ("postmortem", "investigating"): None,
    ("postmortem", "resolve"): None,
    ("postmortem", "reopen found another failure mode"): "investigating",
    ("closed", "investigating"): None,
    ("closed", "resolve"): None,
    ("closed", "reopen this should not be possible"): None,
    ("open", "reopen nothing to reopen here"): None,
}
P1_MOVES: dict[tuple[str, str], str | None] = {
    ("resolved", "close"): None,  # P1/P2 pass through postmortem
    ("resolved", "close duplicate"): None,
    ("resolved", "postmortem"): "postmortem",
    ("postmortem", "close"): "closed",
    ("open", "close cancelled"): "closed",  # closing early with a reason skips the postmortem
}


async def open_incident(
    vigil: Vigil, title: str = "DB down", severity: str = "P3", *, private: bool = False, user: str = ALICE
) -> Incident:
    declaration = await vigil.container.incidents.declare(
        team_id=vigil.team_id, reporter_id=user, title=title, severity=Severity(severity), private=private
    )
    assert declaration.incident.channel_id
    return declaration.incident


# How each starting status is reached through the service, from open: the same moves a person would make.
PATHS: dict[str, list[tuple[Status, ClosureReason | None]]] = {
    "open": [],
    "investigating": [(Status.INVESTIGATING, None)],
    "mitigating": [(Status.MITIGATING, None)],
    "resolved": [(Status.RESOLVED, None)],
    "postmortem": [(Status.RESOLVED, None), (Status.POSTMORTEM, None)],
    "closed": [(Status.CLOSED, ClosureReason.CANCELLED)],
}


async def set_status(vigil: Vigil, incident: Incident, status: str) -> None:
    """Bring the incident to `status` through the service (never by writing the column)."""
    for target, reason in PATHS[status]:
        incident = (
            await vigil.container.incidents.move(
                incident, actor_id=ALICE, target=target, source="slack", closure_reason=reason
            )
        ).incident


async def reload(vigil: Vigil, incident: Incident) -> Incident:
    async with vigil.container.sessions() as session:
        row = await session.get(Incident, incident.id)
        assert row is not None
        return row


async def timeline(vigil: Vigil, incident: Incident) -> list[TimelineEvent]:
    async with vigil.container.sessions() as session:
        return await timeline_of(session, await reload(vigil, incident))


async def say(vigil: Vigil, text: str, *, user: str = ALICE, channel: str = GENERAL) -> str:
    """Run a command and return everything the user was told (ack text and ephemeral responses)."""
    before = len(vigil.emu.responses_for(user))
    ack = await vigil.command(text, user=user, channel=channel)
    assert ack.acked
    await vigil.settle()
    replies = [r.text for r in vigil.emu.responses_for(user)[before:]]
    return "\n".join([ack.text, *replies]).strip()


def posted(vigil: Vigil, channel: str) -> list[str]:
    """What Vigil has posted in a channel so far (its own messages, not Slack's join and topic notices)."""
    bot = vigil.emu.state.identity.bot_user_id
    return [m.text for m in vigil.emu.state.history(channel) if m.user == bot and not m.subtype]


async def said_in_channel(vigil: Vigil, text: str, *, channel: str, user: str = ALICE) -> list[str]:
    """Run a command inside the incident's channel: what Vigil posted there for it. The one who typed it is told
    nothing privately when it worked (its line says it, for everyone)."""
    before = len(posted(vigil, channel))
    assert await say(vigil, text, user=user, channel=channel) == "", f"{text!r} was echoed privately"
    return posted(vigil, channel)[before:]


@pytest.mark.parametrize(("start", "command", "expected"), [(*k, v) for k, v in MOVES.items()])
async def test_move_table_p3(vigil: Vigil, start: str, command: str, expected: str | None) -> None:
    await _check_move(vigil, "P3", start, command, expected)


@pytest.mark.parametrize(("start", "command", "expected"), [(*k, v) for k, v in P1_MOVES.items()])
async def test_move_table_p1(vigil: Vigil, start: str, command: str, expected: str | None) -> None:
    await _check_move(vigil, "P1", start, command, expected)


async def _check_move(vigil: Vigil, severity: str, start: str, command: str, expected: str | None) -> None:
    incident = await open_incident(vigil, severity=severity)
    await set_status(vigil, incident, start)
    moved_before = len([e for e in await timeline(vigil, incident) if e.kind == "status"])
    channel = incident.channel_id or ""
    lines_before = len(posted(vigil, channel))
    reply = await say(vigil, command, channel=channel)
    after = await reload(vigil, incident)
    lines = posted(vigil, channel)[lines_before:]
    if expected is None:
        assert after.status == start, reply
        explained = ("Allowed next", "at least 10 characters", "reopen", "Closed incidents are final")
        assert any(phrase in reply for phrase in explained), reply
        if start in ("resolved", "postmortem") and command in ("investigating", "mitigating"):
            assert "reopen" in reply
        assert lines == []
    else:
        assert after.status == expected, reply
        assert reply == ""  # typed in the incident's channel: its one line there says it, no private echo
        [line] = lines
        assert expected in line and f"<@{ALICE}>" not in line
        moves = [e for e in await timeline(vigil, incident) if e.kind == "status"][moved_before:]
        assert len(moves) == 1 and moves[0].actor_id == ALICE and moves[0].source == "slack"


async def test_number_prefix_works_from_any_channel_and_unknown_numbers_are_not_found(vigil: Vigil) -> None:
    incident = await open_incident(vigil)
    assert "investigating" in await say(vigil, f"INC-{incident.number} investigating")
    assert (await reload(vigil, incident)).status == "investigating"
    assert "INC-99 not found" in await say(vigil, "99 status")
    assert "not an incident channel" in await say(vigil, "status", channel=GENERAL)


async def test_status_list_note_and_lead(vigil: Vigil) -> None:
    incident = await open_incident(vigil, "Checkout 5xx", "P2")
    channel = incident.channel_id or ""
    status = await say(vigil, "status", channel=channel)
    assert "Checkout 5xx" in status and "P2" in status and "Next: investigating" in status
    assert f"INC-{incident.number}" in await say(vigil, "list", user=BOB)
    # A note is for everyone in the channel, named, not pinging its author.
    assert await said_in_channel(vigil, "note rolled back deploy 42", channel=channel) == [
        ":memo: @alice: rolled back deploy 42"
    ]
    assert "Usage" in await say(vigil, "note", channel=channel)
    # From elsewhere, the author is told where it went.
    assert f"posted in <#{channel}>" in await say(vigil, f"{incident.number} note and one from #general")
    assert posted(vigil, channel)[-1] == ":memo: @alice: and one from #general"
    # A new commander named by someone else is mentioned, so that they hear of it.
    assert await said_in_channel(vigil, f"lead <@{BOB}|bob>", channel=channel) == [
        f":bust_in_silhouette: @alice: Commander @alice → <@{BOB}>"
    ]
    row = await reload(vigil, incident)
    assert row.commander_id == BOB
    assert BOB in vigil.emu.state.channels[channel].members
    assert vigil.emu.state.channels[channel].topic == "🟠 P2 · Open · IC @bob"
    assert "already leads" in await say(vigil, f"lead <@{BOB}>", channel=channel)
    assert "Usage" in await say(vigil, "lead bob", channel=channel)
    kinds = [e.kind for e in await timeline(vigil, incident)]
    assert kinds.count("note") == 2 and kinds.count("commander") == 1


async def test_severity_change_reevaluates_announcement_invites_and_deploy_warning(vigil: Vigil) -> None:
    await vigil.tag(IT_DEPLOY, GENERAL)
    async with vigil.container.sessions() as session, session.begin():
        session.add(Usergroup(team_id=vigil.team_id, id=SRE, handle="sre", user_ids=[ALICE, DAVE]))
        await set_usergroup_tag(session, team_id=vigil.team_id, tag=INVITED_FOR_ALL_PUBLIC_P1, usergroup_id=SRE, by=None)
    incident = await open_incident(vigil, "Search slow", "P4", user=BOB)
    channel = incident.channel_id or ""
    assert vigil.emu.state.history(INCIDENTS_CHANNEL) == []
    [line] = await said_in_channel(vigil, "severity p2", channel=channel)
    assert "Severity P4 → P2" in line
    row = await reload(vigil, incident)
    assert row.announcement_channel_id == INCIDENTS_CHANNEL and row.announcement_ts
    assert DAVE not in vigil.emu.state.channels[channel].members
    [line] = await said_in_channel(vigil, "severity 1", channel=channel)
    assert "Severity P2 → P1" in line
    assert DAVE in vigil.emu.state.channels[channel].members
    announcement = vigil.emu.state.find_message(INCIDENTS_CHANNEL, row.announcement_ts or "")
    assert announcement is not None and "P1" in str(announcement.blocks) and announcement.edits  # edited in place
    assert [m.ts for m in vigil.emu.state.history(INCIDENTS_CHANNEL) if not m.is_reply] == [row.announcement_ts]
    warnings = [m for m in vigil.emu.state.history(GENERAL) if "Deploy freeze" in str(m.blocks)]
    assert len(warnings) == 1
    await say(vigil, "severity P2", channel=channel)
    await say(vigil, "severity P1", channel=channel)
    assert len([m for m in vigil.emu.state.history(GENERAL) if "Deploy freeze" in str(m.blocks)]) == 1
    # a resolved P1 now owes a postmortem
    await say(vigil, "resolve fixed", channel=channel)
    assert "postmortem" in await say(vigil, "close", channel=channel)
    assert (await reload(vigil, incident)).status == "resolved"


async def test_acks_by_reaction_button_and_command_first_wins(vigil: Vigil) -> None:
    incident = await open_incident(vigil)
    channel, opening = incident.channel_id or "", incident.opening_message_ts or ""
    await vigil.emu.user_joins(BOB, channel)
    await vigil.emu.user_reacts(BOB, channel, opening, "eyes")
    await vigil.settle()
    row = await reload(vigil, incident)
    assert row.acknowledged_by == BOB and row.acknowledged_at is not None
    assert [c.args.get("user") for c in vigil.emu.calls_to("users.info")].count(BOB) == 1  # met for the first time
    first_at = row.acknowledged_at
    ack = await vigil.emu.send_block_action(user_id=ALICE, action_id=ids.ACTION_ACK, channel_id=channel, message_ts=opening)
    assert ack.acked
    await vigil.settle()
    assert "already acknowledged by" in await say(vigil, "ack", user=BOB, channel=channel)
    row = await reload(vigil, incident)
    assert (row.acknowledged_by, row.acknowledged_at) == (BOB, first_at)
    acks = [(e.actor_id, e.data.get("first")) for e in await timeline(vigil, incident) if e.kind == "ack"]
    assert acks == [(BOB, True), (ALICE, False)]
    message = vigil.emu.state.find_message(channel, opening)
    assert message is not None and message.blocks is not None
    fields = [f["text"] for b in message.blocks for f in b.get("fields", [])]
    assert "*Acknowledged*\n@bob after 1 m" in fields  # the opening message shows the ack
    # Each ack said once in the channel, naming (not pinging) who acked; the later acks change nothing there.
    assert [t for t in posted(vigil, channel) if "Acknowledged" in t] == [":eyes: @bob: Acknowledged"]
    # :eyes: on any other message is not an ack
    other = await open_incident(vigil, "Other")
    ts = await vigil.emu.user_posts(ALICE, other.channel_id or "", "looking")
    await vigil.emu.user_reacts(BOB, other.channel_id or "", ts, "eyes")
    await vigil.settle()
    assert (await reload(vigil, other)).acknowledged_at is None


async def test_pushpin_adds_a_message_to_the_timeline_once(vigil: Vigil) -> None:
    incident = await open_incident(vigil)
    channel = incident.channel_id or ""
    ts = await vigil.emu.user_posts(ALICE, channel, "Root cause: expired TLS cert on lb-3")
    await vigil.emu.user_reacts(ALICE, channel, ts, "pushpin")
    await vigil.settle()
    await vigil.emu.user_joins(BOB, channel)
    await vigil.emu.user_reacts(BOB, channel, ts, "pushpin")
    await vigil.settle()
    pins = [e for e in await timeline(vigil, incident) if e.kind == "pin"]
    assert len(pins) == 1 and "expired TLS cert" in pins[0].text and pins[0].actor_id == ALICE


async def test_double_clicks_change_nothing_twice(vigil: Vigil) -> None:
    incident = await open_incident(vigil)
    channel, opening = incident.channel_id or "", incident.opening_message_ts or ""
    for _ in range(2):
        await vigil.emu.send_block_action(user_id=ALICE, action_id=ids.ACTION_ACK, channel_id=channel, message_ts=opening)
    await vigil.settle()
    await set_status(vigil, incident, "investigating")
    # Resolve asks for the resolution first; its form submitted twice resolves once.
    await vigil.emu.send_block_action(user_id=ALICE, action_id=ids.ACTION_RESOLVE, channel_id=channel, message_ts=opening)
    await vigil.settle()
    form = vigil.emu.state.top_modal(ALICE)
    assert form is not None and form.callback_id == ids.VIEW_RESOLVE
    values = vigil.emu.form_values(ALICE, {"Resolution": "restarted the pool"}, view_id=form.id)
    for _ in range(2):
        assert (await vigil.emu.send_view_submission(user_id=ALICE, view_id=form.id, values=values)).acked
    await vigil.settle()
    events = await timeline(vigil, incident)
    assert [e.kind for e in events].count("status") == 2  # investigating, resolved
    assert [e.kind for e in events].count("ack") == 1
    row = await reload(vigil, incident)
    assert (row.status, row.resolution) == ("resolved", "restarted the pool")


async def test_private_incidents_are_not_found_by_outsiders(vigil: Vigil) -> None:
    incident = await open_incident(vigil, "Leaked key", "P2", private=True, user=DAVE)
    ref = f"INC-{incident.number}"
    assert f"{ref} not found" in await say(vigil, f"{ref} status", user=BOB)
    assert f"{ref} not found" in await say(vigil, f"{ref} resolve", user=BOB)
    assert ref not in await say(vigil, "list", user=BOB)
    assert "Leaked key" in await say(vigil, f"{ref} status", user=ALICE)  # admins see everything
    await vigil.emu.user_joins(BOB, incident.channel_id or "", inviter=DAVE)
    await vigil.settle()
    assert "Leaked key" in await say(vigil, f"{ref} status", user=BOB)
    await vigil.emu.user_leaves(BOB, incident.channel_id or "")
    await vigil.settle()
    assert f"{ref} not found" in await say(vigil, f"{ref} status", user=BOB)


async def test_membership_is_checked_with_slack_on_a_miss(vigil: Vigil) -> None:
    incident = await open_incident(vigil, "Quiet private", "P3", private=True, user=DAVE)
    vigil.emu.state.channels[incident.channel_id or ""].members.append(BOB)  # joined while Vigil was not listening
    assert "Quiet private" in await say(vigil, f"{incident.number} status", user=BOB)
    assert vigil.emu.calls_to("conversations.members")


async def test_guests_act_only_inside_incident_channels_they_are_in(vigil: Vigil) -> None:
    incident = await open_incident(vigil, "Partner API down")
    channel = incident.channel_id or ""
    assert "Guests can act" in await say(vigil, f"{incident.number} investigating", user=CAROL)
    assert f"INC-{incident.number}" not in await say(vigil, "list", user=CAROL)
    await vigil.emu.user_joins(CAROL, channel)
    await vigil.settle()
    assert f"INC-{incident.number}" in await say(vigil, "list", user=CAROL)
    assert "Guests can act" in await say(vigil, f"{incident.number} investigating", user=CAROL, channel=GENERAL)
    [line] = await said_in_channel(vigil, "investigating", user=CAROL, channel=channel)
    assert "investigating" in line
    assert (await reload(vigil, incident)).status == "investigating"


async def test_close_renames_the_channel_and_shows_the_final_state(vigil: Vigil) -> None:
    incident = await open_incident(vigil, "Cache stampede", "P3")
    channel = incident.channel_id or ""
    await say(vigil, "resolve TTL jitter deployed", channel=channel)
    await say(vigil, "close", channel=channel)
    row = await reload(vigil, incident)
    assert row.status == "closed" and row.closed_at is not None
    slack_channel = vigil.emu.state.channels[channel]
    assert slack_channel.name == f"inc-{row.number}-cache-stampede-closed" == row.channel_name
    assert slack_channel.topic == "TTL jitter deployed"
    opening = vigil.emu.state.find_message(channel, row.opening_message_ts or "")
    assert opening is not None
    assert ":lock: Closed" in str(opening.blocks) and not [b for b in opening.blocks or [] if b["type"] == "actions"]
    assert "TTL jitter deployed" in str(opening.blocks)
    assert "closed" in await say(vigil, "close", channel=channel)  # closed is final


async def test_timeline_renders_in_the_viewers_time_zone_with_dates(start_vigil: StartVigil) -> None:
    declared = datetime(2026, 1, 6, 4, 30, tzinfo=UTC)  # 23:30 the day before in New York, 05:30 in Paris
    clock = FrozenClock(declared)
    vigil = await start_vigil(clock=clock)
    incident = await open_incident(vigil, "Overnight outage")
    clock.advance(hours=2)
    await say(vigil, "investigating", channel=incident.channel_id or "")
    # Bob is in New York: the date once, and again when the day changes; each time with its offset from declaring.
    text = await say(vigil, "timeline", user=BOB, channel=incident.channel_id or "")
    assert "\nMon 05 Jan 2026\n23:30 EST (+0 m) " in text
    assert "\nTue 06 Jan 2026\n01:30 EST (+2 h 00 m) " in text and "Status open → investigating" in text
    paris = await say(vigil, "timeline", user=ALICE, channel=incident.channel_id or "")
    assert "\nTue 06 Jan 2026\n05:30 CET (+0 m) " in paris and "\n07:30 CET (+2 h 00 m) " in paris
    assert paris.count("Jan 2026") == 1
    # In the blocks, Slack shows each time in the reader's own zone; the fallback is already in it.
    blocks = vigil.emu.responses_for(ALICE)[-1].body["blocks"]
    assert f"<!date^{int(declared.timestamp())}^{{time}}|05:30 CET> `+0 m`" in blocks[2]["text"]["text"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=st.one_of(
        st.text(max_size=80),
        st.builds(
            lambda sub, rest: f"{sub} {rest}",
            st.sampled_from(
                [
                    "status",
                    "severity",
                    "investigating",
                    "resolve",
                    "close",
                    "reopen",
                    "ack",
                    "lead",
                    "note",
                    "timeline",
                    "list",
                    "update",
                    "postmortem",
                    "mitigating",
                    "INC-1",
                    "1",
                    "link",
                    "open",
                    "help",
                ]
            ),
            st.text(max_size=40),
        ),
    )
)
async def test_any_command_text_gets_an_answer_never_a_stack_trace(vigil: Vigil, text: str) -> None:
    if not hasattr(vigil, "_fuzz_incident"):
        vigil._fuzz_incident = await open_incident(vigil, "Fuzz target")  # type: ignore[attr-defined]
    incident: Incident = vigil._fuzz_incident  # type: ignore[attr-defined]
    views_before = len(vigil.emu.calls_to("views.open"))
    lines_before = len(posted(vigil, incident.channel_id or ""))
    reply = await say(vigil, text, channel=incident.channel_id or "")
    opened_modal = len(vigil.emu.calls_to("views.open")) > views_before
    line_posted = len(posted(vigil, incident.channel_id or "")) > lines_before  # a change, in its one line
    assert reply or opened_modal or line_posted, f"silence for {text!r}"
    assert "Traceback" not in reply and "Something went wrong" not in reply, reply
