"""`/incident link [@user] [pagerduty|github|jira|linear|email] [id]`: a person's accounts in other tools.

Anyone links their own; admins may link (and look at) someone else's. A manual link replaces an email match and is
never overwritten by one. `link` alone lists them. The id's shape is checked before the ack; who may link whom and
the write happen after it, in the identity service.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.blocks.home import KIND_LABELS
from bot.blocks.mrkdwn import esc
from bot.identities import EMAIL_MATCH, IdentityService, normalise_id
from bot.incidents.errors import InvalidInput
from bot.settings import Settings
from commands.grammar import ParsedCommand, usage


def _source_note(source: str) -> str:
    return " _(matched by email)_" if source == EMAIL_MATCH else ""


async def handle_link(
    *,
    parsed: ParsedCommand,
    ack: AsyncAck,
    respond: AsyncRespond,
    command: dict[str, Any],
    identities: IdentityService,
    settings: Settings,
    **_: Any,
) -> None:
    team_id, user_id = str(command["team_id"]), str(command["user_id"])
    cmd = settings.command
    subject = parsed.user_id or user_id
    whose = "Your" if subject == user_id else f"<@{subject}>'s"

    if parsed.link_kind is None:
        await ack()
        rows = await identities.linked(team_id=team_id, user_id=user_id, subject=subject)
        if not rows:
            text = f"{whose} linked accounts: none yet. Link one with `{esc(cmd)} link github &lt;login&gt;`."
        else:
            lines = [f"• {KIND_LABELS.get(r.kind, r.kind)}: `{esc(r.external_id)}`{_source_note(r.source)}" for r in rows]
            text = f"{whose} linked accounts:\n" + "\n".join(lines)
        await respond(text=text, response_type="ephemeral")
        return

    kind = str(parsed.link_kind)
    label = KIND_LABELS.get(kind, kind)
    if parsed.link_id is None:
        raise InvalidInput(f"{usage('link', command=cmd)} Give the {label} id too, e.g. `{cmd} link {kind} …`.")
    external_id = normalise_id(kind, parsed.link_id)
    await ack()
    linked = await identities.link(team_id=team_id, user_id=user_id, subject=subject, kind=kind, external_id=external_id)
    text = f"Linked {whose.lower() if subject == user_id else whose} {label} account: `{esc(linked.external_id)}`."
    if linked.replaced is not None:
        text += f" It replaces `{esc(linked.replaced.external_id)}`{_source_note(linked.replaced.source)}."
    await respond(text=text, response_type="ephemeral")
