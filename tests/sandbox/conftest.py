"""Replaying sandbox scripts in-process (fast: the migrated template database is copied) and reading the result."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.sandbox.printer import Printer
from bot.sandbox.render import PLAIN
from bot.sandbox.repl import run_script

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "p1-walk.txt"


@dataclass
class Run:
    code: int
    out: str
    err: str


Replay = Callable[[str], Awaitable[Run]]


@pytest.fixture
def replay(sqlite_template: Path) -> Replay:
    async def run(script: str) -> Run:
        out, err = io.StringIO(), io.StringIO()
        code = await run_script(script.splitlines(), Printer(out, PLAIN), errors=err, template=sqlite_template)
        return Run(code, out.getvalue(), err.getvalue())

    return run
