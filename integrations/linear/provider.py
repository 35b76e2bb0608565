"""The `linear` kind: one Linear issue per incident, kept in the workflow state that matches the incident.

Re-sends never open a second issue: the issue's id is chosen by Vigil (`issue_uuid`, derived from the incident's
external key and the integration), so a create re-sent after a crash names an issue that already exists, and
finding it there is success. Later events address the issue by that id (or the linked one) and move it to the
team's first workflow state of the matching type; an issue already in such a state is left alone.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.incidents import events
from integrations.base import ConfigProblem, Configured, DeliveryFailed, Field, Job, Sent
from integrations.linear.client import GraphQLFailed, graphql, issue_uuid
from integrations.payloads import IncidentSnapshot

DEFAULT_API_URL = "https://api.linear.app/graphql"
PRIORITY = {"P1": 1, "P2": 2, "P3": 3, "P4": 4, "P5": 4}  # Linear: 1 urgent, 2 high, 3 medium, 4 low
DONE_TYPES = frozenset({"completed", "canceled"})
NOT_FOUND = ("not found", "could not find", "does not exist")
TITLE_LIMIT = 255
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

VIEWER = "query VigilViewer($team: String!) { viewer { id name } team(id: $team) { id key name } }"
ISSUE_CREATE = (
    "mutation VigilIssueCreate($input: IssueCreateInput!) "
    "{ issueCreate(input: $input) { success issue { id identifier url } } }"
)
ISSUE_READ = "query VigilIssue($id: String!) { issue(id: $id) { id identifier url state { id type } team { id } } }"
ISSUE_UPDATE = (
    "mutation VigilIssueUpdate($id: String!, $input: IssueUpdateInput!) "
    "{ issueUpdate(id: $id, input: $input) { success issue { id identifier url } } }"
)
USER_BY_EMAIL = "query VigilUser($email: String!) { users(filter: { email: { eqIgnoreCase: $email } }) { nodes { id } } }"
TEAM_STATES = "query VigilTeamStates($team: String!) { team(id: $team) { states { nodes { id name type position } } } }"


@dataclass(frozen=True)
class Issue:
    id: str
    identifier: str
    url: str | None
    state_type: str = ""
    team_id: str = ""

    def sent(self, *, payload: Mapping[str, Any] | None, note: str = "") -> Sent:
        return Sent(
            payload=payload,
            http_status=200,
            external_id=self.id,
            external_url=self.url,
            link_data={"identifier": self.identifier},
            note=note,
        )


def summary(incident: IncidentSnapshot, *, title: str | None = None) -> str:
    return f"[{incident.key}] {title if title is not None else incident.title}"[:TITLE_LIMIT]


def description(incident: IncidentSnapshot, *, key: str) -> str:
    """Markdown: what the incident is, where it is worked, and the key a search (or a person) finds it by."""
    lines = [f"**{incident.key}** · severity {incident.severity} · status {incident.status}", ""]
    if incident.description:
        lines += [incident.description, ""]
    if incident.component:
        lines.append(f"Component: {incident.component}")
    if incident.channel_url:
        lines.append(f"Incident channel: {incident.channel_url}")
    lines.append(f"Opened by Vigil, which keeps this issue's state in step with the incident (`{key}`).")
    return "\n".join(lines)


def wanted_types(event: str, data: Mapping[str, Any]) -> tuple[str, ...]:
    """The workflow state types an event moves the issue to, most wanted first; () for none."""
    if event == events.ACKNOWLEDGED:
        return ("started",)
    if event in (events.RESOLVED, events.CLOSED):
        return ("completed",)
    if event == events.REOPENED:
        return ("unstarted", "backlog")
    if event == events.UPDATED:
        status = data.get("status")
        if status in ("investigating", "mitigating"):
            return ("started",)
        if status in ("resolved", "postmortem"):
            return ("completed",)
    return ()


def already_there(current: str, wanted: tuple[str, ...]) -> bool:
    """Whether an issue in a state of type `current` already is where `wanted` points: done (or cancelled) for a
    resolution, any not-done state for a reopen (someone may have started on it), and the same type otherwise."""
    if wanted[0] == "completed":
        return current in DONE_TYPES
    if wanted[0] == "unstarted":
        return current not in DONE_TYPES
    return current == wanted[0]


def _issue(node: Any) -> Issue | None:
    if not isinstance(node, Mapping) or not node.get("id"):
        return None
    state, team = node.get("state"), node.get("team")
    state = state if isinstance(state, Mapping) else {}
    team = team if isinstance(team, Mapping) else {}
    return Issue(
        id=str(node["id"]),
        identifier=str(node.get("identifier") or node["id"]),
        url=str(node["url"]) if node.get("url") else None,
        state_type=str(state.get("type") or ""),
        team_id=str(team.get("id") or ""),
    )


def _body(query: str, variables: Mapping[str, Any]) -> dict[str, Any]:
    return {"query": query, "variables": dict(variables)}


class LinearProvider:
    kind = "linear"
    settings: tuple[Field, ...] = (
        Field("api_url", "url", default=DEFAULT_API_URL, help="the full GraphQL endpoint"),
        Field("team_id", required=True, help="the id (a UUID) of the Linear team issues are created in"),
    )
    secrets: tuple[Field, ...] = (
        Field("api_key", required=True, help="a Linear personal API key"),
        Field("signing_secret", help="the signing secret Linear shows for the webhook (for Linear → Vigil)"),
    )
    include_private_default = False

    def __init__(self) -> None:
        # (endpoint, team id) → state type → the team's first state of that type. Workflow states change rarely;
        # an update refused for a stale id drops the team's entry so the next attempt looks them up again.
        self._states: dict[tuple[str, str], dict[str, str]] = {}
        # (integration id, email) → the Linear user with that email, or None for "Linear has none": asked once.
        self._users: dict[tuple[str, str], str | None] = {}
        self._user_locks: dict[tuple[str, str], asyncio.Lock] = {}  # a round's deliveries run at once: ask once

    def handles(self, event: str) -> bool:
        return True

    def check(self, config: Mapping[str, Any], secrets: Mapping[str, str]) -> list[str]:
        team = str(config.get("team_id") or "")
        if team and not UUID_RE.match(team):
            return [
                f"team_id: the team's id, a UUID like {uuid.UUID(int=0)}, not its key or name "
                "(docs/integrations/linear.md shows how to find it)"
            ]
        return []

    # ---------------------------------------------------------------- delivery

    async def deliver(self, job: Job, http: aiohttp.ClientSession) -> Sent:
        call = _Calls(self, job.integration, http, within=job.timeout)
        if job.is_test:
            return await call.viewer()
        incident = job.incident
        if incident is None:
            raise DeliveryFailed("the incident no longer exists", retryable=False)
        key = job.external_key
        derived = issue_uuid(external_key=key, integration_id=job.integration.id)
        if job.event == events.OPENED:
            body, note = await self._create_body(call, job, incident, key, derived)
            return await call.create(body, note=note)
        issue_id = job.link.external_id if job.link is not None and job.link.external_id else derived
        return await self._update(call, job, incident, issue_id)

    async def _create_body(
        self, call: _Calls, job: Job, incident: IncidentSnapshot, key: str, issue_id: str
    ) -> tuple[dict[str, Any], str]:
        """The create exactly as first sent (a re-send repeats the frozen body, assignee and all, without asking
        Linear again), else built from the incident and assigned to whoever declared it; and a note for the log."""
        frozen = job.payload
        if frozen is not None and frozen.get("query") == ISSUE_CREATE and isinstance(frozen.get("variables"), Mapping):
            return dict(frozen), ""
        fields: dict[str, Any] = {
            "id": issue_id,
            "teamId": str(job.integration.config["team_id"]),
            "title": summary(incident),
            "description": description(incident, key=key),
            "priority": PRIORITY[incident.severity],
        }
        note = ""
        try:
            assignee = await self._assignee(call, job)
        except DeliveryFailed as exc:
            assignee, note = None, f"created unassigned: looking up the declarer in Linear failed ({exc})"
        if assignee:
            fields["assigneeId"] = assignee
        return _body(ISSUE_CREATE, {"input": fields}), note

    async def _assignee(self, call: _Calls, job: Job) -> str | None:
        """The Linear user who declared the incident: their linked account (`/incident link`) if any, else the
        Linear user with their email (one lookup per integration and email, "none" remembered too), else None."""
        actor = job.actor
        if actor is None:
            return None
        linked = actor.identities.get("linear")
        if linked:
            return linked
        if not actor.email:
            return None
        cache_key = (job.integration.id, actor.email)
        async with self._user_locks.setdefault(cache_key, asyncio.Lock()):
            if cache_key not in self._users:  # a failed lookup is not remembered: the next incident asks again
                self._users[cache_key] = await call.user_by_email(actor.email)
        return self._users[cache_key]

    async def _update(self, call: _Calls, job: Job, incident: IncidentSnapshot, issue_id: str) -> Sent:
        fields: dict[str, Any] = {}
        if job.event == events.UPDATED:
            if isinstance(job.data.get("title"), str):
                fields["title"] = summary(incident, title=job.data["title"])
            if job.data.get("severity") in PRIORITY:
                fields["priority"] = PRIORITY[job.data["severity"]]
        wanted = wanted_types(job.event, job.data)
        if not fields and not wanted:
            return Sent(note=f"nothing Linear shows changed ({job.event})")
        issue = await call.read(issue_id)
        if issue is None:
            return Sent(note=f"no Linear issue for {incident.key} (opened before this integration, or filtered out)")
        if wanted and not already_there(issue.state_type, wanted):
            fields["stateId"] = await call.state(issue.team_id or str(job.integration.config["team_id"]), wanted)
        if not fields:
            return issue.sent(payload=None, note=f"already {issue.state_type}")
        return await call.update(issue, fields)

    # ---------------------------------------------------------------- vigil check

    async def probe(self, integration: Configured, http: aiohttp.ClientSession) -> str:
        """Who the key belongs to and whether it sees the team: one read, nothing created."""
        sent = await _Calls(self, integration, http, within=10.0).viewer()
        return sent.note


class _Calls:
    """The GraphQL calls of one delivery, sharing the endpoint, the key and the provider's state cache."""

    def __init__(
        self, provider: LinearProvider, integration: Configured, http: aiohttp.ClientSession, *, within: float
    ) -> None:
        api_key = integration.secrets.get("api_key")
        if not api_key:
            raise ConfigProblem("api_key: not set; add it with --secret api_key=-")
        self.provider = provider
        self.url = str(integration.config.get("api_url") or DEFAULT_API_URL)
        self.team_id = str(integration.config.get("team_id") or "")
        self.api_key = api_key
        self.http = http
        self.within = within

    async def run(self, body: Mapping[str, Any], *, payload: Mapping[str, Any] | None = None) -> dict[str, Any]:
        _, data = await graphql(
            self.http,
            self.url,
            api_key=self.api_key,
            query=body["query"],
            variables=body["variables"],
            within=self.within,
            payload=payload,
        )
        return data

    async def viewer(self) -> Sent:
        body = _body(VIEWER, {"team": self.team_id})
        try:
            data = await self.run(body, payload=body)
        except GraphQLFailed as exc:
            if not exc.retryable and any((e.get("path") or [None])[0] == "team" for e in exc.errors):
                raise DeliveryFailed(
                    f"team_id: this API key sees no team {self.team_id}", http_status=exc.http_status, retryable=False
                ) from None
            raise
        viewer = data.get("viewer") or {}
        team = data.get("team") or {}
        note = f"authenticated as {viewer.get('name') or viewer.get('id')}; team {team.get('key') or team.get('name')}"
        return Sent(payload=body, http_status=200, note=note)

    async def user_by_email(self, email: str) -> str | None:
        """The id of the Linear user with this email, or None when Linear has none."""
        data = await self.run(_body(USER_BY_EMAIL, {"email": email}))
        nodes = (data.get("users") or {}).get("nodes") or []
        first = nodes[0] if nodes and isinstance(nodes[0], Mapping) else {}
        return str(first["id"]) if first.get("id") else None

    async def create(self, body: dict[str, Any], *, note: str = "") -> Sent:
        try:
            data = await self.run(body, payload=body)
        except GraphQLFailed as exc:
            if exc.retryable:
                raise
            # Refused: most likely the id is taken because an earlier attempt created the issue and its answer was
            # lost. If the issue is there, it is ours (the id is derived from our key): that is success.
            existing = await self.read(body["variables"]["input"]["id"], quiet=True)
            if existing is None:
                raise
            return existing.sent(payload=body, note="; ".join(filter(None, ["already created", note])))
        created = data.get("issueCreate") or {}
        issue = _issue(created.get("issue"))
        if not created.get("success") or issue is None:
            raise DeliveryFailed("Linear did not create the issue (success: false)", http_status=200, payload=body)
        return issue.sent(payload=body, note=note)

    async def read(self, issue_id: str, *, quiet: bool = False) -> Issue | None:
        """The issue, or None when Linear has none with this id. `quiet`: any other failure is None as well."""
        try:
            data = await self.run(_body(ISSUE_READ, {"id": issue_id}))
        except GraphQLFailed as exc:
            if quiet or (not exc.retryable and exc.mentions(*NOT_FOUND)):
                return None
            raise
        except DeliveryFailed:
            if quiet:
                return None
            raise
        return _issue(data.get("issue"))

    async def state(self, team_id: str, wanted: tuple[str, ...]) -> str:
        """The team's first workflow state (by position) of the first type in `wanted` it has, looked up once."""
        cache_key = (self.url, team_id)
        states = self.provider._states.get(cache_key)
        if states is None:
            data = await self.run(_body(TEAM_STATES, {"team": team_id}))
            nodes = ((data.get("team") or {}).get("states") or {}).get("nodes") or []
            states = {}
            for node in sorted(nodes, key=lambda n: float(n.get("position") or 0)):
                states.setdefault(str(node.get("type")), str(node.get("id")))
            self.provider._states[cache_key] = states
        for kind in wanted:
            if kind in states:
                return states[kind]
        raise DeliveryFailed(f"the Linear team has no workflow state of type {' or '.join(wanted)}", retryable=False)

    async def update(self, issue: Issue, fields: Mapping[str, Any]) -> Sent:
        body = _body(ISSUE_UPDATE, {"id": issue.id, "input": dict(fields)})
        try:
            data = await self.run(body, payload=body)
        except DeliveryFailed:
            if "stateId" in fields:  # a state removed since it was cached: look the team's states up again
                self.provider._states.pop((self.url, issue.team_id or self.team_id), None)
            raise
        updated = data.get("issueUpdate") or {}
        if not updated.get("success"):
            raise DeliveryFailed("Linear did not update the issue (success: false)", http_status=200, payload=body)
        return (_issue(updated.get("issue")) or issue).sent(payload=body)
