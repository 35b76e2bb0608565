"""`/incident link [@user] [pagerduty|github|jira|linear|email] [id]` (SPEC §5): a person's accounts in other tools.

Anyone links their own; admins may link (and look at) someone else's. A manual link replaces an email match and is
never overwritten by one. `link` alone lists them.
"""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond

from bot.blocks.home import KIND_LABELS
from bot.container import Container
from bot.incidents.errors import InvalidInput, NotAllowed
from commands.grammar import LinkKind, ParsedCommand, usage
from db.identities import EMAIL_MATCH, MANUAL, get_identity, identities_of, link_identity

# What an id looks like in each tool; a typo is answered here rather than discovered at the next page or sync.
ID_FORMATS: dict[LinkKind, tuple[re.Pattern[str], str]] = {
    LinkKind.PAGERDUTY: (re.compile(r"P[A-Z0-9]{5,13}", re.ASCII), "a PagerDuty user id such as PXPGF42"),
    LinkKind.GITHUB: (
        re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}", re.ASCII),
        "a GitHub login such as octocat",
    ),
    LinkKind.JIRA: (re.compile(r"[A-Za-z0-9][A-Za-z0-9:_.-]{0,127}", re.ASCII), "a Jira account id"),
    LinkKind.LINEAR: (re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}", re.ASCII), "a Linear user id"),
    LinkKind.EMAIL: (re.compile(r"[^@\s<>`]{1,64}@[^@\s<>`]+\.[^@\s<>`]{2,}", re.ASCII), "an email address"),
}


def normalise_id(kind: LinkKind, raw: str) -> str:
    """The id as stored (PagerDuty ids upper-cased, logins without `@`, emails lower-cased), or InvalidInput."""
    value = raw.strip()
    if kind is LinkKind.PAGERDUTY:
        value = value.upper()
    elif kind is LinkKind.GITHUB:
        value = value.removeprefix("@")
    elif kind is LinkKind.EMAIL:
        value = value.lower()
    pattern, what = ID_FORMATS[kind]
    if len(value) > 255 or not pattern.fullmatch(value):
        raise InvalidInput(f"`{value[:40].replace('`', '')}` doesn't look like {what}.")
    return value


def _source_note(source: str) -> str:
    return " _(matched by email)_" if source == EMAIL_MATCH else ""


async def handle_link(
    *, parsed: ParsedCommand, ack: AsyncAck, respond: AsyncRespond, command: dict[str, Any], container: Container, **_: Any
) -> None:
    await ack()
    team_id, user_id = str(command["team_id"]), str(command["user_id"])
    cmd = container.settings.command
    subject = parsed.user_id or user_id
    whose = "Your" if subject == user_id else f"<@{subject}>'s"
    if subject != user_id:
        actor = await container.directory.actor(team_id=team_id, user_id=user_id)
        if not actor.is_admin:
            raise NotAllowed(
                f"Only workspace admins can link or look at someone else's accounts. "
                f"Link your own with `{cmd} link github <login>`."
            )
        person = await container.directory.user(team_id=team_id, user_id=subject)
        if person.is_bot or person.deactivated:
            raise InvalidInput(f"<@{subject}> is a bot or deactivated; only active people have linked accounts.")

    if parsed.link_kind is None:
        async with container.sessions() as session:
            rows = await identities_of(session, team_id=team_id, user_id=subject)
        if not rows:
            text = f"{whose} linked accounts: none yet. Link one with `{cmd} link github <login>`."
        else:
            lines = [f"• {KIND_LABELS.get(r.kind, r.kind)}: `{r.external_id}`{_source_note(r.source)}" for r in rows]
            text = f"{whose} linked accounts:\n" + "\n".join(lines)
        await respond(text=text, response_type="ephemeral")
        return

    kind = parsed.link_kind
    if parsed.link_id is None:
        raise InvalidInput(f"{usage('link', command=cmd)} Give the {KIND_LABELS[kind]} id too, e.g. `{cmd} link {kind} …`.")
    external_id = normalise_id(kind, parsed.link_id)
    async with container.sessions() as session, session.begin():
        before = await get_identity(session, team_id=team_id, user_id=subject, kind=str(kind))
        replaced = (before.external_id, before.source) if before is not None else None
        await link_identity(
            session,
            team_id=team_id,
            user_id=subject,
            kind=str(kind),
            external_id=external_id,
            source=MANUAL,
            by=user_id,
            at=container.clock.now(),
        )
    text = f"Linked {whose.lower() if subject == user_id else whose} {KIND_LABELS[kind]} account: `{external_id}`."
    if replaced is not None and replaced != (external_id, MANUAL):
        text += f" It replaces `{replaced[0]}`{_source_note(replaced[1])}."
    await respond(text=text, response_type="ephemeral")
