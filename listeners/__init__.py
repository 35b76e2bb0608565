"""Slack events, actions, views and the App Home. Each submodule has `register(registry)`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.slack_app import Registry


def register(registry: Registry) -> None:
    from listeners import actions, admin, declare, home, membership, oncall, prompts, reactions, reminders, sos, update

    declare.register(registry)
    membership.register(registry)
    actions.register(registry)
    prompts.register(registry)
    update.register(registry)
    reactions.register(registry)
    home.register(registry)
    admin.register(registry)
    sos.register(registry)
    reminders.register(registry)
    oncall.register(registry)
