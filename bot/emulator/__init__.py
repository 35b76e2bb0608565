"""A Slack emulator (Web API + Socket Mode on loopback) shipped with Vigil: the tests and `vigil sandbox` run on it.

    async with SlackEmulator(subscribed_events={"reaction_added"}) as emu:
        emu.add_user("U0ALICE", "alice", is_admin=True)
        channel = emu.add_channel("incidents", members=["U0ALICE"])
        app = AsyncApp(client=AsyncWebClient(token=emu.bot_token, base_url=emu.api_url))
        handler = AsyncSocketModeHandler(app, app_token=emu.app_token)
        await handler.connect_async()
        ack = await emu.send_slash_command("open P1 checkout down", user_id="U0ALICE", channel_id=channel)
        await emu.wait_for_call("views.open")
        await handler.close_async()

Wire formats follow Slack's; Block Kit limits live in `limits.py` as pure functions.
"""

from __future__ import annotations

from bot.emulator.limits import check_message_blocks, check_view
from bot.emulator.records import AckResult, EnvelopeRecord, ProtocolError, RecordedCall
from bot.emulator.server import DEFAULT_SCOPES, SlackEmulator
from bot.emulator.state import ResponsePost, WorkspaceState

__all__ = [
    "DEFAULT_SCOPES",
    "AckResult",
    "EnvelopeRecord",
    "ProtocolError",
    "RecordedCall",
    "ResponsePost",
    "SlackEmulator",
    "WorkspaceState",
    "check_message_blocks",
    "check_view",
]
