"""Linear's GraphQL endpoint over the shared aiohttp session: one POST per call, no retries of its own (the outbox
retries), and the answer classified like every other delivery.

GraphQL reports most failures inside the body: `errors[]` arrives with HTTP 200 as often as with 400, so the HTTP
status alone says little. Each error's `extensions.type` (or `code`) decides: a rate limit or an internal error
is worth another attempt, a validation, authentication or permission error never is.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp

from integrations.base import FINAL_STATUSES, DeliveryFailed, request, retry_after_seconds
from integrations.http.guard import describe_url

MAX_ANSWER = 256 * 1024  # bytes of an answer read: issues and states are small
# `extensions.type` as Linear's SDK names them, and the `code`s other GraphQL servers use, lower-cased with
# underscores as spaces: the ones a later attempt may get through.
RETRYABLE_TYPES = frozenset(
    {
        "ratelimited",
        "rate limited",
        "internal error",
        "internal server error",
        "network error",
        "lock timeout",
        "bootstrap error",
        "service unavailable",
    }
)
# A fixed namespace, so the same incident and integration give the same issue id in every process, forever.
ISSUE_NAMESPACE = uuid.UUID("0b6f2f7e-5c1a-4d0e-9a59-3c7d2e8b41a6")


def issue_uuid(*, external_key: str, integration_id: str) -> str:
    """The issue's id, chosen by Vigil: a UUID v4 in form (Linear accepts only those) but derived, not random, from
    the incident's external key and the integration, so every re-send of a create names the same issue."""
    raw = bytearray(uuid.uuid5(ISSUE_NAMESPACE, f"{external_key}\n{integration_id}").bytes)
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    return str(uuid.UUID(bytes=bytes(raw)))


class GraphQLFailed(DeliveryFailed):
    """Linear answered with `errors[]`; `errors` keeps them so a caller can recognise "not found" or "exists"."""

    def __init__(self, message: str, *, errors: Sequence[Mapping[str, Any]], **kw: Any) -> None:
        super().__init__(message, **kw)
        self.errors = list(errors)

    def mentions(self, *words: str) -> bool:
        """Whether any error's message says one of `words` (case-insensitive)."""
        text = " ".join(_message(e) for e in self.errors).lower()
        return any(word in text for word in words)


def _kind(error: Mapping[str, Any]) -> str:
    extensions = error.get("extensions")
    if not isinstance(extensions, Mapping):
        return ""
    kind = extensions.get("type") or extensions.get("code") or ""
    return str(kind).strip().lower().replace("_", " ")


def _message(error: Mapping[str, Any]) -> str:
    extensions = error.get("extensions")
    shown = extensions.get("userPresentableMessage") if isinstance(extensions, Mapping) else None
    return str(shown or error.get("message") or "no message")[:200]


def classify(
    *,
    status: int,
    errors: Sequence[Mapping[str, Any]],
    where: str,
    retry_after: str | None,
    payload: Mapping[str, Any] | None,
) -> GraphQLFailed:
    """The failure `errors` amount to: retryable when the first error is a rate limit or an internal error (or the
    HTTP status is 429 or 5xx), final otherwise."""
    first = errors[0]
    kind = _kind(first)
    retryable = kind in RETRYABLE_TYPES or status == 429 or status >= 500
    wait = retry_after_seconds(retry_after) if retryable else None
    label = f"{kind}: " if kind else ""
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return GraphQLFailed(
        f"{where} answered {status} with errors: {label}{_message(first)}{more}",
        errors=errors,
        http_status=status,
        retryable=retryable,
        retry_after=wait,
        payload=payload,
    )


async def graphql(
    http: aiohttp.ClientSession,
    url: str,
    *,
    api_key: str,
    query: str,
    variables: Mapping[str, Any] | None = None,
    within: float = 10.0,
    payload: Mapping[str, Any] | None = None,
) -> tuple[int, dict[str, Any]]:
    """POST one GraphQL operation; the HTTP status and `data`, or a DeliveryFailed (a GraphQLFailed for `errors`).

    A personal API key goes in `Authorization` as it is: Linear takes `Bearer` only for OAuth tokens. Errors name
    the host and path only, never the key."""
    where = describe_url(url)
    body = json.dumps({"query": query, "variables": dict(variables or {})}, separators=(",", ":")).encode()
    reply = await request(
        http,
        "POST",
        url,
        body=body,
        headers={"Content-Type": "application/json", "Authorization": api_key, "User-Agent": "Vigil"},
        within=within,
        payload=payload,
        limit=MAX_ANSWER,
    )
    raw, status, retry_after = reply.body, reply.status, reply.headers.get("Retry-After")
    try:
        answer = json.loads(raw) if raw else None
    except ValueError:
        answer = None
    errors = answer.get("errors") if isinstance(answer, dict) else None
    if isinstance(errors, list) and errors and all(isinstance(e, Mapping) for e in errors):
        raise classify(status=status, errors=errors, where=where, retry_after=retry_after, payload=payload)
    if not 200 <= status < 300:
        snippet = raw[:200].decode("utf-8", "replace").strip()
        message = f"{where} answered {status}" + (f": {snippet}" if snippet else "")
        if status in FINAL_STATUSES:
            raise DeliveryFailed(message, http_status=status, retryable=False, payload=payload)
        wait = retry_after_seconds(retry_after) if status in (429, 503) else None
        raise DeliveryFailed(message, http_status=status, retry_after=wait, payload=payload)
    data = answer.get("data") if isinstance(answer, dict) else None
    if not isinstance(data, dict):
        raise DeliveryFailed(f"{where} answered {status} without GraphQL data", http_status=status, payload=payload)
    return status, data
