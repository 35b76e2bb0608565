"""A fake Jira (Cloud or Data Center) on a `RecordingServer`: issues in memory, a small workflow, the REST v2 calls
Vigil makes, answered the way Jira answers them (shapes from the vendor's docs and the `jira` library's tests).

    jira = FakeJira(await https_server())                  # Cloud; FakeJira(server, cloud=False) for Data Center
    jira.issues["OPS-1"]["fields"]["status"]["name"]        # what Vigil did
    jira.route("create").respond(500)                       # the next create answers 500, then the fake again
    jira.set_status("OPS-1", "Done")                        # someone moved the issue in Jira

Workflow: To Do (new) → In Progress (indeterminate) → Done (done), and Reopen from Done. Cloud serves
`/search/jql` and answers the removed `/search` with 410; Data Center the other way round. Every call checks the
credentials: basic `email:token` on Cloud, `Bearer <token>` on Data Center.
"""

from __future__ import annotations

import base64
import itertools
import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from tests.fakes.https import RecordingServer, Route

API = "/rest/api/2"
STATUSES = {
    "To Do": {"id": "10000", "name": "To Do", "statusCategory": {"id": 2, "key": "new", "name": "To Do"}},
    "In Progress": {
        "id": "3",
        "name": "In Progress",
        "statusCategory": {"id": 4, "key": "indeterminate", "name": "In Progress"},
    },
    "Done": {"id": "10002", "name": "Done", "statusCategory": {"id": 3, "key": "done", "name": "Done"}},
}
# (id, name, to status, from statuses)
WORKFLOW = (
    ("21", "Start Progress", "In Progress", ("To Do",)),
    ("31", "Done", "Done", ("To Do", "In Progress")),
    ("41", "Reopen", "To Do", ("Done",)),
)
FIELDS = [
    {"id": "summary", "name": "Summary", "custom": False, "clauseNames": ["summary"], "schema": {"type": "string"}},
    {"id": "status", "name": "Status", "custom": False, "clauseNames": ["status"], "schema": {"type": "status"}},
    {"id": "labels", "name": "Labels", "custom": False, "clauseNames": ["labels"], "schema": {"type": "array"}},
    {
        "id": "customfield_10010",
        "name": "Category",
        "custom": True,
        "clauseNames": ["cf[10010]", "Category"],
        "schema": {"type": "option"},
    },
]
_JQL = re.compile(r'project = "(?P<project>[^"]+)" AND labels = "(?P<label>[^"]+)"')


def error(status: int, *messages: str, errors: Mapping[str, str] | None = None) -> web.Response:
    return web.json_response({"errorMessages": list(messages), "errors": dict(errors or {})}, status=status)


class FakeJira:
    def __init__(
        self,
        server: RecordingServer,
        *,
        cloud: bool = True,
        email: str = "vigil-bot@acme.example",
        token: str = "jira-api-token",
        project: str = "OPS",
    ) -> None:
        self.server = server
        self.cloud = cloud
        self.email = email
        self.token = token
        self.project = {"id": "10000", "key": project, "name": "Operations", "self": f"{server.url}{API}/project/10000"}
        self.issues: dict[str, dict[str, Any]] = {}
        self.users: list[dict[str, Any]] = []
        self.reject_reporter = False  # answer 400 on `reporter` (no Modify Reporter permission)
        self._ids = itertools.count(10001)
        self._numbers = itertools.count(1)
        self._routes: dict[str, Route] = {}
        for name, method, path, handler in (
            ("serverInfo", "GET", f"{API}/serverInfo", self._server_info),
            ("myself", "GET", f"{API}/myself", self._myself),
            ("project", "GET", re.compile(rf"{API}/project/[^/]+"), self._project),
            ("field", "GET", f"{API}/field", self._fields),
            ("search", "GET", re.compile(rf"{API}/search(/jql)?"), self._search),
            ("users", "GET", f"{API}/user/search", self._users),
            ("create", "POST", f"{API}/issue", self._create),
            ("transitions", "GET", re.compile(rf"{API}/issue/[^/]+/transitions"), self._transitions),
            ("transition", "POST", re.compile(rf"{API}/issue/[^/]+/transitions"), self._transition),
            ("issue", "GET", re.compile(rf"{API}/issue/[^/]+"), self._issue),
            ("edit", "PUT", re.compile(rf"{API}/issue/[^/]+"), self._edit),
        ):
            route = server.route(path, method)
            route.handler = self._authenticated(handler)
            self._routes[name] = route
        server.default = 404

    # ---------------------------------------------------------------- for tests

    def route(self, name: str) -> Route:
        """The route of one call (serverInfo, myself, project, field, search, users, create, transitions,
        transition, issue, edit), to queue scripted answers ahead of the fake's own."""
        return self._routes[name]

    def calls(self, name: str) -> list[Any]:
        return self._routes[name].requests

    def set_status(self, key: str, status: str) -> None:
        self.issues[key]["fields"]["status"] = dict(STATUSES[status])

    def status(self, key: str) -> str:
        return str(self.issues[key]["fields"]["status"]["name"])

    def add_user(self, *, account_id: str, name: str, email: str | None) -> None:
        self.users.append(
            {
                "self": f"{self.server.url}{API}/user?accountId={account_id}",
                "accountId": account_id,
                "name": name,
                "key": name,
                "emailAddress": email,
                "active": True,
            }
        )

    @property
    def url(self) -> str:
        return self.server.url

    # ---------------------------------------------------------------- the API

    def _authenticated(self, handler: Any) -> Any:
        async def check(request: web.Request) -> web.StreamResponse:
            if request.headers.get("Authorization") != self._expected_auth():
                return error(401, "Client must be authenticated to access this resource.")
            response: web.StreamResponse = await handler(request)
            return response

        return check

    def _expected_auth(self) -> str:
        if self.cloud:
            return "Basic " + base64.b64encode(f"{self.email}:{self.token}".encode()).decode()
        return f"Bearer {self.token}"

    async def _server_info(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "baseUrl": self.server.url,
                "version": "1001.0.0-SNAPSHOT" if self.cloud else "9.12.4",
                "versionNumbers": [1001, 0, 0] if self.cloud else [9, 12, 4],
                "deploymentType": "Cloud" if self.cloud else "Server",
                "buildNumber": 100000,
                "serverTitle": "Jira",
            }
        )

    async def _myself(self, request: web.Request) -> web.Response:
        return web.json_response({"accountId": "5b10a0000000000000000bot", "name": "vigil", "displayName": "Vigil Bot"})

    async def _project(self, request: web.Request) -> web.Response:
        wanted = request.path.rsplit("/", 1)[1]
        if wanted not in (self.project["key"], self.project["id"]):
            return error(404, f"No project could be found with key '{wanted}'.")
        return web.json_response(self.project)

    async def _fields(self, request: web.Request) -> web.Response:
        return web.json_response(FIELDS)

    async def _search(self, request: web.Request) -> web.Response:
        enhanced = request.path.endswith("/jql")
        if enhanced != self.cloud:
            return error(410 if self.cloud else 404, "The requested API has been removed.")
        match = _JQL.search(request.query.get("jql", ""))
        if match is None:
            return error(400, 'The fake understands only project = "…" AND labels = "…".')
        found = [
            self._view(issue, fields=("status",))
            for issue in self.issues.values()
            if issue["fields"]["project"]["key"] == match["project"] and match["label"] in issue["fields"]["labels"]
        ][: int(request.query.get("maxResults", "50"))]
        if enhanced:
            return web.json_response({"issues": found, "isLast": True})
        return web.json_response({"startAt": 0, "maxResults": len(found), "total": len(found), "issues": found})

    async def _users(self, request: web.Request) -> web.Response:
        term = request.query.get("query" if self.cloud else "username")
        if not term:
            return error(400, "The query parameter 'query' is required." if self.cloud else "username is required")
        found = [u for u in self.users if term.casefold() in (u["emailAddress"] or "").casefold()]
        if self.cloud:
            found = [{k: v for k, v in u.items() if k not in ("name", "key")} for u in found]
        else:
            found = [{k: v for k, v in u.items() if k != "accountId"} for u in found]
        return web.json_response(found)

    async def _create(self, request: web.Request) -> web.Response:
        fields = (await request.json()).get("fields") or {}
        if (fields.get("project") or {}).get("key") != self.project["key"]:
            return error(400, errors={"project": "valid project is required"})
        if (fields.get("issuetype") or {}).get("name") != "Incident":
            return error(400, errors={"issuetype": "valid issue type is required"})
        if not fields.get("summary"):
            return error(400, errors={"summary": "You must specify a summary of the issue."})
        if "\n" in fields["summary"]:
            return error(400, errors={"summary": "The summary is invalid because it contains newline characters."})
        if "reporter" in fields and self.reject_reporter:
            return error(400, errors={"reporter": "Field 'reporter' cannot be set. It is not on the appropriate screen."})
        issue_id = str(next(self._ids))
        key = f"{self.project['key']}-{next(self._numbers)}"
        stored = {**fields, "project": self.project, "labels": list(fields.get("labels") or []), "status": STATUSES["To Do"]}
        self.issues[key] = {"id": issue_id, "key": key, "self": f"{self.server.url}{API}/issue/{issue_id}", "fields": stored}
        return web.json_response(
            {"id": issue_id, "key": key, "self": f"{self.server.url}{API}/issue/{issue_id}"}, status=201
        )

    async def _issue(self, request: web.Request) -> web.Response:
        issue = self._find(request.path.rsplit("/", 1)[1])
        if issue is None:
            return error(404, "Issue does not exist or you do not have permission to see it.")
        wanted = request.query.get("fields")
        return web.json_response(self._view(issue, fields=tuple(wanted.split(",")) if wanted else None))

    async def _edit(self, request: web.Request) -> web.Response:
        issue = self._find(request.path.rsplit("/", 1)[1])
        if issue is None:
            return error(404, "Issue does not exist or you do not have permission to see it.")
        issue["fields"].update((await request.json()).get("fields") or {})
        return web.Response(status=204)

    async def _transitions(self, request: web.Request) -> web.Response:
        issue = self._find(request.path.split("/")[-2])
        if issue is None:
            return error(404, "Issue does not exist or you do not have permission to see it.")
        return web.json_response({"expand": "transitions", "transitions": self._offered(issue)})

    async def _transition(self, request: web.Request) -> web.Response:
        issue = self._find(request.path.split("/")[-2])
        if issue is None:
            return error(404, "Issue does not exist or you do not have permission to see it.")
        body = await request.json()
        wanted = str((body.get("transition") or {}).get("id"))
        offered = {t["id"]: t for t in self._offered(issue)}
        if wanted not in offered:
            return error(400, f"Transition id '{wanted}' is not valid for this issue.")
        issue["fields"]["status"] = dict(STATUSES[offered[wanted]["to"]["name"]])
        return web.Response(status=204)

    # ---------------------------------------------------------------- helpers

    def _find(self, key_or_id: str) -> dict[str, Any] | None:
        return self.issues.get(key_or_id) or next((i for i in self.issues.values() if i["id"] == key_or_id), None)

    def _offered(self, issue: Mapping[str, Any]) -> list[dict[str, Any]]:
        current = issue["fields"]["status"]["name"]
        return [
            {"id": tid, "name": name, "to": STATUSES[to], "hasScreen": False, "isAvailable": True}
            for tid, name, to, sources in WORKFLOW
            if current in sources
        ]

    def _view(self, issue: Mapping[str, Any], *, fields: tuple[str, ...] | None) -> dict[str, Any]:
        shown = issue["fields"] if not fields or "*all" in fields else {k: issue["fields"].get(k) for k in fields}
        return {"id": issue["id"], "key": issue["key"], "self": issue["self"], "fields": dict(shown)}
