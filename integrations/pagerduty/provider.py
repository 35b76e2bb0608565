"""The `pagerduty` kind: pages for incidents, acknowledged and resolved with them.

An incident opened (or reopened) at or above `severity_threshold`, or raised to it, triggers an alert; so does
`page`, whatever the severity. Each page goes to a target — the incident's component's own routing key, else the
component's service through the REST API, else the integration's routing key — and is recorded as a page row
(target, method, dedup key), so its acknowledge and resolve go the same way, and only pages that exist are
acknowledged or resolved. The dedup key is the incident's external key `vigil-<team_id>-<number>` on every target:
PagerDuty folds a trigger re-sent while the alert is open into that alert, and the REST API refuses a second
incident with the same key on a service ("matching dedup key already exists"), which counts as paged. So a
re-send after a crash or a timeout never pages twice.

Private incidents page too (a pager must reach the on-call), with a summary that keeps the title to the incident's
members. The library is synchronous: a delivery's calls run together in one `asyncio.to_thread`.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp

from bot.incidents import events
from integrations.base import (
    PAGE_EVENT,
    PAGED_EVENT,
    ConfigProblem,
    Configured,
    DeliveryFailed,
    Field,
    Job,
    Page,
    Sent,
    head_probe,
    session_guard,
)
from integrations.http.guard import AddressChecker, OutboundPolicy, check_address
from integrations.pagerduty.client import (
    DEFAULT_API_URL,
    DEFAULT_EVENTS_URL,
    PagerDutyApi,
    Reply,
    Transports,
    api_for,
    raise_for,
)
from integrations.payloads import IncidentSnapshot

SEVERITY = {"P1": "critical", "P2": "error", "P3": "warning", "P4": "info", "P5": "info"}
RANK = {"P1": 1, "P2": 2, "P3": 3, "P4": 4, "P5": 5}
ACTIVE = ("open", "investigating", "mitigating")
INTEGRATION_TARGET = "routing:integration"
COMPONENT_PREFIX = "routing:component:"
SERVICE_PREFIX = "service:"
SUMMARY_LIMIT, TITLE_LIMIT, DETAILS_LIMIT = 1024, 255, 10000
PRIVATE_TITLE = "Private incident: details in Slack"
SOURCE = "Vigil"
MASK = "••••"
ROUTING_KEY_LENGTH = 32
ALREADY_OPEN = "matching dedup key already exists"
MOVES = {"acknowledge": "acknowledged", "resolve": "resolved"}


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def summary(incident: IncidentSnapshot) -> str:
    """The alert's headline; a private incident's is redacted."""
    return f"[{incident.key}] {PRIVATE_TITLE if incident.private else incident.title}"


def at_or_above(severity: str, threshold: str) -> bool:
    return RANK.get(severity, 99) <= RANK.get(threshold, 2)


def routing_key_problem(key: str) -> str | None:
    if len(key) != ROUTING_KEY_LENGTH or not key.isalnum() or not key.isascii():
        return "an Events API v2 integration key is 32 letters and digits"
    return None


@dataclass(frozen=True)
class Target:
    """Where a page goes: `name` is what the page row records."""

    name: str
    method: str  # events, rest
    service_id: str | None = None
    component_id: int | None = None

    @classmethod
    def parse(cls, name: str, *, service_id: str | None = None) -> Target:
        if name == INTEGRATION_TARGET:
            return cls(name, "events")
        if name.startswith(COMPONENT_PREFIX) and name.removeprefix(COMPONENT_PREFIX).isdigit():
            return cls(name, "events", service_id=service_id, component_id=int(name.removeprefix(COMPONENT_PREFIX)))
        if name.startswith(SERVICE_PREFIX) and name.removeprefix(SERVICE_PREFIX):
            return cls(name, "rest", service_id=name.removeprefix(SERVICE_PREFIX))
        raise DeliveryFailed(f"unknown page target {name[:80]!r}", retryable=False)


class PagerDutyProvider:
    kind = "pagerduty"
    pager = True  # the worker hands it the incident's pages and its component's targets
    settings: tuple[Field, ...] = (
        Field("events_url", "url", default=DEFAULT_EVENTS_URL, help="Events API base (EU: https://events.eu.pagerduty.com)"),
        Field("api_url", "url", default=DEFAULT_API_URL, help="REST API base (EU: https://api.eu.pagerduty.com)"),
        Field(
            "severity_threshold",
            "severity",
            default="P2",
            help="incidents this severe or more page on open (and when raised to it); `page` pages whatever it is",
        ),
        Field(
            "auto_close",
            "bool",
            default=True,
            help="a resolve in PagerDuty also closes the incident when no postmortem is due",
        ),
        Field("from_email", help="a PagerDuty user's email: the REST API pages a service and moves its incidents as them"),
    )
    secrets: tuple[Field, ...] = (
        Field("routing_key", help="the integration key of a service's Events API v2 integration (32 characters)"),
        Field("api_token", help="a REST API key: enables the on-call sync and paging any synced service"),
        Field("signing_secret", help="the secret PagerDuty shows when you create the V3 webhook subscription"),
    )
    include_private_default = True  # a pager pages private incidents too, with a redacted summary

    def __init__(self, *, policy: OutboundPolicy | None = None, checker: AddressChecker = check_address) -> None:
        """`policy` is for tests that build a provider by hand; otherwise the guard's policy is the one of the aiohttp
        session the worker hands over, so the library's httpx2 client obeys exactly the same rules."""
        self._policy = policy
        self._checker = checker
        self.transports = Transports()

    def handles(self, event: str) -> bool:
        return True

    def check(self, config: Mapping[str, Any], secrets: Mapping[str, str]) -> list[str]:
        problems = []
        routing_key, token = secrets.get("routing_key") or "", secrets.get("api_token") or ""
        if not routing_key and not token:
            problems.append(
                "routing_key: set routing_key (to page) or api_token (to sync on-call and page services), or both"
            )
        if routing_key and (problem := routing_key_problem(routing_key)):
            problems.append(f"routing_key: {problem}")
        for key, example in (("events_url", DEFAULT_EVENTS_URL), ("api_url", DEFAULT_API_URL)):
            url = str(config.get(key) or example)
            parts = urlsplit(url)
            if parts.scheme != "https":
                problems.append(f"{key}: https:// only (the pagerduty library refuses anything else)")
            elif parts.path.strip("/") or parts.query:
                problems.append(f"{key}: the API base only, like {example} (Vigil adds the paths)")
        email = str(config.get("from_email") or "")
        if email and ("@" not in email or any(c.isspace() for c in email)):
            problems.append("from_email: the email address of a PagerDuty user")
        return problems

    # ---------------------------------------------------------------- the doors the worker and `vigil check` use

    async def deliver(self, job: Job, http: aiohttp.ClientSession) -> Sent:
        policy, checker = self._guard(http)
        return await asyncio.to_thread(self._deliver, job, lambda: self.api(job.integration, policy, checker, job.timeout))

    async def probe(self, integration: Configured, http: aiohttp.ClientSession) -> str:
        """A REST read with the token (the account's abilities); with only a routing key, which the Events API has no
        harmless call for, DNS, TLS and the guard are checked with a HEAD. Nothing is posted either way."""
        policy, checker = self._guard(http)
        api = await asyncio.to_thread(self.api, integration, policy, checker, 10.0)
        lines = []
        if api.has_token:
            lines.append(await asyncio.to_thread(_read_abilities, api))
        routing_key = integration.secrets.get("routing_key")
        if routing_key:
            reached = await head_probe(http, api.events_url)
            lines.append(f"routing key set; events API {reached.removeprefix('reachable: ')}")
        return "; ".join(lines)

    def api(self, integration: Configured, policy: OutboundPolicy, checker: AddressChecker, timeout: float) -> PagerDutyApi:
        """The integration's client on the guarded transport; a delivery never waits out a 429 (the outbox does)."""
        return api_for(integration, self.transports.for_policy(policy, checker), timeout=timeout)

    def _guard(self, http: aiohttp.ClientSession) -> tuple[OutboundPolicy, AddressChecker]:
        if self._policy is not None:
            return self._policy, self._checker
        return session_guard(http, vendor="PagerDuty")

    # ---------------------------------------------------------------- one delivery, in a worker thread

    def _deliver(self, job: Job, make_api: Callable[[], PagerDutyApi]) -> Sent:
        api = make_api()
        if job.is_test:
            return self._test(job, api)
        if job.event == PAGE_EVENT:
            return self._page_service(job, api)
        incident = job.incident
        if incident is None:
            raise DeliveryFailed("the incident no longer exists", retryable=False)
        if job.event == PAGED_EVENT:
            target = Target.parse(str(job.data.get("target") or ""), service_id=_text(job.data.get("service_id")))
            return self._trigger(job, api, incident, target)
        threshold = str(job.integration.config.get("severity_threshold") or "P2")
        if job.event in (events.OPENED, events.REOPENED):
            if not at_or_above(incident.severity, threshold):
                return Sent(note=f"{incident.severity} is below the severity threshold {threshold}: nobody paged")
            return self._auto(job, api, incident)
        if job.event == events.UPDATED and isinstance(job.data.get("severity"), str):
            return self._raised(job, api, incident, str(job.data["severity"]), threshold)
        if job.event == events.ACKNOWLEDGED:
            return self._move(job, api, "acknowledge")
        if job.event in (events.RESOLVED, events.CLOSED):
            return self._move(job, api, "resolve")
        return Sent(note=f"nothing to send to PagerDuty for {job.event}")

    def _raised(self, job: Job, api: PagerDutyApi, incident: IncidentSnapshot, severity: str, threshold: str) -> Sent:
        """A severity change pages when it crosses the threshold: the incident is live, now at or above it, and the
        target it pages has no live page yet (had it been above before, it would have one)."""
        if not at_or_above(severity, threshold):
            return Sent(note=f"{severity} is below the severity threshold {threshold}: nobody paged")
        if incident.status not in ACTIVE:
            return Sent(note=f"the incident is {incident.status}: nobody paged")
        target = self._default_target(job, api)
        if target is not None and any(p.target == target.name and p.status != "resolved" for p in job.pages):
            return Sent(note=f"already paged ({target.name}); nothing to send")
        # The page says the severity this change set (a later change has its own delivery).
        return self._auto(job, api, dataclasses.replace(incident, severity=severity), target=target)

    def _auto(self, job: Job, api: PagerDutyApi, incident: IncidentSnapshot, *, target: Target | None = None) -> Sent:
        target = target or self._default_target(job, api)
        if target is None:
            return Sent(note="nothing to page: no routing key, and the incident's component names no service to page")
        return self._trigger(job, api, incident, target)

    def _default_target(self, job: Job, api: PagerDutyApi) -> Target | None:
        """The component's own routing key, else its service (through the REST API, with a token and `from_email`),
        else the integration's routing key."""
        component = job.pager_targets.get(job.component_id) if job.component_id is not None else None
        if component is not None and (component.routing_key or component.key_problem):
            return Target(
                f"{COMPONENT_PREFIX}{component.component_id}",
                "events",
                service_id=component.service_id,
                component_id=component.component_id,
            )
        if component is not None and component.service_id and api.has_token and api.from_email:
            return Target(f"{SERVICE_PREFIX}{component.service_id}", "rest", service_id=component.service_id)
        if job.integration.secrets.get("routing_key"):
            return Target(INTEGRATION_TARGET, "events")
        return None

    # ---------------------------------------------------------------- triggering

    def _trigger(self, job: Job, api: PagerDutyApi, incident: IncidentSnapshot, target: Target) -> Sent:
        dedup = job.external_key
        frozen = job.payload if job.payload and job.payload.get("target") == target.name else None
        if target.method == "rest":
            assert target.service_id is not None
            body = frozen.get("body") if frozen else None
            return self._post_incident(
                job,
                api,
                target,
                dedup,
                body=body if isinstance(body, Mapping) else _incident_body(job, incident, target.service_id, dedup),
            )
        routing_key = self._routing_key(job, target.name)
        event = dict(frozen) if frozen and frozen.get("dedup_key") == dedup else _event(job, incident, target, dedup)
        sent = _stored(event)
        _sending(
            lambda: api.event(
                routing_key,
                "trigger",
                dedup_key=dedup,
                **{k: event[k] for k in ("payload", "links", "client", "client_url") if k in event},
            ),
            sent,
        )
        page = Page(target.name, "events", dedup, "triggered", service_id=target.service_id, paged_by=_actor_id(job))
        return Sent(payload=sent, http_status=202, pages=(page,), note=f"triggered on {target.name}")

    def _page_service(self, job: Job, api: PagerDutyApi) -> Sent:
        """`page <service>` outside any incident: a REST incident on the service, under the key made when it was
        asked for (the same on every re-send)."""
        target = Target.parse(str(job.data.get("target") or ""))
        dedup = _text(job.data.get("dedup_key"))
        if target.method != "rest" or target.service_id is None or not dedup:
            raise DeliveryFailed("a page outside an incident names a service and its dedup key", retryable=False)
        frozen = job.payload.get("body") if job.payload else None
        who = _who(job)
        name = _text(job.data.get("service_name")) or target.service_id
        body = {
            "incident": {
                "type": "incident",
                "title": clip(f"{who} paged {name} from Slack", TITLE_LIMIT),
                "service": {"id": target.service_id, "type": "service_reference"},
                "incident_key": dedup,
                "urgency": "high",
                "body": {"type": "incident_body", "details": f"Paged through Vigil by {who}, outside any incident."},
            }
        }
        return self._post_incident(job, api, target, dedup, body=frozen if isinstance(frozen, Mapping) else body)

    def _post_incident(self, job: Job, api: PagerDutyApi, target: Target, dedup: str, *, body: Mapping[str, Any]) -> Sent:
        _need_from(api)
        sent = {"target": target.name, "method": "POST", "path": "/incidents", "body": dict(body)}
        reply = _sending(lambda: api.rest("POST", "/incidents", body=body), sent)
        note = ""
        if reply.status == 400 and ALREADY_OPEN in reply.said().lower():
            found = _sending(lambda: _find_incident(api, dedup, target.service_id), sent)
            note = "already open in PagerDuty (same dedup key on the service)"
        else:
            raise_for(reply, payload=sent)
            found = reply.data.get("incident") if isinstance(reply.data, Mapping) else None
        found = found if isinstance(found, Mapping) else {}
        page = Page(
            target.name,
            "rest",
            dedup,
            "triggered",
            service_id=target.service_id,
            external_id=_text(found.get("id")),
            external_url=_text(found.get("html_url")),
            paged_by=_actor_id(job),
        )
        return Sent(payload=sent, http_status=reply.status, pages=(page,), note=note or f"paged {target.name}")

    # ---------------------------------------------------------------- acknowledging and resolving what was paged

    def _move(self, job: Job, api: PagerDutyApi, action: str) -> Sent:
        status = MOVES[action]
        pages = [p for p in job.pages if p.status != "resolved" and p.status != status]
        if not pages:
            return Sent(note=f"no page to {action}")
        calls: list[dict[str, Any]] = []
        moved = []
        http_status = 202
        for page in pages:
            if page.method == "events":
                self._move_alert(api, self._routing_key(job, page.target), page, action, calls)
                moved.append(dataclasses.replace(page, status=status))
            else:
                found, http_status = self._move_incident(api, page, status, calls)
                moved.append(dataclasses.replace(page, status=status, external_id=found or page.external_id))
        return Sent(
            payload={"calls": calls}, http_status=http_status, pages=tuple(moved), note=f"{status} {len(moved)} page(s)"
        )

    def _move_alert(self, api: PagerDutyApi, routing_key: str, page: Page, action: str, calls: list[dict[str, Any]]) -> None:
        """An acknowledge or resolve under the routing key the page was triggered with (PagerDuty drops one sent under
        another key, and one that finds no open alert)."""
        calls.append({"target": page.target, "event_action": action, "routing_key": MASK, "dedup_key": page.dedup_key})
        _sending(lambda: api.event(routing_key, action, dedup_key=page.dedup_key), {"calls": calls})

    def _move_incident(
        self, api: PagerDutyApi, page: Page, status: str, calls: list[dict[str, Any]]
    ) -> tuple[str | None, int]:
        _need_from(api)
        incident_id = page.external_id
        if incident_id is None:
            found = _sending(lambda: _find_incident(api, page.dedup_key, page.service_id), {"calls": calls})
            incident_id = _text(found.get("id")) if found else None
        if incident_id is None:
            calls.append({"target": page.target, "note": f"no PagerDuty incident with key {page.dedup_key}"})
            return None, 200
        body = {"incident": {"type": "incident_reference", "status": status}}
        path = f"/incidents/{quote(incident_id, safe='')}"
        calls.append({"target": page.target, "method": "PUT", "path": path, "body": body})
        reply = _sending(lambda: api.rest("PUT", path, body=body), {"calls": calls})
        if not (reply.status == 400 and "already" in reply.said().lower()):
            raise_for(reply, payload={"calls": calls})
        return incident_id, reply.status

    # ---------------------------------------------------------------- `vigil integrations test`

    def _test(self, job: Job, api: PagerDutyApi) -> Sent:
        """A change event (shown on the service, pages no one) with the routing key, and a REST read with the token."""
        sent: dict[str, Any] = {}
        notes = []
        routing_key = job.integration.secrets.get("routing_key")
        if routing_key:
            payload = {
                "summary": f"[TEST] Vigil can reach PagerDuty (integration {job.integration.name})",
                "source": SOURCE,
                "timestamp": job.now.isoformat(),
                "custom_details": {"integration": job.integration.name, "sent_by": _who(job)},
            }
            sent = {"change_event": payload, "routing_key": MASK}
            _sending(lambda: api.change_event(routing_key, payload=payload, links=[]), sent)
            notes.append("change event accepted; no one was paged")
        if api.has_token:
            sent["read"] = "GET /abilities"
            notes.append(_sending(lambda: _read_abilities(api), sent))
        return Sent(payload=sent, http_status=202 if routing_key else 200, note="; ".join(notes))

    # ---------------------------------------------------------------- helpers

    def _routing_key(self, job: Job, target: str) -> str:
        if target == INTEGRATION_TARGET:
            key = job.integration.secrets.get("routing_key")
            if not key:
                raise ConfigProblem("routing_key: not set; add it with --secret routing_key=-")
            return key
        component_id = int(target.removeprefix(COMPONENT_PREFIX)) if target.startswith(COMPONENT_PREFIX) else -1
        component = job.pager_targets.get(component_id)
        if component is None or not component.routing_key:
            why = component.key_problem if component is not None and component.key_problem else "it is no longer set"
            raise DeliveryFailed(f"component {component_id}'s routing key cannot be used: {why}", retryable=False)
        return component.routing_key


def _event(job: Job, incident: IncidentSnapshot, target: Target, dedup: str) -> dict[str, Any]:
    """The Events API trigger, as stored (the routing key is added when sending, never stored)."""
    details: dict[str, Any] = {
        "incident": incident.key,
        "severity": incident.severity,
        "status": incident.status,
        "vigil_key": dedup,
    }
    if incident.channel_url:
        details["slack"] = incident.channel_url
    if not incident.private and incident.description:
        details["description"] = clip(incident.description, DETAILS_LIMIT)
    if job.event == PAGED_EVENT:
        details["paged_by"] = _who(job)
    payload: dict[str, Any] = {
        "summary": clip(summary(incident), SUMMARY_LIMIT),
        "source": SOURCE,
        "severity": SEVERITY.get(incident.severity, "critical"),
        "timestamp": job.occurred_at.isoformat(),
        "custom_details": details,
    }
    if incident.component and not incident.private:
        payload["component"] = clip(incident.component, 255)
    event: dict[str, Any] = {"target": target.name, "event_action": "trigger", "dedup_key": dedup, "payload": payload}
    event["client"] = SOURCE
    if incident.channel_url:
        event["client_url"] = incident.channel_url
        event["links"] = [{"href": incident.channel_url, "text": f"{incident.key} in Slack"}]
    return event


def _incident_body(job: Job, incident: IncidentSnapshot, service_id: str, dedup: str) -> dict[str, Any]:
    """A REST incident on a service for this incident (the same redaction as an alert)."""
    lines = [f"{incident.key} · severity {incident.severity} · status {incident.status}"]
    if not incident.private and incident.description:
        lines += ["", incident.description, ""]
    if incident.channel_url:
        lines.append(f"Incident channel: {incident.channel_url}")
    if job.event == PAGED_EVENT:
        lines.append(f"Paged by {_who(job)} through Vigil.")
    return {
        "incident": {
            "type": "incident",
            "title": clip(summary(incident), TITLE_LIMIT),
            "service": {"id": service_id, "type": "service_reference"},
            "incident_key": dedup,
            "urgency": "high" if RANK.get(incident.severity, 1) <= 2 else "low",
            "body": {"type": "incident_body", "details": clip("\n".join(lines), DETAILS_LIMIT)},
        }
    }


def _stored(event: Mapping[str, Any]) -> dict[str, Any]:
    return {**event, "routing_key": MASK}


def _sending(call: Callable[[], Any], payload: Mapping[str, Any]) -> Any:
    """Run `call`; a failure carries `payload` into the delivery log (what was being sent, secrets masked)."""
    try:
        return call()
    except DeliveryFailed as exc:
        if exc.payload is None:
            exc.payload = dict(payload)
        raise


def _need_from(api: PagerDutyApi) -> None:
    if not api.from_email:
        raise ConfigProblem("from_email: required to page a service through the REST API (a PagerDuty user's email)")


def _find_incident(api: PagerDutyApi, dedup: str, service_id: str | None) -> Mapping[str, Any] | None:
    """The PagerDuty incident with this key on the service (an open one first)."""
    params: dict[str, Any] = {"incident_key": dedup}
    if service_id:
        params["service_ids"] = [service_id]
    reply = api.rest("GET", "/incidents", params=params)
    raise_for(reply)
    found = reply.data.get("incidents") if isinstance(reply.data, Mapping) else None
    incidents = [i for i in found or [] if isinstance(i, Mapping)]
    incidents.sort(key=lambda i: i.get("status") == "resolved")
    return incidents[0] if incidents else None


def _read_abilities(api: PagerDutyApi) -> str:
    reply: Reply = api.rest("GET", "/abilities")
    raise_for(reply)
    abilities = reply.data.get("abilities") if isinstance(reply.data, Mapping) else None
    return f"API token works (read {len(abilities or [])} account abilities)"


def _who(job: Job) -> str:
    actor = job.actor
    if actor is None:
        return "Vigil"
    return clip(actor.name or actor.email or actor.user_id, 100)


def _actor_id(job: Job) -> str | None:
    return job.actor.user_id if job.actor is not None else _text(job.data.get("actor_id"))


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and str(value) else None
