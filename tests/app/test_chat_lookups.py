"""SlackChat's lookups for resumable steps, against the emulator: marked posts, channels by name, the bot's own id.

A crashed step is re-run; these are what let it find the channel or message it already made instead of making a
second one, so each test shows both that the thing is found and that look-alikes are not."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.emulator import SlackEmulator
from bot.emulator.state import Message
from bot.incidents.ports import ChatError, FoundChannel, IncidentCard, Note
from bot.slack_chat import STEP_EVENT_TYPE, SlackChat
from tests.app.conftest import ALICE, INCIDENTS_CHANNEL

BOT = "U0VIGILBOT"


@pytest.fixture
def chat(emulator: SlackEmulator) -> SlackChat:
    return SlackChat(AsyncWebClient(token=emulator.bot_token, base_url=emulator.api_url))


def card(channel_id: str) -> IncidentCard:
    return IncidentCard(
        team_id="T0VIGIL",
        number=7,
        title="Checkout down",
        severity="P1",
        status="open",
        private=False,
        description="",
        reporter_id=ALICE,
        commander_id=None,
        component=None,
        channel_id=channel_id,
        created_at=datetime(2025, 11, 22, 10, 0, tzinfo=UTC),
    )


def metadata_of(emu: SlackEmulator, channel_id: str, ts: str) -> object:
    message = emu.state.find_message(channel_id, ts)
    assert message is not None
    return message.metadata


# ---- marking and finding posts ------------------------------------------------------------------------------------


async def test_every_post_can_carry_a_marker_and_is_found_by_it(emulator: SlackEmulator, chat: SlackChat) -> None:
    channel_id = await chat.create_channel(name="inc-7-checkout", private=False)
    c = card(channel_id)
    posted = {
        "opening": await chat.post_opening(card=c, marker="inc-7:opening"),
        "announce": await chat.announce(channel_id=channel_id, card=c, marker="inc-7:announce"),
        "deploy": await chat.warn_deploy(channel_id=channel_id, card=c, marker="inc-7:deploy"),
        "change": await chat.post_change(
            channel_id=channel_id, actor_id=ALICE, notes=[Note(kind="status", text="acknowledged")], marker="inc-7:change"
        ),
        "message": await chat.post_message(channel_id=channel_id, text="SOS", marker="inc-7:message"),
    }
    assert len(set(posted.values())) == len(posted)
    for step, ts in posted.items():
        assert metadata_of(emulator, channel_id, ts) == {
            "event_type": STEP_EVENT_TYPE,
            "event_payload": {"marker": f"inc-7:{step}"},
        }
        assert await chat.find_marked(channel_id=channel_id, marker=f"inc-7:{step}") == ts


async def test_a_reply_in_a_thread_is_found_in_that_thread(emulator: SlackEmulator, chat: SlackChat) -> None:
    c = card(INCIDENTS_CHANNEL)
    parent = await chat.announce(channel_id=INCIDENTS_CHANNEL, card=c, marker="inc-7:announcement")
    reply = Note("resolved", "rolled back", {"after": 600})
    quiet = await chat.reply_to_announcement(
        channel_id=INCIDENTS_CHANNEL, thread_ts=parent, card=c, reply=reply, marker="inc-7:thread:1"
    )
    loud = await chat.reply_to_announcement(
        channel_id=INCIDENTS_CHANNEL, thread_ts=parent, card=c, reply=reply, broadcast=True, marker="inc-7:thread:2"
    )
    # Replies are not in the channel's history: only a search of the thread finds the one not sent to the channel.
    assert await chat.find_marked(channel_id=INCIDENTS_CHANNEL, marker="inc-7:thread:1") is None
    assert await chat.find_marked(channel_id=INCIDENTS_CHANNEL, marker="inc-7:thread:1", thread_ts=parent) == quiet
    assert await chat.find_marked(channel_id=INCIDENTS_CHANNEL, marker="inc-7:thread:2", thread_ts=parent) == loud
    posted = emulator.state.find_message(INCIDENTS_CHANNEL, loud)
    assert posted is not None and posted.subtype == "thread_broadcast"
    assert posted.text == ":white_check_mark: INC-7 resolved after 10 m: rolled back"


async def test_unmarked_and_differently_marked_posts_are_not_found(emulator: SlackEmulator, chat: SlackChat) -> None:
    channel_id = await chat.create_channel(name="inc-8-db", private=False)
    unmarked = await chat.post_opening(card=card(channel_id))
    await chat.post_message(channel_id=channel_id, text="other", marker="inc-8:other")
    await chat.post_message(channel_id=channel_id, text="prefix", marker="inc-8:opening-2")

    assert metadata_of(emulator, channel_id, unmarked) is None  # no marker, no metadata: as before markers existed
    assert await chat.find_marked(channel_id=channel_id, marker="inc-8:opening") is None
    history = emulator.calls_to("conversations.history")[-1]
    assert history.args["channel"] == channel_id
    assert history.args["include_all_metadata"] in ("1", "true")  # without it Slack leaves metadata out


async def test_a_marker_posted_by_another_app_or_a_person_is_not_vigils(emulator: SlackEmulator, chat: SlackChat) -> None:
    same = {"event_type": STEP_EVENT_TYPE, "event_payload": {"marker": "inc-9:opening"}}
    for user, bot_id in (("U0OTHERBOT", "B0OTHER"), (ALICE, None)):
        emulator.state.history(INCIDENTS_CHANNEL).append(
            Message(ts=emulator.ids.ts(), channel=INCIDENTS_CHANNEL, user=user, bot_id=bot_id, text="x", metadata=same)
        )
    assert await chat.find_marked(channel_id=INCIDENTS_CHANNEL, marker="inc-9:opening") is None
    mine = await chat.post_message(channel_id=INCIDENTS_CHANNEL, text="mine", marker="inc-9:opening")
    assert await chat.find_marked(channel_id=INCIDENTS_CHANNEL, marker="inc-9:opening") == mine


async def test_only_the_newest_limit_messages_are_searched(emulator: SlackEmulator, chat: SlackChat) -> None:
    ts = await chat.post_message(channel_id=INCIDENTS_CHANNEL, text="marked", marker="inc-10:opening")
    for i in range(3):
        await chat.post_message(channel_id=INCIDENTS_CHANNEL, text=f"later {i}")

    assert await chat.find_marked(channel_id=INCIDENTS_CHANNEL, marker="inc-10:opening", limit=3) is None
    assert await chat.find_marked(channel_id=INCIDENTS_CHANNEL, marker="inc-10:opening", limit=4) == ts
    assert await chat.find_marked(channel_id=INCIDENTS_CHANNEL, marker="inc-10:opening", limit=5000) == ts
    limits = [c.args["limit"] for c in emulator.calls_to("conversations.history")]
    assert limits == ["3", "4", "200"]


async def test_find_marked_where_the_bot_cannot_read_is_none(emulator: SlackEmulator, chat: SlackChat) -> None:
    public = emulator.add_channel("elsewhere", members=[ALICE], bot_member=False)
    private = emulator.add_channel("secret", is_private=True, members=[ALICE], bot_member=False)
    for channel_id in (public, private, "C0GONE"):
        assert await chat.find_marked(channel_id=channel_id, marker="inc-11:opening") is None
    errors = [c.error for c in emulator.calls_to("conversations.history")]
    assert errors == ["not_in_channel", "channel_not_found", "channel_not_found"]


async def test_find_marked_retries_a_5xx_and_raises_other_errors(emulator: SlackEmulator, chat: SlackChat) -> None:
    ts = await chat.post_message(channel_id=INCIDENTS_CHANNEL, text="marked", marker="inc-12:opening")
    emulator.fail_next("conversations.history", error="internal_error", status=500)
    assert await chat.find_marked(channel_id=INCIDENTS_CHANNEL, marker="inc-12:opening") == ts
    assert [c.status for c in emulator.calls_to("conversations.history")] == [500, 200]

    emulator.fail_next("conversations.history", error="missing_scope")
    with pytest.raises(ChatError) as info:
        await chat.find_marked(channel_id=INCIDENTS_CHANNEL, marker="inc-12:opening")
    assert info.value.code == "missing_scope"


async def test_a_marked_post_is_not_retried(emulator: SlackEmulator, chat: SlackChat) -> None:
    # After a 5xx the message may have been posted: the step must look with find_marked, not post again.
    emulator.fail_next("chat.postMessage", error="internal_error", status=500)
    with pytest.raises(ChatError) as info:
        await chat.post_message(channel_id=INCIDENTS_CHANNEL, text="once", marker="inc-13:opening")
    assert info.value.code == "internal_error"
    assert len(emulator.calls_to("chat.postMessage")) == 1


# ---- finding channels by name -------------------------------------------------------------------------------------


async def test_find_channel_finds_the_bots_channel_archived_or_not(emulator: SlackEmulator, chat: SlackChat) -> None:
    live = await chat.create_channel(name="inc-20-api", private=False)
    archived = await chat.create_channel(name="inc-21-api", private=True)
    await chat.client.conversations_archive(channel=archived)

    found_live = await chat.find_channel(name="inc-20-api")
    assert found_live == FoundChannel(
        id=live, name="inc-20-api", creator=await chat.bot_user_id(), is_archived=False, created=found_live.created
    )
    assert found_live.created == emulator.state.channels[live].created > 0
    found_archived = await chat.find_channel(name="inc-21-api")
    assert found_archived == FoundChannel(
        id=archived, name="inc-21-api", creator=BOT, is_archived=True, created=found_archived.created
    )
    assert await chat.find_channel(name="inc-20") is None  # exact names only
    assert await chat.find_channel(name="nowhere") is None
    call = emulator.calls_to("conversations.list")[0]
    assert set(call.args["types"].split(",")) == {"public_channel", "private_channel"}
    assert call.args["exclude_archived"] in ("0", "false")


async def test_find_channel_sees_a_private_channel_only_as_a_member(emulator: SlackEmulator, chat: SlackChat) -> None:
    hidden = emulator.add_channel("inc-22-secret", is_private=True, members=[ALICE], bot_member=False)
    assert await chat.find_channel(name="inc-22-secret") is None
    emulator.state.channels[hidden].members.append(BOT)
    found = await chat.find_channel(name="inc-22-secret")
    assert found is not None and (found.id, found.creator) == (hidden, ALICE)


async def test_find_channel_walks_every_page(emulator: SlackEmulator, chat: SlackChat) -> None:
    for i in range(1000):
        emulator.add_channel(f"filler-{i}", members=[ALICE])
    target = await chat.create_channel(name="inc-23-late", private=False)  # listed last: on the second page

    found = await chat.find_channel(name="inc-23-late")
    assert found is not None and found.id == target
    calls = emulator.calls_to("conversations.list")
    assert [c.args["limit"] for c in calls] == ["1000", "1000"]
    assert "cursor" not in calls[0].args and calls[1].args["cursor"] == calls[0].response["response_metadata"]["next_cursor"]

    assert await chat.find_channel(name="inc-24-never") is None
    assert len(emulator.calls_to("conversations.list")) == 4  # both pages again, then no cursor: stop


async def test_find_channel_first_page_stops_the_walk(emulator: SlackEmulator, chat: SlackChat) -> None:
    for i in range(1000):
        emulator.add_channel(f"filler-{i}", members=[ALICE])
    found = await chat.find_channel(name="incidents")
    assert found is not None and found.id == INCIDENTS_CHANNEL
    assert len(emulator.calls_to("conversations.list")) == 1


async def test_find_channel_retries_a_5xx(emulator: SlackEmulator, chat: SlackChat) -> None:
    emulator.fail_next("conversations.list", error="internal_error", status=503)
    found = await chat.find_channel(name="incidents")
    assert found is not None and found.id == INCIDENTS_CHANNEL
    assert [c.status for c in emulator.calls_to("conversations.list")] == [503, 200]


# ---- the bot's own id ---------------------------------------------------------------------------------------------


async def test_bot_user_id_asks_auth_test_once(emulator: SlackEmulator, chat: SlackChat) -> None:
    ids = await asyncio.gather(*(chat.bot_user_id() for _ in range(3)))
    assert ids == [BOT, BOT, BOT]
    assert await chat.bot_user_id() == BOT
    await chat.find_marked(channel_id=INCIDENTS_CHANNEL, marker="inc-30:opening")
    assert len(emulator.calls_to("auth.test")) == 1
