"""Shared bench helpers: a migrated throw-away SQLite database and the seeded emulator."""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

from bot.emulator import SlackEmulator
from bot.manifest import load_manifest, manifest_events
from db.engine import make_engine
from db.migrate import upgrade


async def migrated_sqlite(path: Path) -> str:
    url = f"sqlite+aiosqlite:///{path}"
    engine = make_engine(url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    return url


def seeded_emulator(**kwargs: object) -> SlackEmulator:
    """The emulator as the real app sees Slack: only the manifest's events and scopes."""
    manifest = load_manifest()
    kwargs.setdefault("subscribed_events", manifest_events(manifest))
    kwargs.setdefault("scopes", manifest["oauth_config"]["scopes"]["bot"])
    emu = SlackEmulator(**kwargs)  # type: ignore[arg-type]
    emu.add_user("U0ALICE", "alice", is_admin=True)
    emu.add_user("U0BOB", "bob")
    emu.add_usergroup("S0SRE", "sre", users=["U0ALICE", "U0BOB"])
    emu.add_channel("incidents", members=["U0ALICE"], channel_id="C0INCIDENTS")
    emu.add_channel("general", members=["U0ALICE", "U0BOB"], channel_id="C0GENERAL")
    return emu


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def stats(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def write_json(figures: dict[str, object], path: str | None = None) -> None:
    """With `--json=PATH` (or `path`), the headline figures also go to PATH as JSON: what `bench.run_all` reads, so
    it never parses the human lines."""
    path = path or next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--json=")), None)
    if path:
        Path(path).write_text(json.dumps(figures, indent=2) + "\n")


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values):.3f} min {min(values):.3f} max {max(values):.3f} (n={len(values)})"
