"""Inbound webhooks per second into the sidecar on PostgreSQL, beside a bare aiohttp handler on the same machine.

    .venv/bin/python -m bench.sidecar              # 5,000 requests per run, 50 in flight, 3 runs each
    .venv/bin/python -m bench.sidecar --quick      # 1,000 requests, 1 run each
    .venv/bin/python -m bench.sidecar --json=PATH  # the figures also as JSON in PATH (for bench.run_all)

Each request is what a vendor sends: a portable-contract body signed with `X-Vigil-Signature` under the integration's
inbound secret, with its own `X-Vigil-Delivery` id. Vigil's door reads the body, finds the integration and opens
its sealed secrets, checks the signature, parses the body, looks the incident up and inserts the inbox row (a unique
dedup id) in one transaction before answering 202. The reference names no incident, so the row is logged as
"ignored" and nothing is carried out afterwards: the figure is the answer path a vendor waits on. Every request is
then checked: one inbox row per delivery id, and a second pass re-sending 200 of them answers 200 "duplicate".

The bare handler reads the body and answers 202 with a small JSON: the ceiling aiohttp itself gives on this machine.
The load generator runs in this process too, so both figures pay for it alike; the ratio is what matters (aim
≥ 50 %). Needs PostgreSQL (`VIGIL_BENCH_POSTGRES_URL`, default the local server); a throw-away database is made
and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import aiohttp
from aiohttp import web
from sqlalchemy import func, select

from bench._common import write_json
from bench.deliveries import key_ring, pg_admin, pg_url
from bot.container import build_container
from bot.settings import load_settings
from bot.sidecar import build_sidecar
from db.engine import make_engine
from db.migrate import upgrade
from db.models import InboundDelivery
from db.workspaces import record_workspace
from integrations.service import IntegrationInput
from integrations.signing import sign_header

TEAM = "T0BENCH"


async def bare(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"ok": True, "outcome": "accepted"}, status=202)


async def serve(app: web.Application) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, port


async def blast(
    url: str, requests: Sequence[tuple[bytes, dict[str, str]]], *, in_flight: int
) -> tuple[float, dict[int, int]]:
    """Send every request, `in_flight` at a time; seconds taken and the count of each status answered."""
    statuses: dict[int, int] = {}
    queue = list(reversed(requests))
    connector = aiohttp.TCPConnector(limit=in_flight)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def one() -> None:
            while queue:
                body, headers = queue.pop()
                async with http.post(url, data=body, headers=headers) as resp:
                    await resp.read()
                    statuses[resp.status] = statuses.get(resp.status, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(in_flight)))
        return time.perf_counter() - started, statuses


def signed_requests(secret: str, count: int) -> list[tuple[bytes, dict[str, str]]]:
    now = int(time.time())
    out = []
    for n in range(count):
        body = json.dumps({"external_ref": f"vigil-{TEAM}-{10_000_000 + n}", "status": "resolved"}).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Vigil-Signature": sign_header(body, [secret], timestamp=now),
            "X-Vigil-Delivery": uuid.uuid4().hex,
        }
        out.append((body, headers))
    return out


async def main(args: argparse.Namespace) -> None:
    database = f"vigil_bench_{uuid.uuid4().hex[:8]}"
    await pg_admin(f'CREATE DATABASE "{database}"')
    try:
        url = pg_url(database)
        engine = make_engine(url)
        await upgrade(engine)
        await engine.dispose()
        settings = load_settings(env_file=None, VIGIL_DATABASE_URL=url, VIGIL_ENCRYPTION_KEYS=key_ring())
        container = build_container(settings)
        async with container.sessions() as session, session.begin():
            await record_workspace(session, team_id=TEAM, name="Bench", url="", bot_user_id="U0BOT")
        created = await container.integrations.add(
            team_id=TEAM,
            user_id=None,
            kind="webhook",
            change=IntegrationInput(name="bench", settings={"url": "https://x.invalid"}),
        )
        secret = created.shown_once["inbound_secret"]
        vigil_runner, vigil_port = await serve(build_sidecar(container, socket_connected=_connected))
        bare_app = web.Application(client_max_size=1024 * 1024)
        bare_app.router.add_post("/hooks/{kind}/{integration_id}", bare)
        bare_runner, bare_port = await serve(bare_app)
        path = f"/hooks/webhook/{created.integration.id}"
        vigil_rates: list[float] = []
        bare_rates: list[float] = []
        for run in range(args.runs):
            requests = signed_requests(secret, args.requests)
            seconds, statuses = await blast(f"http://127.0.0.1:{bare_port}{path}", requests, in_flight=args.in_flight)
            assert statuses == {202: len(requests)}, statuses
            bare_rates.append(len(requests) / seconds)
            seconds, statuses = await blast(f"http://127.0.0.1:{vigil_port}{path}", requests, in_flight=args.in_flight)
            assert statuses == {202: len(requests)}, statuses
            vigil_rates.append(len(requests) / seconds)
            _, statuses = await blast(f"http://127.0.0.1:{vigil_port}{path}", requests[:200], in_flight=args.in_flight)
            assert statuses == {200: 200}, statuses
            print(f"run {run + 1}: vigil {vigil_rates[-1]:,.0f}/s  bare {bare_rates[-1]:,.0f}/s")
        async with container.sessions() as session:
            rows = await session.scalar(select(func.count()).select_from(InboundDelivery))
            distinct = await session.scalar(select(func.count(func.distinct(InboundDelivery.dedup_id))))
        assert rows == distinct == args.runs * args.requests, (rows, distinct)
        best_vigil, best_bare = max(vigil_rates), max(bare_rates)
        print()
        machine = f"{platform.node()} · {os.cpu_count()} CPUs · Python {platform.python_version()}"
        print(f"machine: {machine} · {datetime.now(UTC):%Y-%m-%d}")
        print(f"command: python -m bench.sidecar --requests {args.requests} --in-flight {args.in_flight} --runs {args.runs}")
        vigil_line = f"best {best_vigil:,.0f}/s, median {statistics.median(vigil_rates):,.0f}/s"
        bare_line = f"best {best_bare:,.0f}/s, median {statistics.median(bare_rates):,.0f}/s"
        print(f"sidecar, verified + de-duplicated + stored on PostgreSQL: {vigil_line}")
        print(f"bare aiohttp handler:                                   {bare_line}")
        print(f"ratio: {best_vigil / best_bare:.0%} (aim ≥ 50 %); {rows:,} rows, one per delivery id; re-sends answered 200")
        write_json(
            {
                "requests": args.requests,
                "in_flight": args.in_flight,
                "runs": args.runs,
                "sidecar_per_s": {"best": best_vigil, "median": statistics.median(vigil_rates), "all": vigil_rates},
                "bare_per_s": {"best": best_bare, "median": statistics.median(bare_rates), "all": bare_rates},
                "ratio": best_vigil / best_bare,
                "rows": rows,
            },
            args.json,
        )
        await vigil_runner.cleanup()
        await bare_runner.cleanup()
        await container.aclose()
    finally:
        await pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


async def _connected() -> bool:
    return True


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--in-flight", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1,000 requests, one run")
    parser.add_argument("--json", metavar="PATH", help="also write the figures to PATH as JSON (for bench.run_all)")
    args = parser.parse_args(argv)
    if args.quick:
        args.requests, args.runs = 1000, 1
    return args


if __name__ == "__main__":
    asyncio.run(main(parse()))
