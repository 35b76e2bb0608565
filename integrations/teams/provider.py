"""The `teams` kind: an Adaptive Card per event, posted to a Power Automate Workflows URL.

The Workflows URL carries its own credential in the query string, so it is a secret (`--secret url=…`) and never
appears in a log or an error (errors name the host and path only). A 202 means Teams accepted the card; the flow
posts it asynchronously.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from integrations.base import Configured, Field, Job, Sent, head_probe, post_json
from integrations.payloads import IncidentSnapshot, encode
from integrations.teams.card import incident_card


class TeamsProvider:
    kind = "teams"
    settings: tuple[Field, ...] = ()
    secrets: tuple[Field, ...] = (
        Field("url", "url", required=True, help="the Workflows webhook URL (it is a credential)"),
        Field("security_token", help="the outgoing webhook's security token, issued by Teams (for relaying messages)"),
    )
    include_private_default = False

    def handles(self, event: str) -> bool:
        return True

    def check(self, config: Mapping[str, Any], secrets: Mapping[str, str]) -> list[str]:
        url = secrets.get("url", "")
        if ".webhook.office.com" in url.split("?", 1)[0]:
            return [
                "url: Office 365 connector webhooks are retired; create a Workflows URL (see docs/integrations/teams.md)"
            ]
        return []

    async def deliver(self, job: Job, http: aiohttp.ClientSession) -> Sent:
        payload = job.payload or incident_card(
            event=job.event, incident=job.incident or IncidentSnapshot.sample(job.occurred_at), test=job.is_test
        )
        answer = await post_json(
            http, job.integration.secrets["url"], body=encode(dict(payload)), payload=payload, within=job.timeout
        )
        return Sent(payload=payload, http_status=answer.status)

    async def probe(self, integration: Configured, http: aiohttp.ClientSession) -> str:
        return await head_probe(http, integration.secrets["url"])
