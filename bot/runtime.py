"""`vigil run`: Socket Mode, the sidecar and the scheduler on one loop, and a graceful stop on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest

from bot.container import Container, build_container
from bot.jobs.leader import Leadership, LocalLeader, PostgresLeader
from bot.logs import setup_logging
from bot.run_lock import AlreadyRunning, RunLock
from bot.scheduler import JobScheduler
from bot.settings import Settings
from bot.sidecar import build_sidecar
from bot.slack_app import SlackApp, build_slack_app
from db.migrate import current_revision, head_revision
from db.workspaces import record_workspace

log = logging.getLogger("vigil")

DRAIN_TIMEOUT = 7.0  # leaves room to close the socket and the engine inside the 10 s a supervisor usually grants


class StartupError(Exception):
    """A reason not to start, phrased for the operator."""


@dataclass
class Runtime:
    container: Container
    http_port: int | None = None  # the bound port (VIGIL_HTTP_PORT=0 picks a free one)
    team_id: str = ""
    slack_app: SlackApp | None = None
    handler: AsyncSocketModeHandler | None = None
    scheduler: JobScheduler | None = None  # only while this replica leads
    leader: Leadership | None = None
    leader_task: asyncio.Task[None] | None = None
    worker_task: asyncio.Task[None] | None = None
    steps_task: asyncio.Task[None] | None = None
    inbound_task: asyncio.Task[None] | None = None
    _runner: web.AppRunner | None = None
    _started: list[str] = field(default_factory=list)

    async def socket_connected(self) -> bool:
        return self.handler is not None and bool(await self.handler.client.is_connected())

    async def start(self, *, with_scheduler: bool = True, with_worker: bool = True) -> None:
        container = self.container
        settings = container.settings
        await container.open()
        await self._check_database()
        await self._record_workspace()

        self.slack_app = build_slack_app(container)
        app_token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else ""
        self.handler = AsyncSocketModeHandler(self.slack_app.app, app_token=app_token, web_client=container.slack)
        self.handler.client.socket_mode_request_listeners.insert(0, self._count_envelope)

        sidecar = build_sidecar(container, socket_connected=self.socket_connected)
        self._runner = web.AppRunner(sidecar, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, settings.http_host, settings.http_port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.http_port = sockets[0].getsockname()[1] if sockets else settings.http_port

        if with_scheduler:
            self.leader = self._leadership()
            self.leader_task = asyncio.create_task(self.leader.run(), name="vigil-leader")

        if with_worker:
            self.worker_task = asyncio.create_task(container.worker.run(), name="vigil-deliveries")
            self.steps_task = asyncio.create_task(container.incidents.steps.run_forever(), name="vigil-slack-steps")
            self.inbound_task = asyncio.create_task(container.inbound.run_forever(), name="vigil-inbound")

        await self.handler.connect_async()
        log.info(
            "connected to Slack over Socket Mode (team %s); sidecar on %s:%s",
            self.team_id,
            settings.http_host,
            self.http_port,
        )

    def _leadership(self) -> Leadership:
        """Scheduled jobs run on one replica: the holder of a PostgreSQL advisory lock (SQLite: this process)."""
        url = self.container.settings.db_url
        if url.get_backend_name() == "postgresql":
            return PostgresLeader(
                url=url, timing=self.container.jobs.timing, on_elected=self._start_jobs, on_lost=self._stop_jobs
            )
        return LocalLeader(on_elected=self._start_jobs, on_lost=self._stop_jobs)

    async def _start_jobs(self) -> None:
        scheduler = JobScheduler(jobs=self.container.jobs, team_id=self.team_id)
        await scheduler.start()
        self.scheduler = scheduler

    async def _stop_jobs(self) -> None:
        scheduler, self.scheduler = self.scheduler, None
        if scheduler is not None:
            await scheduler.stop()

    async def _count_envelope(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        self.container.metrics.envelopes.labels(type=req.type).inc()

    async def _check_database(self) -> None:
        try:
            revision = await current_revision(self.container.engine)
        except Exception as exc:
            raise StartupError(f"database unreachable ({type(exc).__name__}); check VIGIL_DATABASE_URL") from None
        if revision != head_revision():
            raise StartupError(
                f"database is at revision {revision or 'empty'}, this Vigil needs {head_revision()}; run `vigil migrate`"
            )

    async def _record_workspace(self) -> None:
        try:
            auth = await self.container.slack.auth_test()
        except SlackApiError as exc:
            raise StartupError(f"Slack refused SLACK_BOT_TOKEN ({exc.response.get('error')}); check the token") from None
        except Exception as exc:
            raise StartupError(f"Slack unreachable at SLACK_API_URL ({type(exc).__name__})") from None
        self.team_id = str(auth["team_id"])
        self.container.incidents.steps.team_id = self.team_id  # the Slack steps are this workspace's only
        async with self.container.sessions() as session, session.begin():
            await record_workspace(
                session,
                team_id=self.team_id,
                name=str(auth.get("team", "")),
                url=str(auth.get("url", "")),
                bot_user_id=str(auth.get("user_id", "")),
            )

    async def stop(self) -> None:
        """Stop taking work, let running listeners finish, then close the socket, the scheduler and the sidecar."""
        if self.slack_app is not None and not await self.slack_app.in_flight.drain(DRAIN_TIMEOUT):
            log.warning("%d listener(s) still running at shutdown", self.slack_app.in_flight.count)
        if self.handler is not None:
            await self.handler.close_async()
        if self.steps_task is not None:
            self.container.incidents.steps.stop()
            try:
                await asyncio.wait_for(self.steps_task, DRAIN_TIMEOUT)
            except TimeoutError:
                log.warning("Slack steps still in flight at shutdown; they resume after their lease")
            except Exception:
                log.exception("the Slack step worker stopped with an error")
        if self.inbound_task is not None:
            self.container.inbound.stop()
            try:
                await asyncio.wait_for(self.inbound_task, DRAIN_TIMEOUT)
                await asyncio.wait_for(self.container.inbound.drain(), DRAIN_TIMEOUT)
            except TimeoutError:
                log.warning("inbound deliveries still in flight at shutdown; they are processed after their lease")
            except Exception:
                log.exception("the inbound worker stopped with an error")
        if self.worker_task is not None:
            self.container.worker.stop()
            try:
                await asyncio.wait_for(self.worker_task, DRAIN_TIMEOUT)
            except TimeoutError:
                log.warning("deliveries still in flight at shutdown; they are sent again after their lease")
            except Exception:
                log.exception("the delivery worker stopped with an error")
        if self.leader is not None and self.leader_task is not None:
            self.leader.stop()
            try:
                await asyncio.wait_for(self.leader_task, DRAIN_TIMEOUT)
            except TimeoutError:
                log.warning("scheduled jobs still stopping at shutdown; their leases run out on their own")
            except Exception:
                log.exception("the scheduler's leadership stopped with an error")
        if self._runner is not None:
            await self._runner.cleanup()


async def run_forever(settings: Settings, **overrides: Any) -> int:
    """`vigil run`. `overrides` reach `build_container` (a test runs replicas with an injected clock)."""
    setup_logging(settings.log_format)
    container = build_container(settings, **overrides)
    try:
        with RunLock(settings.db_url):
            runtime = Runtime(container)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            try:
                await runtime.start()
                await stop.wait()
                log.info("stopping")
            finally:
                await runtime.stop()
    except (AlreadyRunning, StartupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        await container.aclose()
    log.info("stopped")
    return 0
