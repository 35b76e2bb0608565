"""The Web API as slack_sdk's AsyncWebClient sees it: replies, errors, failure injection and storms, pagination, state."""

from __future__ import annotations

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.emulator import SlackEmulator
from tests.emulator.conftest import ALICE, BOB, CAROL, EmulatorFactory, FakeClock

INCIDENTS = "C0INCIDENTS"


async def api_error(awaitable: object) -> str:
    with pytest.raises(SlackApiError) as info:
        await awaitable  # type: ignore[misc]
    return str(info.value.response["error"])


async def test_auth_test_reports_the_bot_and_its_scopes(emu: SlackEmulator, client: AsyncWebClient) -> None:
    response = await client.auth_test()
    assert response["user_id"] == "U0VIGILBOT"
    assert response["team_id"] == "T0VIGIL"
    assert response["bot_id"] == "B0VIGIL"
    assert "chat:write" in response.headers["x-oauth-scopes"].split(",")
    call = emu.calls_to("auth.test")[0]
    assert (call.http_method, call.token, call.status, call.ok) == ("POST", emu.bot_token, 200, True)


async def test_tokens_and_unknown_methods(emu: SlackEmulator) -> None:
    assert await api_error(AsyncWebClient(token="xoxb-nope", base_url=emu.api_url).auth_test()) == "invalid_auth"
    assert await api_error(AsyncWebClient(base_url=emu.api_url).auth_test()) == "not_authed"
    bot = AsyncWebClient(token=emu.bot_token, base_url=emu.api_url)
    assert await api_error(bot.apps_connections_open(app_token=emu.bot_token)) == "not_allowed_token_type"
    assert await api_error(bot.api_call("no.such.method")) == "unknown_method"
    opened = await bot.apps_connections_open(app_token=emu.app_token)
    assert opened["url"].startswith(emu.base_url.replace("http://", "ws://") + "/link/?ticket=")


async def test_arguments_merge_query_form_and_json(emu: SlackEmulator) -> None:
    async with aiohttp.ClientSession() as session:
        url = f"{emu.api_url}conversations.create?is_private=true"
        headers = {"Authorization": f"Bearer {emu.bot_token}"}
        async with session.post(url, data={"name": "form-made"}, headers=headers) as resp:
            body = await resp.json()
        async with session.post(
            f"{emu.api_url}chat.postMessage", json={"channel": INCIDENTS, "text": "hi"}, headers=headers
        ) as r:
            posted = await r.json()
    assert body["ok"] and body["channel"]["is_private"] is True and body["channel"]["name"] == "form-made"
    assert emu.calls_to("conversations.create")[0].args == {"is_private": "true", "name": "form-made"}
    assert posted["ok"] and emu.state.find_message(INCIDENTS, posted["ts"]) is not None


async def test_conversation_errors(emu: SlackEmulator, client: AsyncWebClient) -> None:
    created = await client.conversations_create(name="inc-1-checkout")
    channel_id = created["channel"]["id"]
    assert created["channel"]["creator"] == "U0VIGILBOT"
    assert await api_error(client.conversations_create(name="inc-1-checkout")) == "name_taken"
    assert await api_error(client.conversations_create(name="Inc 2")) == "invalid_name_specials"
    assert await api_error(client.conversations_create(name="x" * 81)) == "invalid_name_maxlength"
    assert await api_error(client.conversations_create(name="")) == "invalid_name_required"
    assert await api_error(client.conversations_rename(channel=channel_id, name="incidents")) == "name_taken"
    assert await api_error(client.conversations_info(channel="C0MISSING")) == "channel_not_found"

    await client.conversations_archive(channel=channel_id)
    assert await api_error(client.conversations_archive(channel=channel_id)) == "already_archived"
    assert await api_error(client.conversations_create(name="inc-1-checkout")) == "name_taken"
    assert await api_error(client.conversations_setTopic(channel=channel_id, topic="t")) == "is_archived"
    await client.conversations_unarchive(channel=channel_id)

    renamed = await client.conversations_rename(channel=channel_id, name="inc-1-checkout-closed")
    assert renamed["channel"]["previous_names"] == ["inc-1-checkout"]
    assert await api_error(client.conversations_setTopic(channel=channel_id, topic="t" * 251)) == "too_long"
    await client.conversations_setTopic(channel=channel_id, topic="Resolved: bad deploy")
    assert emu.state.channels[channel_id].topic == "Resolved: bad deploy"


async def test_invite_reports_each_bad_user_and_force_invites_the_rest(emu: SlackEmulator, client: AsyncWebClient) -> None:
    channel_id = (await client.conversations_create(name="inc-2"))["channel"]["id"]
    await client.conversations_invite(channel=channel_id, users=[ALICE])
    with pytest.raises(SlackApiError) as info:
        await client.conversations_invite(channel=channel_id, users=[ALICE])
    assert info.value.response["error"] == "already_in_channel"

    with pytest.raises(SlackApiError) as info:
        await client.conversations_invite(channel=channel_id, users=[BOB, "U0GHOST", "U0VIGILBOT"])
    assert info.value.response["error"] == "user_not_found"
    assert info.value.response["errors"] == [
        {"user": "U0GHOST", "ok": False, "error": "user_not_found"},
        {"user": "U0VIGILBOT", "ok": False, "error": "cant_invite_self"},
    ]
    assert BOB not in emu.state.channels[channel_id].members

    forced = await client.conversations_invite(channel=channel_id, users=[BOB, CAROL, "U0GHOST"], force=True)
    assert forced["ok"] and [e["user"] for e in forced["errors"]] == ["U0GHOST"]
    assert emu.calls_to("conversations.invite")[-1].args == {
        "channel": channel_id,
        "users": f"{BOB},{CAROL},U0GHOST",
        "force": "1",
    }
    assert emu.state.channels[channel_id].members == ["U0VIGILBOT", ALICE, BOB, CAROL]

    await client.conversations_kick(channel=channel_id, user=CAROL)
    assert CAROL not in emu.state.channels[channel_id].members


async def test_messages_pins_reactions_bookmarks(emu: SlackEmulator, client: AsyncWebClient) -> None:
    posted = await client.chat_postMessage(channel=INCIDENTS, text="INC-1 opened", blocks=[{"type": "divider"}])
    ts = posted["ts"]
    assert posted["message"]["bot_id"] == "B0VIGIL"
    await client.chat_update(channel=INCIDENTS, ts=ts, text="INC-1 investigating")
    message = emu.state.find_message(INCIDENTS, ts)
    assert message is not None and message.text == "INC-1 investigating"
    assert [e.text for e in message.edits] == ["INC-1 opened"] and message.blocks == [{"type": "divider"}]

    await client.pins_add(channel=INCIDENTS, timestamp=ts)
    assert await api_error(client.pins_add(channel=INCIDENTS, timestamp=ts)) == "already_pinned"
    assert await api_error(client.pins_add(channel=INCIDENTS, timestamp="1.000001")) == "message_not_found"
    assert await api_error(client.pins_add(channel="C0MISSING", timestamp=ts)) == "channel_not_found"
    assert (await client.pins_list(channel=INCIDENTS))["items"][0]["message"]["ts"] == ts

    await client.reactions_add(channel=INCIDENTS, timestamp=ts, name="eyes")
    assert await api_error(client.reactions_add(channel=INCIDENTS, timestamp=ts, name="eyes")) == "already_reacted"
    assert emu.state.reactions(INCIDENTS, ts) == {"eyes": ["U0VIGILBOT"]}

    bookmark = await client.bookmarks_add(channel_id=INCIDENTS, title="Jira", type="link", link="https://jira.example/X-1")
    await client.bookmarks_edit(channel_id=INCIDENTS, bookmark_id=bookmark["bookmark"]["id"], title="Jira X-1")
    assert [b["title"] for b in (await client.bookmarks_list(channel_id=INCIDENTS))["bookmarks"]] == ["Jira X-1"]

    link = await client.chat_getPermalink(channel=INCIDENTS, message_ts=ts)
    assert link["permalink"].endswith(f"/archives/{INCIDENTS}/p{ts.replace('.', '')}")
    history = await client.conversations_history(channel=INCIDENTS)
    assert history["messages"][0]["text"] == "INC-1 investigating"
    await client.chat_postEphemeral(channel=INCIDENTS, user=ALICE, text="only you")
    assert [e.text for e in emu.state.ephemerals_for(ALICE, INCIDENTS)] == ["only you"]
    assert await api_error(client.chat_postEphemeral(channel=INCIDENTS, user=CAROL, text="x")) == "user_not_in_channel"


async def test_thread_replies_stay_in_the_thread_unless_also_sent_to_the_channel(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    parent = (await client.chat_postMessage(channel=INCIDENTS, text="INC-1 announced"))["ts"]
    quiet = (await client.chat_postMessage(channel=INCIDENTS, thread_ts=parent, text="downgraded"))["ts"]
    loud = await client.chat_postMessage(channel=INCIDENTS, thread_ts=parent, reply_broadcast=True, text="resolved")
    assert loud["message"]["subtype"] == "thread_broadcast" and loud["message"]["thread_ts"] == parent
    history = (await client.conversations_history(channel=INCIDENTS))["messages"]
    assert [m["ts"] for m in history] == [loud["ts"], parent]  # the broadcast is in the channel too, newest first
    assert history[1]["reply_count"] == 2
    thread = (await client.conversations_replies(channel=INCIDENTS, ts=parent))["messages"]
    assert [m["ts"] for m in thread] == [parent, quiet, loud["ts"]]
    message = emu.state.find_message(INCIDENTS, quiet)
    assert message is not None and message.is_reply and not message.in_channel


async def test_blocks_over_limits_are_refused(client: AsyncWebClient) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "x"}}] * 51
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel=INCIDENTS, text="too many", blocks=blocks)
    assert info.value.response["error"] == "invalid_blocks"
    assert info.value.response["response_metadata"]["messages"] == [
        "[ERROR] no more than 50 items allowed [json-pointer:/blocks]"
    ]


async def test_rate_limit_then_retry_handler_succeeds(
    emu: SlackEmulator, client: AsyncWebClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    emu.fail_next("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel=INCIDENTS, text="hi")
    assert info.value.response.status_code == 429
    assert info.value.response.headers["Retry-After"] == "7"
    assert info.value.response["error"] == "ratelimited"

    monkeypatch.setattr("slack_sdk.http_retry.builtin_async_handlers.random.random", lambda: 0.0)
    emu.fail_next("users.info", retry_after=0)
    retrying = AsyncWebClient(
        token=emu.bot_token, base_url=emu.api_url, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)]
    )
    response = await retrying.users_info(user=ALICE)
    assert response["user"]["name"] == "alice"
    assert [c.status for c in emu.calls_to("users.info")] == [429, 200]


async def test_injected_server_error_and_error_codes(emu: SlackEmulator, client: AsyncWebClient) -> None:
    emu.fail_next("conversations.info", status=500)
    with pytest.raises(SlackApiError) as info:
        await client.conversations_info(channel=INCIDENTS)
    assert info.value.response.status_code == 500
    assert (await client.conversations_info(channel=INCIDENTS))["channel"]["name"] == "incidents"

    emu.fail_next("chat.postMessage", error="channel_not_found", times=2)
    for _ in range(2):
        assert await api_error(client.chat_postMessage(channel=INCIDENTS, text="x")) == "channel_not_found"
    assert (await client.chat_postMessage(channel=INCIDENTS, text="x"))["ok"]


async def storm_statuses(emu: SlackEmulator, method: str, n: int) -> list[int]:
    """Make `n` posts (or users.info lookups) one after another, without retries; the HTTP status of each."""
    client = AsyncWebClient(token=emu.bot_token, base_url=emu.api_url, retry_handlers=[])
    for _ in range(n):
        try:
            if method == "chat.postMessage":
                await client.chat_postMessage(channel=INCIDENTS, text="x")
            else:
                await client.users_info(user=ALICE)
        except SlackApiError:
            pass
        await client.auth_test()
    return [c.status for c in emu.calls_to(method)]


async def test_a_seeded_storm_fails_a_share_of_calls_with_429_and_500(make_emulator: EmulatorFactory) -> None:
    emu = await make_emulator()
    emu.storm(rate=0.3, seed=16, retry_after=1)
    statuses = await storm_statuses(emu, "chat.postMessage", 200)
    assert set(statuses) == {200, 429, 500}
    assert 40 <= sum(s != 200 for s in statuses) <= 80, "about 30 %"
    assert all(c.ok for c in emu.calls_to("auth.test")), "auth.test is spared: the app stays connected"
    limited = [c for c in emu.calls_to("chat.postMessage") if c.status == 429]
    assert {(c.response["ok"], c.response["error"]) for c in limited} == {(False, "ratelimited")}
    failed = [c for c in emu.calls_to("chat.postMessage") if c.status == 500]
    assert {(c.response["ok"], c.response["error"]) for c in failed} == {(False, "internal_error")}
    assert len(emu.state.history(INCIDENTS)) == statuses.count(200), "a failed call does nothing"

    again = await make_emulator()  # the same seed, the same faults
    again.storm(rate=0.3, seed=16, retry_after=1)
    assert await storm_statuses(again, "chat.postMessage", 200) == statuses

    emu.calm()
    assert set((await storm_statuses(emu, "chat.postMessage", 20))[200:]) == {200}


async def test_a_storm_keeps_to_its_methods_and_sends_retry_after(emu: SlackEmulator, client: AsyncWebClient) -> None:
    emu.storm(rate=1.0, seed=1, methods={"chat.postMessage"}, retry_after=1)
    assert set(await storm_statuses(emu, "users.info", 5)) == {200}
    errors = []
    for _ in range(20):
        with pytest.raises(SlackApiError) as info:
            await client.chat_postMessage(channel=INCIDENTS, text="x")
        errors.append(info.value.response)
    assert {r.headers["Retry-After"] for r in errors if r.status_code == 429} == {"1"}
    assert {r.status_code for r in errors} == {429, 500}
    with pytest.raises(ValueError, match="keep the app connected"):
        emu.storm(methods={"auth.test"})


async def test_users_list_paginates_with_cursors(emu: SlackEmulator, client: AsyncWebClient) -> None:
    for i in range(3):
        emu.add_user(f"U0EXTRA{i}", f"extra{i}")
    seen: list[str] = []
    pages = 0
    async for page in await client.users_list(limit=2):
        pages += 1
        seen += [m["id"] for m in page["members"]]
    assert seen == list(emu.state.users)
    assert len(seen) == 7 and pages == 4
    calls = emu.calls_to("users.list")
    assert "cursor" not in calls[0].args and all(c.args.get("cursor") for c in calls[1:])
    assert await api_error(client.users_list(cursor="bogus!")) == "invalid_cursor"
    assert await api_error(client.users_info(user="U0GHOST")) == "user_not_found"
    assert (await client.users_lookupByEmail(email="bob@acme.example"))["user"]["id"] == BOB
    assert await api_error(client.users_lookupByEmail(email="nobody@acme.example")) == "users_not_found"


async def test_usergroups_and_members(emu: SlackEmulator, client: AsyncWebClient) -> None:
    groups = await client.usergroups_list(include_users=True)
    assert groups["usergroups"][0]["handle"] == "sre" and groups["usergroups"][0]["users"] == [ALICE, BOB]
    assert (await client.usergroups_users_list(usergroup="S0SRE"))["users"] == [ALICE, BOB]
    members: list[str] = []
    async for page in await client.conversations_members(channel=INCIDENTS, limit=1):
        members += page["members"]
    assert members == [ALICE, BOB, "U0VIGILBOT"]


async def test_views_open_checks_triggers_with_the_clock(make_emulator: EmulatorFactory) -> None:
    clock = FakeClock()
    emu = await make_emulator(clock=clock)
    client = AsyncWebClient(token=emu.bot_token, base_url=emu.api_url)
    view = {"type": "modal", "title": {"type": "plain_text", "text": "Declare"}, "blocks": []}
    assert await api_error(client.views_open(trigger_id="nonsense", view=view)) == "invalid_trigger_id"
    trigger = emu.new_trigger_id(ALICE)
    opened = await client.views_open(trigger_id=trigger, view=view)
    assert emu.state.top_modal(ALICE) is not None and emu.state.top_modal(ALICE).id == opened["view"]["id"]  # type: ignore[union-attr]
    assert await api_error(client.views_open(trigger_id=trigger, view=view)) == "exchanged_trigger_id"
    late = emu.new_trigger_id(ALICE)
    clock.advance(3.5)
    assert await api_error(client.views_open(trigger_id=late, view=view)) == "expired_trigger_id"

    for _ in range(2):
        await client.views_push(trigger_id=emu.new_trigger_id(ALICE), view=view)
    assert await api_error(client.views_push(trigger_id=emu.new_trigger_id(ALICE), view=view)) == "push_limit_reached"

    too_long = {**view, "title": {"type": "plain_text", "text": "T" * 25}}
    with pytest.raises(SlackApiError) as info:
        await client.views_open(trigger_id=emu.new_trigger_id(ALICE), view=too_long)
    assert info.value.response["error"] == "invalid_arguments"
    assert "[json-pointer:/view/title/text]" in info.value.response["response_metadata"]["messages"][0]

    stale = opened["view"]["hash"]
    await client.views_update(view_id=opened["view"]["id"], view=view, hash=stale)
    assert await api_error(client.views_update(view_id=opened["view"]["id"], view=view, hash=stale)) == "hash_conflict"


async def test_views_publish_keeps_one_home_per_user(emu: SlackEmulator, client: AsyncWebClient) -> None:
    home = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]}
    first = await client.views_publish(user_id=ALICE, view=home)
    second = await client.views_publish(user_id=ALICE, view=home, hash=first["view"]["hash"])
    assert first["view"]["id"] == second["view"]["id"] == emu.state.home_views[ALICE]
    assert await api_error(client.views_publish(user_id=ALICE, view=home, hash=first["view"]["hash"])) == "hash_conflict"
    assert await api_error(client.views_publish(user_id="U0GHOST", view=home)) == "invalid_arguments"


async def test_api_calls_emit_events_for_subscribed_types(make_emulator: EmulatorFactory) -> None:
    emu = await make_emulator(subscribed_events={"member_joined_channel"}, ack_timeout=0.05)
    client = AsyncWebClient(token=emu.bot_token, base_url=emu.api_url)
    channel_id = (await client.conversations_create(name="inc-3"))["channel"]["id"]
    await client.conversations_invite(channel=channel_id, users=[ALICE, BOB])
    await client.chat_postMessage(channel=channel_id, text="not subscribed")

    def joined() -> list[tuple[str, str | None]] | None:
        seen = [
            (e.payload["event"]["user"], e.payload["event"].get("inviter")) for e in emu.envelopes if e.retry_attempt == 0
        ]
        return seen if len(seen) == 3 else None

    assert await emu.wait_until(joined) == [("U0VIGILBOT", None), (ALICE, "U0VIGILBOT"), (BOB, "U0VIGILBOT")]
    assert {e.event_type for e in emu.envelopes} == {"member_joined_channel"}
