"""Opsgenie's REST API over the shared aiohttp session: one request per call and no retries of its own (the outbox
retries). `call` returns whatever status came back, because some are answers rather than failures here (a 404 from
the request-status endpoint means "not processed yet"); `raise_for` then classifies like every other delivery.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from integrations.base import FINAL_STATUSES, DeliveryFailed, request, retry_after_seconds
from integrations.http.guard import describe_url

MAX_ANSWER = 64 * 1024


@dataclass(frozen=True)
class Reply:
    status: int
    data: Any  # the decoded JSON body, or None
    raw: bytes
    retry_after: str | None
    where: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def field(self, name: str) -> Any:
        return self.data.get(name) if isinstance(self.data, Mapping) else None


async def call(
    http: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    api_key: str,
    body: Mapping[str, Any] | None = None,
    within: float = 10.0,
    payload: Mapping[str, Any] | None = None,
) -> Reply:
    """One request with `Authorization: GenieKey …`; a DeliveryFailed only when no answer came (errors name the host
    and path, never the key or the query)."""
    where = describe_url(url)
    headers = {"Authorization": f"GenieKey {api_key}", "User-Agent": "Vigil"}
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(dict(body), separators=(",", ":"), sort_keys=True).encode()
    answer = await request(http, method, url, body=data, headers=headers, within=within, payload=payload, limit=MAX_ANSWER)
    raw, status, retry_after = answer.body, answer.status, answer.headers.get("Retry-After")
    try:
        decoded = json.loads(raw) if raw else None
    except ValueError:
        decoded = None
    return Reply(status=status, data=decoded, raw=raw, retry_after=retry_after, where=where)


def raise_for(reply: Reply, *, payload: Mapping[str, Any] | None = None) -> None:
    """Nothing for a 2xx; a final DeliveryFailed for 400/401/403/404/422; a retryable one otherwise (429 and 503
    with their Retry-After)."""
    if reply.ok:
        return
    said = reply.field("message")
    snippet = str(said) if said else reply.raw[:200].decode("utf-8", "replace").strip()
    message = f"{reply.where} answered {reply.status}" + (f": {snippet[:200]}" if snippet else "")
    if reply.status in FINAL_STATUSES:
        raise DeliveryFailed(message, http_status=reply.status, retryable=False, payload=payload)
    wait = retry_after_seconds(reply.retry_after) if reply.status in (429, 503) else None
    raise DeliveryFailed(message, http_status=reply.status, retry_after=wait, payload=payload)
