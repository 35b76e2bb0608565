"""App Home's back-office doors: one skeleton (screens.py) and a screen per thing admins edit.

Every button and every modal submission is checked for admin rights by the admin service when it arrives; hiding
the buttons from others is a courtesy, not the check.
"""

from __future__ import annotations

from typing import Any

from listeners.admin import components, inbound, integrations, jobs, settings, sos_targets, tags, usergroups
from listeners.admin.screens import Screen, register_screen

SCREENS: tuple[Screen[Any], ...] = (tags.SCREEN, sos_targets.SCREEN, components.SCREEN, usergroups.SCREEN, settings.SCREEN)


def register(registry: Any) -> None:
    for screen in SCREENS:
        register_screen(registry, screen)
    usergroups.register_menu(registry)
    # Integrations are the integration service's, with string ids and kinds: their own listeners (see the module).
    integrations.register(registry)
    inbound.register(registry)
    # Job schedules are the jobs service's: their own listeners too.
    jobs.register(registry)
