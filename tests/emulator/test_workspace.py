"""Workspace behaviour beyond single calls: modal stacks, humans acting, visibility, lifecycle."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.emulator import SlackEmulator
from tests.emulator.conftest import ALICE, BOB, CAROL, EmulatorFactory

INCIDENTS = "C0INCIDENTS"


def modal(callback_id: str, title: str = "Step") -> dict[str, Any]:
    return {"type": "modal", "callback_id": callback_id, "title": {"type": "plain_text", "text": title}, "blocks": []}


async def test_response_actions_drive_the_modal_stack(
    emu: SlackEmulator, bolt_app: AsyncApp, connect: Any, client: AsyncWebClient
) -> None:
    @bolt_app.view("one")
    async def one(ack: Any) -> None:
        await ack(response_action="push", view=modal("two"))

    @bolt_app.view("two")
    async def two(ack: Any) -> None:
        await ack(response_action="update", view=modal("three"))

    @bolt_app.view("three")
    async def three(ack: Any) -> None:
        await ack(response_action="push", view=modal("bad", title="A title far too long to fit"))

    @bolt_app.view("four")
    async def four(ack: Any) -> None:
        await ack(response_action="clear")

    await connect(bolt_app)
    await client.views_open(trigger_id=emu.new_trigger_id(ALICE), view=modal("one"))
    assert (await emu.send_view_submission(user_id=ALICE, values={})).limit_errors == []
    assert [v.callback_id for v in emu.state.modal_stack(ALICE)] == ["one", "two"]
    await emu.send_view_submission(user_id=ALICE, values={})
    stack = emu.state.modal_stack(ALICE)
    assert [v.callback_id for v in stack] == ["one", "three"] and stack[1].data["previous_view_id"] == stack[0].id

    refused = await emu.send_view_submission(user_id=ALICE, values={})
    assert refused.acked and any("[json-pointer:/view/title/text]" in e for e in refused.limit_errors)
    assert [v.callback_id for v in emu.state.modal_stack(ALICE)] == ["one", "three"]

    forged = await emu.send_view_submission(user_id=BOB, callback_id="four", values={})
    assert forged.payload == {"response_action": "clear"}
    await client.views_push(trigger_id=emu.new_trigger_id(ALICE), view=modal("four"))
    await emu.send_view_submission(user_id=ALICE, values={})
    assert emu.state.modal_stack(ALICE) == []


async def test_errors_must_name_input_blocks(
    emu: SlackEmulator, bolt_app: AsyncApp, connect: Any, client: AsyncWebClient
) -> None:
    @bolt_app.view("one")
    async def one(ack: Any) -> None:
        await ack(response_action="errors", errors={"no_such_block": "bad"})

    await connect(bolt_app)
    await client.views_open(trigger_id=emu.new_trigger_id(ALICE), view=modal("one"))
    result = await emu.send_view_submission(user_id=ALICE, values={})
    assert result.limit_errors == [
        "'no_such_block' is not the block_id of an input block [json-pointer:/errors/no_such_block]"
    ]


async def test_humans_joining_and_leaving_only_reach_a_bot_in_the_channel(make_emulator: EmulatorFactory) -> None:
    emu = await make_emulator(ack_timeout=0.05, subscribed_events={"member_joined_channel", "member_left_channel"})
    elsewhere = emu.add_channel("random", members=[ALICE], bot_member=False)
    assert await emu.user_joins(BOB, elsewhere) is None
    assert BOB in emu.state.channels[elsewhere].members
    assert emu.envelopes == []

    await emu.user_joins(CAROL, INCIDENTS)
    await emu.user_leaves(BOB, INCIDENTS)
    assert [(e.event_type, e.payload["event"]["user"]) for e in emu.envelopes if e.retry_attempt == 0] == [
        ("member_joined_channel", CAROL),
        ("member_left_channel", BOB),
    ]
    assert emu.state.history(INCIDENTS)[-1].subtype == "channel_join"


async def test_bot_must_be_in_a_channel_to_post_there(emu: SlackEmulator, client: AsyncWebClient) -> None:
    elsewhere = emu.add_channel("random", members=[ALICE], bot_member=False)
    secret = emu.add_channel("secret", is_private=True, members=[ALICE], bot_member=False)
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel=elsewhere, text="hi")
    assert info.value.response["error"] == "not_in_channel"
    with pytest.raises(SlackApiError) as info:
        await client.conversations_info(channel=secret)
    assert info.value.response["error"] == "channel_not_found"
    await client.conversations_join(channel=elsewhere)
    assert (await client.chat_postMessage(channel="#random", text="hi"))["channel"] == elsewhere
    dm = await client.chat_postMessage(channel=ALICE, text="psst")
    assert emu.state.channels[dm["channel"]].is_im and emu.state.ims[ALICE] == dm["channel"]


async def test_conversations_list_filters_after_cutting_the_page(emu: SlackEmulator, client: AsyncWebClient) -> None:
    for i in range(3):
        emu.add_channel(f"inc-{i}")
    archived = (await client.conversations_create(name="inc-archived"))["channel"]["id"]
    await client.conversations_archive(channel=archived)
    emu.add_channel("hidden", is_private=True, members=[ALICE], bot_member=False)
    names: list[str] = []
    page_sizes: list[int] = []
    async for page in await client.conversations_list(
        types="public_channel,private_channel", exclude_archived=True, limit=2
    ):
        page_sizes.append(len(page["channels"]))
        names += [c["name"] for c in page["channels"]]
    assert names == ["incidents", "inc-0", "inc-1", "inc-2"]
    assert page_sizes == [2, 2, 0]


async def test_latency_and_wait_for_call_timeout(emu: SlackEmulator, client: AsyncWebClient) -> None:
    emu.latency = 0.05
    started = time.monotonic()
    await client.auth_test()
    assert time.monotonic() - started >= 0.05
    with pytest.raises(TimeoutError, match=r"calls so far: auth\.test"):
        await emu.wait_for_call("chat.postMessage", timeout=0.05)


async def test_async_with_frees_the_port() -> None:
    async with SlackEmulator() as emu:
        assert (await AsyncWebClient(token=emu.bot_token, base_url=emu.api_url).auth_test())["ok"]
        port = int(emu.base_url.rsplit(":", 1)[1])
    await emu.stop()  # a second stop is harmless
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)
