"""Web API method handlers, one module per method family; `ALL_METHODS` maps a method name to its handler."""

from __future__ import annotations

from bot.emulator.methods import auth, chat, conversations, items, users, views
from bot.emulator.methods.base import Ctx, Handler

ALL_METHODS: dict[str, Handler] = {
    **auth.METHODS,
    **chat.METHODS,
    **conversations.METHODS,
    **items.METHODS,
    **users.METHODS,
    **views.METHODS,
}
APP_TOKEN_METHODS = frozenset({"apps.connections.open"})

__all__ = ["ALL_METHODS", "APP_TOKEN_METHODS", "Ctx", "Handler"]
