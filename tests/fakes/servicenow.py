"""A fake ServiceNow instance on a `RecordingServer`: the Table API's `incident` table in memory.

    snow = FakeServiceNow(await https_server())
    snow.records[sys_id]["state"]                     # what Vigil did ("1" New … "6" Resolved, "7" Closed)
    snow.route("create").respond(500)                 # the next create answers 500, then the fake again
    snow.set_state(sys_id, "7")                       # someone closed the record in ServiceNow

Basic authentication is checked on every call. `sysparm_query` understands `field=value` terms joined by `^`;
`sysparm_fields` and `sysparm_limit` are honoured. Resolving (state 6) without `close_code` and `close_notes` is
refused as the default data policy refuses it, and a closed record (state 7) refuses every change.
"""

from __future__ import annotations

import base64
import itertools
import re
import uuid
from typing import Any

from aiohttp import web

from tests.fakes.https import RecordingServer, Route

TABLE = "/api/now/table/incident"


def failure(status: int, message: str, detail: str = "") -> web.Response:
    return web.json_response({"error": {"message": message, "detail": detail}, "status": "failure"}, status=status)


class FakeServiceNow:
    def __init__(self, server: RecordingServer, *, username: str = "vigil.integration", password: str = "snow-pw") -> None:
        self.server = server
        self.username = username
        self.password = password
        self.records: dict[str, dict[str, Any]] = {}
        self._numbers = itertools.count(10001)
        self._routes: dict[str, Route] = {}
        for name, method, path, handler in (
            ("list", "GET", TABLE, self._list),
            ("create", "POST", TABLE, self._create),
            ("get", "GET", re.compile(rf"{TABLE}/[0-9a-f]+"), self._get),
            ("update", "PATCH", re.compile(rf"{TABLE}/[0-9a-f]+"), self._update),
        ):
            route = server.route(path, method)
            route.handler = self._authenticated(handler)
            self._routes[name] = route
        server.default = (400, {"error": {"message": "Invalid table"}, "status": "failure"})

    # ---------------------------------------------------------------- for tests

    def route(self, name: str) -> Route:
        """The route of one call (list, create, get, update), to queue scripted answers ahead of the fake's own."""
        return self._routes[name]

    def calls(self, name: str) -> list[Any]:
        return self._routes[name].requests

    def set_state(self, sys_id: str, state: str) -> None:
        self.records[sys_id]["state"] = state

    @property
    def url(self) -> str:
        return self.server.url

    # ---------------------------------------------------------------- the Table API

    def _authenticated(self, handler: Any) -> Any:
        async def check(request: web.Request) -> web.StreamResponse:
            expected = "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            if request.headers.get("Authorization") != expected:
                return failure(401, "User Not Authenticated", "Required to provide Auth information")
            response: web.StreamResponse = await handler(request)
            return response

        return check

    async def _list(self, request: web.Request) -> web.Response:
        terms = [t.split("=", 1) for t in request.query.get("sysparm_query", "").split("^") if t]
        rows = [r for r in self.records.values() if all(str(r.get(k, "")) == v for k, v in terms)]
        limit = int(request.query.get("sysparm_limit", "10000"))
        return web.json_response({"result": [self._shown(r, request) for r in rows[:limit]]})

    async def _create(self, request: web.Request) -> web.Response:
        body = await request.json()
        if not body.get("short_description"):
            return failure(400, "Short description is mandatory")
        for name in ("urgency", "impact"):
            if str(body.get(name)) not in ("1", "2", "3"):
                return failure(400, f"Invalid {name}", str(body.get(name)))
        sys_id = uuid.uuid4().hex
        record = {**body, "sys_id": sys_id, "number": f"INC00{next(self._numbers)}", "state": "1", "active": "true"}
        self.records[sys_id] = record
        return web.json_response({"result": self._shown(record, request)}, status=201)

    async def _get(self, request: web.Request) -> web.Response:
        record = self.records.get(request.path.rsplit("/", 1)[1])
        if record is None:
            return failure(404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")
        return web.json_response({"result": self._shown(record, request)})

    async def _update(self, request: web.Request) -> web.Response:
        record = self.records.get(request.path.rsplit("/", 1)[1])
        if record is None:
            return failure(404, "No Record found", "Record doesn't exist or ACL restricts the record retrieval")
        if record["state"] == "7":
            return failure(403, "Operation Failed", "Closed incidents cannot be changed")
        body = await request.json()
        if str(body.get("state")) == "6" and not (body.get("close_code") and body.get("close_notes")):
            return failure(403, "Operation Failed", "Data Policy Exception: Resolution code, Resolution notes are mandatory")
        record.update({k: str(v) for k, v in body.items()})
        record["active"] = "false" if record["state"] in ("6", "7") else "true"
        return web.json_response({"result": self._shown(record, request)})

    def _shown(self, record: dict[str, Any], request: web.Request) -> dict[str, Any]:
        fields = [f for f in request.query.get("sysparm_fields", "").split(",") if f]
        return {k: record.get(k, "") for k in fields} if fields else dict(record)
