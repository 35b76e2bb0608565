"""The Bolt `AsyncApp`: listener registration, the middleware that hands services to listeners, event de-duplication,
draining on shutdown, and the one error handler that turns domain errors into an ephemeral reply.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.kwargs_injection.async_utils import build_async_required_kwargs
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_bolt.util.utils import get_arg_names_of_callable

from bot.container import Container
from bot.incidents.errors import VigilError
from db.events import claim_event

log = logging.getLogger(__name__)

H = TypeVar("H", bound=Callable[..., Awaitable[Any]])

EVENT_ID_TTL = timedelta(days=1)
RESTARTING = ":hourglass_flowing_sand: Vigil is restarting; try again in a few seconds."


class InFlight:
    """Counts running listeners so shutdown can wait for them, and refuses new work once draining."""

    def __init__(self) -> None:
        self.count = 0
        self.draining = False
        self._idle = asyncio.Event()
        self._idle.set()

    def enter(self) -> None:
        self.count += 1
        self._idle.clear()

    def leave(self) -> None:
        self.count -= 1
        if self.count == 0:
            self._idle.set()

    async def idle(self) -> None:
        """Wait until no listener is running (tests use it to let a door's work finish)."""
        await self._idle.wait()

    async def drain(self, timeout: float) -> bool:  # noqa: ASYNC109 - a deadline, not a cancel scope
        """Stop taking work and wait for running listeners; False if some were still running at the timeout."""
        self.draining = True
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True


async def report_error(error: Exception, body: dict[str, Any], respond: AsyncRespond | None, slack: Any) -> None:
    """Domain errors become an ephemeral reply naming the fix; anything else is logged and apologised for."""
    if isinstance(error, VigilError):
        text = f":warning: {error.message}"
    else:
        log.error("listener failed", exc_info=error)
        text = ":x: Something went wrong on our side; it has been logged. Try again, or ask in the help channel."
    try:
        if respond is not None and (body.get("response_url") or body.get("response_urls")):
            await respond(text=text, response_type="ephemeral", replace_original=False)
            return
        user_id = (body.get("user") or {}).get("id") or body.get("user_id")
        if user_id:
            # A modal submission has no response_url: a direct message is the one place the user will see it.
            await slack.chat_postMessage(channel=str(user_id), text=text)
    except Exception:
        log.warning("could not deliver the error reply", exc_info=True)


async def answer_error(error: Exception, request: AsyncBoltRequest, slack: Any) -> None:
    """Ack if the listener had not (a modal error with a field goes under that field), then report."""
    ack = request.context.ack
    body = request.body
    if ack.response is None:
        if isinstance(error, VigilError) and error.field and body.get("type") == "view_submission":
            await ack(response_action="errors", errors={error.field: error.message})
            return
        await ack()
    await report_error(error, body, request.context.respond, slack)


@dataclass
class Registry:
    """Registers listeners on the app, wrapped for in-flight tracking and latency, and remembers what it registered
    (the manifest test compares that with manifest.yml)."""

    app: AsyncApp
    container: Container
    in_flight: InFlight
    commands: set[str] = field(default_factory=set)
    events: set[str] = field(default_factory=set)
    actions: set[str] = field(default_factory=set)
    views: set[str] = field(default_factory=set)
    shortcuts: set[str] = field(default_factory=set)

    def _wrap(self, kind: str, ident: str, func: H) -> H:
        """Run `func` with the arguments it names (Bolt's own injection), count it in flight, time it, and turn any
        error into a reply here.

        Errors are not re-raised to Bolt: when a listener raises right after `ack()`, Bolt's runner resets the ack
        before it is sent (slack_bolt 1.30 asyncio_runner), and Slack shows the user a timeout instead of our answer.
        """
        histogram = self.container.metrics.handler_seconds.labels(kind=kind, id=ident)
        in_flight = self.in_flight
        arg_names = get_arg_names_of_callable(func)
        slack = self.container.slack

        async def wrapper(request: AsyncBoltRequest) -> None:
            in_flight.enter()
            started = time.perf_counter()
            try:
                kwargs = build_async_required_kwargs(
                    logger=log,
                    required_arg_names=list(arg_names),
                    request=request,
                    response=None,
                    this_func=func,
                    next_keys_required=False,
                )
                await func(**kwargs)
            except Exception as exc:
                await answer_error(exc, request, slack)
            finally:
                histogram.observe(time.perf_counter() - started)
                in_flight.leave()

        wrapper.__name__ = getattr(func, "__name__", "listener")
        return wrapper  # type: ignore[return-value]

    def command(self, name: str) -> Callable[[H], H]:
        def deco(func: H) -> H:
            self.commands.add(name)
            self.app.command(name)(self._wrap("command", name, func))
            return func

        return deco

    def event(self, event_type: str) -> Callable[[H], H]:
        def deco(func: H) -> H:
            self.events.add(event_type)
            self.app.event(event_type)(self._wrap("event", event_type, func))
            return func

        return deco

    def action(self, action_id: str) -> Callable[[H], H]:
        def deco(func: H) -> H:
            self.actions.add(action_id)
            self.app.action(action_id)(self._wrap("action", action_id, func))
            return func

        return deco

    def view(self, callback_id: str) -> Callable[[H], H]:
        def deco(func: H) -> H:
            self.views.add(callback_id)
            self.app.view(callback_id)(self._wrap("view", callback_id, func))
            return func

        return deco

    def shortcut(self, callback_id: str) -> Callable[[H], H]:
        def deco(func: H) -> H:
            self.shortcuts.add(callback_id)
            self.app.shortcut(callback_id)(self._wrap("shortcut", callback_id, func))
            return func

        return deco


@dataclass
class SlackApp:
    app: AsyncApp
    registry: Registry
    in_flight: InFlight


def build_slack_app(container: Container) -> SlackApp:
    settings = container.settings
    app = AsyncApp(
        client=container.slack,
        # Socket Mode needs no signing secret; Bolt still wants the argument to be explicit.
        signing_secret="",
        request_verification_enabled=False,
        ignoring_self_events_enabled=True,
        url_verification_enabled=False,
        logger=logging.getLogger("vigil.bolt"),
    )
    in_flight = InFlight()
    registry = Registry(app=app, container=container, in_flight=in_flight)

    @app.middleware
    async def refuse_while_draining(body: dict[str, Any], next: Callable[[], Awaitable[None]]) -> BoltResponse | None:
        if not in_flight.draining:
            # In flight from the first middleware on: the event-id claim below touches the database before any
            # listener runs, and shutdown must not dispose the engine under it.
            in_flight.enter()
            try:
                await next()
                # Bolt starts a listener as a task after the ack; one turn of the loop lets it enter before we leave.
                await asyncio.sleep(0)
            finally:
                in_flight.leave()
            return None
        if body.get("type") == "event_callback":
            # No ack: Slack re-sends the event, to another replica or to us after the restart.
            return BoltResponse(status=503, body="")
        return BoltResponse(status=200, body={"response_type": "ephemeral", "text": RESTARTING})

    @app.middleware
    async def skip_duplicate_events(body: dict[str, Any], next: Callable[[], Awaitable[None]]) -> BoltResponse | None:
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if not event_id:
            await next()
            return None
        async with container.sessions() as session, session.begin():
            fresh = await claim_event(
                session,
                team_id=str(body.get("team_id") or ""),
                event_id=str(event_id),
                expires_at=container.clock.now() + EVENT_ID_TTL,
            )
        if fresh:
            await next()
            return None
        log.info("skipping event %s: already handled", event_id)
        return BoltResponse(status=200, body="")

    @app.middleware
    async def inject_services(context: dict[str, Any], next: Callable[[], Awaitable[None]]) -> None:
        context["container"] = container
        context["settings"] = settings
        context["clock"] = container.clock
        context["sessions"] = container.sessions
        context["incidents"] = container.incidents
        context["directory"] = container.directory
        for name, service in container.extras.items():
            context[name] = service
        await next()

    @app.error
    async def on_error(error: Exception, body: dict[str, Any], respond: AsyncRespond | None) -> None:
        """Errors outside listeners (middleware); listener errors are answered by `answer_error` in the wrapper."""
        await report_error(error, body, respond, container.slack)

    from commands import register as register_commands
    from listeners import register as register_listeners

    register_commands(registry)
    register_listeners(registry)
    return SlackApp(app=app, registry=registry, in_flight=in_flight)
