"""`SlackEmulator`: a loopback Slack (Web API + Socket Mode) with workspace state, for tests and `vigil sandbox`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

from aiohttp import web

from bot.emulator import forms
from bot.emulator.asyncutil import Background, Signal
from bot.emulator.drivers import Driver
from bot.emulator.events import EventBus
from bot.emulator.humans import Humans
from bot.emulator.ids import Clock, Ids
from bot.emulator.payloads import user_object, usergroup_object
from bot.emulator.records import AckResult, EnvelopeRecord, ProtocolError, RecordedCall
from bot.emulator.responses import ResponseUrls
from bot.emulator.socket_mode import SocketHub
from bot.emulator.state import AppIdentity, Channel, Message, ResponsePost, User, Usergroup, WorkspaceState
from bot.emulator.webapi import WebApi

DEFAULT_SCOPES: tuple[str, ...] = (
    "app_mentions:read",
    "bookmarks:read",
    "bookmarks:write",
    "channels:history",
    "channels:join",
    "channels:manage",
    "channels:read",
    "chat:write",
    "commands",
    "groups:history",
    "groups:read",
    "groups:write",
    "im:history",
    "im:write",
    "pins:read",
    "pins:write",
    "reactions:read",
    "reactions:write",
    "team:read",
    "usergroups:read",
    "users:read",
    "users:read.email",
)


class SlackEmulator:
    """Serves `/api/<method>`, the Socket Mode `/link/` websocket and `/response/<id>` on 127.0.0.1.

    Everything the app does is recorded (`calls`, `envelopes`, `state`); tests drive the app as Slack would
    (`send_slash_command`, `send_block_action`, `send_view_submission`, `user_reacts`…) and wait on the result."""

    def __init__(
        self,
        *,
        team_id: str = "T0VIGIL",
        team_name: str = "Acme",
        bot_user_id: str = "U0VIGILBOT",
        bot_id: str = "B0VIGIL",
        app_id: str = "A0VIGIL",
        bot_token: str = "xoxb-emulator",
        app_token: str = "xapp-emulator",
        clock: Clock = time.time,
        subscribed_events: set[str] | None = None,
        redelivery_delay: float = 3.0,
        ack_timeout: float = 3.0,
        bot_name: str = "vigil",
        scopes: Iterable[str] = DEFAULT_SCOPES,
    ) -> None:
        self.clock = clock
        identity = AppIdentity(
            team_id=team_id,
            team_name=team_name,
            domain="".join(ch for ch in team_name.lower() if ch.isalnum()) or "workspace",
            bot_user_id=bot_user_id,
            bot_id=bot_id,
            app_id=app_id,
            bot_token=bot_token,
            app_token=app_token,
            bot_name=bot_name,
            scopes=tuple(scopes),
        )
        self.state = WorkspaceState(identity=identity)
        self.ids = Ids(clock, team_id)
        self._signal = Signal()
        self._background = Background(on_done=self._signal.notify)
        self._hub = SocketHub(identity=identity, ids=self.ids, clock=clock, ack_timeout=ack_timeout, signal=self._signal)
        self._events = EventBus(
            hub=self._hub,
            identity=identity,
            ids=self.ids,
            clock=clock,
            background=self._background,
            subscribed_events=subscribed_events,
            redelivery_delay=redelivery_delay,
        )
        self._web = WebApi(
            state=self.state,
            ids=self.ids,
            clock=clock,
            emit=self._events.emit,
            signal=self._signal,
            issue_ticket=self._hub.issue_ticket,
        )
        self._driver = Driver(
            state=self.state, ids=self.ids, clock=clock, hub=self._hub, events=self._events, base_url=lambda: self.base_url
        )
        self._humans = Humans(state=self.state, ids=self.ids, clock=clock, events=self._events, driver=self._driver)
        self._responses = ResponseUrls(state=self.state, clock=clock, signal=self._signal, driver=lambda: self._driver)
        self._runner: web.AppRunner | None = None
        self.base_url = ""
        self.api_url = ""
        self.state.users[bot_user_id] = User(
            id=bot_user_id, name=bot_name, real_name=bot_name.capitalize(), is_bot=True, bot_id=bot_id
        )

    @property
    def bot_token(self) -> str:
        return self.state.identity.bot_token

    @property
    def app_token(self) -> str:
        return self.state.identity.app_token

    # ---- lifecycle ----------------------------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._web.handle)
        app.router.add_get("/link/", self._hub.handle)
        app.router.add_get("/link", self._hub.handle)
        app.router.add_post("/response/{id:.+}", self._responses.handle)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        bound_host, bound_port = runner.addresses[0][:2]
        self.base_url = f"http://{bound_host}:{bound_port}"
        self.api_url = f"{self.base_url}/api/"
        self._web.base_url = self.base_url

    async def stop(self) -> None:
        """Close sockets, cancel redeliveries and background events, free the port. Safe to call twice."""
        if self._runner is None:
            return
        await self._hub.shutdown()
        await self._background.cancel_all()
        await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> SlackEmulator:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # ---- recording ----------------------------------------------------------------------------------------------
    @property
    def calls(self) -> list[RecordedCall]:
        return self._web.calls

    def calls_to(self, method: str) -> list[RecordedCall]:
        return [c for c in self._web.calls if c.method == method]

    @property
    def envelopes(self) -> list[EnvelopeRecord]:
        """Every Socket Mode envelope, with its ack (redeliveries included); an attempt that found no socket has
        `sent_at` None, one written into a severed socket is `lost`: `delivered` is False for both."""
        return self._hub.envelopes

    def deliveries_of(self, event_id: str) -> list[EnvelopeRecord]:
        return [e for e in self._hub.envelopes if e.event_id == event_id]

    @property
    def protocol_errors(self) -> list[ProtocolError]:
        """Acks Slack would have refused (e.g. modal `errors` keyed by something other than an input block_id)."""
        return self._driver.protocol_errors

    @property
    def busy(self) -> bool:
        """True while an envelope awaits its ack or an event waits to be (re)delivered: the app has work coming."""
        return bool(len(self._background)) or self._hub.awaiting_acks > 0

    @property
    def latency(self) -> float:
        return self._web.latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        self._web.latency = seconds

    def fail_next(
        self, method: str, *, error: str = "ratelimited", status: int | None = None, retry_after: int = 0, times: int = 1
    ) -> None:
        """Queue failures for the next `times` calls to `method`."""
        self._web.fail_next(method, error=error, status=status, retry_after=retry_after, times=times)

    def storm(self, *, rate: float = 0.3, seed: int = 0, methods: set[str] | None = None, retry_after: int = 1) -> None:
        """From now on a `rate` share of calls (to `methods`, or to every method) fails as Slack fails under load:
        half HTTP 429 `ratelimited` with `Retry-After: retry_after`, half HTTP 500 `internal_error`, drawn from a
        generator seeded with `seed`. Nothing is done for a failed call. `auth.test` and `apps.connections.open` are
        spared, so the app stays connected; failures queued by `fail_next` come first. Until `calm()`."""
        self._web.storm(rate=rate, seed=seed, methods=methods, retry_after=retry_after)

    def calm(self) -> None:
        """End the storm: calls are answered normally again."""
        self._web.calm()

    def hold(self, method: str) -> None:
        """Calls to `method` wait (unanswered) until `release(method)`: a call in flight, frozen where a test wants."""
        self._web.hold(method)

    def release(self, method: str) -> None:
        self._web.release(method)

    def held(self, method: str) -> int:
        """How many calls to `method` are waiting at its hold."""
        return self._web.held(method)

    @property
    def record_responses(self) -> bool:
        """Whether `calls` keep each full response (a benchmark of big listings turns it off to measure the app)."""
        return self._web.record_responses

    @record_responses.setter
    def record_responses(self, value: bool) -> None:
        self._web.record_responses = value

    async def wait_until(self, predicate: Any, timeout: float = 5.0, what: str = "condition") -> Any:  # noqa: ASYNC109
        """Wait until `predicate()` is truthy (re-checked on every call, envelope, ack and response); returns it."""
        return await self._signal.wait_for(predicate, timeout, what)

    async def wait_for_call(self, method: str, *, count: int = 1, timeout: float = 5.0) -> list[RecordedCall]:  # noqa: ASYNC109
        def enough() -> list[RecordedCall] | None:
            calls = self.calls_to(method)
            return calls if len(calls) >= count else None

        try:
            result: list[RecordedCall] = await self._signal.wait_for(enough, timeout, f"{count} call(s) to {method}")
        except TimeoutError:
            seen = ", ".join(c.method for c in self.calls) or "none"
            raise TimeoutError(f"expected {count} call(s) to {method} within {timeout}s; calls so far: {seen}") from None
        return result

    def on_call(self, listener: Callable[[RecordedCall], None]) -> None:
        """Call `listener` with every Web API call once answered (the sandbox prints from here)."""
        self._web.listeners.append(listener)

    def form_values(self, user_id: str, answers: dict[str, Any], *, view_id: str | None = None) -> dict[str, Any]:
        """`state.values` for the user's top modal (or `view_id`), answering inputs by label or block_id."""
        view = self.state.views.get(view_id) if view_id else self.state.top_modal(user_id)
        if view is None:
            raise ValueError(f"{user_id} has no open modal")
        return forms.state_values(view.data.get("blocks") or [], answers)

    def responses_for(self, user_id: str) -> list[ResponsePost]:
        return self.state.responses_for(user_id)

    async def wait_for_response(self, user_id: str | None = None, *, count: int = 1, timeout: float = 5.0) -> ResponsePost:  # noqa: ASYNC109
        """The `count`-th response_url post (for `user_id`, when given)."""

        def nth() -> ResponsePost | None:
            posts = [r for r in self.state.responses if user_id is None or r.user_id == user_id]
            return posts[count - 1] if len(posts) >= count else None

        result: ResponsePost = await self._signal.wait_for(nth, timeout, f"response #{count} for {user_id or 'anyone'}")
        return result

    # ---- seeding ------------------------------------------------------------------------------------------------
    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        real_name: str | None = None,
        email: str | None = None,
        is_admin: bool = False,
        is_owner: bool = False,
        is_restricted: bool = False,
        is_bot: bool = False,
        deleted: bool = False,
        tz: str = "UTC",
    ) -> dict[str, Any]:
        user = User(
            id=user_id,
            name=name,
            real_name=real_name or name.capitalize(),
            email=email,
            is_admin=is_admin or is_owner,
            is_owner=is_owner,
            is_restricted=is_restricted,
            is_bot=is_bot,
            deleted=deleted,
            tz=tz,
            updated=int(self.clock()),
        )
        self.state.users[user_id] = user
        return user_object(self.state.identity, user)

    def seed_users(
        self,
        count: int,
        *,
        prefix: str = "U1",
        deleted_every: int = 0,
        admin_every: int = 0,
        timezones: tuple[str, ...] = ("UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo"),
    ) -> list[str]:
        """Seed `count` people at once (a big workspace): ids `<prefix>0000001`…, each with an email and a time zone;
        every `deleted_every`-th is deleted and every `admin_every`-th an admin (0: none). Returns the ids."""
        updated = int(self.clock())
        ids = []
        for n in range(1, count + 1):
            user_id = f"{prefix}{n:07d}"
            name = f"person{n}"
            self.state.users[user_id] = User(
                id=user_id,
                name=name,
                real_name=f"Person {n}",
                email=f"{name}@acme.example",
                is_admin=bool(admin_every) and n % admin_every == 0,
                deleted=bool(deleted_every) and n % deleted_every == 0,
                tz=timezones[n % len(timezones)],
                updated=updated,
            )
            ids.append(user_id)
        return ids

    def add_usergroup(
        self, usergroup_id: str, handle: str, *, name: str | None = None, users: Iterable[str] = ()
    ) -> dict[str, Any]:
        group = Usergroup(id=usergroup_id, handle=handle, name=name or handle, users=list(users), created=int(self.clock()))
        self.state.usergroups[usergroup_id] = group
        return usergroup_object(self.state.identity, group, include_users=True)

    def disable_usergroup(self, usergroup_id: str) -> None:
        """An admin disables the group in Slack: usergroups.list shows it only with include_disabled."""
        self.state.usergroups[usergroup_id].disabled_at = int(self.clock())

    def add_channel(
        self,
        name: str,
        *,
        is_private: bool = False,
        members: Iterable[str] = (),
        channel_id: str | None = None,
        bot_member: bool = True,
        is_general: bool = False,
        topic: str = "",
        purpose: str = "",
    ) -> str:
        """Seed a conversation (no events); returns its id. The bot is a member unless `bot_member=False`."""
        member_ids = list(dict.fromkeys(members))
        bot = self.state.identity.bot_user_id
        if bot_member and bot not in member_ids:
            member_ids.append(bot)
        channel = Channel(
            id=channel_id or self.ids.sequential("C"),
            name=name.lstrip("#"),
            is_private=is_private,
            members=member_ids,
            creator=member_ids[0] if member_ids else bot,
            created=int(self.clock()),
            is_general=is_general,
            topic=topic,
            purpose=purpose,
        )
        self.state.channels[channel.id] = channel
        self.state.messages.setdefault(channel.id, [])
        return channel.id

    def add_message(
        self, channel_id: str, user_id: str, text: str, *, blocks: list[Any] | None = None, thread_ts: str | None = None
    ) -> str:
        """Seed history without telling the app; returns the message ts."""
        message = Message(ts=self.ids.ts(), channel=channel_id, user=user_id, text=text, blocks=blocks, thread_ts=thread_ts)
        if user_id == self.state.identity.bot_user_id:
            message.bot_id = self.state.identity.bot_id
        self.state.history(channel_id).append(message)
        return message.ts

    # ---- socket mode --------------------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return bool(self._hub.active)

    @property
    def num_connections(self) -> int:
        return len(self._hub.active)

    @property
    def connections_opened(self) -> int:
        """Sockets accepted since start (reconnects count)."""
        return self._hub.connections_opened

    async def wait_connected(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        await self._signal.wait_for(lambda: self._hub.active, timeout, "a Socket Mode connection")

    async def disconnect_all(self, reason: str = "refresh_requested") -> None:
        await self._hub.disconnect_all(reason)

    async def close_connections(self) -> None:
        """Drop every socket abruptly (a CLOSE frame, no `disconnect` message)."""
        await self._hub.close_all()

    def sever_connections(self) -> None:
        """The sockets open now die silently (a network partition): envelopes sent on them, `disconnect` messages
        included, never reach the app and its acks never come back, yet Slack still counts them as connected. Unacked
        events are redelivered after the ack timeout. `close_connections()` is how the app finally notices (in life,
        its heartbeat times out), reconnects, and gets the redeliveries on the new socket."""
        self._hub.sever_all()

    def lose_acks(self) -> None:
        """Acks the app sends on the sockets open now are lost, as acks in flight are when a socket dies: the app
        handled the event, Slack never hears so and re-sends it (`EnvelopeRecord.ack_lost`). New sockets are healthy."""
        self._hub.lose_acks()

    # ---- driving the app ----------------------------------------------------------------------------------------
    def new_trigger_id(self, user_id: str = "") -> str:
        return self._driver.new_trigger_id(user_id)

    async def send_slash_command(self, text: str, *, user_id: str, channel_id: str, command: str = "/incident") -> AckResult:
        return await self._driver.slash_command(text, user_id=user_id, channel_id=channel_id, command=command)

    async def send_event(self, event: dict[str, Any], *, event_id: str | None = None) -> AckResult:
        """Deliver an inner event in an `event_callback` envelope, whatever the subscriptions; redelivered if unacked.
        With no socket connected the attempt fails at once, as Slack's does, and the app first sees it as a retry."""
        return await self._events.deliver(event, event_id=event_id)

    async def send_block_action(
        self,
        *,
        user_id: str,
        action_id: str,
        value: str | None = None,
        block_id: str | None = None,
        channel_id: str | None = None,
        message_ts: str | None = None,
        view_id: str | None = None,
        selected: dict[str, Any] | None = None,
    ) -> AckResult:
        return await self._driver.block_action(
            user_id=user_id,
            action_id=action_id,
            value=value,
            block_id=block_id,
            channel_id=channel_id,
            message_ts=message_ts,
            view_id=view_id,
            selected=selected,
        )

    async def send_view_submission(
        self,
        *,
        user_id: str,
        view_id: str | None = None,
        callback_id: str | None = None,
        values: dict[str, Any],
        private_metadata: str | None = None,
    ) -> AckResult:
        return await self._driver.view_submission(
            user_id=user_id, view_id=view_id, callback_id=callback_id, values=values, private_metadata=private_metadata
        )

    async def send_view_closed(self, *, user_id: str, view_id: str | None = None) -> AckResult | None:
        """The user cancels a modal; `view_closed` goes to the app only if the view set `notify_on_close`."""
        return await self._driver.view_closed(user_id=user_id, view_id=view_id)

    async def send_app_home_opened(self, *, user_id: str) -> AckResult:
        return await self._driver.app_home_opened(user_id=user_id)

    # ---- humans -------------------------------------------------------------------------------------------------
    async def user_posts(self, user_id: str, channel_id: str, text: str, *, thread_ts: str | None = None) -> str:
        return await self._humans.user_posts(user_id, channel_id, text, thread_ts=thread_ts)

    async def user_reacts(self, user_id: str, channel_id: str, ts: str, reaction: str) -> AckResult | None:
        return await self._humans.user_reacts(user_id, channel_id, ts, reaction)

    async def user_unreacts(self, user_id: str, channel_id: str, ts: str, reaction: str) -> AckResult | None:
        return await self._humans.user_reacts(user_id, channel_id, ts, reaction, added=False)

    async def user_joins(self, user_id: str, channel_id: str, *, inviter: str | None = None) -> AckResult | None:
        return await self._humans.user_joins(user_id, channel_id, inviter=inviter)

    async def user_leaves(self, user_id: str, channel_id: str) -> AckResult | None:
        return await self._humans.user_leaves(user_id, channel_id)
