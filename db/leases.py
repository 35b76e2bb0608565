"""Keeping claims alive: a claimed row's lease is renewed for as long as the work it covers runs, so a slow Slack or
vendor call never lets another worker take the row, while a process that dies lets it go when the lease ends."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from db.engine import log_failure


async def renew_until(
    stop: asyncio.Event, *, every: float, renew: Callable[[], Awaitable[object]], log: logging.Logger, what: str
) -> None:
    """Call `renew` every `every` seconds until `stop` is set. A renewal that fails is logged (one line when the
    database is not answering) and tried again at the next beat: the lease is longer than a few beats."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
        if stop.is_set():
            return
        try:
            await renew()
        except Exception as exc:
            log_failure(log, exc, "could not renew the claim of %s; retrying", what)
