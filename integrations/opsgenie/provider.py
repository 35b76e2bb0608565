"""The `opsgenie` kind: an alert per incident, acknowledged and closed as the incident is.

Every call names the alert by its alias, the incident's external key, so nothing depends on an id Vigil may not
have recorded: Opsgenie folds a create re-sent while the alert is open into that alert (its count goes up, no second
alert), and acknowledging or closing twice changes nothing. Opsgenie processes each request after answering 202;
Vigil polls the request's status a few times, within the attempt's time, to learn the alert id and to see a
refusal, and counts "already closed" or "already acknowledged" as success.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import aiohttp

from bot.incidents import events
from integrations.base import ConfigProblem, Configured, DeliveryFailed, Field, Job, Sent
from integrations.opsgenie.client import Reply, call, raise_for
from integrations.payloads import IncidentSnapshot

DEFAULT_API_URL = "https://api.opsgenie.com"
SEVERITIES = ("P1", "P2", "P3", "P4", "P5")  # Opsgenie's priorities are the same five names
# Seconds to wait before each look at a request's status; the first is at once (usually it is processed by then).
POLL_DELAYS = (0.0, 0.2, 0.5, 1.0, 2.0)
POLL_BUDGET = 1.5  # all the looks together, in job timeouts
MESSAGE_LIMIT, DESCRIPTION_LIMIT, USER_LIMIT, ENTITY_LIMIT, NOTE_LIMIT = 130, 15000, 100, 512, 25000
SOURCE = "Vigil"
ACTIONS = {
    events.ACKNOWLEDGED: ("acknowledge", "Acknowledged in Vigil"),
    events.RESOLVED: ("close", "Resolved in Vigil"),
    events.CLOSED: ("close", "Closed in Vigil"),
}


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


PRIVATE_TITLE = "Private incident: details in Slack"


def message(incident: IncidentSnapshot, *, title: str | None = None) -> str:
    """The alert's headline. A private incident pages with a redacted one: a pager must reach the on-call person,
    but its title stays among the incident's members."""
    shown = PRIVATE_TITLE if incident.private else (title if title is not None else incident.title)
    return clip(f"[{incident.key}] {shown}", MESSAGE_LIMIT)


def who(job: Job) -> str:
    """Who made the change, as Opsgenie's `user` shows it."""
    actor = job.actor
    return clip((actor.name or actor.email or actor.user_id) if actor is not None else SOURCE, USER_LIMIT)


def alert_body(job: Job, incident: IncidentSnapshot, *, alias: str) -> dict[str, Any]:
    lines = [f"{incident.key} · severity {incident.severity} · status {incident.status}"]
    if incident.description and not incident.private:
        lines += ["", incident.description, ""]
    if incident.channel_url:
        lines.append(f"Incident channel: {incident.channel_url}")
    lines.append(
        f"Opened by Vigil; acknowledging or closing the incident there acknowledges or closes this alert ({alias})."
    )
    details = {"incident": incident.key, "severity": incident.severity, "vigil_key": alias}
    if incident.channel_url:
        details["slack"] = incident.channel_url
    body: dict[str, Any] = {
        "message": message(incident),
        "alias": alias,
        "description": clip("\n".join(lines), DESCRIPTION_LIMIT),
        "priority": incident.severity,
        "source": SOURCE,
        "tags": ["vigil", incident.key],
        "details": details,  # Opsgenie takes string values only
        "user": who(job),
    }
    if incident.component and not incident.private:
        body["entity"] = clip(incident.component, ENTITY_LIMIT)
    if job.event == events.REOPENED:
        body["note"] = "Reopened in Vigil"
    return body


class OpsgenieProvider:
    kind = "opsgenie"
    settings: tuple[Field, ...] = (
        Field("api_url", "url", default=DEFAULT_API_URL, help="the API base (EU accounts: https://api.eu.opsgenie.com)"),
    )
    secrets: tuple[Field, ...] = (
        Field("api_key", required=True, help="an API integration key (GenieKey) allowed to create and update alerts"),
    )
    include_private_default = True  # a pager pages private incidents too, with a redacted summary

    def __init__(self) -> None:
        self.poll_delays: tuple[float, ...] = POLL_DELAYS

    def handles(self, event: str) -> bool:
        return True

    def check(self, config: Mapping[str, Any], secrets: Mapping[str, str]) -> list[str]:
        url = str(config.get("api_url") or "")
        if url.split("?", 1)[0].rstrip("/").endswith("/v2"):
            return ["api_url: the API base only, like https://api.opsgenie.com (Vigil adds /v2/…)"]
        return []

    async def deliver(self, job: Job, http: aiohttp.ClientSession) -> Sent:
        api = _Api(job.integration, http, within=job.timeout)
        if job.is_test:
            return await api.account()
        incident = job.incident
        if incident is None:
            raise DeliveryFailed("the incident no longer exists", retryable=False)
        alias = job.external_key
        if job.event in (events.OPENED, events.REOPENED):
            frozen = job.payload
            body = (
                dict(frozen)
                if frozen is not None and frozen.get("alias") == alias
                else alert_body(job, incident, alias=alias)
            )
            return await self._create(api, body, alias)
        if job.event in ACTIONS:
            action, note = ACTIONS[job.event]
            note = f"{note} ({incident.key})"
            if action == "close" and incident.resolution:
                note = clip(f"{note}: {incident.resolution}", NOTE_LIMIT)
            return await self._act(api, alias, action, {"user": who(job), "source": SOURCE, "note": note})
        if job.event == events.UPDATED:
            return await self._update(api, job, incident, alias)
        return Sent(note=f"nothing to send to Opsgenie for {job.event}")

    async def _create(self, api: _Api, body: dict[str, Any], alias: str) -> Sent:
        reply = await api.send("POST", "/v2/alerts", body=body)
        raise_for(reply, payload=body)
        result = await self._poll(api, reply)
        if result is None:
            return Sent(
                payload=body, http_status=reply.status, link_data={"alias": alias}, note="accepted; not processed yet"
            )
        if _succeeded(result):
            return _sent(body, reply, result, alias)
        raise DeliveryFailed(
            f"Opsgenie did not create the alert: {_status(result)}", http_status=reply.status, payload=body
        )  # a re-send is safe: the alias folds it into the alert if there is one by then

    async def _act(self, api: _Api, alias: str, action: str, body: dict[str, Any]) -> Sent:
        reply = await api.send("POST", f"/v2/alerts/{quote(alias, safe='')}/{action}?identifierType=alias", body=body)
        if reply.status == 404:  # never created (opened before this integration, or filtered out): nothing to do
            return Sent(payload=body, http_status=404, note=f"no alert {alias}; nothing to {action}")
        raise_for(reply, payload=body)
        result = await self._poll(api, reply)
        if result is None:
            return Sent(
                payload=body, http_status=reply.status, link_data={"alias": alias}, note="accepted; not processed yet"
            )
        said = _status(result).lower()
        if _succeeded(result) or "already" in said:
            return _sent(body, reply, result, alias, note=_status(result))
        if "not exist" in said or "not found" in said:
            return Sent(payload=body, http_status=reply.status, note=f"no alert {alias}; nothing to {action}")
        raise DeliveryFailed(
            f"Opsgenie did not {action} the alert: {_status(result)}", http_status=reply.status, payload=body
        )

    async def _update(self, api: _Api, job: Job, incident: IncidentSnapshot, alias: str) -> Sent:
        """A severity or title change: the alert's priority or message, by alias. These are not polled: a change
        Opsgenie declines (the alert is closed, say) is not worth holding up the incident's later events."""
        changes: list[tuple[str, dict[str, Any]]] = []
        if job.data.get("severity") in SEVERITIES:
            changes.append(("priority", {"priority": job.data["severity"]}))
        if isinstance(job.data.get("title"), str):
            changes.append(("message", {"message": message(incident, title=job.data["title"])}))
        if not changes:
            return Sent(note="nothing Opsgenie shows changed")
        sent: dict[str, Any] = {}
        status = 0
        for what, body in changes:
            sent |= body
            reply = await api.send("PUT", f"/v2/alerts/{quote(alias, safe='')}/{what}?identifierType=alias", body=body)
            if reply.status == 404:
                return Sent(payload=sent, http_status=404, note=f"no alert {alias}; nothing to update")
            raise_for(reply, payload=sent)
            status = reply.status
        return Sent(payload=sent, http_status=status, link_data={"alias": alias})

    async def _poll(self, api: _Api, accepted: Reply) -> Mapping[str, Any] | None:
        """The processed request's `data`, or None when it is not processed within the attempt's time. Bounded: a
        few looks, each within the job's timeout, all within 1.5 times it (the worker allows an attempt three, and
        the request being polled took up to one)."""
        request_id = accepted.field("requestId")
        if not isinstance(request_id, str) or not request_id:
            return None
        deadline = time.monotonic() + POLL_BUDGET * api.within
        for delay in self.poll_delays:
            if delay:
                if time.monotonic() + delay >= deadline:
                    break
                await asyncio.sleep(delay)
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                reply = await api.send(
                    "GET", f"/v2/alerts/requests/{quote(request_id, safe='')}", within=min(api.within, left)
                )
            except DeliveryFailed:
                return None  # the request itself was accepted; only its outcome is unknown
            if reply.status == 404:  # "not processed yet"
                continue
            data = reply.field("data")
            return data if reply.ok and isinstance(data, Mapping) else None
        return None

    async def probe(self, integration: Configured, http: aiohttp.ClientSession) -> str:
        """Reads the account: the key works and the API answers, and no alert is created."""
        return (await _Api(integration, http, within=10.0).account()).note


def _succeeded(result: Mapping[str, Any]) -> bool:
    return bool(result.get("isSuccess", result.get("success")))


def _status(result: Mapping[str, Any]) -> str:
    return str(result.get("status") or "no status given")[:200]


def _sent(body: Mapping[str, Any], reply: Reply, result: Mapping[str, Any], alias: str, *, note: str = "") -> Sent:
    alert_id = result.get("alertId")
    return Sent(
        payload=body,
        http_status=reply.status,
        external_id=str(alert_id) if alert_id else None,
        link_data={"alias": alias},
        note=note,
    )


class _Api:
    """One integration's base URL and key."""

    def __init__(self, integration: Configured, http: aiohttp.ClientSession, *, within: float) -> None:
        api_key = integration.secrets.get("api_key")
        if not api_key:
            raise ConfigProblem("api_key: not set; add it with --secret api_key=-")
        self.base = str(integration.config.get("api_url") or DEFAULT_API_URL).rstrip("/")
        self.api_key = api_key
        self.http = http
        self.within = within

    async def send(
        self, method: str, path: str, *, body: Mapping[str, Any] | None = None, within: float | None = None
    ) -> Reply:
        return await call(
            self.http,
            method,
            self.base + path,
            api_key=self.api_key,
            body=body,
            within=self.within if within is None else within,
            payload=body,
        )

    async def account(self) -> Sent:
        reply = await self.send("GET", "/v2/account")
        raise_for(reply)
        data = reply.field("data")
        name = data.get("name") if isinstance(data, Mapping) else None
        return Sent(
            payload={"method": "GET", "path": "/v2/account"},
            http_status=reply.status,
            note=f"authenticated; account {name or 'unnamed'}",
        )
