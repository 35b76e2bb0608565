"""Message metadata as Slack handles it: checked on chat.postMessage, returned by history and replies only when asked
with `include_all_metadata`; and conversations.list as a channel-by-name lookup sees it (creator, archived ones)."""

from __future__ import annotations

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.emulator import SlackEmulator
from tests.emulator.conftest import ALICE

INCIDENTS = "C0INCIDENTS"
METADATA = {"event_type": "vigil_step", "event_payload": {"marker": "inc-1:opening"}}


async def test_history_and_replies_carry_metadata_only_when_asked(emu: SlackEmulator, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel=INCIDENTS, text="opening", metadata=METADATA)
    assert posted["message"]["metadata"] == METADATA
    assert emu.state.find_message(INCIDENTS, posted["ts"]).metadata == METADATA  # type: ignore[union-attr]
    reply = await client.chat_postMessage(channel=INCIDENTS, text="reply", thread_ts=posted["ts"], metadata=METADATA)

    plain = await client.conversations_history(channel=INCIDENTS)
    assert plain["messages"][0]["ts"] == posted["ts"] and "metadata" not in plain["messages"][0]
    full = await client.conversations_history(channel=INCIDENTS, include_all_metadata=True)
    assert full["messages"][0]["metadata"] == METADATA

    thread = await client.conversations_replies(channel=INCIDENTS, ts=posted["ts"])
    assert [m["ts"] for m in thread["messages"]] == [posted["ts"], reply["ts"]]
    assert all("metadata" not in m for m in thread["messages"])
    thread = await client.conversations_replies(channel=INCIDENTS, ts=posted["ts"], include_all_metadata=True)
    assert [m.get("metadata") for m in thread["messages"]] == [METADATA, METADATA]


async def test_a_message_without_metadata_has_none(client: AsyncWebClient) -> None:
    await client.chat_postMessage(channel=INCIDENTS, text="plain")
    full = await client.conversations_history(channel=INCIDENTS, include_all_metadata=True)
    assert "metadata" not in full["messages"][0]


@pytest.mark.parametrize(
    "metadata",
    [
        {"event_type": "vigil_step"},
        {"event_payload": {"marker": "x"}},
        {"event_type": 7, "event_payload": {}},
        {"event_type": "", "event_payload": {}},
        {"event_type": "vigil_step", "event_payload": "marker"},
        ["vigil_step"],
    ],
)
async def test_malformed_metadata_is_refused(emu: SlackEmulator, client: AsyncWebClient, metadata: object) -> None:
    with pytest.raises(SlackApiError) as info:
        await client.api_call("chat.postMessage", json={"channel": INCIDENTS, "text": "x", "metadata": metadata})
    assert info.value.response["error"] == "invalid_metadata_format"
    assert emu.state.history(INCIDENTS) == []


async def test_metadata_sent_as_a_form_field_is_json(emu: SlackEmulator) -> None:
    headers = {"Authorization": f"Bearer {emu.bot_token}"}
    async with aiohttp.ClientSession() as session:
        good = {"channel": INCIDENTS, "text": "x", "metadata": '{"event_type": "e", "event_payload": {"k": 1}}'}
        async with session.post(f"{emu.api_url}chat.postMessage", data=good, headers=headers) as resp:
            posted = await resp.json()
        bad = {"channel": INCIDENTS, "text": "x", "metadata": "{not json"}
        async with session.post(f"{emu.api_url}chat.postMessage", data=bad, headers=headers) as resp:
            refused = await resp.json()
    assert posted["ok"] and posted["message"]["metadata"] == {"event_type": "e", "event_payload": {"k": 1}}
    assert refused["error"] == "invalid_metadata_format"


async def test_conversations_list_shows_creator_and_archived_channels(emu: SlackEmulator, client: AsyncWebClient) -> None:
    made = (await client.conversations_create(name="inc-1-checkout", is_private=True))["channel"]["id"]
    await client.conversations_archive(channel=made)
    seeded = emu.add_channel("inc-0-seeded", members=[ALICE])
    emu.add_channel("inc-hidden", is_private=True, members=[ALICE], bot_member=False)

    listed = await client.conversations_list(types="public_channel,private_channel", exclude_archived=False)
    by_name = {c["name"]: c for c in listed["channels"]}
    assert set(by_name) == {"incidents", "inc-1-checkout", "inc-0-seeded"}  # private: only where the bot is a member
    assert (by_name["inc-1-checkout"]["id"], by_name["inc-1-checkout"]["creator"]) == (made, "U0VIGILBOT")
    assert by_name["inc-1-checkout"]["is_archived"] is True and by_name["inc-1-checkout"]["is_private"] is True
    assert (by_name["inc-0-seeded"]["id"], by_name["inc-0-seeded"]["creator"]) == (seeded, ALICE)
