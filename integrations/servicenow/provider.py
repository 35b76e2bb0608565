"""The `servicenow` kind: a record in the `incident` table per incident, resolved (state 6) when the incident is.

The Table API has no idempotency key, so the record carries the incident's external key `vigil-<team_id>-<number>`
in `correlation_id`, and a delivery that does not know the record yet (no link row) looks it up by that before it
creates anything: a re-send after a crash or a 5xx finds the record the first attempt made. What a delivery asks
for is decided at its first attempt and frozen in its payload, so every re-send asks for the same thing.
Acknowledgements are not sent: a ServiceNow incident has no such step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from integrations.base import ConfigProblem, Configured, DeliveryFailed, Field, Job, Sent
from integrations.payloads import IncidentSnapshot
from integrations.servicenow.client import Table

# Urgency and impact by severity (their matrix gives the record's priority: 1/1 → 1 Critical … 3/3 → 5 Planning).
URGENCY = {"P1": "1", "P2": "2", "P3": "3", "P4": "3", "P5": "3"}
IN_PROGRESS, RESOLVED, CLOSED = "2", "6", "7"
DEFAULT_CLOSE_CODE = "Solution provided"
HANDLED = frozenset({"incident.opened", "incident.updated", "incident.resolved", "incident.closed", "incident.reopened"})
# Events that create the record when ServiceNow has none yet (an incident raised into `--min-severity`, an
# integration added while it was open). Resolving an incident ServiceNow never heard of creates nothing.
CREATING = frozenset({"incident.opened", "incident.updated", "incident.reopened"})
SHORT_LIMIT = 160  # the short_description column's length
DESCRIPTION_LIMIT = 4000


def one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def record_body(incident: IncidentSnapshot, key: str) -> dict[str, Any]:
    """The new record: short description with INC-n and the title, urgency and impact from the severity, and the
    correlation id the record is found by again."""
    lines = [f"Incident {incident.key} in Vigil, severity {incident.severity}."]
    if incident.component:
        lines.append(f"Component: {incident.component}")
    if incident.description:
        lines += ["", incident.description.strip()]
    if incident.channel_url:
        lines += ["", f"Slack channel: {incident.channel_url}"]
    return {
        "short_description": one_line(f"[{incident.key}] {incident.title}", SHORT_LIMIT),
        "description": "\n".join(lines)[:DESCRIPTION_LIMIT],
        "urgency": URGENCY[incident.severity],
        "impact": URGENCY[incident.severity],
        "correlation_id": key,
        "correlation_display": "Vigil",
    }


@dataclass(frozen=True)
class Record:
    sys_id: str
    number: str | None
    state: str | None  # None: not read yet
    created: bool = False


class ServiceNowProvider:
    kind = "servicenow"
    settings: tuple[Field, ...] = (
        Field("instance_url", "url", required=True, help="your instance's base URL, e.g. https://acme.service-now.com"),
        Field("username", required=True, help="the integration user (read, create and write on the incident table)"),
        Field("close_code", default=DEFAULT_CLOSE_CODE, help="the close code set when resolving (one of your instance's)"),
    )
    secrets: tuple[Field, ...] = (Field("password", required=True, help="the integration user's password"),)
    include_private_default = False

    def handles(self, event: str) -> bool:
        return event in HANDLED or event == "test"

    def check(self, config: Mapping[str, Any], secrets: Mapping[str, str]) -> list[str]:
        problems = []
        parts = urlsplit(str(config.get("instance_url") or ""))
        if parts.path.strip("/") or parts.query:
            problems.append("instance_url: the instance's base URL only, e.g. https://acme.service-now.com")
        if ":" in str(config.get("username") or ""):
            problems.append("username: a user name without ':' (basic authentication cannot carry one)")
        return problems

    async def deliver(self, job: Job, http: aiohttp.ClientSession) -> Sent:
        table = self._table(job.integration, http, within=job.timeout)
        if job.is_test:
            rows = await table.read_one()
            return Sent(payload={"read": "incident", "rows": len(rows)}, http_status=200)
        incident = job.incident
        if incident is None:
            raise DeliveryFailed(f"{job.event} without an incident", retryable=False)
        key = job.external_key
        plan = dict(job.payload) if job.payload is not None else self._plan(job, incident, key)
        try:
            return await self._apply(job, table, plan, key)
        except DeliveryFailed as exc:
            exc.payload = plan
            raise

    async def probe(self, integration: Configured, http: aiohttp.ClientSession) -> str:
        """A one-row read of the incident table: the URL, the credentials and read access, nothing written."""
        rows = await self._table(integration, http, within=10.0).read_one()
        seen = "read 1 row" if rows else "readable (no rows visible to this user)"
        return f"authenticated as {integration.config.get('username')}; incident table {seen}"

    def _table(self, integration: Configured, http: aiohttp.ClientSession, *, within: float) -> Table:
        config = integration.config
        password = integration.secrets.get("password")
        if not password:
            raise ConfigProblem("password: required for servicenow; set it with --secret password=-")
        for name in ("instance_url", "username"):
            if not config.get(name):
                raise ConfigProblem(f"{name}: required for servicenow")
        return Table(
            http,
            instance_url=str(config["instance_url"]),
            username=str(config["username"]),
            password=password,
            within=within,
        )

    def _plan(self, job: Job, incident: IncidentSnapshot, key: str) -> dict[str, Any]:
        """What this event asks of ServiceNow, decided once: `create` (when the record may not exist yet),
        `update` (title or severity changed), `resolve`, `reopen`."""
        plan: dict[str, Any] = {"event": job.event, "correlation_id": key}
        if job.event in CREATING and not (job.link and job.link.external_id):
            plan["create"] = record_body(incident, key)
        if job.event == "incident.updated":
            changes: dict[str, Any] = {}
            if "title" in job.data:
                changes["short_description"] = one_line(f"[{incident.key}] {job.data['title']}", SHORT_LIMIT)
            if "severity" in job.data and str(job.data["severity"]) in URGENCY:
                changes["urgency"] = changes["impact"] = URGENCY[str(job.data["severity"])]
            if changes:
                plan["update"] = changes
        if job.event in ("incident.resolved", "incident.closed"):
            done = "resolved" if job.event == "incident.resolved" else "closed"
            plan["resolve"] = {
                "state": RESOLVED,
                "close_code": str(job.integration.config.get("close_code") or DEFAULT_CLOSE_CODE),
                "close_notes": (incident.resolution or "").strip() or f"{incident.key} was {done} in Vigil.",
            }
        if job.event == "incident.reopened":
            plan["reopen"] = {"state": IN_PROGRESS}
        return plan

    async def _apply(self, job: Job, table: Table, plan: Mapping[str, Any], key: str) -> Sent:
        record = await self._locate(job, table, plan, key)
        if record is None:
            return Sent(payload=plan, http_status=200, note=f"no ServiceNow incident carries {key}; nothing to do")
        http_status = 201 if record.created else 200
        if "update" in plan and not record.created:  # a new record already has the new title and urgency
            await table.update(record.sys_id, plan["update"])
        note = ""
        if "resolve" in plan or "reopen" in plan:
            state = record.state if record.state is not None else str((await table.get(record.sys_id)).get("state"))
            if "resolve" in plan and state not in (RESOLVED, CLOSED):
                await table.update(record.sys_id, plan["resolve"])
            elif "resolve" in plan:
                note = "already resolved or closed in ServiceNow"
            elif state == RESOLVED:
                await table.update(record.sys_id, plan["reopen"])
            elif state == CLOSED:
                note = "closed in ServiceNow, which does not reopen closed records"
        number = record.number or (job.link.data.get("number") if job.link else None)
        return Sent(
            payload=plan,
            http_status=http_status,
            external_id=record.sys_id,
            external_url=table.record_url(record.sys_id),
            link_data={"number": number} if number else {},
            note=note,
        )

    async def _locate(self, job: Job, table: Table, plan: Mapping[str, Any], key: str) -> Record | None:
        """The record: the one linked already, else the one with the correlation id, else a new one (when the plan
        may create)."""
        if job.link is not None and job.link.external_id:
            return Record(job.link.external_id, None, None)
        found = await table.find(key)
        if found is not None and found.get("sys_id"):
            return Record(str(found["sys_id"]), _text(found.get("number")), _text(found.get("state")))
        if "create" not in plan:
            return None
        created = await table.create(plan["create"])
        if not created.get("sys_id"):
            raise DeliveryFailed(f"{table.base} created an incident but answered no sys_id")
        return Record(str(created["sys_id"]), _text(created.get("number")), _text(created.get("state")), created=True)


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)
