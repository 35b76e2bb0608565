"""`vigil integrations inbound`: the log of one integration's webhooks, and retrying a failed one, through the real
command line beside a running Vigil."""

from __future__ import annotations

import asyncio
import json
import os

from click.testing import CliRunner
from sqlalchemy import update

from bot.cli.main import cli
from db.models import InboundDelivery
from tests.inbound.conftest import Hooks


async def vigil_cli(hooks: Hooks, db_url: str, *args: str) -> tuple[int, str]:
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith(("SLACK_", "VIGIL_"))}
    env = {**unset, "VIGIL_DATABASE_URL": db_url, "VIGIL_ENCRYPTION_KEYS": hooks.keys}
    result = await asyncio.to_thread(CliRunner().invoke, cli, list(args), env=env, prog_name="vigil", catch_exceptions=False)
    return result.exit_code, result.stdout + result.stderr


async def test_the_log_says_what_arrived_and_a_failed_one_can_be_retried(hooks: Hooks, db_url: str) -> None:
    incident = await hooks.declare()
    hooked = await hooks.add("webhook", "alerts")
    await hooks.portable(hooked, {"external_ref": incident.external_key, "status": "acknowledged"})
    await hooks.post(hooked, b'{"external_ref": "x", "status": "resolved"}', {"X-Vigil-Signature": "t=1,v1=" + "0" * 64})
    await hooks.processed()

    code, out = await vigil_cli(hooks, db_url, "integrations", "inbound", "alerts", "--json")
    assert code == 0, out
    rows = json.loads(out)
    assert [(r["verified"], r["http_status"], r["status"]) for r in rows] == [(False, 401, "refused"), (True, 202, "done")]
    assert rows[1]["incident"] == f"INC-{incident.number}" and "acknowledged" in rows[1]["outcome"]
    assert hooked.secrets["inbound_secret"] not in out

    code, out = await vigil_cli(hooks, db_url, "integrations", "inbound", "alerts", "--retry", str(rows[1]["id"]))
    assert code != 0 and "only a failed one can be retried" in out

    # A failed row (the database was down at the time, say) is carried out again on --retry.
    resolve = {"external_ref": incident.external_key, "status": "resolved", "note": "from the retry"}
    async with hooks.vigil.container.sessions() as session, session.begin():
        await session.execute(update(InboundDelivery).values(status="failed"))
        session.add(
            InboundDelivery(
                team_id=hooks.vigil.team_id,
                integration_id=hooked.id,
                kind="webhook",
                dedup_id="manual",
                received_at=hooks.vigil.container.clock.now(),
                verified=True,
                status="failed",
                http_status=202,
                outcome="failed: OperationalError",
                instructions=[
                    {"action": "resolve", "ref": {"kind": "key", "value": incident.external_key}, "text": "from the retry"}
                ],
                attempts=5,
            )
        )
    code, out = await vigil_cli(hooks, db_url, "integrations", "inbound", "alerts")
    failed_id = next(line.split()[0] for line in out.splitlines() if "OperationalError" in line)
    code, out = await vigil_cli(hooks, db_url, "integrations", "inbound", "alerts", "--retry", failed_id, "--json")
    assert code == 0, out
    assert json.loads(out)["status"] == "pending"
    await hooks.vigil.container.inbound.run_once()
    [row] = await hooks.vigil.incidents()
    assert row.status == "resolved" and row.resolution == resolve["note"]
