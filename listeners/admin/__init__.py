"""App Home's back-office: tags, SOS targets, components, usergroups, workspace settings (SPEC §5).

Every button and every modal submission checks that the user is an admin when it arrives; hiding the buttons from
others is a courtesy, not the check.
"""

from __future__ import annotations

from typing import Any


def register(registry: Any) -> None:
    from listeners.admin import components, settings, sos_targets, tags, usergroups

    tags.register(registry)
    sos_targets.register(registry)
    components.register(registry)
    usergroups.register(registry)
    settings.register(registry)
