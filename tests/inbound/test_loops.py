"""Bidirectional sync with loop protection, through real HTTP: a change that came in from one tool reaches every
other linked tool and never goes back to its origin; PagerDuty's own webhooks act on the incident and keep the page
in step; a repeated resolve is a no-op."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from db.models import IncidentPage
from tests.fakes.linear import TEAM_ID, FakeLinear
from tests.fakes.pagerduty import ROUTING_KEY, FakePagerDuty
from tests.inbound.conftest import Hooked, Hooks, hex_sig
from tests.inbound.test_vendors import jira_body, post_jira


@pytest.fixture
async def tools(hooks: Hooks, https_server: Any) -> tuple[FakePagerDuty, FakeLinear]:
    """The fakes; and the runtime's delivery worker stopped, so the test makes every delivery round itself."""
    runtime = hooks.vigil.runtime
    hooks.vigil.container.worker.stop()
    assert runtime.worker_task is not None
    await runtime.worker_task
    return FakePagerDuty(await https_server()), FakeLinear(await https_server())


async def connect(hooks: Hooks, pd: FakePagerDuty, linear: FakeLinear) -> tuple[Hooked, Hooked, Hooked]:
    everything: list[str] = []  # every event
    pagerduty = await hooks.add(
        "pagerduty",
        secrets={"routing_key": ROUTING_KEY, "signing_secret": "pd-signing"},
        events=everything,
        events_url=pd.url,
        api_url=pd.url,
    )
    lin = await hooks.add(
        "linear", secrets={"api_key": linear.api_key}, events=everything, api_url=linear.url, team_id=TEAM_ID
    )
    jira = await hooks.add("jira", events=everything)
    return pagerduty, lin, jira


async def rounds(hooks: Hooks, n: int = 6) -> None:
    for _ in range(n):
        await hooks.processed()
        await hooks.vigil.container.worker.run_once()


async def test_a_jira_resolved_incident_resolves_pagerduty_and_linear_and_sends_nothing_back_to_jira(
    hooks: Hooks, tools: tuple[FakePagerDuty, FakeLinear]
) -> None:
    pd, linear = tools
    pagerduty, _lin, jira = await connect(hooks, pd, linear)
    incident = await hooks.declare("Checkout down", "P1")
    await rounds(hooks)
    assert [a["status"] for a in pd.alerts] == ["triggered"]
    [issue] = linear.issues.values()

    assert (await post_jira(hooks, jira, jira_body("OPS-1", labels=[incident.external_key]), "jira-1"))[0] == 202
    await rounds(hooks)
    [row] = await hooks.vigil.incidents()
    assert row.status == "resolved"
    assert [a["status"] for a in pd.alerts] == ["resolved"], "PagerDuty's page resolved"
    assert linear.state_of(issue) == "Done", "Linear's issue completed"
    assert [d.event for d in await hooks.deliveries(jira)] == ["incident.opened"], "nothing went back to Jira"

    again = await post_jira(hooks, jira, jira_body("OPS-1", labels=[incident.external_key]), "jira-2")
    assert again[0] == 202
    await rounds(hooks)
    [entry] = [e for e in await hooks.log() if e.dedup_id == "jira-2"]
    assert "already resolved" in entry.outcome
    assert [d.event for d in await hooks.deliveries(pagerduty)].count("incident.resolved") == 1


def pd_event(event_type: str, incident_key: str, **data: Any) -> dict[str, Any]:
    return {
        "event": {
            "id": f"01{event_type}",
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": "2026-11-29T10:01:02.000Z",
            "agent": {"id": "PDAVE", "type": "user_reference", "summary": "Dave"},
            "data": {
                "id": "PINC42",
                "type": "incident",
                "incident_key": incident_key,
                "html_url": "https://acme.pagerduty.com/incidents/PINC42",
                **data,
            },
        }
    }


async def post_pd(hooks: Hooks, hooked: Hooked, body: dict[str, Any], webhook_id: str, secret: str = "pd-signing") -> Any:
    raw = json.dumps(body).encode()
    signature = f"v1={hex_sig('rotated-out', raw)}, v1={hex_sig(secret, raw)}"
    return await hooks.post(hooked, raw, {"X-PagerDuty-Signature": signature, "X-Webhook-Id": webhook_id})


async def test_pagerduty_webhooks_record_the_page_acknowledge_and_resolve_and_close(
    hooks: Hooks, tools: tuple[FakePagerDuty, FakeLinear]
) -> None:
    pd, linear = tools
    pagerduty, lin, _jira = await connect(hooks, pd, linear)
    incident = await hooks.declare("Search slow", "P3")  # below the threshold: paged by hand
    await hooks.vigil.container.pagerduty.page(
        team_id=hooks.vigil.team_id, actor_id=None, incident_id=incident.id, service=None
    )
    await rounds(hooks)
    key = incident.external_key

    assert (await post_pd(hooks, pagerduty, pd_event("incident.triggered", key), "w-1"))[0] == 202
    assert (await post_pd(hooks, pagerduty, pd_event("incident.triggered", key), "w-1"))[0] == 200, (
        "X-Webhook-Id de-duplicates"
    )
    assert (await post_pd(hooks, pagerduty, pd_event("incident.acknowledged", key), "w-2", secret="forged"))[0] == 401
    assert (await post_pd(hooks, pagerduty, pd_event("incident.acknowledged", key), "w-3"))[0] == 202
    await rounds(hooks)
    async with hooks.vigil.container.sessions() as session:
        [page] = (await session.scalars(select(IncidentPage))).all()
    assert (page.pd_incident_id, page.status) == ("PINC42", "acknowledged")
    [row] = await hooks.vigil.incidents()
    assert row.acknowledged_at is not None
    assert "incident.acknowledged" not in [d.event for d in await hooks.deliveries(pagerduty)], "not sent back"
    assert "incident.acknowledged" in [d.event for d in await hooks.deliveries(lin)]

    note = pd_event("incident.annotated", key)
    note["event"]["data"] = {
        "incident": {"id": "PINC42", "incident_key": key},
        "content": "DB failover <!here>",
        "type": "incident_note",
    }
    assert (await post_pd(hooks, pagerduty, note, "w-4"))[0] == 202
    assert (await post_pd(hooks, pagerduty, pd_event("incident.resolved", key, resolve_reason="failover done"), "w-5"))[
        0
    ] == 202
    await rounds(hooks)
    [row] = await hooks.vigil.incidents()
    assert row.status == "closed", "auto_close: a P3 owes no postmortem"
    timeline = await hooks.vigil.container.queries.timeline(row)
    assert "PagerDuty note: DB failover <!here>" in [e.text for e in timeline if e.kind == "note"]
    ping = {"event": {"id": "x", "event_type": "pagey.ping", "resource_type": "pagey", "data": {"type": "ping"}}}
    status, body = await post_pd(hooks, pagerduty, ping, "w-6")
    assert (status, body["outcome"]) == (202, "nothing to do")
