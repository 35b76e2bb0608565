"""One PagerDuty integration's sync: services, users, escalation policies, schedules (classic from `/schedules`, and
shift-based ones, which that endpoint leaves out, from `/v3/schedules`) and the on-calls of the next seven days.

Pages are fetched one at a time in a worker thread and written as they arrive, one bulk upsert each, so memory stays
flat however large the account; what PagerDuty no longer lists is deleted only after a complete listing (a listing
cut short by PagerDuty's offset limit deletes nothing). On-calls are a window in time and are replaced as a whole,
in one transaction. A 429 is waited out for `ratelimit-reset` (the client's injected sleep), a few times per request.
Slack users are then matched to PagerDuty users by email; a manual link always wins. The run is recorded in
`pagerduty_sync` (start, last success, counts, and the sanitised error of a failed run) for `/incident oncall`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from db.models import PagerDutyPolicy, PagerDutySchedule, PagerDutyService, PagerDutyUser
from db.pagerduty import (
    Directory,
    delete_unseen,
    finish_sync,
    match_users_by_email,
    replace_oncalls,
    start_sync,
    upsert_directory,
)
from integrations.base import ERROR_LIMIT, ConfigProblem, Configured, DeliveryFailed, without_secrets
from integrations.pagerduty.client import PagerDutyApi

log = logging.getLogger(__name__)

LOOKAHEAD = timedelta(days=7)
WAITS = 5  # 429s one request waits out before the sync gives up (and the next run tries again)

Row = dict[str, Any]
ToRow = Callable[[Mapping[str, Any]], Row | None]


@dataclass(frozen=True)
class SyncReport:
    integration_id: str
    name: str
    ok: bool
    counts: Mapping[str, int] = field(default_factory=dict)
    error: str | None = None


def _text(value: Any, limit: int) -> str | None:
    return str(value)[:limit] if isinstance(value, str | int) and str(value) else None


def _ref(value: Any) -> str | None:
    """The id of a reference object (`{"id": …, "type": "…_reference"}`)."""
    return _text(value.get("id"), 32) if isinstance(value, Mapping) else None


def _base(item: Mapping[str, Any]) -> Row | None:
    pd_id = _text(item.get("id"), 32)
    if pd_id is None:
        return None
    name = _text(item.get("name") or item.get("summary"), 255) or pd_id
    return {"pd_id": pd_id, "name": name, "html_url": _text(item.get("html_url"), 1024)}


def service_row(item: Mapping[str, Any]) -> Row | None:
    row = _base(item)
    return row and {**row, "escalation_policy_id": _ref(item.get("escalation_policy"))}


def user_row(item: Mapping[str, Any]) -> Row | None:
    row = _base(item)
    return row and {**row, "email": _text(item.get("email"), 320), "time_zone": _text(item.get("time_zone"), 64)}


def schedule_row(version: str) -> ToRow:
    def to_row(item: Mapping[str, Any]) -> Row | None:
        row = _base(item)
        return row and {**row, "version": version, "time_zone": _text(item.get("time_zone"), 64)}

    return to_row


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def oncall_row(item: Mapping[str, Any]) -> Row | None:
    """One `/oncalls` entry; its schedule is null for a user named in the policy itself (a permanent on-call), and a
    reference to a classic or a v3 schedule otherwise."""
    policy, user = _ref(item.get("escalation_policy")), _ref(item.get("user"))
    level = item.get("escalation_level")
    if policy is None or user is None or not isinstance(level, int):
        return None
    return {
        "escalation_policy_id": policy,
        "level": level,
        "user_id": user,
        "schedule_id": _ref(item.get("schedule")),
        "starts_at": _when(item.get("start")),
        "ends_at": _when(item.get("end")),
    }


class IntegrationSync:
    """Syncs one integration through `api` (whose `waits` and `sleep` decide how 429s are waited out)."""

    def __init__(
        self, *, sessions: async_sessionmaker[AsyncSession], clock: Clock, api: PagerDutyApi, integration: Configured
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.api = api
        self.integration = integration

    async def run(self) -> SyncReport:
        started = self.clock.now()
        integration = self.integration
        async with self.sessions() as session, session.begin():
            await start_sync(session, team_id=integration.team_id, integration_id=integration.id, at=started)
        counts: dict[str, int] = {}
        error: str | None = None
        try:
            counts["services"] = await self._listing(PagerDutyService, [("/services", "services", service_row)], started)
            counts["users"] = await self._listing(PagerDutyUser, [("/users", "users", user_row)], started)
            counts["policies"] = await self._listing(
                PagerDutyPolicy, [("/escalation_policies", "escalation_policies", _base)], started
            )
            counts["schedules"] = await self._listing(
                PagerDutySchedule,
                [("/schedules", "schedules", schedule_row("classic")), ("/v3/schedules", "schedules", schedule_row("v3"))],
                started,
            )
            counts["oncalls"] = await self._oncalls(started)
            async with self.sessions() as session, session.begin():
                counts["matched"] = await match_users_by_email(
                    session, team_id=integration.team_id, integration_id=integration.id, at=started
                )
        except (DeliveryFailed, ConfigProblem) as exc:
            error = without_secrets(str(exc), integration.secrets.values())[:ERROR_LIMIT]
        except Exception as exc:  # a bug or a shape nobody expected: logged with its trace, recorded by type only
            log.exception("pagerduty sync of integration %s failed unexpectedly", integration.id)
            error = f"internal error ({type(exc).__name__}); see Vigil's log"
        counts["requests"], counts["rate_limited"] = self.api.requests, self.api.rate_limited
        async with self.sessions() as session, session.begin():
            await finish_sync(
                session, integration_id=integration.id, ok=error is None, at=self.clock.now(), counts=counts, error=error
            )
        if error is not None:
            log.warning("pagerduty sync of integration %s failed: %s", integration.id, error)
        return SyncReport(integration.id, integration.name, error is None, counts, error)

    async def _pages(
        self, path: str, key: str, params: Mapping[str, Any] | None = None
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """The listing's pages, each fetched in a worker thread (the library blocks)."""
        pages: Iterator[list[dict[str, Any]]] = self.api.pages(path, key, params)
        while (page := await asyncio.to_thread(next, pages, None)) is not None:
            yield page

    async def _listing(self, model: Directory, sources: Sequence[tuple[str, str, ToRow]], at: datetime) -> int:
        integration = self.integration
        seen: set[str] = set()
        complete = True
        for path, key, to_row in sources:
            async for page in self._pages(path, key):
                rows = [row for row in map(to_row, page) if row is not None]
                async with self.sessions() as session, session.begin():
                    await upsert_directory(
                        session, model, team_id=integration.team_id, integration_id=integration.id, rows=rows, at=at
                    )
                seen.update(row["pd_id"] for row in rows)
            complete = complete and not self.api.truncated
        if complete:
            async with self.sessions() as session, session.begin():
                await delete_unseen(session, model, integration_id=integration.id, seen=seen)
        else:
            log.warning(
                "pagerduty %s of integration %s: more than PagerDuty lists; none deleted",
                model.__tablename__,
                integration.id,
            )
        return len(seen)

    async def _oncalls(self, since: datetime) -> int:
        params = {"since": since.isoformat(), "until": (since + LOOKAHEAD).isoformat()}
        rows: dict[tuple[Any, ...], Row] = {}
        async for page in self._pages("/oncalls", "oncalls", params):
            for row in filter(None, map(oncall_row, page)):
                rows.setdefault(tuple(row.values()), row)
        async with self.sessions() as session, session.begin():
            return await replace_oncalls(
                session, team_id=self.integration.team_id, integration_id=self.integration.id, rows=list(rows.values())
            )
