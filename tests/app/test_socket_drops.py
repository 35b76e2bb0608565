"""Socket Mode drops mid-traffic, made the way Slack makes them: Vigil's socket is refreshed, dies silently, loses
the acks it carried, and is gone while events arrive. Slack re-sends whatever it saw no ack for, with the same
event_id; every event must take effect exactly once, and none may be lost.

The stream: for each of ten incidents, Bob's :eyes: on the opening message (acknowledges it: one "ack" timeline
entry) and Erin joining its channel (one membership row). Bolt reconnects on its own; the test never touches it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import func, select

from bot import slack_ids as ids
from bot.emulator import AckResult, EnvelopeRecord, SlackEmulator
from bot.incidents.states import Severity
from bot.manifest import load_manifest, manifest_events
from db.models import Incident, IncidentMember, ProcessedEvent, TimelineEvent
from tests.app.conftest import ALICE, BOB, Vigil, seed

pytestmark = pytest.mark.slow

ERIN = "U0ERIN"  # joins every incident channel during the stream; no incident knew her before
ACK_TIMEOUT = 1.5  # Slack's is 3 s; shorter keeps each redelivery quick, still well above Vigil's ack time under load
REDELIVERY_DELAY = 0.5  # three retries span 1.5 s when no socket is there: ample for Bolt to reconnect
WAIT = 20.0  # upper bound for any one step; steps finish far sooner


@pytest.fixture
async def emulator() -> AsyncIterator[SlackEmulator]:
    """The conftest emulator (manifest subscriptions and scopes) with a short ack timeout: each redelivery of an
    event whose envelope or ack was lost comes one ack timeout after it was sent."""
    manifest = load_manifest()
    emu = SlackEmulator(
        ack_timeout=ACK_TIMEOUT,
        redelivery_delay=REDELIVERY_DELAY,
        subscribed_events=manifest_events(manifest),
        scopes=manifest["oauth_config"]["scopes"]["bot"],
    )
    seed(emu)
    emu.add_user(ERIN, "erin", real_name="Erin Observer", email="erin@acme.example")
    await emu.start()
    yield emu
    await emu.stop()


@dataclass(frozen=True)
class Item:
    """One incident's share of the stream: two events, each with an event_id of its own."""

    incident: Incident

    @property
    def eyes_id(self) -> str:
        return f"Ev0EYES{self.incident.number:03d}"

    @property
    def join_id(self) -> str:
        return f"Ev0JOIN{self.incident.number:03d}"

    def events(self, team_id: str) -> list[tuple[str, dict[str, Any]]]:
        channel = self.incident.channel_id
        eyes = {
            "type": ids.EVENT_REACTION_ADDED,
            "user": BOB,
            "reaction": "eyes",
            "item_user": "U0VIGILBOT",
            "item": {"type": "message", "channel": channel, "ts": self.incident.opening_message_ts},
            "event_ts": "1767603600.000100",
        }
        join = {"type": ids.EVENT_MEMBER_JOINED, "user": ERIN, "channel": channel, "channel_type": "C", "team": team_id}
        return [(self.eyes_id, eyes), (self.join_id, join)]


@dataclass
class Stream:
    """Sends events without waiting: each `send_event` runs until its first attempt is answered (or not)."""

    vigil: Vigil
    sent: list[str] = field(default_factory=list)
    tasks: list[asyncio.Task[AckResult]] = field(default_factory=list)

    def send(self, items: Iterable[Item]) -> list[str]:
        event_ids = []
        for item in items:
            for event_id, event in item.events(self.vigil.team_id):
                self.tasks.append(asyncio.create_task(self.vigil.emu.send_event(event, event_id=event_id)))
                event_ids.append(event_id)
        self.sent.extend(event_ids)
        return event_ids

    async def until(self, predicate: Callable[[], Any], what: str) -> Any:
        return await self.vigil.emu.wait_until(predicate, timeout=WAIT, what=what)

    async def first_attempts(self, event_ids: list[str], check: Callable[[EnvelopeRecord], bool], what: str) -> None:
        """Wait until the first attempt of each event is recorded and passes `check`."""

        def all_there() -> bool:
            firsts = [self.vigil.emu.deliveries_of(e)[:1] for e in event_ids]
            return all(f and check(f[0]) for f in firsts)

        await self.until(all_there, what)

    async def delivered(self, event_ids: list[str]) -> None:
        """Wait until each event has an acked delivery: Slack stops re-sending it."""
        await self.until(lambda: all(acked(self.vigil.emu, e) for e in event_ids), f"acks for {event_ids}")

    async def all_handled(self, kind: str) -> None:
        """Poll until Vigil has run its `kind` listener once per event of that kind Slack delivered (the emulator is
        not told when a listener finishes, so it cannot wake us)."""
        deadline = asyncio.get_running_loop().time() + WAIT
        while self.vigil.handled("event", kind) < len(delivered_events(self.vigil.emu, kind)):
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"timed out after {WAIT}s waiting for every {kind} to be handled")
            await asyncio.sleep(0.01)

    async def reconnected(self, opened: int) -> None:
        emu = self.vigil.emu
        await self.until(lambda: emu.connections_opened > opened and emu.connected, "Bolt reconnected on its own")

    async def finish(self) -> None:
        await asyncio.gather(*self.tasks)


def acked(emu: SlackEmulator, event_id: str) -> EnvelopeRecord | None:
    return next((d for d in emu.deliveries_of(event_id) if d.acked), None)


def delivered_events(emu: SlackEmulator, kind: str) -> set[str]:
    """Event ids of `kind` that Slack saw acked, leaving out the bot's own reactions (Bolt skips those unheard;
    it still hands the bot's own channel joins to the listener)."""
    bot = emu.state.identity.bot_user_id
    return {
        str(e.event_id)
        for e in emu.envelopes
        if e.acked and e.event_type == kind and (kind == ids.EVENT_MEMBER_JOINED or e.payload["event"].get("user") != bot)
    }


async def declare_incidents(vigil: Vigil, count: int) -> list[Item]:
    items = []
    for n in range(count):
        declared = await vigil.container.incidents.declare(
            team_id=vigil.team_id, reporter_id=ALICE, title=f"Checkout errors {n}", severity=Severity.P2
        )
        incident = declared.incident
        assert incident.channel_id and incident.opening_message_ts
        items.append(Item(incident))
    return items


# ---- the drops ----------------------------------------------------------------------------------------------------
async def refresh_mid_stream(stream: Stream, items: list[Item]) -> list[str]:
    """Slack refreshes the link while envelopes are in flight (`refresh_requested`): some were sent on the old
    socket, some find no socket for the moment Bolt takes to reconnect."""
    emu = stream.vigil.emu
    opened = emu.connections_opened
    sent = stream.send(items[:1])
    await stream.until(lambda: any(d.delivered for d in emu.deliveries_of(sent[0])), "the first envelope out")
    await emu.disconnect_all("refresh_requested")
    sent += stream.send(items[1:])
    await stream.reconnected(opened)
    await stream.delivered(sent)
    return sent


async def envelopes_into_a_dead_socket(stream: Stream, items: list[Item]) -> list[str]:
    """The socket dies silently: envelopes sent on it never reach Vigil. An abrupt close (no `disconnect` message)
    is how Bolt finds out; the events come again on its new socket."""
    emu = stream.vigil.emu
    emu.sever_connections()
    opened = emu.connections_opened
    sent = stream.send(items)
    await stream.first_attempts(sent, lambda d: d.lost, "envelopes lost in the dead socket")
    await emu.close_connections()
    await stream.reconnected(opened)
    await stream.delivered(sent)
    return sent


async def acks_lost_with_the_socket(stream: Stream, items: list[Item]) -> list[str]:
    """Vigil gets the envelopes and acks them, but the acks die with the socket (`warning`, then gone): Slack
    re-sends events Vigil has already handled."""
    emu = stream.vigil.emu
    emu.lose_acks()
    opened = emu.connections_opened
    sent = stream.send(items)
    await stream.first_attempts(sent, lambda d: d.ack_lost, "Vigil's acks, lost")
    await emu.disconnect_all("warning")
    await stream.reconnected(opened)
    await stream.delivered(sent)
    return sent


async def events_while_nobody_is_connected(stream: Stream, items: list[Item]) -> list[str]:
    """The socket drops and Vigil cannot get a new one for a while (apps.connections.open held): events that arrive
    meanwhile fail at once, as Slack's do, and reach Vigil as retries once it is back."""
    emu = stream.vigil.emu
    emu.hold("apps.connections.open")
    opened = emu.connections_opened
    await emu.close_connections()
    await stream.until(lambda: not emu.connected and emu.held("apps.connections.open"), "Vigil cut off, reconnecting")
    sent = stream.send(items)
    await stream.first_attempts(sent, lambda d: d.sent_at is None, "first attempts with no socket to go to")
    emu.release("apps.connections.open")
    await stream.reconnected(opened)
    await stream.delivered(sent)
    return sent


# ---- what must hold ----------------------------------------------------------------------------------------------
def attempts(emu: SlackEmulator, event_id: str) -> list[int | None]:
    return [d.retry_attempt for d in emu.deliveries_of(event_id)]


def assert_redelivered(emu: SlackEmulator, event_ids: list[str], first_failed: Callable[[EnvelopeRecord], bool]) -> None:
    """Each event's first attempt failed as staged, and a later one (same event_id, next retry_attempt) got through
    on a newer socket: the test cannot pass without the emulator re-sending."""
    for event_id in event_ids:
        deliveries = emu.deliveries_of(event_id)
        final = acked(emu, event_id)
        assert final is not None and first_failed(deliveries[0]) and not deliveries[0].acked, event_id
        assert attempts(emu, event_id) == list(range(len(deliveries))), event_id
        assert final is deliveries[-1] and final.retry_attempt and final.retry_attempt >= 1, event_id
        assert {d.event_id for d in deliveries} == {event_id}
        assert final.connection_id is not None and final.connection_id > (deliveries[0].connection_id or 0), event_id


async def count_rows(vigil: Vigil, stmt: Any) -> dict[Any, int]:
    async with vigil.container.sessions() as session:
        return {key: n for key, n in (await session.execute(stmt)).all()}


async def assert_each_effect_once(vigil: Vigil, items: list[Item]) -> None:
    incident_ids = [item.incident.id for item in items]
    acks = await count_rows(
        vigil,
        select(TimelineEvent.incident_id, func.count())
        .where(TimelineEvent.kind == "ack", TimelineEvent.incident_id.in_(incident_ids))
        .group_by(TimelineEvent.incident_id),
    )
    assert acks == dict.fromkeys(incident_ids, 1)
    members = await count_rows(
        vigil,
        select(IncidentMember.incident_id, func.count())
        .where(IncidentMember.user_id == ERIN)
        .group_by(IncidentMember.incident_id),
    )
    assert members == dict.fromkeys(incident_ids, 1)
    for incident in await vigil.incidents():
        assert incident.acknowledged_by == BOB and incident.acknowledged_at is not None, incident.ref


async def assert_claims_finished(vigil: Vigil, event_ids: list[str]) -> None:
    async with vigil.container.sessions() as session:
        rows = (await session.scalars(select(ProcessedEvent).where(ProcessedEvent.event_id.in_(event_ids)))).all()
    assert sorted(r.event_id for r in rows) == sorted(event_ids)
    assert all(r.done_at is not None for r in rows)


async def test_socket_drops_mid_stream_lose_no_event_and_handle_each_once(vigil: Vigil) -> None:
    emu = vigil.emu
    items = await declare_incidents(vigil, 10)
    await vigil.settle()
    await emu.wait_until(lambda: not emu.busy, timeout=WAIT, what="the declarations' own events delivered")
    opened_before = emu.connections_opened
    stream = Stream(vigil)

    refreshed = await refresh_mid_stream(stream, items[0:3])
    severed = await envelopes_into_a_dead_socket(stream, items[3:5])
    acks_lost = await acks_lost_with_the_socket(stream, items[5:7])
    away = await events_while_nobody_is_connected(stream, items[7:9])
    tail = stream.send(items[9:])
    await stream.delivered(tail)
    await stream.finish()
    await stream.until(lambda: not emu.busy, "nothing left to deliver")
    await stream.all_handled(ids.EVENT_REACTION_ADDED)
    await stream.all_handled(ids.EVENT_MEMBER_JOINED)
    await vigil.settle()

    # None lost, none twice: each event ran its listener once, whatever the emulator re-sent. (The joins include
    # those of the declarations, e.g. the bot's own.)
    eyes, joins = delivered_events(emu, ids.EVENT_REACTION_ADDED), delivered_events(emu, ids.EVENT_MEMBER_JOINED)
    assert eyes == {item.eyes_id for item in items} and {item.join_id for item in items} <= joins
    assert vigil.handled("event", ids.EVENT_REACTION_ADDED) == len(eyes) == len(items)
    assert vigil.handled("event", ids.EVENT_MEMBER_JOINED) == len(joins)
    await assert_each_effect_once(vigil, items)
    await assert_claims_finished(vigil, stream.sent)

    # The emulator did re-send, as staged, and every staged drop needed it.
    assert_redelivered(emu, severed, lambda d: d.lost)
    assert_redelivered(emu, acks_lost, lambda d: d.ack_lost and d.delivered)
    assert_redelivered(emu, away, lambda d: d.sent_at is None)
    assert all(acked(emu, e) for e in refreshed + tail)

    # Bolt reconnected by itself after each of the four drops.
    assert emu.connections_opened >= opened_before + 4 and emu.connected
    assert len(emu.calls_to("apps.connections.open")) >= emu.connections_opened
