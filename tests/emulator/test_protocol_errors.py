"""Acks Slack would refuse are flagged: modal `errors` must name input blocks of the submitted view."""

from __future__ import annotations

import asyncio
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.emulator import ProtocolError, SlackEmulator
from tests.emulator.conftest import ALICE

FORM = {
    "type": "modal",
    "callback_id": "form",
    "title": {"type": "plain_text", "text": "Form"},
    "submit": {"type": "plain_text", "text": "Save"},
    "blocks": [
        {"type": "section", "block_id": "intro", "text": {"type": "mrkdwn", "text": "Fill me"}},
        {
            "type": "input",
            "block_id": "title",
            "label": {"type": "plain_text", "text": "Title"},
            "element": {"type": "plain_text_input", "action_id": "title_input"},
        },
    ],
}


async def submit_answered_with(
    emu: SlackEmulator, bolt_app: AsyncApp, connect: Any, client: AsyncWebClient, errors: dict[str, str]
) -> None:
    @bolt_app.view("form")
    async def answer(ack: Any) -> None:
        await ack(response_action="errors", errors=errors)

    await connect(bolt_app)
    await client.views_open(trigger_id=emu.new_trigger_id(ALICE), view=FORM)
    await emu.send_view_submission(user_id=ALICE, values=emu.form_values(ALICE, {"Title": ""}))


async def test_errors_on_an_input_block_are_shown_not_flagged(
    emu: SlackEmulator, bolt_app: AsyncApp, connect: Any, client: AsyncWebClient
) -> None:
    await submit_answered_with(emu, bolt_app, connect, client, {"title": "Give it a title."})
    assert emu.protocol_errors == []
    top = emu.state.top_modal(ALICE)
    assert top is not None and top.callback_id == "form"  # still open, for the person to fix


async def test_errors_keyed_by_anything_else_are_a_protocol_error(
    emu: SlackEmulator, bolt_app: AsyncApp, connect: Any, client: AsyncWebClient
) -> None:
    # "intro" is a block of the view, but not an input: Slack refuses that as much as an unknown key.
    await submit_answered_with(emu, bolt_app, connect, client, {"intro": "no", "title_input": "an action_id"})
    [error] = emu.protocol_errors
    assert isinstance(error, ProtocolError)
    assert (error.kind, error.user_id, error.callback_id) == ("view_submission", ALICE, "form")
    assert error.messages == [
        "'intro' is not the block_id of an input block [json-pointer:/errors/intro]",
        "'title_input' is not the block_id of an input block [json-pointer:/errors/title_input]",
    ]
    assert error.envelope_id == emu.envelopes[-1].envelope_id


async def test_a_slash_command_reply_with_bad_blocks_is_a_protocol_error(
    emu: SlackEmulator, bolt_app: AsyncApp, connect: Any
) -> None:
    @bolt_app.command("/incident")
    async def reply(ack: Any) -> None:
        await ack(text="hi", blocks=[{"type": "header", "text": {"type": "plain_text", "text": "x" * 200}}])

    await connect(bolt_app)
    await emu.send_slash_command("help", user_id=ALICE, channel_id="C0INCIDENTS")
    [error] = emu.protocol_errors
    assert error.kind == "slash_commands" and error.messages


async def test_busy_while_an_envelope_awaits_its_ack(emu: SlackEmulator, bolt_app: AsyncApp, connect: Any) -> None:
    release = asyncio.Event()

    @bolt_app.command("/incident")
    async def slow(ack: Any) -> None:
        await release.wait()
        await ack()

    await connect(bolt_app)
    assert not emu.busy
    pending = asyncio.create_task(emu.send_slash_command("help", user_id=ALICE, channel_id="C0INCIDENTS"))
    await emu.wait_until(lambda: emu.busy, what="the envelope to be sent")
    release.set()
    assert (await pending).acked
    assert not emu.busy
