"""auth.test, apps.connections.open, team.info."""

from __future__ import annotations

from typing import Any

from bot.emulator.args import ApiError, Args
from bot.emulator.methods.base import Ctx, Handler


def auth_test(ctx: Ctx, args: Args) -> dict[str, Any]:
    identity = ctx.identity
    return {
        "ok": True,
        "url": f"https://{identity.domain}.slack.com/",
        "team": identity.team_name,
        "user": identity.bot_name,
        "team_id": identity.team_id,
        "user_id": identity.bot_user_id,
        "bot_id": identity.bot_id,
        "is_enterprise_install": False,
    }


def connections_open(ctx: Ctx, args: Args) -> dict[str, Any]:
    if ctx.http_method != "POST":
        raise ApiError("insecure_request")
    host = ctx.base_url.removeprefix("http://")
    return {"ok": True, "url": f"ws://{host}/link/?ticket={ctx.issue_ticket()}&app_id={ctx.identity.app_id}"}


def team_info(ctx: Ctx, args: Args) -> dict[str, Any]:
    identity = ctx.identity
    team = args.text("team")
    if team and team != identity.team_id:
        raise ApiError("team_not_found")
    return {
        "ok": True,
        "team": {
            "id": identity.team_id,
            "name": identity.team_name,
            "domain": identity.domain,
            "email_domain": f"{identity.domain}.example",
            "icon": {"image_default": True},
            "url": f"https://{identity.domain}.slack.com/",
        },
    }


METHODS: dict[str, Handler] = {
    "auth.test": auth_test,
    "apps.connections.open": connections_open,
    "team.info": team_info,
}
