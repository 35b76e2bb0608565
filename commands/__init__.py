"""The `/incident` slash command."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.slack_app import Registry


def register(registry: Registry) -> None:
    from commands.incident import handle_incident_command

    registry.command(registry.container.settings.command)(handle_incident_command)
