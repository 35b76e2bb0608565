"""The `webhook` kind: the incident as signed JSON, `X-Vigil-Delivery` naming the delivery on every re-send."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from integrations.base import Configured, Field, Job, Sent, head_probe, post_json
from integrations.payloads import IncidentSnapshot, encode, webhook_body
from integrations.signing import sign_header


class WebhookProvider:
    kind = "webhook"
    settings: tuple[Field, ...] = (Field("url", "url", required=True, help="the receiver's full URL"),)
    secrets: tuple[Field, ...] = ()
    include_private_default = False

    def handles(self, event: str) -> bool:
        return True

    def check(self, config: Mapping[str, Any], secrets: Mapping[str, str]) -> list[str]:
        return []

    async def deliver(self, job: Job, http: aiohttp.ClientSession) -> Sent:
        payload = job.payload or webhook_body(
            delivery_id=job.delivery_id,
            event=job.event,
            occurred_at=job.occurred_at,
            incident=job.incident or IncidentSnapshot.sample(job.occurred_at),
        )
        body = encode(dict(payload))
        headers = {
            "X-Vigil-Delivery": job.delivery_id,
            "X-Vigil-Event": job.event,
            "X-Vigil-Signature": sign_header(body, job.integration.signing_secrets(), timestamp=int(job.now.timestamp())),
            "User-Agent": "Vigil",
        }
        answer = await post_json(
            http, str(job.integration.config["url"]), body=body, headers=headers, payload=payload, within=job.timeout
        )
        return Sent(payload=payload, http_status=answer.status)

    async def probe(self, integration: Configured, http: aiohttp.ClientSession) -> str:
        """DNS, TLS and the outbound guard, by a HEAD request: whatever status the receiver answers, nothing is
        posted."""
        return await head_probe(http, str(integration.config["url"]))
