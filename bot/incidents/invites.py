"""Who is invited to an incident channel: a registry of async strategies, each returning Slack user ids.

Strategies are plain async functions over an `InviteContext`; PagerDuty's on-call is one of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from bot.incidents.ports import IncidentCard

MembersOf = Callable[[str], Awaitable[list[str]]]


@dataclass(frozen=True)
class InviteContext:
    card: IncidentCard
    component_usergroups: tuple[str, ...]
    public_p1_usergroup: str | None
    members_of: MembersOf
    # Slack users on call now (level 1) for the component's PagerDuty service, as the last sync saw them.
    oncall: tuple[str, ...] = ()


InviteStrategy = Callable[[InviteContext], Awaitable[Iterable[str]]]


async def reporter(ctx: InviteContext) -> Iterable[str]:
    return [ctx.card.reporter_id]


async def commander(ctx: InviteContext) -> Iterable[str]:
    return [ctx.card.commander_id] if ctx.card.commander_id else []


async def component_usergroups(ctx: InviteContext) -> Iterable[str]:
    users: list[str] = []
    for group in ctx.component_usergroups:
        users.extend(await ctx.members_of(group))
    return users


async def public_p1_usergroup(ctx: InviteContext) -> Iterable[str]:
    if ctx.card.private or ctx.card.severity != "P1" or not ctx.public_p1_usergroup:
        return []
    return await ctx.members_of(ctx.public_p1_usergroup)


async def pagerduty_oncall(ctx: InviteContext) -> Iterable[str]:
    """Public incidents only: a private incident's channel is for the people its declarer chose."""
    return [] if ctx.card.private else list(ctx.oncall)


DEFAULT_STRATEGIES: dict[str, InviteStrategy] = {
    "reporter": reporter,
    "commander": commander,
    "component_usergroups": component_usergroups,
    "public_p1_usergroup": public_p1_usergroup,
    "pagerduty_oncall": pagerduty_oncall,
}


async def resolve_invitees(ctx: InviteContext, strategies: dict[str, InviteStrategy]) -> list[str]:
    """Every strategy's users, de-duplicated, in a stable order."""
    seen: dict[str, None] = {}
    for strategy in strategies.values():
        for user_id in await strategy(ctx):
            if user_id:
                seen.setdefault(user_id, None)
    return list(seen)
