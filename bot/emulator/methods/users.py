"""users.info, users.list, users.lookupByEmail, usergroups.list, usergroups.users.list."""

from __future__ import annotations

from typing import Any

from bot.emulator import payloads
from bot.emulator.args import ApiError, Args
from bot.emulator.methods.base import Ctx, Handler, paginate


def info(ctx: Ctx, args: Args) -> dict[str, Any]:
    user = ctx.state.users.get(args.text("user") or "")
    if user is None:
        raise ApiError("user_not_found")
    return {"ok": True, "user": payloads.user_object(ctx.identity, user)}


# Above this many users, users.list without a `limit` is refused, as Slack refuses it for big teams.
LIMIT_REQUIRED_ABOVE = 1000


def list_users(ctx: Ctx, args: Args) -> dict[str, Any]:
    everyone = list(ctx.state.users.values())
    if "limit" not in args and len(everyone) > LIMIT_REQUIRED_ABOVE:
        raise ApiError("limit_required")
    page, cursor = paginate(everyone, args, default_limit=len(everyone) or 1)
    return {
        "ok": True,
        "members": [payloads.user_object(ctx.identity, u) for u in page],
        "cache_ts": ctx.now(),
        "response_metadata": {"next_cursor": cursor},
    }


def lookup_by_email(ctx: Ctx, args: Args) -> dict[str, Any]:
    email = (args.text("email") or "").lower()
    user = next((u for u in ctx.state.users.values() if u.email and u.email.lower() == email and not u.deleted), None)
    if user is None:
        raise ApiError("users_not_found")
    return {"ok": True, "user": payloads.user_object(ctx.identity, user)}


def usergroups_list(ctx: Ctx, args: Args) -> dict[str, Any]:
    include_users = args.flag("include_users")
    include_disabled = args.flag("include_disabled")
    groups = [
        payloads.usergroup_object(ctx.identity, g, include_users=include_users)
        for g in ctx.state.usergroups.values()
        if include_disabled or not g.disabled_at
    ]
    return {"ok": True, "usergroups": groups}


def usergroups_users_list(ctx: Ctx, args: Args) -> dict[str, Any]:
    group = ctx.state.usergroups.get(args.text("usergroup") or "")
    if group is None:
        raise ApiError("no_such_subteam")
    return {"ok": True, "users": list(group.users)}


METHODS: dict[str, Handler] = {
    "users.info": info,
    "users.list": list_users,
    "users.lookupByEmail": lookup_by_email,
    "usergroups.list": usergroups_list,
    "usergroups.users.list": usergroups_users_list,
}
