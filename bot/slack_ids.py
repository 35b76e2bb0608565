"""Every Slack id the code registers or renders: callback_ids, action_ids, block_ids, events.

One module so that `manifest.yml` can be checked against it and a renamed id cannot drift from its handler.
The slash command's name is configuration (VIGIL_COMMAND), not a constant.
"""

from __future__ import annotations

# Events Vigil subscribes to (manifest: settings.event_subscriptions.bot_events).
EVENT_APP_HOME_OPENED = "app_home_opened"
EVENT_MEMBER_JOINED = "member_joined_channel"
EVENT_MEMBER_LEFT = "member_left_channel"
EVENT_REACTION_ADDED = "reaction_added"

# Modals (view callback_ids).
VIEW_DECLARE = "declare_incident"

# Blocks and actions inside the declare modal.
BLOCK_TITLE, ACTION_TITLE = "title", "title_input"
BLOCK_SEVERITY, ACTION_SEVERITY = "severity", "severity_select"
BLOCK_COMPONENT, ACTION_COMPONENT = "component", "component_select"
BLOCK_DESCRIPTION, ACTION_DESCRIPTION = "description", "description_input"
BLOCK_PRIVATE, ACTION_PRIVATE = "private", "private_checkbox"

# Buttons on the opening message.
ACTION_ACK = "incident_ack"
ACTION_UPDATE = "incident_update"
ACTION_RESOLVE = "incident_resolve"
ACTION_PAGE = "incident_page"

# The update modal.
VIEW_UPDATE = "update_incident"
BLOCK_COMMANDER, ACTION_COMMANDER = "commander", "commander_select"
