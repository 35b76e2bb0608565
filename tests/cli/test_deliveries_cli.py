"""`vigil deliveries list|show|retry` on a delivery log the test writes straight into the database (SQLite and
PostgreSQL): what a worker would have left behind after a vendor refused an incident."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from db.models import Delivery, Incident
from tests.cli.test_integrations_cli import TEAM, Vigil, add_webhook, database, errors, fields, make_vigil

T0 = datetime(2024, 11, 2, 14, 3, 11, tzinfo=UTC)


@pytest.fixture
async def vigil(db_url: str, ca_bundle: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Vigil:
    return await make_vigil(db_url, ca_bundle, tmp_path, monkeypatch)


async def add_incident(db_url: str, number: int) -> int:
    async with database(db_url) as session:
        incident = Incident(team_id=TEAM, number=number, title=f"Incident {number}", severity="P2", reporter_id="U0ALICE")
        session.add(incident)
        await session.flush()
        return incident.id


async def add_delivery(
    db_url: str,
    integration_id: str,
    incident_id: int | None,
    *,
    status: str,
    event: str = "incident.opened",
    attempts: int = 0,
    http_status: int | None = None,
    error: str | None = None,
    payload: dict[str, Any] | None = None,
    history: list[dict[str, Any]] | None = None,
) -> str:
    delivery_id = str(uuid.uuid4())
    async with database(db_url) as session:
        session.add(
            Delivery(
                delivery_id=delivery_id,
                team_id=TEAM,
                integration_id=integration_id,
                incident_id=incident_id,
                event=event,
                occurred_at=T0,
                data={},
                status=status,
                attempts=attempts,
                next_attempt_at=T0 if status in ("pending", "retrying") else None,
                last_attempt_at=T0 if attempts else None,
                http_status=http_status,
                duration_ms=120 if attempts else None,
                error=error,
                payload=payload,
                history=history or [],
                created_at=T0,
            )
        )
    return delivery_id


async def statuses(db_url: str) -> dict[str, str]:
    async with database(db_url) as session:
        return {d.delivery_id: d.status for d in await session.scalars(select(Delivery))}


async def test_list_show_and_retry_a_failed_incident_delivery(vigil: Vigil, db_url: str) -> None:
    hook = await add_webhook(vigil, "ops-hook", "https://hooks.example.com/v")
    other = await add_webhook(vigil, "other", "https://hooks.example.com/w")
    incident_id = await add_incident(db_url, 7)
    refused = "https://hooks.example.com/v answered 400: bad request"
    history = [
        {"n": 1, "at": "2024-11-02T14:03:11+00:00", "ms": 120, "outcome": "failed", "http_status": 400, "error": refused}
    ]
    payload = {"id": "d", "event": "incident.opened", "incident": {"key": "INC-7", "title": "Incident 7"}}
    first = await add_delivery(
        db_url, hook["id"], incident_id, status="failed", attempts=1, http_status=400, error=refused, payload=payload,
        history=history,
    )  # fmt: skip
    follower = await add_delivery(
        db_url, hook["id"], incident_id, status="failed", event="incident.resolved",
        error=f"not sent: the earlier delivery {first[:8]} failed",
    )  # fmt: skip
    done = await add_delivery(db_url, other["id"], incident_id, status="success", attempts=1, http_status=200)

    listed = await vigil("deliveries", "list")
    assert listed.exit_code == 0, listed.stderr
    header, *rows = [line.split() for line in listed.stdout.splitlines()]
    assert header == [
        "id", "created_at", "integration", "event", "incident", "status", "attempts", "http_status", "next_attempt_at",
    ]  # fmt: skip
    assert rows == [
        [done[:8], "2024-11-02T14:03:11Z", "other", "incident.opened", "INC-7", "success", "1", "200", "-"],
        [follower[:8], "2024-11-02T14:03:11Z", "ops-hook", "incident.resolved", "INC-7", "failed", "0", "-", "-"],
        [first[:8], "2024-11-02T14:03:11Z", "ops-hook", "incident.opened", "INC-7", "failed", "1", "400", "-"],
    ]
    only_hook = (await vigil("deliveries", "list", "--integration", hook["id"])).stdout.splitlines()[1:]
    assert [row.split()[0] for row in only_hook] == [follower[:8], first[:8]]
    assert len((await vigil("deliveries", "list", "--status", "success")).stdout.splitlines()) == 2
    assert [r.split()[0] for r in (await vigil("deliveries", "list", "--limit", "1")).stdout.splitlines()[1:]] == [done[:8]]
    for bad in (["--limit", "0"], ["--limit", "501"], ["--status", "lost"]):
        assert (await vigil("deliveries", "list", *bad)).exit_code == 2, bad
    unknown = await vigil("deliveries", "list", "--integration", "nope")
    assert unknown.exit_code == 1 and "No integration 'nope'" in unknown.stderr

    as_json = json.loads((await vigil("deliveries", "list", "--json")).stdout)
    assert [d["delivery_id"] for d in as_json] == [done, follower, first]
    assert as_json[2]["payload"] == payload and as_json[2]["history"] == history and as_json[2]["incident"] == "INC-7"

    shown = await vigil("deliveries", "show", first[:8])
    assert shown.exit_code == 0, shown.stderr
    out = fields(shown)
    assert out["delivery_id"] == first and out["integration"] == "ops-hook" and out["kind"] == "webhook"
    assert (out["status"], out["attempts"], out["http_status"], out["error"]) == ("failed", "1", "400", refused)
    assert (out["created_at"], out["last_attempt_at"], out["next_attempt_at"]) == ("2024-11-02T14:03:11Z",) * 2 + ("-",)
    lines = shown.stdout.splitlines()
    at = lines.index("history:")
    assert lines[at + 1] == f"  #1 2024-11-02T14:03:11Z failed http 400 120 ms: {refused}"
    assert lines[at + 2] == "payload:"
    assert all(line.startswith("  ") for line in lines[at + 3 :])
    assert json.loads("\n".join(lines[at + 3 :])) == payload

    assert json.loads((await vigil("deliveries", "show", first, "--json")).stdout)["history"] == history
    follower_shown = (await vigil("deliveries", "show", follower)).stdout.splitlines()
    assert "history: -" in follower_shown and "payload: -" in follower_shown
    short = await vigil("deliveries", "show", first[:7])
    assert short.exit_code == 1 and "8 or more of its first characters" in short.stderr

    retried = await vigil.ok("deliveries", "retry", first[:8])
    assert (retried["delivery"], retried["integration"], retried["status"]) == (first, "ops-hook", "pending")
    assert retried["next_attempt_at"] != "-"
    # the delivery that failed because this one did goes along; the other integration's is untouched
    assert await statuses(db_url) == {first: "pending", follower: "pending", done: "success"}
    pending = (await vigil("deliveries", "list", "--status", "pending")).stdout.splitlines()[1:]
    assert [row.split()[0] for row in pending] == [follower[:8], first[:8]]

    again = await vigil("deliveries", "retry", first)
    assert again.exit_code == 2
    assert errors(again) == [f"error: Delivery {first[:8]} is pending; only failed or cancelled ones are retried."]
    missing = await vigil("deliveries", "retry", "00000000-0000", "--json")
    assert missing.exit_code == 1 and json.loads(missing.stderr)["error"].startswith("No delivery")


async def test_retry_waits_for_a_disabled_integration(vigil: Vigil, db_url: str) -> None:
    hook = await add_webhook(vigil, "ops-hook", "https://hooks.example.com/v")
    queued = await add_delivery(db_url, hook["id"], await add_incident(db_url, 1), status="pending")
    assert (await vigil.ok("integrations", "disable", "ops-hook"))["cancelled"] == "1"
    assert await statuses(db_url) == {queued: "cancelled"}
    refused = await vigil("deliveries", "retry", queued)
    assert refused.exit_code == 2
    assert errors(refused) == ["error: Its integration ops-hook is disabled; enable it first."]
    await vigil.ok("integrations", "enable", "ops-hook")
    assert (await vigil.ok("deliveries", "retry", queued))["status"] == "pending"
    assert await statuses(db_url) == {queued: "pending"}
