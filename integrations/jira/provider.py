"""The `jira` kind: an issue per incident, created on open and moved along its workflow as the incident moves.

Jira has no idempotency key on create, so the incident's external key `vigil-<team_id>-<number>` goes on the issue
as a label, and a delivery that does not know the issue yet (no link row) searches the project for that label
before it creates anything: a re-send after a crash, a timeout or a 5xx finds the issue the first attempt made.
A delivery's plan (the fields to create, the fields to change, the transition wanted) is frozen in its payload at
the first attempt, so every re-send asks Jira for the same thing.

The `jira` library is synchronous: one delivery's calls run together in one `asyncio.to_thread`. Clients are kept
per integration (a client reads serverInfo once), and so are reporters found by email.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from bot.incidents.states import Status
from integrations.base import ConfigProblem, Configured, DeliveryFailed, Field, Job, Sent, session_guard
from integrations.http.guard import AddressChecker, OutboundPolicy, check_address
from integrations.jira.client import DONE, JiraClient, status_of
from integrations.payloads import IncidentSnapshot

log = logging.getLogger(__name__)

SEVERITIES = ("P1", "P2", "P3", "P4", "P5")
DEFAULT_PRIORITIES = {"P1": "1", "P2": "2", "P3": "3", "P4": "4", "P5": "5"}
DEFAULT_INBOUND = {"done": "resolved"}
ACKNOWLEDGED, REOPENED = "acknowledged", "reopened"
# transition_map keys: the statuses, and the two moves that are not a status of their own.
TRANSITION_KEYS = (*(str(s) for s in Status), ACKNOWLEDGED, REOPENED)
# The status category an issue is in once a move has happened: how "already there" is recognised when the
# transition asked for is not offered from the issue's status.
CATEGORY_OF = {
    str(Status.OPEN): "new",
    ACKNOWLEDGED: "indeterminate",
    str(Status.INVESTIGATING): "indeterminate",
    str(Status.MITIGATING): "indeterminate",
    str(Status.RESOLVED): DONE,
    str(Status.POSTMORTEM): DONE,
    str(Status.CLOSED): DONE,
}
FINISHED = frozenset({str(Status.RESOLVED), str(Status.CLOSED)})  # moved to a done status when transition_map is silent
# Events that bring the issue into being when Jira has none yet (an incident raised into `--min-severity`, an
# integration added while it was open). Resolving or closing an incident Jira never heard of creates nothing.
CREATING = frozenset({"incident.opened", "incident.acknowledged", "incident.updated", "incident.reopened"})
SUMMARY_LIMIT = 255
DESCRIPTION_LIMIT = 30000
KNOWN_PEOPLE = 1000  # reporters by email kept per provider before the cache starts over
KNOWN_CLIENTS = 50
_PROJECT_KEY = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_CATEGORY_FIELD = re.compile(r"components|customfield_\d+")
_PRIORITY_ID = re.compile(r"\d+")


@dataclass(frozen=True)
class JiraSettings:
    url: str
    project: str
    issue_type: str
    email: str | None
    transition_map: Mapping[str, str]
    priority_map: Mapping[str, str]
    category_field: str | None
    labels: tuple[str, ...]
    default_reporter: str | None

    @classmethod
    def of(cls, config: Mapping[str, Any]) -> JiraSettings:
        problems = problems_of(config)
        if problems:
            raise ConfigProblem("; ".join(problems))
        return cls(
            url=str(config["url"]).rstrip("/"),
            project=str(config["project"]),
            issue_type=str(config.get("issue_type") or "Incident"),
            email=str(config["email"]) if config.get("email") else None,
            transition_map={str(k): str(v) for k, v in (config.get("transition_map") or {}).items()},
            priority_map={str(k): str(v) for k, v in (config.get("priority_map") or DEFAULT_PRIORITIES).items()},
            category_field=str(config["category_field"]) if config.get("category_field") else None,
            labels=tuple(config.get("labels") or ()),
            default_reporter=str(config["default_reporter"]) if config.get("default_reporter") else None,
        )

    def priority(self, severity: str) -> str:
        """The priority id of a severity; a severity the map leaves out gets P1's (the spec's "unknown → P1's")."""
        return self.priority_map.get(severity) or self.priority_map.get("P1") or DEFAULT_PRIORITIES["P1"]


def problems_of(config: Mapping[str, Any]) -> list[str]:
    """What is wrong with a jira configuration beyond each field's own type, one line per key."""
    problems = []
    for key in ("url", "project"):
        if not config.get(key):
            problems.append(f"{key}: required for jira")
    project = str(config.get("project") or "")
    if project and not _PROJECT_KEY.fullmatch(project):
        problems.append("project: a project key such as OPS (letters, digits, underscores)")
    email = str(config.get("email") or "")
    if email and "@" not in email:
        problems.append("email: the email address of the Atlassian account the API token belongs to")
    host = (urlsplit(str(config.get("url") or "")).hostname or "").lower()
    if not email and host.endswith(".atlassian.net"):
        problems.append("email: required for Jira Cloud (the account the API token belongs to)")
    problems += _map_problems("transition_map", config.get("transition_map"), keys=TRANSITION_KEYS, valid=_name)
    problems += _map_problems("inbound_status_map", config.get("inbound_status_map"), keys=None, valid=_status)
    problems += _map_problems("priority_map", config.get("priority_map"), keys=SEVERITIES, valid=_priority_id)
    category = config.get("category_field")
    if category and not _CATEGORY_FIELD.fullmatch(str(category)):
        problems.append("category_field: components, or a select-list custom field id such as customfield_10010")
    for label in config.get("labels") or ():
        if not isinstance(label, str) or any(c.isspace() for c in label) or not 0 < len(label) <= 255:
            problems.append(f"labels: {str(label)[:40]!r} is not a Jira label (no spaces, at most 255 characters)")
    return problems


def _name(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _status(value: Any) -> bool:
    return value in tuple(str(s) for s in Status)


def _priority_id(value: Any) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool) and bool(_PRIORITY_ID.fullmatch(str(value)))


def _map_problems(name: str, raw: Any, *, keys: tuple[str, ...] | None, valid: Callable[[Any], bool]) -> list[str]:
    """A JSON-object setting: keys from `keys` (any when None), every value accepted by `valid`."""
    if raw is None:
        return []
    if not isinstance(raw, dict):
        return [f"{name}: a JSON object, e.g. {_EXAMPLES[name]}"]
    problems = []
    for key, value in raw.items():
        if keys is not None and key not in keys:
            problems.append(f"{name}: unknown key {str(key)[:40]!r} (keys: {', '.join(keys)})")
        elif not valid(value):
            problems.append(f"{name}: the value of {str(key)[:40]!r} is not usable, e.g. {_EXAMPLES[name]}")
    return problems


_EXAMPLES = {
    "transition_map": '{"resolved": "Done"}',
    "inbound_status_map": '{"done": "resolved"}',
    "priority_map": '{"P1": "1", "P2": "2"}',
}


# ---------------------------------------------------------------- what an issue says


def one_line(text: str, limit: int) -> str:
    """Whitespace runs (newlines included: Jira refuses them in a summary) become one space; cut to `limit`."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def summary(incident: IncidentSnapshot, title: str) -> str:
    return one_line(f"[{incident.key}] {title}", SUMMARY_LIMIT)


def description(incident: IncidentSnapshot, key: str) -> str:
    """Plain text (REST v2 takes a string): what the incident is, where to follow it, and why the label matters."""
    lines = [f"Incident {incident.key} in Vigil, severity {incident.severity}."]
    if incident.description:
        lines += ["", incident.description.strip()]
    if incident.channel_url:
        lines += ["", f"Slack channel: {incident.channel_url}"]
    lines += ["", f"Vigil finds this issue by its label {key}: keep the label, or Vigil opens another issue."]
    return "\n".join(lines)[:DESCRIPTION_LIMIT]


def category_value(field: str, component: str) -> Any:
    """The value shape of the field that gets the component: the system `components` field, or a select list."""
    return [{"name": component}] if field == "components" else {"value": component}


@dataclass(frozen=True)
class Located:
    """The issue a delivery acts on, and how it was found."""

    key: str
    id: str | None
    created: bool = False
    reporter_dropped: bool = False


class JiraProvider:
    kind = "jira"
    settings: tuple[Field, ...] = (
        Field("url", "url", required=True, help="your Jira's base URL, e.g. https://acme.atlassian.net"),
        Field("project", required=True, help="the key of the project issues are created in, e.g. OPS"),
        Field("issue_type", default="Incident", help="the issue type to create"),
        Field("email", help="Jira Cloud: the account the API token belongs to (empty: a Data Center access token)"),
        Field(
            "transition_map",
            "json",
            help='JSON, Vigil status → transition name, e.g. {"resolved": "Done"} (default: resolved and closed take '
            "the transition to a done status)",
        ),
        Field(
            "inbound_status_map",
            "json",
            default=DEFAULT_INBOUND,
            help='JSON, Jira status or status category → Vigil status (default {"done": "resolved"})',
        ),
        Field(
            "priority_map",
            "json",
            default=DEFAULT_PRIORITIES,
            help='JSON, severity → Jira priority id (default {"P1": "1", …, "P5": "5"}; a missing one gets P1\'s)',
        ),
        Field("category_field", help="the field that gets the incident's component: components, or customfield_NNNNN"),
        Field("labels", "list", help="extra labels, comma-separated (the incident's key is always added)"),
        Field(
            "default_reporter",
            help="reporter when the person who acted has no Jira account (Cloud account id; Data Center user name)",
        ),
    )
    secrets: tuple[Field, ...] = (
        Field("api_token", required=True, help="an API token (Jira Cloud) or a personal access token (Data Center)"),
        Field("signing_secret", generated=True, help="the secret of the Jira admin webhook (made by Vigil if not given)"),
    )
    include_private_default = False

    def __init__(self, *, policy: OutboundPolicy | None = None, checker: AddressChecker = check_address) -> None:
        """`policy` is for tests that build a provider by hand; otherwise the guard's policy is the one of the
        aiohttp session the worker hands over, so the jira library's session obeys exactly the same rules."""
        self._policy = policy
        self._checker = checker
        self._clients: dict[tuple[Any, ...], JiraClient] = {}
        self._connecting: dict[tuple[Any, ...], asyncio.Future[JiraClient]] = {}  # connects under way, shared
        self._people: dict[tuple[str, str], str | None] = {}

    def handles(self, event: str) -> bool:
        return True

    def check(self, config: Mapping[str, Any], secrets: Mapping[str, str]) -> list[str]:
        return problems_of(config)

    async def deliver(self, job: Job, http: aiohttp.ClientSession) -> Sent:
        settings = JiraSettings.of(job.integration.config)
        client = await self._client(job.integration, http, within=job.timeout)
        if job.is_test:
            return await asyncio.to_thread(self._test, client, settings)
        return await asyncio.to_thread(self._send, job, settings, client)

    async def probe(self, integration: Configured, http: aiohttp.ClientSession) -> str:
        """`myself` and the project: proves the URL, the token and the project key without writing anything. The
        client is not kept: `vigil check` makes a provider per run."""
        settings = JiraSettings.of(integration.config)
        client = await self._connect(integration, http, within=10.0)
        try:
            sent = await asyncio.to_thread(self._test, client, settings)
        finally:
            client.close()
        read = sent.payload or {}
        return f"authenticated as {read.get('as')} on Jira {client.deployment}; project {read.get('project')} readable"

    # ---------------------------------------------------------------- the client

    def _guard(self, http: aiohttp.ClientSession) -> tuple[OutboundPolicy, AddressChecker]:
        if self._policy is not None:
            return self._policy, self._checker
        return session_guard(http, vendor="Jira")

    async def _client(self, integration: Configured, http: aiohttp.ClientSession, *, within: float) -> JiraClient:
        """The integration's client, made once per version of its URL, account and token (the cache key holds a
        digest of the token, not the token). The deliveries of one round ask for it at once: they share the one
        connect under way (its client, or its failure) rather than each making, and leaking, a client of its own."""
        token = integration.secrets.get("api_token") or ""
        digest = hashlib.sha256(token.encode()).hexdigest()
        config = integration.config
        key = (integration.id, config.get("url"), config.get("email"), digest, within, *self._guard(http))
        client = self._clients.get(key)
        if client is not None:
            return client
        connecting = self._connecting.get(key)
        if connecting is None:
            connecting = asyncio.ensure_future(self._connect(integration, http, within=within))
            self._connecting[key] = connecting
            connecting.add_done_callback(functools.partial(self._connected, key))
        return await asyncio.shield(connecting)  # a delivery that times out does not cancel the others' connect

    def _connected(self, key: tuple[Any, ...], connecting: asyncio.Future[JiraClient]) -> None:
        """Keep the client a connect made (a failed one keeps nothing: the next delivery connects again)."""
        self._connecting.pop(key, None)
        if connecting.cancelled() or connecting.exception() is not None:
            return
        if len(self._clients) >= KNOWN_CLIENTS:
            for old in self._clients.values():
                old.close()
            self._clients.clear()
        self._clients[key] = connecting.result()

    async def _connect(self, integration: Configured, http: aiohttp.ClientSession, *, within: float) -> JiraClient:
        token = integration.secrets.get("api_token")
        if not token:
            raise ConfigProblem("api_token: required for jira; set it with --secret api_token=-")
        policy, checker = self._guard(http)
        return await asyncio.to_thread(
            JiraClient.connect,
            url=str(integration.config["url"]),
            token=token,
            email=str(integration.config.get("email") or "") or None,
            policy=policy,
            checker=checker,
            timeout=within,
        )

    # ---------------------------------------------------------------- test, in a worker thread

    def _test(self, client: JiraClient, settings: JiraSettings) -> Sent:
        me = client.myself()
        project = client.project(settings.project)
        who = me.get("displayName") or me.get("name") or me.get("accountId") or "?"
        read = {"read": ["myself", f"project {settings.project}"], "as": who, "project": project.get("key")}
        return Sent(payload=read, http_status=200)

    # ---------------------------------------------------------------- an incident event, in a worker thread

    def _send(self, job: Job, settings: JiraSettings, client: JiraClient) -> Sent:
        incident = job.incident
        if incident is None:
            raise DeliveryFailed(f"{job.event} without an incident", retryable=False)
        key = job.external_key
        plan = dict(job.payload) if job.payload is not None else self._plan(job, settings, client, incident, key)
        try:
            return self._apply(job, settings, client, plan, key)
        except DeliveryFailed as exc:
            exc.payload = plan
            raise

    def _plan(
        self, job: Job, settings: JiraSettings, client: JiraClient, incident: IncidentSnapshot, key: str
    ) -> dict[str, Any]:
        """What this event asks of Jira, decided once: `create` (when the issue may not exist yet), `update`
        (title or severity changed), `transition` (the move wanted)."""
        plan: dict[str, Any] = {"event": job.event, "key": key}
        if job.event in CREATING and not (job.link and job.link.external_id):
            plan["create"] = self._fields(job, settings, client, incident, key)
        if job.event == "incident.updated":
            changes: dict[str, Any] = {}
            if "title" in job.data:
                changes["summary"] = summary(incident, str(job.data["title"]))
            if "severity" in job.data:
                changes["priority"] = {"id": settings.priority(str(job.data["severity"]))}
            if changes:
                plan["update"] = changes
        move = self._move_wanted(job, settings)
        if move is not None:
            plan["transition"] = move
        return plan

    def _fields(
        self, job: Job, settings: JiraSettings, client: JiraClient, incident: IncidentSnapshot, key: str
    ) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "project": {"key": settings.project},
            "issuetype": {"name": settings.issue_type},
            "summary": summary(incident, incident.title),
            "description": description(incident, key),
            "priority": {"id": settings.priority(incident.severity)},
            "labels": list(dict.fromkeys([*settings.labels, key])),
        }
        if settings.category_field and incident.component:
            fields[settings.category_field] = category_value(settings.category_field, incident.component)
        reporter = self._reporter(job, settings, client)
        if reporter:
            fields["reporter"] = {"accountId": reporter} if client.cloud else {"name": reporter}
        return fields

    def _move_wanted(self, job: Job, settings: JiraSettings) -> dict[str, Any] | None:
        """The transition an event asks for: by name from transition_map, else (resolved, closed) to a done status."""
        status = str(job.data.get("status") or "")
        if job.event == "incident.acknowledged":
            wanted = ACKNOWLEDGED
        elif job.event == "incident.reopened" and REOPENED in settings.transition_map:
            wanted = REOPENED
        elif status:
            wanted = status
        else:
            return None
        name = settings.transition_map.get(wanted)
        if name:
            return {"for": wanted, "name": name}
        if wanted in FINISHED:
            return {"for": wanted, "category": DONE}
        return None

    def _reporter(self, job: Job, settings: JiraSettings, client: JiraClient) -> str | None:
        """The actor's linked Jira account, else the account their email finds (remembered), else the default."""
        actor = job.actor
        if actor is not None and actor.identities.get("jira"):
            return actor.identities["jira"]
        if actor is not None and actor.email:
            found = self._by_email(job.integration.id, actor.email, client)
            if found:
                return found
        return settings.default_reporter

    def _by_email(self, integration_id: str, email: str, client: JiraClient) -> str | None:
        cache_key = (integration_id, email.casefold())
        if cache_key in self._people:
            return self._people[cache_key]
        try:
            found = client.find_user(email)
        except DeliveryFailed as exc:  # a lookup that fails costs the reporter, not the issue; asked again next time
            log.info("jira integration %s: reporter not looked up (%s)", integration_id, exc)
            return None
        if len(self._people) >= KNOWN_PEOPLE:
            self._people.clear()
        self._people[cache_key] = found
        return found

    def _apply(self, job: Job, settings: JiraSettings, client: JiraClient, plan: Mapping[str, Any], key: str) -> Sent:
        issue = self._locate(job, settings, client, plan, key)
        if issue is None:
            return Sent(payload=plan, http_status=200, note=f"no Jira issue carries {key}; nothing to do")
        http_status = 201 if issue.created else 200
        if "update" in plan and not issue.created:  # a new issue already has the new title and priority
            client.update_issue(issue.key, plan["update"])
            http_status = 204
        if "transition" in plan and self._transition(client, issue.key, plan["transition"]):
            http_status = 204
        link_data = {"id": issue.id} if issue.id else dict(job.link.data if job.link else {})
        note = "created without the reporter (Jira refused it)" if issue.reporter_dropped else ""
        return Sent(
            payload=plan,
            http_status=http_status,
            external_id=issue.key,
            external_url=f"{settings.url}/browse/{issue.key}",
            link_data=link_data,
            note=note,
        )

    def _locate(
        self, job: Job, settings: JiraSettings, client: JiraClient, plan: Mapping[str, Any], key: str
    ) -> Located | None:
        """The issue: the one linked already, else the one carrying the label, else a new one (when the plan may)."""
        if job.link is not None and job.link.external_id:
            known_id = job.link.data.get("id")
            return Located(job.link.external_id, str(known_id) if known_id else None)
        found = client.find_issue(project=settings.project, label=key)
        if found is not None:
            return Located(str(found.get("key") or found["id"]), str(found["id"]) if found.get("id") else None)
        if "create" not in plan:
            return None
        created, dropped = client.create_issue(plan["create"])
        return Located(str(created["key"]), str(created.get("id") or "") or None, created=True, reporter_dropped=dropped)

    def _transition(self, client: JiraClient, issue_key: str, move: Mapping[str, Any]) -> bool:
        """Take the transition; False when the issue is already where it would lead (success, nothing posted)."""
        offered = client.transitions(issue_key)
        name = move.get("name")
        if name:
            chosen = next((t for t in offered if str(t.get("name", "")).casefold() == str(name).casefold()), None)
        else:
            chosen = next((t for t in offered if _category(t) == move.get("category")), None)
        if chosen is not None:
            client.transition(issue_key, str(chosen["id"]))
            return True
        current, category = status_of(client.issue(issue_key))
        if (name and current.casefold() == str(name).casefold()) or _arrived(str(move.get("for")), category):
            return False
        wanted = f"the transition {name!r}" if name else "a transition to a done status"
        names = ", ".join(repr(str(t.get("name"))) for t in offered) or "none"
        raise DeliveryFailed(
            f"{issue_key} is in {current!r} and offers no {wanted} (offered: {names}); set transition_map",
            retryable=False,
        )


def _arrived(wanted: str, category: str) -> bool:
    """Whether an issue in `category` is where the move for `wanted` leads (a reopen leads anywhere not done)."""
    if wanted == REOPENED:
        return category in ("new", "indeterminate")
    return category == CATEGORY_OF.get(wanted)


def _category(transition: Mapping[str, Any]) -> str:
    return str(((transition.get("to") or {}).get("statusCategory") or {}).get("key") or "")
