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

# Buttons on the opening message (value: the incident number); which ones show follows the status.
ACTION_ACK = "incident_ack"
ACTION_UPDATE = "incident_update"
ACTION_RESOLVE = "incident_resolve"
ACTION_PAGE = "incident_page"
ACTION_NOTE = "incident_note"
ACTION_POSTMORTEM = "incident_postmortem"
ACTION_REOPEN = "incident_reopen"
ACTION_CLOSE = "incident_close"
# On the declarer's confirmation (with Page on-call) and on the announcement.
ACTION_HANDOFF = "incident_handoff"
ACTION_JOIN = "incident_join"
ACTION_ONCALL_PAGE = "oncall_page"
ACTION_ONCALL_PAGE_MENU = "oncall_page_menu"
# Retry on the opening message's warning about Slack steps that failed for good (value: the incident number).
ACTION_REPAIR = "incident_repair"

# Snooze buttons on a reminder (value: the incident number); each snoozes the incident's reminders for its minutes.
BLOCK_REMINDER = "reminder_actions"
ACTION_REMINDER_SNOOZE_30 = "reminder_snooze_30"
ACTION_REMINDER_SNOOZE_60 = "reminder_snooze_60"
ACTION_REMINDER_SNOOZE_120 = "reminder_snooze_120"

# The update modal.
VIEW_UPDATE = "update_incident"
BLOCK_COMMANDER, ACTION_COMMANDER = "commander", "commander_select"

# One-field modals the buttons open (bot/blocks/prompts.py): the resolution, the reopen reason, a note, the new
# commander. Their one input is BLOCK_PROMPT / ACTION_PROMPT.
VIEW_RESOLVE = "resolve_incident"
VIEW_REOPEN = "reopen_incident"
VIEW_NOTE = "note_incident"
VIEW_HANDOFF = "handoff_incident"
BLOCK_PROMPT, ACTION_PROMPT = "prompt", "prompt_input"

# App Home (listeners/home.py): everyone's buttons, the admin tabs and paging.
VIEW_HOME = "vigil_home"
BLOCK_HOME_DECLARE, BLOCK_HOME_TABS, BLOCK_HOME_PAGER = "home_declare", "home_tabs", "home_pager"
ACTION_HOME_DECLARE = "home_declare"
ACTION_HOME_TAB_OVERVIEW = "home_tab_overview"
ACTION_HOME_TAB_TAGS = "home_tab_tags"
ACTION_HOME_TAB_SOS = "home_tab_sos"
ACTION_HOME_TAB_COMPONENTS = "home_tab_components"
ACTION_HOME_TAB_USERGROUPS = "home_tab_usergroups"
ACTION_HOME_TAB_SETTINGS = "home_tab_settings"
ACTION_HOME_TAB_INTEGRATIONS = "home_tab_integrations"
ACTION_HOME_PAGE_PREV = "home_page_prev"
ACTION_HOME_PAGE_NEXT = "home_page_next"

# App Home admin buttons (listeners/admin/): each opens a modal, or acts at once after an admin check.
ACTION_ADMIN_EDIT_TAGS = "admin_edit_tags"
ACTION_ADMIN_ADD_SOS = "admin_add_sos"
ACTION_ADMIN_EDIT_SOS = "admin_edit_sos"
ACTION_ADMIN_ADD_COMPONENT = "admin_add_component"
ACTION_ADMIN_EDIT_COMPONENT = "admin_edit_component"
ACTION_ADMIN_IMPORT_USERGROUP = "admin_import_usergroup"
ACTION_ADMIN_USERGROUP_MENU = "admin_usergroup_menu"
ACTION_ADMIN_EDIT_SETTINGS = "admin_edit_settings"
ACTION_ADMIN_EDIT_JOBS = "admin_edit_jobs"
# Integrations (listeners/admin/integrations.py): Connect carries a kind, Retry a delivery id, the others an integration id.
ACTION_ADMIN_CONNECT_INTEGRATION = "admin_connect_integration"
ACTION_ADMIN_EDIT_INTEGRATION = "admin_edit_integration"
ACTION_ADMIN_TEST_INTEGRATION = "admin_test_integration"
ACTION_ADMIN_DISABLE_INTEGRATION = "admin_disable_integration"
ACTION_ADMIN_ENABLE_INTEGRATION = "admin_enable_integration"
ACTION_ADMIN_ROTATE_INTEGRATION_SECRET = "admin_rotate_integration_secret"
ACTION_ADMIN_REMOVE_INTEGRATION = "admin_remove_integration"
ACTION_ADMIN_RETRY_DELIVERY = "admin_retry_delivery"
ACTION_ADMIN_INBOUND_LOG = "admin_inbound_log"
ACTION_ADMIN_RETRY_INBOUND = "admin_retry_inbound"

# Admin modals.
VIEW_ADMIN_TAGS = "admin_tags"
VIEW_ADMIN_SOS = "admin_sos_target"
VIEW_ADMIN_COMPONENT = "admin_component"
VIEW_ADMIN_USERGROUP = "admin_usergroup"
VIEW_ADMIN_SETTINGS = "admin_settings"
VIEW_ADMIN_JOBS = "admin_jobs"
BLOCK_TAG_TECH_INCIDENTS = "tag_tech_incidents"
BLOCK_TAG_DEV_FIREFIGHTER = "tag_dev_firefighter"
BLOCK_TAG_IT_DEPLOY = "tag_it_deploy"
BLOCK_TAG_P1_USERGROUP = "tag_invited_for_all_public_p1"
ACTION_TAG_CONVERSATION, ACTION_TAG_USERGROUP = "tag_conversation", "tag_usergroup"
BLOCK_SOS_NAME, ACTION_SOS_NAME = "sos_name", "sos_name_input"
BLOCK_SOS_CONVERSATION, ACTION_SOS_CONVERSATION = "sos_conversation", "sos_conversation_select"
BLOCK_SOS_USERGROUP, ACTION_SOS_USERGROUP = "sos_usergroup", "sos_usergroup_select"
BLOCK_COMPONENT_NAME, ACTION_COMPONENT_NAME = "component_name", "component_name_input"
BLOCK_COMPONENT_USERGROUPS, ACTION_COMPONENT_USERGROUPS = "component_usergroups", "component_usergroups_select"
BLOCK_COMPONENT_PD_SERVICE, ACTION_COMPONENT_PD_SERVICE = "component_pd_service", "component_pd_service_select"
BLOCK_COMPONENT_ROUTING_KEY, ACTION_COMPONENT_ROUTING_KEY = "component_routing_key", "component_routing_key_input"
BLOCK_USERGROUP_ID, ACTION_USERGROUP_ID = "usergroup_id", "usergroup_id_input"
BLOCK_ARCHIVE_DAYS, ACTION_ARCHIVE_DAYS = "archive_days", "archive_days_input"
BLOCK_REMINDER_P1, BLOCK_REMINDER_P2, BLOCK_REMINDER_P3 = "reminder_p1", "reminder_p2", "reminder_p3"
BLOCK_REMINDER_P4, BLOCK_REMINDER_P5 = "reminder_p4", "reminder_p5"
ACTION_REMINDER = "reminder_minutes_input"
# The job schedules modal: one input per job (block_id = prefix + the job's name), and purge_logs' retention.
BLOCK_JOB_PREFIX, ACTION_JOB_MINUTES = "job_", "job_minutes_input"
BLOCK_JOB_KEEP_DAYS, ACTION_JOB_KEEP_DAYS = "job_keep_days", "job_keep_days_input"
BLOCK_REMOVE, ACTION_REMOVE = "remove", "remove_checkbox"

# The integration modal: one form per kind, its settings and secrets drawn from the provider's Field tuples (block_id =
# prefix + the field's name), the filters every kind shares.
VIEW_ADMIN_INTEGRATION = "admin_integration"
VIEW_ADMIN_INBOUND_LOG = "admin_inbound_log_view"
BLOCK_INTEGRATION_NAME, ACTION_INTEGRATION_NAME = "integration_name", "integration_name_input"
BLOCK_INTEGRATION_SETTING_PREFIX, ACTION_INTEGRATION_SETTING = "integration_setting_", "integration_setting_input"
BLOCK_INTEGRATION_SECRET_PREFIX, ACTION_INTEGRATION_SECRET = "integration_secret_", "integration_secret_input"
BLOCK_INTEGRATION_EVENTS, ACTION_INTEGRATION_EVENTS = "integration_events", "integration_events_select"
BLOCK_INTEGRATION_SEVERITY, ACTION_INTEGRATION_SEVERITY = "integration_min_severity", "integration_min_severity_select"
BLOCK_INTEGRATION_COMPONENTS, ACTION_INTEGRATION_COMPONENTS = "integration_components", "integration_components_select"
BLOCK_INTEGRATION_PRIVATE, ACTION_INTEGRATION_PRIVATE = "integration_private", "integration_private_checkbox"

# `/incident sos`: pick a target, write the request.
VIEW_SOS = "sos_request"
BLOCK_SOS_TARGET, ACTION_SOS_TARGET = "sos_target", "sos_target_select"
BLOCK_SOS_MESSAGE, ACTION_SOS_MESSAGE = "sos_message", "sos_message_input"
# App Home's Open button beside an active incident (a link to its channel; the press is only acked).
ACTION_HOME_OPEN_INCIDENT = "home_open_incident"
