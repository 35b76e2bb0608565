"""Declaration speed with 100 ms added to every Slack Web API call, and the ack latency of 200 at once.

Round trips = time from the declare submission until channel, invites, pinned opening message, announcement and
topic are all in Slack, divided by 100 ms; and, counting every Web API call (the declarer's confirmation included),
until Vigil is idle again. Then slash-command acks with 200 in flight: `help` and `open` in the same run.

    .venv/bin/python -m bench.declare [--runs=N] [--trace] [--json=PATH]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import migrated_sqlite, pct, seeded_emulator, stats, write_json
from bot import slack_ids as ids
from bot.container import build_container
from bot.emulator import SlackEmulator
from bot.runtime import Runtime
from bot.settings import load_settings
from db.tags import TECH_INCIDENTS, set_conversation_tag

LATENCY = 0.1
RUNS = int(next((a.split("=")[1] for a in sys.argv if a.startswith("--runs=")), "10"))
IN_FLIGHT = 200


def values(title: str) -> dict[str, object]:
    return {
        ids.BLOCK_TITLE: {ids.ACTION_TITLE: {"type": "plain_text_input", "value": title}},
        ids.BLOCK_SEVERITY: {ids.ACTION_SEVERITY: {"type": "static_select", "selected_option": {"value": "P2"}}},
    }


def done(emu: SlackEmulator, title_slug: str) -> bool:
    channel = next((c for c in emu.state.channels.values() if c.name.endswith(title_slug)), None)
    if channel is None or not channel.topic or "U0ALICE" not in channel.members or not emu.state.pins.get(channel.id):
        return False
    return any(channel.id in str(m.blocks) for m in emu.state.history("C0INCIDENTS"))


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        emu = seeded_emulator(ack_timeout=30.0)
        await emu.start()
        db_url = await migrated_sqlite(Path(tmp) / "bench.db")
        settings = load_settings(
            env_file=None,
            SLACK_BOT_TOKEN=emu.bot_token,
            SLACK_APP_TOKEN=emu.app_token,
            SLACK_API_URL=emu.api_url,
            VIGIL_DATABASE_URL=db_url,
            VIGIL_HTTP_PORT=0,
        )
        container = build_container(settings)
        runtime = Runtime(container)
        await runtime.start(with_scheduler=False)
        async with container.sessions() as s, s.begin():
            await set_conversation_tag(
                s, team_id=runtime.team_id, tag=TECH_INCIDENTS, conversation_id="C0INCIDENTS", by=None
            )
        emu.latency = LATENCY
        figures: dict[str, object] = {"latency_s": LATENCY, "in_flight": IN_FLIGHT}
        try:
            durations, every_call = [], []
            assert runtime.slack_app is not None
            in_flight = runtime.slack_app.in_flight
            for n in range(RUNS + 1):
                started = time.perf_counter()
                await emu.send_view_submission(
                    user_id="U0ALICE",
                    callback_id=ids.VIEW_DECLARE,
                    values=values(f"bench {n}z"),
                    private_metadata='{"channel_id": "C0GENERAL"}',  # declared from #general: a confirmation too
                )
                while not done(emu, f"bench-{n}z"):  # noqa: ASYNC110 - polled: the last reply signals nothing
                    await asyncio.sleep(0.002)
                surfaces = time.perf_counter() - started
                await in_flight.idle()
                if n > 0:  # the first declaration also pays Bolt's one-off auth.test
                    durations.append(surfaces)
                    every_call.append(time.perf_counter() - started)
            if "--trace" in sys.argv:
                first = emu.calls_to("conversations.create")[-1].at
                for c in emu.calls:
                    if c.at >= first - 0.5:
                        print(f"  {c.at - first:+.3f} {c.method}")
            for label, series in (("all surfaces", durations), ("every call done", every_call)):
                trips = [d / LATENCY for d in series]
                figures[f"round_trips_{label.replace(' ', '_')}"] = stats(trips)
                print(
                    f"declare → {label}, in 100 ms round trips: median {statistics.median(trips):.2f} "
                    f"min {min(trips):.2f} max {max(trips):.2f} (n={RUNS})"
                )

            async def command(text: str) -> float:
                t = time.perf_counter()
                ack = await emu.send_slash_command(text, user_id="U0BOB", channel_id="C0GENERAL")
                assert ack.acked
                return time.perf_counter() - t

            mixed = await asyncio.gather(*(command("help" if n % 2 else "open P2 load") for n in range(IN_FLIGHT)))
            help_ms = [a * 1000 for n, a in enumerate(mixed) if n % 2]
            open_ms = [a * 1000 for n, a in enumerate(mixed) if not n % 2]
            for label, ms in (("help", help_ms), ("open", open_ms)):
                figures[f"ack_ms_{label}"] = {"p50": pct(ms, 50), "p99": pct(ms, 99), "max": max(ms)}
                print(
                    f"/incident {label} ack with {IN_FLIGHT} commands in flight (ms): "
                    f"p50 {pct(ms, 50):.0f} p99 {pct(ms, 99):.0f} max {max(ms):.0f}"
                )
            await asyncio.wait_for(in_flight.idle(), 300)

            async def timed(n: int) -> float:
                t = time.perf_counter()
                ack = await emu.send_view_submission(
                    user_id="U0BOB", callback_id=ids.VIEW_DECLARE, values=values(f"load {n}")
                )
                assert ack.acked
                return time.perf_counter() - t

            acks = await asyncio.gather(*(timed(n) for n in range(IN_FLIGHT)))
            ms = [a * 1000 for a in acks]
            figures["ack_ms_declare"] = {"p50": pct(ms, 50), "p99": pct(ms, 99), "max": max(ms)}
            print(
                f"ack latency with {IN_FLIGHT} in flight (ms): p50 {pct(ms, 50):.0f} p99 {pct(ms, 99):.0f} max {max(ms):.0f}"
            )
            await asyncio.wait_for(in_flight.idle(), 300)
            write_json(figures)
        finally:
            await runtime.stop()
            await container.aclose()
            await emu.stop()


if __name__ == "__main__":
    asyncio.run(main())
