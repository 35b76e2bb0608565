"""A fake Opsgenie Alert API on a RecordingServer: alerts by alias, processed asynchronously like the real one.

Where Vigil depends on it, it answers like Opsgenie: `Authorization: GenieKey <key>`; every alert change answers
202 with a `requestId` whose outcome `GET /v2/alerts/requests/<id>` tells (404 "not processed yet" for the first
`pending_polls` looks); a create whose alias matches an open alert adds to that alert's count instead of making a
second one; acting on an alias no alert has is a 404; acknowledging or closing a closed alert is processed as a
failure saying "already closed". The server's own queue (`server.respond(429)`) still answers before the fake.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from aiohttp import web

from tests.fakes.https import RecordingServer

ACTION = re.compile(r"/v2/alerts/(?P<alias>[^/]+)/(?P<action>acknowledge|close|priority|message)")
REQUEST = re.compile(r"/v2/alerts/requests/(?P<rid>[^/]+)")
PRIORITIES = ("P1", "P2", "P3", "P4", "P5")


class FakeOpsgenie:
    def __init__(self, server: RecordingServer, *, api_key: str = "genie-fake-0123", pending_polls: int = 0) -> None:
        self.server = server
        self.api_key = api_key
        self.pending_polls = pending_polls
        self.alerts: list[dict[str, Any]] = []
        self.processed: dict[str, dict[str, Any]] = {}
        self.polls: dict[str, int] = {}
        server.handler = self.handle

    @property
    def url(self) -> str:
        return self.server.url

    # ---------------------------------------------------------------- reading

    def by_alias(self, alias: str) -> dict[str, Any] | None:
        """The latest alert with this alias (closed ones keep theirs), as Opsgenie resolves `identifierType=alias`."""
        return next((a for a in reversed(self.alerts) if a["alias"] == alias), None)

    def writes(self) -> list[str]:
        """Method and path of every request that could change an alert."""
        return [f"{r.method} {r.path}" for r in self.server.requests if r.method != "GET"]

    # ---------------------------------------------------------------- the API

    async def handle(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"GenieKey {self.api_key}":
            return web.json_response({"message": "Could not authenticate", "took": 0.0}, status=401)
        path, method = request.path, request.method
        if method == "GET" and path == "/v2/account":
            plan = {"maxUserCount": 50, "name": "Standard", "isYearly": True}
            return web.json_response({"data": {"name": "acme", "userCount": 7, "plan": plan}, "took": 0.001})
        if method == "GET" and (m := REQUEST.fullmatch(path)):
            return self._request_status(m["rid"])
        body = json.loads(await request.read() or b"{}")
        if method == "POST" and path == "/v2/alerts":
            return self._create(body)
        if m := ACTION.fullmatch(path):
            if request.query.get("identifierType") != "alias":
                return web.json_response({"message": "Alert does not exist"}, status=404)
            alert = self.by_alias(m["alias"])
            if alert is None:
                return web.json_response(
                    {"message": f"Alert with alias [{m['alias']}] does not exist", "took": 0.0}, status=404
                )
            return self._act(alert, m["action"], method, body)
        return web.json_response({"message": "no such endpoint"}, status=404)

    def _accepted(self, outcome: dict[str, Any]) -> web.Response:
        rid = str(uuid.uuid4())
        self.processed[rid] = {"success": outcome["isSuccess"], "processedAt": "2026-01-01T00:00:00Z", **outcome}
        return web.json_response({"result": "Request will be processed", "took": 0.01, "requestId": rid}, status=202)

    def _create(self, body: dict[str, Any]) -> web.Response:
        problems = {}
        if not body.get("message") or len(body["message"]) > 130:
            problems["message"] = "Message can not be empty or longer than 130 characters."
        if body.get("priority", "P3") not in PRIORITIES:
            problems["priority"] = "Priority should be one of [P1, P2, P3, P4, P5]"
        if any(not isinstance(v, str) for v in (body.get("details") or {}).values()):
            problems["details"] = "Details values should be strings."
        if problems:
            return web.json_response({"message": "Request body is not processable.", "errors": problems}, status=422)
        alias = body.get("alias") or str(uuid.uuid4())
        alert = self.by_alias(alias)
        if alert is not None and alert["status"] == "open":
            alert["count"] += 1
            return self._accepted(
                {"action": "Create", "isSuccess": True, "status": "Alert is deduplicated", **self._ids(alert)}
            )
        alert = {
            **body,
            "id": str(uuid.uuid4()),
            "alias": alias,
            "priority": body.get("priority", "P3"),
            "status": "open",
            "acknowledged": False,
            "count": 1,
            "notes": [body["note"]] if body.get("note") else [],
        }
        self.alerts.append(alert)
        return self._accepted({"action": "Create", "isSuccess": True, "status": "Created alert", **self._ids(alert)})

    def _act(self, alert: dict[str, Any], action: str, method: str, body: dict[str, Any]) -> web.Response:
        name = action.capitalize()
        if method == "PUT" and action in ("priority", "message"):
            alert[action] = body[action]
            return self._accepted({"action": f"Update {name}", "isSuccess": True, "status": "Updated", **self._ids(alert)})
        if method != "POST" or action not in ("acknowledge", "close"):
            return web.json_response({"message": "no such endpoint"}, status=404)
        if alert["status"] == "closed":
            return self._accepted(
                {"action": name, "isSuccess": False, "status": "Alert is already closed", **self._ids(alert)}
            )
        if action == "close":
            alert["status"] = "closed"
        else:
            alert["acknowledged"] = True
        if body.get("note"):
            alert["notes"].append(body["note"])
        return self._accepted({"action": name, "isSuccess": True, "status": f"{name}d alert", **self._ids(alert)})

    def _ids(self, alert: dict[str, Any]) -> dict[str, Any]:
        return {"alertId": alert["id"], "alias": alert["alias"], "integrationId": "integration-fake"}

    def _request_status(self, rid: str) -> web.Response:
        self.polls[rid] = looked = self.polls.get(rid, 0) + 1
        if rid not in self.processed or looked <= self.pending_polls:
            return web.json_response({"message": "Request not found. It may not be processed yet.", "took": 0.0}, status=404)
        return web.json_response({"data": self.processed[rid], "took": 0.001, "requestId": rid})
