"""Socket Mode with the real Bolt AsyncApp / slack_sdk SocketModeClient: envelopes, acks, responses, redelivery."""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.emulator import SlackEmulator
from tests.emulator.conftest import ALICE, BOB, EmulatorFactory

INCIDENTS = "C0INCIDENTS"

DECLARE_MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "declare",
    "title": {"type": "plain_text", "text": "Declare incident"},
    "submit": {"type": "plain_text", "text": "Declare"},
    "blocks": [
        {
            "type": "input",
            "block_id": "title_b",
            "label": {"type": "plain_text", "text": "Title"},
            "element": {"type": "plain_text_input", "action_id": "title_a"},
        }
    ],
}


def title(value: str) -> dict[str, Any]:
    return {"title_b": {"title_a": {"type": "plain_text_input", "value": value}}}


async def test_slash_command_ack_text_and_respond(emu: SlackEmulator, bolt_app: AsyncApp, connect: Any) -> None:
    @bolt_app.command("/incident")
    async def incident(ack: Any, respond: Any, command: dict[str, Any]) -> None:
        await ack("On it")
        await respond(text=f"Declared: {command['text']}", response_type="in_channel")

    await connect(bolt_app)
    result = await emu.send_slash_command("open P1 checkout down", user_id=ALICE, channel_id=INCIDENTS)
    assert result.acked and result.payload == {"text": "On it"}
    posted = await emu.wait_for_response(ALICE)
    assert posted.body["text"] == "Declared: open P1 checkout down" and posted.response_type == "in_channel"
    assert emu.responses_for(ALICE) == [posted]
    assert [e.text for e in emu.state.ephemerals_for(ALICE, INCIDENTS)] == ["On it"]
    assert emu.state.history(INCIDENTS)[-1].text == "Declared: open P1 checkout down"
    envelope = emu.envelopes[0]
    assert envelope.type == "slash_commands" and envelope.payload["channel_name"] == "incidents"


async def test_modal_submission_with_errors_stays_open(emu: SlackEmulator, bolt_app: AsyncApp, connect: Any) -> None:
    @bolt_app.command("/incident")
    async def incident(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await client.views_open(trigger_id=body["trigger_id"], view=DECLARE_MODAL)

    @bolt_app.view("declare")
    async def declare(ack: Any, view: dict[str, Any]) -> None:
        value = view["state"]["values"]["title_b"]["title_a"]["value"]
        if len(value) < 5:
            await ack(response_action="errors", errors={"title_b": "Give it at least 5 characters"})
        else:
            await ack()

    await connect(bolt_app)
    assert (await emu.send_slash_command("open", user_id=ALICE, channel_id=INCIDENTS)).acked
    await emu.wait_for_call("views.open")
    modal = emu.state.top_modal(ALICE)
    assert modal is not None and modal.callback_id == "declare"

    assert emu.form_values(ALICE, {"Title": "oops"}) == title("oops")
    refused = await emu.send_view_submission(user_id=ALICE, values=title("oops"))
    assert refused.payload == {"response_action": "errors", "errors": {"title_b": "Give it at least 5 characters"}}
    assert refused.limit_errors == []
    assert emu.state.top_modal(ALICE) is modal

    accepted = await emu.send_view_submission(user_id=ALICE, values=title("checkout is down"))
    assert accepted.acked and accepted.payload is None
    assert emu.state.top_modal(ALICE) is None


async def test_block_action_from_a_message_carries_the_button(
    emu: SlackEmulator, bolt_app: AsyncApp, connect: Any, client: AsyncWebClient
) -> None:
    clicks: list[dict[str, Any]] = []

    @bolt_app.action("ack_incident")
    async def acknowledge(ack: Any, body: dict[str, Any], respond: Any) -> None:
        await ack()
        clicks.append(body)
        await respond(text="Acknowledged", replace_original=True)

    button = {
        "type": "button",
        "action_id": "ack_incident",
        "text": {"type": "plain_text", "text": "Acknowledge"},
        "value": "1",
    }
    posted = await client.chat_postMessage(
        channel=INCIDENTS, text="INC-1", blocks=[{"type": "actions", "block_id": "b", "elements": [button]}]
    )
    await connect(bolt_app)
    result = await emu.send_block_action(user_id=BOB, action_id="ack_incident", channel_id=INCIDENTS)
    assert result.acked
    await emu.wait_for_response(BOB)
    body = clicks[0]
    assert body["container"] == {
        "type": "message",
        "message_ts": posted["ts"],
        "channel_id": INCIDENTS,
        "is_ephemeral": False,
    }
    assert body["actions"][0]["value"] == "1" and body["actions"][0]["block_id"] == "b"
    assert body["actions"][0]["text"]["text"] == "Acknowledge"
    message = emu.state.find_message(INCIDENTS, posted["ts"])
    assert message is not None and message.text == "Acknowledged"


async def test_events_reach_bolt_listeners(emu: SlackEmulator, bolt_app: AsyncApp, connect: Any) -> None:
    @bolt_app.event("message")
    async def ignore_messages() -> None:
        return None

    @bolt_app.event("reaction_added")
    async def reacted(event: dict[str, Any], client: AsyncWebClient) -> None:
        await client.chat_postMessage(channel=event["item"]["channel"], text=f"saw :{event['reaction']}:")

    await connect(bolt_app)
    ts = await emu.user_posts(BOB, INCIDENTS, "deploy rolled back")
    result = await emu.user_reacts(ALICE, INCIDENTS, ts, "pushpin")
    assert result is not None and result.acked
    await emu.wait_for_call("chat.postMessage")
    assert emu.state.history(INCIDENTS)[-1].text == "saw :pushpin:"
    reaction = next(e for e in emu.envelopes if e.event_type == "reaction_added")
    assert reaction.payload["event"]["item_user"] == BOB
    assert reaction.payload["authorizations"][0]["user_id"] == "U0VIGILBOT"


async def test_unacked_event_is_redelivered_with_the_same_event_id(make_emulator: EmulatorFactory) -> None:
    emu = await make_emulator(ack_timeout=0.2, redelivery_delay=0.3)
    seen: list[tuple[int | None, str | None, str]] = []

    async def listener(client: SocketModeClient, request: SocketModeRequest) -> None:
        seen.append((request.retry_attempt, request.retry_reason, request.payload["event_id"]))
        if len(seen) > 1:
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))

    socket_client = SocketModeClient(app_token=emu.app_token, web_client=AsyncWebClient(base_url=emu.api_url))
    socket_client.socket_mode_request_listeners.append(listener)  # type: ignore[arg-type]
    try:
        await socket_client.connect()
        await emu.wait_connected()
        first = await emu.send_event(
            {"type": "app_mention", "user": ALICE, "text": "hi", "channel": INCIDENTS}, event_id="Ev0TEST"
        )
        assert not first.acked
        deliveries = await emu.wait_until(
            lambda: [d for d in emu.deliveries_of("Ev0TEST") if d.acked] and emu.deliveries_of("Ev0TEST")
        )
        assert [(d.retry_attempt, d.acked) for d in deliveries] == [(0, False), (1, True)]
        assert deliveries[0].envelope_id != deliveries[1].envelope_id
        assert seen == [(0, "", "Ev0TEST"), (1, "timeout", "Ev0TEST")]
    finally:
        await socket_client.close()


async def test_slash_commands_are_not_redelivered_and_need_a_socket(make_emulator: EmulatorFactory) -> None:
    emu = await make_emulator(ack_timeout=0.05, redelivery_delay=0.05)
    result = await emu.send_slash_command("status", user_id=ALICE, channel_id=INCIDENTS)
    assert not result.acked and result.payload is None
    await asyncio.sleep(0.15)
    assert [e.type for e in emu.envelopes] == ["slash_commands"]


async def test_disconnect_makes_bolt_reconnect(emu: SlackEmulator, bolt_app: AsyncApp, connect: Any) -> None:
    @bolt_app.command("/incident")
    async def incident(ack: Any) -> None:
        await ack("still here")

    await connect(bolt_app)
    await emu.disconnect_all()
    await emu.wait_until(lambda: emu.connections_opened == 2 and emu.num_connections == 1)
    assert len(emu.calls_to("apps.connections.open")) == 2
    result = await emu.send_slash_command("status", user_id=ALICE, channel_id=INCIDENTS)
    assert result.payload == {"text": "still here"}


async def test_app_home_opened_and_publish(emu: SlackEmulator, bolt_app: AsyncApp, connect: Any) -> None:
    @bolt_app.event("app_home_opened")
    async def home(event: dict[str, Any], client: AsyncWebClient) -> None:
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": f"Hello <@{event['user']}>"}}]
        await client.views_publish(user_id=event["user"], view={"type": "home", "blocks": blocks})

    await connect(bolt_app)
    assert (await emu.send_app_home_opened(user_id=ALICE)).acked
    await emu.wait_for_call("views.publish")
    view = emu.state.home_view(ALICE)
    assert view is not None and view.data["blocks"][0]["text"]["text"] == f"Hello <@{ALICE}>"


def mention(text: str = "hi") -> dict[str, Any]:
    return {"type": "app_mention", "user": ALICE, "text": text, "channel": INCIDENTS}


def attempts(emu: SlackEmulator, event_id: str) -> list[tuple[int | None, bool, bool]]:
    """(retry_attempt, reached the app, acked) for each delivery attempt of one event."""
    return [(d.retry_attempt, d.delivered, d.acked) for d in emu.deliveries_of(event_id)]


def acked_delivery(emu: SlackEmulator, event_id: str) -> Any:
    return next((d for d in emu.deliveries_of(event_id) if d.acked), None)


def retry_num(request: Any) -> int:
    """Bolt passes `retry_attempt` on as the `x-slack-retry-num` header ('0' on a first delivery)."""
    return int((request.headers.get("x-slack-retry-num") or ["0"])[0])


async def test_an_event_sent_while_no_socket_is_connected_fails_at_once_and_its_retry_is_delivered(
    make_emulator: EmulatorFactory,
) -> None:
    """Slack does not queue events for an app that is away: the attempt fails and the retry is the first delivery."""
    emu = await make_emulator(ack_timeout=1.0, redelivery_delay=0.2)
    seen: list[tuple[int | None, str | None]] = []

    async def listener(client: SocketModeClient, request: SocketModeRequest) -> None:
        seen.append((request.retry_attempt, request.retry_reason))
        await client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))

    first = await emu.send_event(mention(), event_id="Ev0AWAY")
    assert not first.acked and attempts(emu, "Ev0AWAY") == [(0, False, False)]
    assert emu.deliveries_of("Ev0AWAY")[0].sent_at is None and emu.envelopes[0].connection_id is None

    socket_client = SocketModeClient(app_token=emu.app_token, web_client=AsyncWebClient(base_url=emu.api_url))
    socket_client.socket_mode_request_listeners.append(listener)  # type: ignore[arg-type]
    try:
        await socket_client.connect()
        delivered = await emu.wait_until(lambda: acked_delivery(emu, "Ev0AWAY"), what="the retry acked")
        assert delivered.retry_attempt >= 1 and delivered.delivered
        assert [a for a in attempts(emu, "Ev0AWAY") if a[1]] == [(delivered.retry_attempt, True, True)]
        assert seen == [(delivered.retry_attempt, "timeout")]
    finally:
        await socket_client.close()


async def test_an_envelope_sent_into_a_severed_socket_is_redelivered_on_the_new_one(
    emu: SlackEmulator, bolt_app: AsyncApp, connect: Any
) -> None:
    """A socket that died silently swallows the envelope; the client notices only when the socket closes, reconnects,
    and gets the event again (same event_id, next retry_attempt) on its new socket."""
    handled: list[tuple[str, int]] = []

    @bolt_app.event("app_mention")
    async def mentioned(body: dict[str, Any], request: Any) -> None:
        handled.append((body["event_id"], retry_num(request)))

    await connect(bolt_app)
    emu.sever_connections()
    sending = asyncio.create_task(emu.send_event(mention(), event_id="Ev0SEVERED"))
    await emu.wait_until(lambda: emu.deliveries_of("Ev0SEVERED"), what="the envelope sent")
    lost = emu.deliveries_of("Ev0SEVERED")[0]
    assert lost.lost and not lost.delivered and lost.connection_id == 1 and lost.sent_at is not None

    await emu.close_connections()  # abrupt: a CLOSE frame, no `disconnect` message
    await emu.wait_until(lambda: emu.connections_opened == 2 and emu.connected, what="Bolt reconnected")
    assert not (await sending).acked
    delivered = await emu.wait_until(lambda: acked_delivery(emu, "Ev0SEVERED"), what="the redelivery acked")
    assert delivered.retry_attempt >= 1 and delivered.connection_id == 2
    assert [d.retry_attempt for d in emu.deliveries_of("Ev0SEVERED")] == list(range(delivered.retry_attempt + 1))
    await emu.wait_until(lambda: handled, what="the listener ran")
    assert handled == [("Ev0SEVERED", delivered.retry_attempt)]
    assert len(emu.calls_to("apps.connections.open")) == 2


async def test_acks_lost_with_a_socket_make_slack_resend_the_event(
    emu: SlackEmulator, bolt_app: AsyncApp, connect: Any
) -> None:
    """The app acked, the ack died with the socket: Slack re-sends the event and Bolt runs the listener again, so
    skipping what was already handled (by event_id) is the app's job."""
    handled: list[int] = []

    @bolt_app.event("app_mention")
    async def mentioned(request: Any) -> None:
        handled.append(retry_num(request))

    await connect(bolt_app)
    emu.lose_acks()
    sending = asyncio.create_task(emu.send_event(mention(), event_id="Ev0ACKLOST"))
    first = await emu.wait_until(
        lambda: next((d for d in emu.deliveries_of("Ev0ACKLOST") if d.ack_lost), None), what="the app's ack (lost)"
    )
    assert first.retry_attempt == 0 and first.delivered and not first.acked
    assert handled == [0]

    await emu.disconnect_all("warning")
    await emu.wait_until(lambda: emu.connections_opened == 2 and emu.connected, what="Bolt reconnected")
    assert not (await sending).acked
    delivered = await emu.wait_until(lambda: acked_delivery(emu, "Ev0ACKLOST"), what="the re-send acked")
    assert delivered.retry_attempt >= 1 and delivered.connection_id == 2 and not delivered.ack_lost
    await emu.wait_until(lambda: len(handled) == 2, what="the listener ran again")
    assert handled == [0, delivered.retry_attempt]


async def test_a_severed_socket_does_not_hear_disconnect_and_slack_keeps_choosing_it(
    make_emulator: EmulatorFactory,
) -> None:
    """Slack cannot tell a dead socket from a live one: envelopes keep going to it (and are lost) until it closes."""
    emu = await make_emulator(ack_timeout=0.2, redelivery_delay=0.1)
    frames: list[str] = []

    async def on_message(message: Any) -> None:
        frames.append(str(message.data))

    socket_client = SocketModeClient(
        app_token=emu.app_token, web_client=AsyncWebClient(base_url=emu.api_url), on_message_listeners=[on_message]
    )
    try:
        await socket_client.connect()
        await emu.wait_connected()
        emu.sever_connections()
        result = await emu.send_event(mention(), event_id="Ev0DEAD")
        assert not result.acked
        await emu.wait_until(lambda: len(emu.deliveries_of("Ev0DEAD")) == 4 and not emu.busy, what="every retry spent")
        assert [(d.retry_attempt, d.lost, d.connection_id) for d in emu.deliveries_of("Ev0DEAD")] == [
            (n, True, 1) for n in range(4)
        ]
        await emu.disconnect_all("refresh_requested")  # lost too
        assert not emu.connected  # Slack sends nothing more there
        # Only the close gets through; frames written before it would have arrived before it.
        await emu.close_connections()
        await emu.wait_until(lambda: emu.connections_opened == 2 and emu.connected, what="the client reconnected")
        assert len(emu.calls_to("apps.connections.open")) == 2
        assert [f for f in frames if "Ev0DEAD" in f or "disconnect" in f] == []
        assert any('"hello"' in f for f in frames)
    finally:
        await socket_client.close()
