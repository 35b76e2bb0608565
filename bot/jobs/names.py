"""The jobs and their default schedules, as plain data: the CLI reads this without importing the jobs themselves."""

from __future__ import annotations

SYNC_SLACK_USERS = "sync_slack_users"
SYNC_SLACK_USERGROUPS = "sync_slack_usergroups"
SYNC_SLACK_CONVERSATIONS = "sync_slack_conversations"
SYNC_PAGERDUTY = "sync_pagerduty"
SEND_REMINDERS = "send_reminders"
ARCHIVE_CLOSED_CHANNELS = "archive_closed_channels"
PURGE_ROTATED_SECRETS = "purge_rotated_secrets"
PURGE_LOGS = "purge_logs"

# name -> minutes between runs, in the order `vigil jobs list` and App Home show them.
DEFAULT_MINUTES: dict[str, int] = {
    SYNC_SLACK_USERS: 240,
    SYNC_SLACK_USERGROUPS: 60,
    SYNC_SLACK_CONVERSATIONS: 15,
    SYNC_PAGERDUTY: 15,
    SEND_REMINDERS: 1,
    ARCHIVE_CLOSED_CHANNELS: 15,
    PURGE_ROTATED_SECRETS: 10,
    PURGE_LOGS: 60,
}
JOB_NAMES = tuple(DEFAULT_MINUTES)

MIN_MINUTES, MAX_MINUTES = 1, 7 * 24 * 60
# How long purge_logs keeps delivery, inbound and job-run logs unless an admin says otherwise.
DEFAULT_KEEP_DAYS = 30
MIN_KEEP_DAYS, MAX_KEEP_DAYS = 1, 3650
KEEP_DAYS = "keep_days"  # the purge_logs option
