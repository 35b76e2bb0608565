"""`vigil run` with an injected clock and short job timings: one replica of the slow multi-process tests.

    VIGIL_TEST_CLOCK_FILE=/tmp/clock python -m tests.jobs.replica

The clock is the ISO time written in that file, read at every look: the test moves it for every replica at once
(atomically, by renaming a new file over it). Everything else is the real `vigil run`, configured from the
environment.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import datetime
from pathlib import Path

from bot.jobs.service import JobTiming
from bot.runtime import run_forever
from bot.settings import load_settings

TIMING = JobTiming(renew_every=0.2, heartbeat=0.2, heartbeat_timeout=2.0, leader_poll=0.2, reconcile=0.2, wait_poll=0.1)


class FileClock:
    def __init__(self, path: Path) -> None:
        self.path = path

    def now(self) -> datetime:
        return datetime.fromisoformat(self.path.read_text().strip())


def set_clock(path: Path, when: datetime) -> None:
    """Move every replica's clock to `when` (written aside, then renamed: a reader never sees half a time)."""
    fresh = path.with_suffix(".new")
    fresh.write_text(when.isoformat())
    fresh.replace(path)


def main() -> None:
    settings = load_settings(require_slack=True)
    clock = FileClock(Path(os.environ["VIGIL_TEST_CLOCK_FILE"]))
    sys.exit(asyncio.run(run_forever(settings, clock=clock, job_timing=TIMING)))


if __name__ == "__main__":
    main()
