"""A fake PagerDuty (Events API v2 and REST API v2) on one RecordingServer, for `events_url` and `api_url` alike.

Where Vigil depends on it, it answers like PagerDuty:

* Events: no auth header, the routing key in the body (32 characters, else 400 "invalid event"); 202 with the dedup
  key. One alert per (routing key, dedup key): a trigger opens it, a trigger while it is open folds into it (its
  count goes up), acknowledge and resolve without an open alert are dropped silently (still 202), and a trigger after
  a resolve opens a new alert. Change events are recorded apart and page no one.
* REST: `Authorization: Token token=<token>` (401 otherwise); classic pagination (`limit` ≤ 100, `offset`, `more`,
  `total` only when asked; offset + limit over 10000 is a 400); `/oncalls` filtered by overlap with since/until;
  `POST /incidents` needs a `From` header and refuses a second open incident with the same `incident_key` on a
  service with PagerDuty's 400; `PUT /incidents/<id>` acknowledges or resolves.

Answers queued on the server or a route (`fake.server.route("/services").respond(429, …)`) come before the fake's
own, which is how tests inject rate limits and outages.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from typing import Any

from aiohttp import web

from tests.fakes.https import RecordingServer

ROUTING_KEY = "R" + "0123456789ABCDEF0123456789ABCDE"  # 32 characters, like a ruleset key
TOKEN = "pd-fake-token-0123"
LISTS = {
    "/services": "services",
    "/users": "users",
    "/escalation_policies": "escalation_policies",
    "/schedules": "schedules",
    "/v3/schedules": "schedules",
    "/oncalls": "oncalls",
    "/incidents": "incidents",
}
INCIDENT = re.compile(r"/incidents/(?P<id>[A-Z0-9]+)")
SEVERITIES = ("critical", "error", "warning", "info")
ALREADY_OPEN = "Open incident with matching dedup key already exists on this service"


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class FakePagerDuty:
    def __init__(self, server: RecordingServer, *, token: str = TOKEN) -> None:
        self.server = server
        self.token = token
        self.alerts: list[dict[str, Any]] = []
        self.change_events: list[dict[str, Any]] = []
        self.incidents: list[dict[str, Any]] = []
        self.services: list[dict[str, Any]] = []
        self.users: list[dict[str, Any]] = []
        self.policies: list[dict[str, Any]] = []
        self.schedules: list[dict[str, Any]] = []
        self.v3_schedules: list[dict[str, Any]] = []
        self.oncalls: list[dict[str, Any]] = []
        self.v3_cursor = False  # page /v3/schedules with cursors (`cursor`, `next_cursor`) instead of offsets
        server.handler = self.handle

    @property
    def url(self) -> str:
        return self.server.url

    # ---------------------------------------------------------------- the directory, as tests set it up

    def add_service(self, pd_id: str, name: str, *, policy: str | None = None) -> dict[str, Any]:
        service = {
            "id": pd_id,
            "type": "service",
            "name": name,
            "status": "active",
            "html_url": f"https://acme.pagerduty.com/service-directory/{pd_id}",
            "escalation_policy": {"id": policy, "type": "escalation_policy_reference"} if policy else None,
        }
        self.services.append(service)
        return service

    def add_user(self, pd_id: str, name: str, email: str) -> None:
        self.users.append(
            {
                "id": pd_id,
                "type": "user",
                "name": name,
                "email": email,
                "time_zone": "Europe/Paris",
                "html_url": f"https://acme.pagerduty.com/users/{pd_id}",
            }
        )

    def add_policy(self, pd_id: str, name: str) -> None:
        self.policies.append(
            {"id": pd_id, "type": "escalation_policy", "name": name, "html_url": f"https://acme.pagerduty.com/ep/{pd_id}"}
        )

    def add_schedule(self, pd_id: str, name: str, *, v3: bool = False) -> None:
        schedule = {
            "id": pd_id,
            "type": "schedule_v3" if v3 else "schedule",
            "name": name,
            "time_zone": "UTC",
            "html_url": f"https://acme.pagerduty.com/schedules/{pd_id}",
        }
        (self.v3_schedules if v3 else self.schedules).append(schedule)

    def add_oncall(
        self, *, user: str, policy: str, level: int = 1, schedule: str | None = None, start: str | None, end: str | None
    ) -> None:
        v3 = any(s["id"] == schedule for s in self.v3_schedules)
        self.oncalls.append(
            {
                "user": {"id": user, "type": "user_reference"},
                "schedule": {"id": schedule, "type": "schedule_v3_reference" if v3 else "schedule_reference"}
                if schedule
                else None,
                "escalation_policy": {"id": policy, "type": "escalation_policy_reference"},
                "escalation_level": level,
                "start": start,
                "end": end,
            }
        )

    # ---------------------------------------------------------------- reading

    def alerts_for(self, dedup_key: str, routing_key: str = ROUTING_KEY) -> list[dict[str, Any]]:
        return [a for a in self.alerts if a["dedup_key"] == dedup_key and a["routing_key"] == routing_key]

    def calls(self, method: str, path: str) -> list[Any]:
        return [r for r in self.server.requests if r.method == method and r.path == path]

    def events(self) -> list[dict[str, Any]]:
        """Every Events API v2 body received, in order."""
        return [r.json() for r in self.calls("POST", "/v2/enqueue")]

    # ---------------------------------------------------------------- the APIs

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path, method = request.path, request.method
        if path.startswith("/v2/"):
            body = await _json(request)
            if body is None:
                return _invalid(["Event object is not valid JSON"])
            if method == "POST" and path == "/v2/enqueue":
                return self._event(body)
            if method == "POST" and path == "/v2/change/enqueue":
                return self._change(body)
            return web.json_response({"status": "not found"}, status=404)
        if request.headers.get("Authorization") != f"Token token={self.token}":
            return _error(401, "Authentication failed", 2006)
        if method == "GET" and path == "/abilities":
            return web.json_response({"abilities": ["teams", "read_only_users", "v3_schedules"]})
        if method == "GET" and path in LISTS:
            return self._list(request, path)
        if method == "POST" and path == "/incidents":
            return self._create_incident(request, await _json(request) or {})
        if method == "PUT" and (m := INCIDENT.fullmatch(path)):
            return self._update_incident(request, m["id"], await _json(request) or {})
        return _error(404, "Not Found", 2100)

    def _event(self, body: dict[str, Any]) -> web.Response:
        key = body.get("routing_key")
        if not isinstance(key, str) or len(key) != 32:
            return _invalid(["Length of 'routing_key' is incorrect (should be 32 characters)"])
        action = body.get("event_action")
        dedup = body.get("dedup_key")
        if action == "trigger":
            payload = body.get("payload") or {}
            problems = [f"'{f}' is missing or blank" for f in ("summary", "source") if not payload.get(f)]
            if payload.get("severity") not in SEVERITIES:
                problems.append("'severity' is invalid (must be one of: critical, error, warning, info)")
            if problems:
                return _invalid(problems)
            dedup = dedup or uuid.uuid4().hex
            open_alert = next((a for a in self.alerts_for(dedup, key) if a["status"] != "resolved"), None)
            if open_alert is not None:
                open_alert["count"] += 1
            else:
                self.alerts.append(
                    {"routing_key": key, "dedup_key": dedup, "status": "triggered", "count": 1, **body, "log": []}
                )
        elif action in ("acknowledge", "resolve"):
            if not dedup:
                return _invalid(["'dedup_key' is required for acknowledge and resolve"])
            open_alert = next((a for a in self.alerts_for(dedup, key) if a["status"] != "resolved"), None)
            if open_alert is not None:  # otherwise dropped silently, as PagerDuty does
                open_alert["status"] = "acknowledged" if action == "acknowledge" else "resolved"
                open_alert["log"].append(action)
        else:
            return _invalid(["'event_action' is invalid (must be one of: trigger, acknowledge, resolve)"])
        return web.json_response({"status": "success", "message": "Event processed", "dedup_key": dedup}, status=202)

    def _change(self, body: dict[str, Any]) -> web.Response:
        key = body.get("routing_key")
        if not isinstance(key, str) or len(key) != 32:
            return _invalid(["Length of 'routing_key' is incorrect (should be 32 characters)"])
        if not (body.get("payload") or {}).get("summary"):
            return _invalid(["'summary' is missing or blank"])
        self.change_events.append(body)
        return web.json_response({"status": "success", "message": "Change event processed"}, status=202)

    def _list(self, request: web.Request, path: str) -> web.Response:
        query = request.query
        try:
            limit, offset = int(query.get("limit", "25")), int(query.get("offset", "0"))
        except ValueError:
            return _error(400, "Invalid Input Provided", 2001, ["limit and offset are integers"])
        if limit > 100 or limit < 1 or offset < 0:
            return _error(400, "Invalid Input Provided", 2001, ["limit must be between 1 and 100"])
        if offset + limit > 10000:
            return _error(400, "Invalid Input Provided", 2001, ["Offset must be less than 10000"])
        items = self._items(path, query)
        if path == "/v3/schedules" and self.v3_cursor:
            start = int(query.get("cursor", "0"))
            more = start + limit < len(items)
            return web.json_response(
                {
                    "schedules": items[start : start + limit],
                    "limit": limit,
                    "next_cursor": str(start + limit) if more else None,
                }
            )
        page = items[offset : offset + limit]
        total = len(items) if query.get("total") == "true" else None
        more = offset + len(page) < len(items)
        return web.json_response({LISTS[path]: page, "limit": limit, "offset": offset, "more": more, "total": total})

    def _items(self, path: str, query: Any) -> list[dict[str, Any]]:
        if path == "/services":
            wanted = query.get("query", "").lower()
            return [s for s in self.services if wanted in s["name"].lower()]
        if path == "/oncalls":
            since, until = _when(query.get("since")), _when(query.get("until"))

            def overlaps(oncall: dict[str, Any]) -> bool:
                end, start = _when(oncall["end"]), _when(oncall["start"])
                return (since is None or end is None or end > since) and (until is None or start is None or start < until)

            return [o for o in self.oncalls if overlaps(o)]
        if path == "/incidents":
            key = query.get("incident_key")
            services = query.getall("service_ids[]", [])
            return [
                i
                for i in self.incidents
                if (key is None or i["incident_key"] == key) and (not services or i["service"]["id"] in services)
            ]
        return {
            "/users": self.users,
            "/escalation_policies": self.policies,
            "/schedules": self.schedules,
            "/v3/schedules": self.v3_schedules,
        }[path]

    def _create_incident(self, request: web.Request, body: dict[str, Any]) -> web.Response:
        if not request.headers.get("From"):
            return _error(
                400, "Invalid Input Provided", 2001, ['You must specify a user\'s email address in the "From" header']
            )
        incident = body.get("incident") or {}
        service_id = (incident.get("service") or {}).get("id")
        if not any(s["id"] == service_id for s in self.services):
            return _error(400, "Invalid Input Provided", 2001, ["Service not found"])
        if not incident.get("title"):
            return _error(400, "Invalid Input Provided", 2001, ["Title cannot be empty"])
        key = incident.get("incident_key")
        if key and any(
            i["incident_key"] == key and i["service"]["id"] == service_id and i["status"] != "resolved"
            for i in self.incidents
        ):
            return _error(400, "Incident Already Exists", 2001, [ALREADY_OPEN])
        pd_id = f"Q{len(self.incidents) + 1:06d}"
        created = {
            "id": pd_id,
            "type": "incident",
            "title": incident["title"],
            "status": "triggered",
            "incident_key": key or uuid.uuid4().hex,
            "urgency": incident.get("urgency", "high"),
            "service": {"id": service_id, "type": "service_reference"},
            "body": incident.get("body"),
            "html_url": f"https://acme.pagerduty.com/incidents/{pd_id}",
            "from": request.headers["From"],
        }
        self.incidents.append(created)
        return web.json_response({"incident": created}, status=201)

    def _update_incident(self, request: web.Request, pd_id: str, body: dict[str, Any]) -> web.Response:
        if not request.headers.get("From"):
            return _error(
                400, "Invalid Input Provided", 2001, ['You must specify a user\'s email address in the "From" header']
            )
        incident = next((i for i in self.incidents if i["id"] == pd_id), None)
        if incident is None:
            return _error(404, "Not Found", 2100)
        status = (body.get("incident") or {}).get("status")
        if status not in ("acknowledged", "resolved"):
            return _error(400, "Invalid Input Provided", 2001, ["status is invalid"])
        if incident["status"] == "resolved":
            return _error(400, "Incident Already Resolved", 2001, ["Incident Already Resolved"])
        incident["status"] = status
        return web.json_response({"incident": incident})


async def _json(request: web.Request) -> dict[str, Any] | None:
    raw = await request.read()
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _invalid(errors: list[str]) -> web.Response:
    return web.json_response({"status": "invalid event", "message": "Event object is invalid", "errors": errors}, status=400)


def _error(status: int, message: str, code: int, errors: list[str] | None = None) -> web.Response:
    error: dict[str, Any] = {"message": message, "code": code}
    if errors:
        error["errors"] = errors
    return web.json_response({"error": error}, status=status)
