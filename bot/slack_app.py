"""The Bolt `AsyncApp`: listener registration, the middleware that hands services to listeners, event de-duplication,
draining on shutdown, and the one error handler that turns domain errors into an ephemeral reply.

Bolt runs global middleware one after the other (its `next()` only records that the request may go on), and starts
an event's listener as a task after the ack: whatever must happen after a listener (finishing an event claim) lives
in the listener wrapper, not in a middleware.
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

from bot.blocks.mrkdwn import clip, esc
from bot.container import Container
from bot.incidents.errors import VigilError
from bot.logs import quiet_payload_loggers
from bot.slack_reply import reply_privately
from db.engine import database_unavailable, outage_summary
from db.events import CLAIM_GRACE, claim_event, finish_event

log = logging.getLogger(__name__)

H = TypeVar("H", bound=Callable[..., Awaitable[Any]])

EVENT_ID_TTL = timedelta(days=1)
RESTARTING = ":hourglass_flowing_sand: Vigil is restarting; try again in a few seconds."
RESTARTING_FORM = "Vigil is restarting; submit again in a few seconds."
DATABASE_UNAVAILABLE = ":hourglass: Vigil could not reach its database; try again in a moment."
DATABASE_UNAVAILABLE_FORM = "Vigil could not reach its database; submit again in a moment."
SOMETHING_WRONG = ":x: Something went wrong on our side; it has been logged. Try again, or ask in the help channel."
NOT_SAVED = ":hourglass: Vigil could not reach its database:"  # a closed form's direct message starts with this
NOT_SAVED_MAX = 3000  # a direct message of a form's contents stays readable (Slack itself allows 40,000)
EVENT_CLAIM = "vigil_event_claim"  # context key: the event id this request claimed, finished by the listener wrapper


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
    """Domain errors become an ephemeral reply naming the fix; a database that cannot answer asks for a retry;
    anything else is logged and apologised for. Never a stack trace to the user."""
    if isinstance(error, VigilError):
        text = f":warning: {esc(error.message)}"  # `reopen <reason>` would read as a link; mentions stay
    elif database_unavailable(error):
        # The cause is known, and an outage fails every request alike: one line each, not a traceback each.
        log.warning("listener failed: database unavailable (%s)", outage_summary(error))
        text = not_saved(body.get("view") or {}) if body.get("type") == "view_submission" else DATABASE_UNAVAILABLE
    else:
        log.error("listener failed", exc_info=error)
        text = SOMETHING_WRONG
    try:
        await reply_privately(body, respond, slack, text)
    except Exception:
        log.warning("could not deliver the error reply", exc_info=True)


def not_saved(view: dict[str, Any]) -> str:
    """For a form whose modal already closed (acked) when the database failed: say that it was not saved, and give
    back what the person typed, so that submitting it again costs a copy and paste, not the memory of it."""
    title = str((view.get("title") or {}).get("text") or "")
    form = f"*{esc(title)}* form" if title else "form"
    text = f"{NOT_SAVED} your {form} was not saved. Submit it again in a moment."
    typed = [f"*{esc(label)}:* {esc(value)}" for label, value in typed_values(view)]
    if typed:
        text += "\nWhat you entered:\n" + "\n".join(f"> {line}" for entry in typed for line in entry.splitlines())
    return clip(text, NOT_SAVED_MAX)


def typed_values(view: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) of each input the person filled in a submitted view: typed text and picked options."""
    state = view.get("state")
    values = state.get("values") if isinstance(state, dict) else None
    blocks = view.get("blocks")
    if not isinstance(values, dict) or not isinstance(blocks, list):
        return []
    out = []
    for block in blocks:
        if not isinstance(block, dict) or block.get("type") != "input":
            continue
        label = block.get("label")
        label = str((label.get("text") if isinstance(label, dict) else None) or block.get("block_id") or "")
        filled = values.get(block.get("block_id"))
        for element in filled.values() if isinstance(filled, dict) else ():
            value = _value_of(element) if isinstance(element, dict) else ""
            if value:
                out.append((label, value))
    return out


def _value_of(element: dict[str, Any]) -> str:
    if element.get("value"):
        return str(element["value"])
    many = element.get("selected_options")
    picked = [element.get("selected_option"), *(many if isinstance(many, list) else ())]
    return ", ".join(_option_text(p) for p in picked if isinstance(p, dict))


def _option_text(option: dict[str, Any]) -> str:
    text = option.get("text")
    return str((text.get("text") if isinstance(text, dict) else None) or option.get("value") or "")


def first_input_block(view: dict[str, Any]) -> str | None:
    """The block Slack can show a modal error under: errors attach to input blocks only."""
    for block in view.get("blocks") or []:
        if isinstance(block, dict) and block.get("type") == "input" and block.get("block_id"):
            return str(block["block_id"])
    return None


async def answer_error(error: Exception, request: AsyncBoltRequest, slack: Any) -> None:
    """Ack if the listener had not (a modal error with a field goes under that field), then report."""
    ack = request.context.ack
    body = request.body
    if ack.response is None:
        if isinstance(error, VigilError) and error.field and body.get("type") == "view_submission":
            await ack(response_action="errors", errors={error.field: error.message})
            return
        block_id = first_input_block(body.get("view") or {}) if body.get("type") == "view_submission" else None
        if block_id is not None and database_unavailable(error):
            # The modal stays open with what the person typed, so "submit again" is one click.
            log.warning("view submission failed: database unavailable (%s)", outage_summary(error))
            await ack(response_action="errors", errors={block_id: DATABASE_UNAVAILABLE_FORM})
            return
        await ack()
    await report_error(error, body, request.context.respond, slack)


@dataclass(frozen=True)
class EventClaim:
    team_id: str
    event_id: str


async def finish_claim(container: Container, context: dict[str, Any]) -> None:
    """Mark the event this request claimed as handled, so a re-send is skipped even after the grace period."""
    claim = context.pop(EVENT_CLAIM, None)
    if not isinstance(claim, EventClaim):
        return
    try:
        async with container.sessions() as session, session.begin():
            await finish_event(session, team_id=claim.team_id, event_id=claim.event_id, now=container.clock.now())
    except Exception as exc:
        log.warning("could not mark event %s handled (%s); a re-send may handle it again", claim.event_id, exc)


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
        container = self.container
        slack = container.slack

        async def wrapper(request: AsyncBoltRequest) -> None:
            in_flight.enter()
            started = time.perf_counter()
            finished = False
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
                finished = True
            except Exception as exc:
                # A domain refusal is an answer given; anything else leaves the event claim open, so a re-send after
                # the grace period is handled again.
                finished = isinstance(exc, VigilError)
                await answer_error(exc, request, slack)
            finally:
                try:
                    if finished:
                        await finish_claim(container, request.context)
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
    # Bolt's logger is also its Socket Mode client's, which logs whole frames (response_url, user text) at DEBUG.
    quiet_payload_loggers()
    in_flight = InFlight()
    registry = Registry(app=app, container=container, in_flight=in_flight)

    @app.middleware
    async def refuse_while_draining(body: dict[str, Any], next: Callable[[], Awaitable[None]]) -> BoltResponse | None:
        if not in_flight.draining:
            await next()
            return None
        kind = body.get("type")
        if kind == "event_callback":
            # No ack: Slack re-sends the event, to another replica or to us after the restart.
            return BoltResponse(status=503, body="")
        if kind == "view_submission":
            return await refuse_submission(body)
        if kind == "view_closed":
            return BoltResponse(status=200, body="")
        return BoltResponse(status=200, body={"response_type": "ephemeral", "text": RESTARTING})

    async def refuse_submission(body: dict[str, Any]) -> BoltResponse:
        """Keep the modal open with the reason under its first field: an ack without errors would close it and lose
        what the person typed. A modal without inputs cannot show errors; it closes, and the reason goes by DM."""
        block_id = first_input_block(body.get("view") or {})
        if block_id is not None:
            return BoltResponse(status=200, body={"response_action": "errors", "errors": {block_id: RESTARTING_FORM}})
        user_id = str((body.get("user") or {}).get("id") or "")
        if user_id:
            try:
                await container.slack.chat_postMessage(channel=user_id, text=RESTARTING)
            except Exception as exc:
                log.warning("could not tell %s that Vigil is restarting (%s)", user_id, type(exc).__name__)
        return BoltResponse(status=200, body="")

    @app.middleware
    async def skip_duplicate_events(
        body: dict[str, Any], context: dict[str, Any], next: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if not event_id:
            await next()
            return None
        claim = EventClaim(team_id=str(body.get("team_id") or ""), event_id=str(event_id))
        now = container.clock.now()
        # In flight while the claim touches the database, so shutdown does not dispose the engine under it.
        in_flight.enter()
        try:
            async with container.sessions() as session, session.begin():
                fresh = await claim_event(
                    session,
                    team_id=claim.team_id,
                    event_id=claim.event_id,
                    expires_at=now + EVENT_ID_TTL,
                    now=now,
                    grace=CLAIM_GRACE,
                )
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            # Unclaimed, the event could be handled twice; unacked, Slack sends it again (after a minute, then five),
            # and the re-send that finds the database answering is handled, once.
            log.warning("event %s left unacked: its claim needs the database (%s)", event_id, outage_summary(exc))
            return BoltResponse(status=503, body="")
        finally:
            in_flight.leave()
        if fresh:
            context[EVENT_CLAIM] = claim
            await next()
            return None
        log.info("skipping event %s: handled, or being handled elsewhere", event_id)
        return BoltResponse(status=200, body="")

    @app.middleware
    async def inject_services(context: dict[str, Any], next: Callable[[], Awaitable[None]]) -> None:
        context["settings"] = settings
        context["clock"] = container.clock
        context["incidents"] = container.incidents
        context["queries"] = container.queries
        context["directory"] = container.directory
        context["admin"] = container.admin
        context["home"] = container.home
        context["sos"] = container.sos
        context["identities"] = container.identities
        context["integrations"] = container.integrations
        context["inbound"] = container.inbound
        context["pagerduty"] = container.pagerduty
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
