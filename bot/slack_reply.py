"""Answering the person behind a payload privately, wherever Slack lets Vigil reach them."""

from __future__ import annotations

from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond


async def reply_privately(body: dict[str, Any], respond: AsyncRespond | None, slack: Any, text: str) -> None:
    """Ephemerally beside what they pressed or typed when the payload carries a response_url; otherwise (a modal
    submission, a button in a view) by direct message, the one place they will see it."""
    if respond is not None and (body.get("response_url") or body.get("response_urls")):
        await respond(text=text, response_type="ephemeral", replace_original=False)
        return
    user_id = (body.get("user") or {}).get("id") or body.get("user_id")
    if user_id:
        await slack.chat_postMessage(channel=str(user_id), text=text)
