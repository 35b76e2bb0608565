"""The ServiceNow Table API (`incident` table) over the worker's aiohttp session, so the outbound guard applies.

Answers are classified as `post_json` classifies them, for the GET and PATCH it does not cover: a 2xx returns;
400/401/403/404/422 fail at once; anything else, a timeout or a refused connection retries (429 and 503 with their
Retry-After). Errors name the host and path, never the query (it carries the correlation id) or the credentials.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Mapping
from typing import Any

import aiohttp

from integrations.base import FINAL_STATUSES, DeliveryFailed, retry_after_seconds
from integrations.http.guard import Refused, describe_url

INCIDENTS = "/api/now/table/incident"
FIELDS = "sys_id,number,state"
BODY_LIMIT = 256 * 1024
SNIPPET = 200


class Table:
    """The `incident` table as one integration user sees it."""

    def __init__(
        self, http: aiohttp.ClientSession, *, instance_url: str, username: str, password: str, within: float = 10.0
    ) -> None:
        self.base = instance_url.rstrip("/")
        self._http = http
        # The header built here, not with aiohttp.BasicAuth (deprecated in 3.14, its replacement missing before it).
        self._authorization = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self._within = within

    def record_url(self, sys_id: str) -> str:
        return f"{self.base}/incident.do?sys_id={sys_id}"

    async def find(self, correlation_id: str) -> dict[str, Any] | None:
        """The record carrying this correlation id, active or not (a resolved one is still the incident's)."""
        rows = await self._call(
            "GET",
            INCIDENTS,
            params={"sysparm_query": f"correlation_id={correlation_id}", "sysparm_limit": "1", "sysparm_fields": FIELDS},
        )
        return dict(rows[0]) if isinstance(rows, list) and rows else None

    async def read_one(self) -> list[Any]:
        """One row, one field: proves the URL, the credentials and read access, and changes nothing."""
        rows = await self._call("GET", INCIDENTS, params={"sysparm_limit": "1", "sysparm_fields": "sys_id"})
        return list(rows) if isinstance(rows, list) else []

    async def get(self, sys_id: str) -> dict[str, Any]:
        return dict(await self._call("GET", f"{INCIDENTS}/{sys_id}", params={"sysparm_fields": FIELDS}))

    async def create(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return dict(await self._call("POST", INCIDENTS, params={"sysparm_fields": FIELDS}, body=body))

    async def update(self, sys_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return dict(await self._call("PATCH", f"{INCIDENTS}/{sys_id}", params={"sysparm_fields": FIELDS}, body=body))

    async def _call(
        self, method: str, path: str, *, params: Mapping[str, str], body: Mapping[str, Any] | None = None
    ) -> Any:
        """The `result` of one Table API call."""
        url = self.base + path
        where = describe_url(url)
        headers = {"Accept": "application/json", "User-Agent": "Vigil", "Authorization": self._authorization}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            async with self._http.request(
                method,
                url,
                params=dict(params),
                data=json.dumps(dict(body)).encode() if body is not None else None,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self._within),
                allow_redirects=False,
            ) as resp:
                status, answer_headers = resp.status, dict(resp.headers)
                data = await resp.content.read(BODY_LIMIT)
        except Refused as exc:
            raise DeliveryFailed(str(exc), retryable=False) from None
        except TimeoutError:
            raise DeliveryFailed(f"no answer from {where} within {self._within:g} s") from None
        except aiohttp.ClientSSLError as exc:
            raise DeliveryFailed(f"TLS failed with {where} ({type(exc).__name__}); see VIGIL_CA_BUNDLE") from None
        except (aiohttp.ClientError, OSError, asyncio.IncompleteReadError) as exc:
            raise DeliveryFailed(f"could not reach {where} ({type(exc).__name__})") from None
        if not 200 <= status < 300:
            snippet = _error_text(data)
            message = f"{where} answered {status}" + (f": {snippet}" if snippet else "")
            if status in FINAL_STATUSES:
                raise DeliveryFailed(message, http_status=status, retryable=False)
            retry_after = retry_after_seconds(answer_headers.get("Retry-After")) if status in (429, 503) else None
            raise DeliveryFailed(message, http_status=status, retry_after=retry_after)
        try:
            parsed = json.loads(data)
        except ValueError:
            raise DeliveryFailed(f"{where} answered {status} with something that is not JSON") from None
        if not isinstance(parsed, dict) or "result" not in parsed:
            raise DeliveryFailed(f"{where} answered {status} without a result")
        return parsed["result"]


def _error_text(data: bytes) -> str:
    """ServiceNow's `{"error": {"message", "detail"}}` as one line, else the start of the body."""
    text = data[:2000].decode("utf-8", "replace")
    try:
        error = json.loads(text).get("error") or {}
        text = " — ".join(str(error[k]) for k in ("message", "detail") if error.get(k)) or text
    except (ValueError, AttributeError):
        pass
    return " ".join(text.split())[:SNIPPET]
