"""Admin checks for App Home's back-office: made by the services on every button press and view submission, not
only by hiding buttons, because a payload can be forged by anyone who can reach the app."""

from __future__ import annotations

from bot.directory import Directory
from bot.incidents.access import Actor
from bot.incidents.errors import NotAllowed


def admin_refusal(doing: str) -> str:
    return f"Only workspace admins can {doing}. Ask a Slack workspace admin or owner (or one of VIGIL_ADMINS)."


async def require_admin(directory: Directory, *, team_id: str, user_id: str, doing: str) -> Actor:
    """The actor, if a Slack admin/owner or a VIGIL_ADMINS member; NotAllowed naming what was refused otherwise."""
    actor = await directory.actor(team_id=team_id, user_id=user_id)
    if not actor.is_admin:
        raise NotAllowed(admin_refusal(doing))
    return actor
