"""A fake Linear GraphQL endpoint on a RecordingServer: issues, one team's workflow states, the viewer.

It answers like Linear where Vigil depends on it: the personal API key in `Authorization` as it is (a `Bearer`
prefix is refused), failures as `errors[]` with `extensions.type` (often with HTTP 200), a client-chosen issue id
that must be a UUID v4, users found by email (`users`, email → id), and a second create with a taken id refused
("already exists") or, with `duplicate="same"`, answered with the existing issue. Operations are recognised by the
fields they ask for, not by their names. `fail_next` scripts an error for the next call; the server's own queue
(`server.respond(429)`) still answers before the fake.
"""

from __future__ import annotations

import json
import uuid
from collections import deque
from typing import Any, Literal

from aiohttp import web

from tests.fakes.https import RecordingServer

TEAM_ID = "5b0f4a52-7b43-4c55-8d1e-2f0b7d4e9c11"
TEAM_KEY = "ENG"
# id, name, type, position: Linear's default workflow, with two "started" states to show the first one is taken.
STATES = (
    ("state-backlog", "Backlog", "backlog", 0.0),
    ("state-todo", "Todo", "unstarted", 1.0),
    ("state-review", "In Review", "started", 3.0),
    ("state-progress", "In Progress", "started", 2.0),
    ("state-done", "Done", "completed", 4.0),
    ("state-canceled", "Canceled", "canceled", 5.0),
)
STATE_NAMES = {sid: name for sid, name, _, _ in STATES}
STATE_TYPES = {sid: kind for sid, _, kind, _ in STATES}


def error(message: str, kind: str, *, path: list[str] | None = None, shown: str | None = None) -> dict[str, Any]:
    extensions: dict[str, Any] = {"type": kind, "userError": kind in ("invalid input", "authentication error")}
    if shown:
        extensions["userPresentableMessage"] = shown
    return {"message": message, "extensions": extensions, **({"path": path} if path else {})}


class FakeLinear:
    def __init__(
        self, server: RecordingServer, *, api_key: str = "lin_api_fake0123", duplicate: Literal["error", "same"] = "error"
    ) -> None:
        self.server = server
        self.api_key = api_key
        self.duplicate = duplicate
        self.issues: dict[str, dict[str, Any]] = {}
        self.ops: list[str] = []  # issueCreate, issueUpdate, issue, states, users, viewer: in the order asked
        self.users: dict[str, str] = {}  # email → Linear user id, for `users(filter: { email: { eqIgnoreCase } })`
        self._failures: deque[tuple[int, dict[str, Any]]] = deque()
        server.handler = self.handle

    @property
    def url(self) -> str:
        return self.server.url + "/graphql"

    # ---------------------------------------------------------------- scripting and reading

    def fail_next(self, kind: str, *, status: int = 200, message: str = "scripted failure") -> None:
        """The next call answers `errors[]` of this `extensions.type` with this HTTP status."""
        self._failures.append((status, {"data": None, "errors": [error(message, kind)]}))

    def state_of(self, issue: dict[str, Any]) -> str:
        return STATE_NAMES[issue["stateId"]]

    def move(self, issue: dict[str, Any], state_name: str) -> None:
        """Someone moves the issue in Linear."""
        issue["stateId"] = next(sid for sid, name in STATE_NAMES.items() if name == state_name)

    def writes(self) -> list[str]:
        return [op for op in self.ops if op in ("issueCreate", "issueUpdate")]

    # ---------------------------------------------------------------- the endpoint

    async def handle(self, request: web.Request) -> web.Response:
        if request.path != "/graphql" or request.method != "POST":
            return web.json_response({"error": "not found"}, status=404)
        if request.headers.get("Authorization") != self.api_key:
            shown = "Authentication required, not authenticated"
            return web.json_response({"errors": [error(shown, "authentication error", shown=shown)]}, status=400)
        body = json.loads(await request.read())
        query, variables = body["query"], body.get("variables") or {}
        if self._failures:
            status, answer = self._failures.popleft()
            self.ops.append("failed")
            return web.json_response(answer, status=status)
        if "issueCreate(" in query:
            return self._create(variables["input"])
        if "issueUpdate(" in query:
            return self._update(variables["id"], variables["input"])
        if "users(" in query:
            return self._users(variables["email"])
        if "viewer" in query:
            return self._viewer(variables.get("team"))
        if "states" in query:
            return self._states(variables["team"])
        if "issue(" in query:
            return self._read(variables["id"])
        return web.json_response({"errors": [error("unknown operation", "graphql error")]}, status=400)

    def _view(self, issue: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": issue["id"],
            "identifier": issue["identifier"],
            "url": issue["url"],
            "state": {"id": issue["stateId"], "type": STATE_TYPES[issue["stateId"]]},
            "team": {"id": issue["teamId"]},
        }

    def _create(self, fields: dict[str, Any]) -> web.Response:
        self.ops.append("issueCreate")
        if fields.get("teamId") != TEAM_ID:
            return web.json_response({"data": None, "errors": [error("Entity not found: Team", "invalid input")]})
        try:
            version = uuid.UUID(fields["id"]).version
        except (KeyError, ValueError):
            version = None
        if version != 4:
            return web.json_response({"data": None, "errors": [error("id must be a UUID v4", "invalid input")]})
        existing = self.issues.get(fields["id"])
        if existing is not None:
            if self.duplicate == "same":
                return web.json_response({"data": {"issueCreate": {"success": True, "issue": self._view(existing)}}})
            shown = "An entity with this id already exists."
            return web.json_response(
                {"data": None, "errors": [error("Entity already exists", "invalid input", shown=shown)]}
            )
        number = len(self.issues) + 1
        issue = {
            **fields,
            "identifier": f"{TEAM_KEY}-{number}",
            "url": f"https://linear.app/acme/issue/{TEAM_KEY}-{number}",
            "stateId": fields.get("stateId") or "state-backlog",
        }
        self.issues[issue["id"]] = issue
        return web.json_response({"data": {"issueCreate": {"success": True, "issue": self._view(issue)}}})

    def _update(self, issue_id: str, fields: dict[str, Any]) -> web.Response:
        self.ops.append("issueUpdate")
        issue = self.issues.get(issue_id)
        if issue is None:
            return web.json_response({"data": None, "errors": [error("Entity not found: Issue", "invalid input")]})
        if "stateId" in fields and fields["stateId"] not in STATE_NAMES:
            return web.json_response({"data": None, "errors": [error("Entity not found: WorkflowState", "invalid input")]})
        issue.update(fields)
        return web.json_response({"data": {"issueUpdate": {"success": True, "issue": self._view(issue)}}})

    def _read(self, issue_id: str) -> web.Response:
        self.ops.append("issue")
        issue = self.issues.get(issue_id)
        if issue is None:
            shown = "Could not find referenced Issue."
            errors = [error("Entity not found: Issue", "invalid input", path=["issue"], shown=shown)]
            return web.json_response({"data": None, "errors": errors})
        return web.json_response({"data": {"issue": self._view(issue)}})

    def _states(self, team_id: str) -> web.Response:
        self.ops.append("states")
        if team_id != TEAM_ID:
            return web.json_response({"data": None, "errors": [error("Entity not found: Team", "invalid input")]})
        nodes = [{"id": sid, "name": name, "type": kind, "position": pos} for sid, name, kind, pos in STATES]
        return web.json_response({"data": {"team": {"states": {"nodes": nodes}}}})

    def _users(self, email: str) -> web.Response:
        self.ops.append("users")
        nodes = [{"id": self.users[email]}] if email in self.users else []
        return web.json_response({"data": {"users": {"nodes": nodes}}})

    def _viewer(self, team_id: str | None) -> web.Response:
        self.ops.append("viewer")
        viewer = {"id": "user-vigil", "name": "Vigil Bot"}
        if team_id != TEAM_ID:
            errors = [error("Entity not found: Team", "invalid input", path=["team"])]
            return web.json_response({"data": {"viewer": viewer, "team": None}, "errors": errors})
        return web.json_response(
            {"data": {"viewer": viewer, "team": {"id": TEAM_ID, "key": TEAM_KEY, "name": "Engineering"}}}
        )
