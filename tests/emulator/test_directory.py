"""The emulator as a big workspace's directory: thousands of users seeded at once, users.list in cursor pages (and
refused without a limit, as Slack refuses it for big teams), disabled usergroups, a call held in flight, and the
scope conversations.join needs."""

from __future__ import annotations

import asyncio

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.emulator import SlackEmulator
from tests.emulator.conftest import EmulatorFactory


async def test_users_list_pages_a_big_workspace_and_wants_a_limit(emu: SlackEmulator, client: AsyncWebClient) -> None:
    ids = emu.seed_users(2500, deleted_every=10, admin_every=7)
    assert len(ids) == 2500 and ids[0] == "U10000001"
    with pytest.raises(SlackApiError) as refused:
        await client.users_list()
    assert refused.value.response["error"] == "limit_required"
    seen: list[dict[str, object]] = []
    async for page in await client.users_list(limit=1000):
        seen.extend(page["members"])
    assert len(seen) == len(emu.state.users) and len({u["id"] for u in seen}) == len(seen)
    person = next(u for u in seen if u["id"] == "U10000007")
    assert person["deleted"] is False and person["is_admin"] is True
    assert person["profile"]["email"] == "person7@acme.example"  # type: ignore[index]
    assert sum(1 for u in seen if u["deleted"]) == 250


async def test_disabled_usergroups_are_listed_only_when_asked(emu: SlackEmulator, client: AsyncWebClient) -> None:
    emu.disable_usergroup("S0SRE")
    assert (await client.usergroups_list())["usergroups"] == []
    [group] = (await client.usergroups_list(include_disabled=True, include_users=True))["usergroups"]
    assert group["id"] == "S0SRE" and group["date_delete"] > 0 and group["users"] == ["U0ALICE", "U0BOB"]


async def test_a_held_method_waits_until_released(emu: SlackEmulator, client: AsyncWebClient) -> None:
    emu.hold("users.info")
    call = asyncio.create_task(client.users_info(user="U0ALICE"))
    await emu.wait_until(lambda: emu.held("users.info") == 1, what="the call waiting")
    assert not call.done() and (await client.auth_test())["ok"]  # other methods answer meanwhile
    emu.release("users.info")
    assert (await call)["user"]["id"] == "U0ALICE"
    assert emu.held("users.info") == 0


async def test_joining_needs_the_channels_join_scope(make_emulator: EmulatorFactory) -> None:
    without = await make_emulator(scopes=("channels:read", "chat:write"))
    without.add_channel("ops", channel_id="C0OPS", bot_member=False)
    client = AsyncWebClient(token=without.bot_token, base_url=without.api_url)
    with pytest.raises(SlackApiError) as refused:
        await client.conversations_join(channel="C0OPS")
    assert refused.value.response["error"] == "missing_scope" and refused.value.response["needed"] == "channels:join"


async def test_responses_can_be_left_out_of_the_record(emu: SlackEmulator, client: AsyncWebClient) -> None:
    emu.record_responses = False
    await client.users_info(user="U0ALICE")
    [call] = emu.calls_to("users.info")
    assert call.ok and call.response == {"ok": True, "error": None}
