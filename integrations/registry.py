"""Kind → provider factory: a plain dict. A new vendor is one folder and one line here."""

from __future__ import annotations

from collections.abc import Callable

from integrations.base import Provider
from integrations.github.provider import GitHubProvider
from integrations.jira.provider import JiraProvider
from integrations.linear.provider import LinearProvider
from integrations.opsgenie.provider import OpsgenieProvider
from integrations.pagerduty.provider import PagerDutyProvider
from integrations.servicenow.provider import ServiceNowProvider
from integrations.teams.provider import TeamsProvider
from integrations.webhook.provider import WebhookProvider

Registry = dict[str, Callable[[], Provider]]

PROVIDERS: Registry = {
    "github": GitHubProvider,
    "jira": JiraProvider,
    "linear": LinearProvider,
    "opsgenie": OpsgenieProvider,
    "pagerduty": PagerDutyProvider,
    "servicenow": ServiceNowProvider,
    "teams": TeamsProvider,
    "webhook": WebhookProvider,
}
