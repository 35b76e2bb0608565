"""`kill -9` of `vigil run` while it fans 100 incidents out to PagerDuty, Jira and Linear: after the restart every
delivery has arrived at least once, every re-send carries the same vendor key, and no vendor holds a second page or
ticket for any incident.

A real `vigil run` subprocess against the bundled emulator (in this process) and a migrated database, with three
integrations added by `vigil integrations add` before it starts, each pointing at a recording HTTPS fake of its vendor
(tests/fakes/): PagerDuty Events v2 (one alert per dedup key; a trigger re-sent while it is open folds into it),
Jira (an issue found again by its label) and Linear (the issue id is chosen by Vigil; a second create is refused).
100 declarations, P1 and P2 (both page: the PagerDuty threshold is P2), are submitted through the modal, five at a
time, and each is committed before the kill (one Vigil tells its declarer it could not save is submitted again, as
it asks: SQLite can keep a writer waiting past its busy timeout under this burst on a busy machine).

Then the fakes go on acting on requests but hold their answers from the next vendor write (a trigger, a create) at
or after the 120th of the 300 expected, and `vigil run` is SIGKILLed as soon as one answer is held: so at least one
vendor has acted on a request whose answer Vigil never got, the window idempotency exists for, besides whatever
else the worker's round had in flight (its rows claimed, unrecorded).

`vigil run` is started again at once. The deliveries the dead run had claimed wait out their lease (20 s,
integrations/worker.py `LEASE`; a live worker renews it while its attempts run), then the restarted worker takes
them through its ordinary `claim_due`; the rest go out straight away. The test polls the database (no fixed wait)
until every delivery is done, stops `vigil run` with SIGTERM, then compares what the vendors were sent and hold with
what Vigil recorded.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from bot import slack_ids as ids
from bot.emulator import SlackEmulator
from bot.slack_app import NOT_SAVED
from db.models import Delivery, Incident, IncidentPage, Integration, IntegrationLink
from integrations.linear.client import issue_uuid
from integrations.payloads import external_key
from tests.app.conftest import ALICE, BOB, DAVE
from tests.app.processes import kill_9, run_env, stop_all, vigil_run
from tests.app.test_declare import declare_values
from tests.app.test_durable_steps import poll
from tests.app.test_webhook_delivery import vigil_cli
from tests.fakes.https import Handler, Script
from tests.fakes.jira import FakeJira
from tests.fakes.linear import TEAM_ID, FakeLinear
from tests.fakes.pagerduty import ROUTING_KEY, FakePagerDuty
from tests.fakes.plugin import ServerFactory
from tests.integrations.platform import key_ring

pytestmark = pytest.mark.slow

DECLARATIONS = 100
IN_FLIGHT = 5  # declarations submitted at once
KINDS = ("pagerduty", "jira", "linear")
EXPECTED_WRITES = DECLARATIONS * len(KINDS)  # one trigger or create per incident and vendor
HOLD_FROM = 120  # of EXPECTED_WRITES: the vendors hold their answers from here on, and Vigil is killed
JIRA_EMAIL, JIRA_TOKEN = "vigil-bot@acme.example", "jira-api-token"
JIRA_CALLS = (  # every route of the fake Jira, each behind the answer gate
    *("serverInfo", "myself", "project", "field", "search", "users"),
    *("create", "transitions", "transition", "issue", "edit"),
)
TRIES = 3  # submissions of one declaration Vigil may turn away (database busy) before the test gives up
REF = re.compile(r"^\[INC-(\d+)\] ")  # how every vendor's title starts: the incident it is about
DEADLINE = 90.0  # for each wait; a wait that takes this long has failed (a starved VM needs over 45 s for some)


# ---------------------------------------------------------------- the vendors


@dataclass(frozen=True)
class Keys:
    """The vendor keys of an incident: its external key (PagerDuty's dedup key, Jira's label) and the Linear issue
    id Vigil derives from it and the integration."""

    team_id: str
    linear_id: str

    def key(self, number: int) -> str:
        return external_key(self.team_id, number)

    def linear_issue(self, number: int) -> str:
        return issue_uuid(external_key=self.key(number), integration_id=self.linear_id)


def incident_of(title: str) -> int:
    """The incident number a vendor's title names (`[INC-12] …`), read apart from any key the request carries."""
    match = REF.match(title)
    assert match is not None, f"a title that names no incident: {title[:80]!r}"
    return int(match[1])


@dataclass
class Vendors:
    """The three fakes behind one answer gate: once it shuts, a vendor still acts on each request (opens the alert,
    creates the issue) but holds its answer until the gate opens again, as a network that dies with the answer on it."""

    pagerduty: FakePagerDuty
    jira: FakeJira
    linear: FakeLinear
    answering: asyncio.Event = field(default_factory=asyncio.Event)
    shut_at: int | None = None  # the write count from which answers are held (None: not armed)
    held: int = 0  # answers held so far

    @classmethod
    async def start(cls, https_server: ServerFactory) -> Vendors:
        vendors = cls(
            FakePagerDuty(await https_server()),
            FakeJira(await https_server(), email=JIRA_EMAIL, token=JIRA_TOKEN),
            FakeLinear(await https_server()),
        )
        vendors.answering.set()
        for server in (vendors.pagerduty.server, vendors.linear.server):
            server.handler = vendors._gated(_handler(server))
        for name in JIRA_CALLS:
            route = vendors.jira.route(name)
            route.handler = vendors._gated(_handler(route))
        return vendors

    def _gated(self, handler: Handler) -> Handler:
        async def answer(request: web.Request) -> web.StreamResponse:
            response = await handler(request)  # the vendor acts
            if self.shut_at is not None and self.writes() >= self.shut_at:
                self.answering.clear()
            if not self.answering.is_set():
                self.held += 1
                await self.answering.wait()
            return response

        return answer

    def hold_from_next_write(self, *, at_least: int) -> None:
        """Shut the gate at the next write that brings the count to `at_least` or beyond."""
        self.shut_at = max(at_least, self.writes() + 1)

    def reopen(self) -> None:
        self.shut_at = None
        self.answering.set()

    # -- what they were sent, per incident: each write's vendor key

    def triggers(self) -> dict[int, list[str]]:
        """PagerDuty: the dedup key of every trigger, by the incident its summary names."""
        sent: dict[int, list[str]] = {}
        for event in self.pagerduty.events():
            if event["event_action"] == "trigger":
                sent.setdefault(incident_of(event["payload"]["summary"]), []).append(event["dedup_key"])
        return sent

    def jira_creates(self) -> dict[int, list[list[str]]]:
        """Jira: the labels of every create, by the incident its summary names."""
        sent: dict[int, list[list[str]]] = {}
        for request in self.jira.calls("create"):
            fields = request.json()["fields"]
            sent.setdefault(incident_of(fields["summary"]), []).append(list(fields["labels"]))
        return sent

    def jira_searches(self) -> Counter[str]:
        """Jira: how often each label was searched for (a delivery that knows no issue yet searches first)."""
        return Counter(
            match[1] for r in self.jira.calls("search") if (match := re.search(r'labels = "([^"]+)"', r.query["jql"]))
        )

    def linear_creates(self) -> dict[int, list[str]]:
        """Linear: the issue id of every issueCreate, by the incident its title names."""
        sent: dict[int, list[str]] = {}
        for request in self.linear.server.requests:
            body = request.json()
            if "issueCreate(" in body["query"]:
                issue = body["variables"]["input"]
                sent.setdefault(incident_of(issue["title"]), []).append(issue["id"])
        return sent

    def writes(self) -> int:
        """Triggers and creates received, re-sends included."""
        pagerduty = sum(1 for e in self.pagerduty.events() if e["event_action"] == "trigger")
        return pagerduty + len(self.jira.calls("create")) + self.linear.ops.count("issueCreate")

    def requests(self) -> dict[str, int]:
        return {
            "pagerduty": len(self.pagerduty.server.requests),
            "jira": len(self.jira.server.requests),
            "linear": len(self.linear.server.requests),
        }

    # -- what they hold

    def jira_issues(self, key: str) -> list[dict[str, Any]]:
        return [i for i in self.jira.issues.values() if key in i["fields"]["labels"]]

    def holds(self, kind: str, number: int, keys: Keys) -> bool:
        """Whether the vendor has the page or ticket of incident `number`."""
        if kind == "pagerduty":
            return bool(self.pagerduty.alerts_for(keys.key(number)))
        if kind == "jira":
            return bool(self.jira_issues(keys.key(number)))
        return keys.linear_issue(number) in self.linear.issues


def _handler(script: Script) -> Handler:
    handler = script.handler
    assert handler is not None, "each fake answers through its handler"
    return handler


async def add_integrations(env: dict[str, str], vendors: Vendors) -> dict[str, str]:
    """`vigil integrations add` for each vendor, as an operator does before starting the bot; kind → integration id."""
    pd, jira, linear = vendors.pagerduty, vendors.jira, vendors.linear
    commands = {
        "pagerduty": (
            *("--set", f"events_url={pd.url}", "--set", f"api_url={pd.url}"),
            *("--secret", f"routing_key={ROUTING_KEY}"),
        ),
        "jira": (
            *("--set", f"url={jira.url}", "--set", "project=OPS", "--set", f"email={JIRA_EMAIL}"),
            *("--secret", f"api_token={JIRA_TOKEN}"),
        ),
        "linear": ("--set", f"api_url={linear.url}", "--set", f"team_id={TEAM_ID}", "--secret", f"api_key={linear.api_key}"),
    }
    added = {}
    for kind, flags in commands.items():
        result = await vigil_cli(env, "integrations", "add", kind, "--name", kind, *flags)
        assert result.exit_code == 0, result.output
        added[kind] = dict(line.split(": ", 1) for line in result.output.splitlines() if ": " in line)["id"]
    return added


# ---------------------------------------------------------------- Slack and the database


def declarer(n: int) -> str:
    return (ALICE, BOB, DAVE)[n % 3]


def title(n: int) -> str:
    return f"Fan-out {n}"


async def submit(emu: SlackEmulator, numbers: list[int]) -> None:
    """Declarations `numbers` through the modal, IN_FLIGHT at a time, alternately P1 and P2; a modal Vigil keeps open
    with an error (its database did not answer) is submitted again, as its declarer would."""
    slots = asyncio.Semaphore(IN_FLIGHT)

    async def declare(n: int) -> None:
        async with slots:
            for _ in range(TRIES):
                ack = await emu.send_view_submission(
                    user_id=declarer(n),
                    callback_id=ids.VIEW_DECLARE,
                    values=declare_values(title(n), "P1" if n % 2 == 0 else "P2"),
                )
                assert ack.acked, f"declaration {n} not acked"
                if (ack.payload or {}).get("response_action") != "errors":
                    return
        raise AssertionError(f"declaration {n} turned away {TRIES} times: {ack.payload}")

    await asyncio.gather(*(declare(n) for n in numbers))


def told_not_saved(emu: SlackEmulator, n: int) -> int:
    """How often declaration `n`'s declarer was told by direct message that it was not saved (acked, then the
    database did not answer: bot/slack_app.py `not_saved`)."""
    typed = f"> *Title:* {title(n)}"
    return sum(
        1
        for call in emu.calls_to("chat.postMessage")
        if call.args.get("channel") == declarer(n)
        and str(call.args.get("text") or "").startswith(NOT_SAVED)
        and typed in str(call.args.get("text") or "").splitlines()
    )


async def lost_declarations(
    emu: SlackEmulator, sessions: async_sessionmaker[AsyncSession], again: Counter[int]
) -> list[int]:
    """Wait until every declaration is committed (then []) or some are known lost: told not saved more often than
    they were submitted again."""
    lost: list[int] = []

    async def settled() -> bool:
        committed = await titles(sessions)
        missing = [n for n in range(DECLARATIONS) if title(n) not in committed]
        lost[:] = [n for n in missing if told_not_saved(emu, n) > again[n]]
        return not missing or bool(lost)

    await poll(settled, timeout=DEADLINE, interval=0.1, what="every declaration committed (or told not saved)")
    return lost


async def declare_all(emu: SlackEmulator, sessions: async_sessionmaker[AsyncSession]) -> int:
    """100 declarations, each committed: one Vigil says it did not save is submitted again, as its declarer is asked
    to (SQLite can keep a writer waiting past its busy timeout under this burst). How many were submitted again."""
    await submit(emu, list(range(DECLARATIONS)))
    again: Counter[int] = Counter()
    while lost := await lost_declarations(emu, sessions, again):
        again.update(lost)
        assert max(again.values()) < TRIES, f"declarations told not saved {TRIES} times: {again}"
        await submit(emu, lost)
    return sum(again.values())


@asynccontextmanager
async def reader(url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions for the test to look with: a plain engine, so on SQLite a read is a WAL reader and never takes the
    write lock `vigil run` contends for (db/engine.py begins every transaction IMMEDIATE)."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        yield async_sessionmaker(engine, expire_on_commit=False)
    finally:
        await engine.dispose()


@dataclass(frozen=True)
class Row:
    """One delivery as the database holds it."""

    number: int
    kind: str
    delivery_id: str
    status: str
    claimed: bool
    attempts: int


async def rows_of(sessions: async_sessionmaker[AsyncSession]) -> list[Row]:
    async with sessions() as session:
        found = await session.execute(
            select(Incident.number, Integration.kind, Delivery)
            .join(Incident, Incident.id == Delivery.incident_id)
            .join(Integration, Integration.id == Delivery.integration_id)
            .order_by(Delivery.id)
        )
        return [
            Row(number, kind, d.delivery_id, d.status, d.claimed_until is not None, d.attempts)
            for number, kind, d in found.all()
        ]


async def titles(sessions: async_sessionmaker[AsyncSession]) -> set[str]:
    """The titles of the incidents committed so far."""
    async with sessions() as session:
        return set((await session.scalars(select(Incident.title))).all())


# ---------------------------------------------------------------- the crash


@dataclass
class AtKill:
    """What the vendors and the database held the moment `vigil run` died."""

    writes: int
    requests: dict[str, int]
    held: int
    rows: list[Row]
    answered: set[tuple[int, str]]  # (incident, kind) pending in the database, yet the vendor had acted on it

    @property
    def pending(self) -> int:
        return sum(1 for r in self.rows if r.status != "success")

    @property
    def claimed(self) -> int:
        return sum(1 for r in self.rows if r.claimed)

    def summary(self) -> str:
        return (
            f"killed after {self.writes}/{EXPECTED_WRITES} vendor writes ({self.requests} requests, {self.held} answers "
            f"held): {self.pending} of {len(self.rows)} deliveries pending ({self.claimed} claimed by the dead run, "
            f"{len(self.answered)} already acted on by the vendor, {self.pending - len(self.answered)} not yet sent)"
        )


async def kill_mid_fan_out(
    proc: asyncio.subprocess.Process, vendors: Vendors, sessions: async_sessionmaker[AsyncSession], keys: Keys
) -> AtKill:
    """SIGKILL `vigil run` once a vendor holds the answer to write HOLD_FROM or a later one (the vendor acted, Vigil
    never heard), then look at what each side had."""
    vendors.hold_from_next_write(at_least=HOLD_FROM)

    async def answer_held() -> bool:
        return vendors.held > 0

    await poll(answer_held, timeout=DEADLINE, interval=0.01, what=f"vendor write {HOLD_FROM} or a later one")
    await kill_9(proc)
    rows = await rows_of(sessions)
    pending = [r for r in rows if r.status != "success"]
    answered = {(r.number, r.kind) for r in pending if vendors.holds(r.kind, r.number, keys)}
    crash = AtKill(vendors.writes(), vendors.requests(), vendors.held, rows, answered)
    vendors.reopen()  # the held answers go to a dead socket
    return crash


async def every_delivery_done(sessions: async_sessionmaker[AsyncSession], proc: asyncio.subprocess.Process) -> None:
    """Poll until every delivery succeeded; fail at once on one given up, or if `vigil run` exits."""
    seen: list[Row] = []

    async def done() -> bool:
        assert proc.returncode is None, f"the restarted vigil run exited with {proc.returncode}"
        seen[:] = await rows_of(sessions)
        given_up = [r for r in seen if r.status in ("failed", "cancelled")]
        assert not given_up, f"deliveries given up: {given_up[:5]}"
        return len(seen) == EXPECTED_WRITES and all(r.status == "success" for r in seen)

    try:
        await poll(done, timeout=DEADLINE, interval=0.2, what="every delivery done")
    except TimeoutError:
        statuses = Counter((r.kind, r.status, r.claimed) for r in seen)
        raise AssertionError(f"not every delivery done after the restart (kind, status, claimed): {statuses}") from None


async def stop_cleanly(proc: asyncio.subprocess.Process) -> None:
    proc.terminate()
    assert await asyncio.wait_for(proc.wait(), 15) == 0, "the restarted vigil run stops cleanly on SIGTERM"


@dataclass(frozen=True)
class Recorded:
    """What Vigil wrote down: each incident's link per integration (its ticket there), and its PagerDuty pages."""

    links: dict[tuple[int, str], str | None]
    pages: list[tuple[int, str]]  # (incident, dedup key)


async def recorded(sessions: async_sessionmaker[AsyncSession]) -> Recorded:
    async with sessions() as session:
        numbers = {i: n for i, n in (await session.execute(select(Incident.id, Incident.number))).all()}
        links = (await session.execute(select(IntegrationLink, Integration.kind).join(Integration))).all()
        pages = (await session.scalars(select(IncidentPage))).all()
    return Recorded(
        links={(numbers[link.incident_id], kind): link.external_id for link, kind in links},
        pages=sorted((numbers[p.incident_id or 0], p.dedup_key) for p in pages),
    )


def fan_out_env(emu: SlackEmulator, database: str, ca_bundle: Path) -> dict[str, str]:
    """`vigil run`'s settings plus a key ring to seal the vendors' secrets and the test CA (the fakes listen on
    127.0.0.1, a private address Vigil refuses unless told)."""
    return run_env(
        emu,
        database,
        VIGIL_ENCRYPTION_KEYS=key_ring(),
        VIGIL_CA_BUNDLE=str(ca_bundle),
        VIGIL_OUTBOUND_ALLOW_PRIVATE="true",
    )


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
async def test_kill_9_mid_fan_out_then_restart_pages_and_tickets_each_incident_once(
    emulator: SlackEmulator,
    database: str,
    tmp_path: Path,
    logs: tuple[IO[bytes], IO[bytes]],
    ca_bundle: Path,
    https_server: ServerFactory,
) -> None:
    vendors = await Vendors.start(https_server)
    env = fan_out_env(emulator, database, ca_bundle)
    integration_ids = await add_integrations(env, vendors)  # the workspace is learned from Slack's auth.test
    keys = Keys(emulator.state.identity.team_id, integration_ids["linear"])
    procs: list[asyncio.subprocess.Process] = []
    try:
        async with reader(database) as sessions:
            procs.append(await vigil_run(env, tmp_path, logs[0]))
            await emulator.wait_connected(timeout=30)
            declared_again = await declare_all(emulator, sessions)
            crash = await kill_mid_fan_out(procs[0], vendors, sessions, keys)
            restarted = time.monotonic()
            procs.append(await vigil_run(env, tmp_path, logs[1]))
            await every_delivery_done(sessions, procs[1])
            print(
                f"\n{crash.summary()}; {declared_again} declarations submitted again; "
                f"all delivered {time.monotonic() - restarted:.1f}s after the restart"
            )
            await stop_cleanly(procs[1])
            rows, written = await rows_of(sessions), await recorded(sessions)
    finally:
        await stop_all(procs)

    assert crash.pending > 0 and crash.answered and crash.held > 0, f"not killed mid-fan-out: {crash.summary()}"
    assert HOLD_FROM <= crash.writes < EXPECTED_WRITES and len(crash.rows) == EXPECTED_WRITES, crash.summary()
    assert_each_delivery_is_one_row_done(rows, crash)
    assert_every_resend_carried_the_same_key(vendors, keys)
    assert_what_was_answered_but_not_recorded_was_sent_again(vendors, keys, crash)
    assert_one_page_and_one_ticket_per_incident(vendors, keys)
    assert_recorded_once(written, vendors, keys)
    connects = len(vendors.jira.calls("serverInfo"))
    assert connects <= 2, f"{connects} Jira clients made: one per run, however many deliveries its round has"
    print(
        f"re-sends: PagerDuty {resends(vendors.triggers())}, Jira {resends(vendors.jira_searches())} (searched again), "
        f"Linear {resends(vendors.linear_creates())}; requests {vendors.requests()}"
    )


# ---------------------------------------------------------------- the bar


def every_incident() -> list[int]:
    return list(range(1, DECLARATIONS + 1))


def resends(sent: Mapping[Any, list[Any]] | Counter[str]) -> int:
    """Requests beyond the first, summed over incidents."""
    return sum((len(v) if isinstance(v, list) else v) - 1 for v in sent.values())


def assert_each_delivery_is_one_row_done(rows: list[Row], crash: AtKill) -> None:
    """One delivery row per incident and integration, each a success, and each the row it was at the kill: a
    re-send is the same delivery (same delivery id), not a new one."""
    assert Counter((r.number, r.kind) for r in rows) == {(n, k): 1 for n in every_incident() for k in KINDS}
    assert {r.status for r in rows} == {"success"}, "nothing given up, failed or still retrying"
    assert {(r.number, r.kind): r.delivery_id for r in rows} == {(r.number, r.kind): r.delivery_id for r in crash.rows}


def assert_every_resend_carried_the_same_key(vendors: Vendors, keys: Keys) -> None:
    """Each vendor saw each incident at least once, and every time under the incident's one key: PagerDuty's dedup
    key, Jira's label (searched for again by a re-send, never created twice), Linear's Vigil-chosen issue id."""
    triggers, creates, linear = vendors.triggers(), vendors.jira_creates(), vendors.linear_creates()
    assert sorted(triggers) == sorted(creates) == sorted(linear) == every_incident()
    for n in every_incident():
        assert set(triggers[n]) == {keys.key(n)}, f"INC-{n} paged under {set(triggers[n])}"
        assert len(creates[n]) == 1 and keys.key(n) in creates[n][0], f"INC-{n}: Jira creates {creates[n]}"
        assert set(linear[n]) == {keys.linear_issue(n)}, f"INC-{n}: Linear creates {linear[n]}"
    assert sorted(vendors.jira_searches()) == sorted(keys.key(n) for n in every_incident())


def assert_what_was_answered_but_not_recorded_was_sent_again(vendors: Vendors, keys: Keys, crash: AtKill) -> None:
    """A delivery the vendor had acted on when Vigil died was sent again after the restart (Vigil could not know it
    had arrived): a second trigger, a second search for the label, a second create of the same Linear id."""
    triggers, searches, linear = vendors.triggers(), vendors.jira_searches(), vendors.linear_creates()
    sent = {
        "pagerduty": lambda n: len(triggers[n]),
        "jira": lambda n: searches[keys.key(n)],
        "linear": lambda n: len(linear[n]),
    }
    once = sorted((n, kind) for n, kind in crash.answered if sent[kind](n) < 2)
    assert not once, f"acted on by the vendor, not recorded, and yet not sent again: {once}"


def assert_one_page_and_one_ticket_per_incident(vendors: Vendors, keys: Keys) -> None:
    """PagerDuty: one alert per dedup key, every trigger for it folded into it; Jira: one issue per label; Linear:
    one issue per incident, under its derived id."""
    pd, triggers = vendors.pagerduty, vendors.triggers()
    assert len(pd.alerts) == len(vendors.jira.issues) == len(vendors.linear.issues) == DECLARATIONS
    for n in every_incident():
        [alert] = pd.alerts_for(keys.key(n))
        assert (alert["status"], alert["count"]) == ("triggered", len(triggers[n])), f"INC-{n}: {alert}"
        [issue] = vendors.jira_issues(keys.key(n))
        assert issue["fields"]["summary"].startswith(f"[INC-{n}] ")
        assert vendors.linear.issues[keys.linear_issue(n)]["title"].startswith(f"[INC-{n}] ")


def assert_recorded_once(written: Recorded, vendors: Vendors, keys: Keys) -> None:
    """What Vigil wrote down after the re-sends names the page and the tickets the first attempts made: a Jira link
    to the one labelled issue, a Linear link to the derived id, one PagerDuty page row per incident."""
    for n in every_incident():
        [issue] = vendors.jira_issues(keys.key(n))
        assert written.links[(n, "jira")] == issue["key"], f"INC-{n}"
        assert written.links[(n, "linear")] == keys.linear_issue(n), f"INC-{n}"
    assert written.pages == [(n, keys.key(n)) for n in every_incident()]
