"""Jira Cloud and Data Center: an issue per incident, moved along its workflow (see docs/integrations/jira.md)."""
