"""No secret in the clear anywhere Vigil writes: one sweep through the real doors, then a scan of every place.

One integration of every kind is configured with distinctive secrets (the CLI for most, with secrets inline, from
a file and from standard input; App Home's connect modal for Linear; a component's own PagerDuty routing key in App
Home's component modal), with every logger at DEBUG. Then a P1 is declared in Slack and delivered to every fake
(each checks its credential, so the secrets were opened and used), acknowledged by signed inbound webhooks and by
an `X-Vigil-Token` one, updated, resolved, a PagerDuty service paged with the REST token, every integration tested
with `vigil integrations test`, `vigil check` run, the key ring rotated with `vigil keys rotate`, and everything read
back: `vigil integrations list` (and `--json`), the integration's own lines (`update` with no change), `vigil
deliveries list/show` (and `--json`), the inbound log, App Home's Integrations tab and edit and log modals.

Then no secret an admin typed, no key of the ring and no Slack token may be found, in plain text, URL-encoded, hex
or base64 at any alignment, in: every column of every table (reflected, so a new table is scanned too), the raw
bytes of the SQLite file and its WAL, every log record, the delivery and inbound logs, every CLI output, and every
payload Vigil sent to Slack. Secrets Vigil makes (inbound secrets, the inbound token) are shown once, where they are
issued, and found nowhere else. Canaries planted in the incident prove each place was really read, and a planted
secret in each encoding proves the scanner finds what it looks for.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from sqlalchemy import MetaData, select
from sqlalchemy.engine import Connection, make_url

from bot import slack_ids as ids
from bot.blocks.integrations import secret_block_id, setting_block_id
from db.engine import make_engine
from db.tags import TECH_INCIDENTS
from integrations.base import MASK, without_secrets
from tests.app.conftest import (
    ALICE,
    INCIDENTS_CHANNEL,
    StartVigil,
    Vigil,
)
from tests.app.test_admin import home_text, open_modal, submit
from tests.app.test_declare import declare
from tests.app.test_home import click, open_home
from tests.fakes.linear import TEAM_ID as LINEAR_TEAM
from tests.fakes.plugin import ServerFactory
from tests.integrations.platform import key_ring
from tests.security.world import (
    COMPONENT_ROUTING_KEY,
    GENIE_KEY,
    GITHUB_SIGNING,
    HOOK_PATH,
    JIRA_TOKEN,
    LINEAR_KEY,
    LINEAR_SIGNING,
    PD_API_TOKEN,
    PD_ROUTING_KEY,
    PD_SERVICE,
    TEAMS_PATH,
    Fakes,
    add_with_cli,
    as_text,
    cli_env,
    lines_of,
    slack_sent,
    specs,
    start_fakes,
    stop_worker,
    typed_secrets,
    vigil_cli,
    worker_rounds,
)

SHOWN_ONCE = re.compile(r"Inbound secret `([A-Za-z0-9_-]{43})`")
CANARY = "CanaryPlaintext7b1e55c0d9"  # in the incident's title: must turn up in every place the scan reads
CANARY_B64 = "CanaryBase64Form41a9e2f7"  # its base64 goes in the description: the scan must see through it
LOG_CANARY = "CanaryLogRecord0c6d3e88"
ECHOING = {"opsgenie": "genie", "teams": "teams", "jira": "jira"}  # kinds whose test meets a vendor quoting the secret


# ---------------------------------------------------------------- the scanner


@dataclass(frozen=True)
class Needle:
    """One form of one secret to look for."""

    secret: str
    form: str
    text: str


def base64_core(value: bytes, shift: int, *, urlsafe: bool = False) -> str:
    """The base64 characters that depend on `value` alone when it starts `shift` bytes into a longer blob (a
    `user:password` pair, a JSON document): whatever surrounds it, these characters appear."""
    encoded = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(b"\0" * shift + value).decode()
    start = (8 * shift + 5) // 6
    end = (8 * (shift + len(value))) // 6
    return encoded[start:end]


def needles(name: str, value: str) -> list[Needle]:
    """A secret in the clear and in the encodings a leak would most likely take."""
    raw = value.encode()
    forms = {"plain": value, "url-encoded": quote(value, safe=""), "hex": raw.hex(), "HEX": raw.hex().upper()}
    for shift in range(3):
        forms[f"base64@{shift}"] = base64_core(raw, shift)
        forms[f"urlsafe base64@{shift}"] = base64_core(raw, shift, urlsafe=True)
    unique: dict[str, Needle] = {}
    for form, text in forms.items():
        unique.setdefault(text, Needle(name, form, text))
    return list(unique.values())


Place = tuple[str, str | bytes]  # where, what was found there


def hits(places: Sequence[Place], wanted: Sequence[Needle]) -> list[tuple[str, Needle]]:
    """Every (place, needle) where a form of a secret is found."""
    found = []
    for where, content in places:
        for needle in wanted:
            seen = needle.text.encode() in content if isinstance(content, bytes) else needle.text in content
            if seen:
                found.append((where, needle))
    return found


def report(found: Sequence[tuple[str, Needle]]) -> str:
    return "\n".join(f"{needle.secret} ({needle.form}) in {where}" for where, needle in found)


def test_the_scanner_finds_a_secret_planted_in_each_encoding() -> None:
    secret = "sk-Planted/Secret+Value=0042"
    wanted = needles("planted", secret)
    blobs = {
        "plain": f"...{secret}...",
        "url-encoded": "url=https://x.example/?k=" + quote(secret, safe=""),
        "hex": "0x" + secret.encode().hex(),
        "basic auth": "Authorization: Basic " + base64.b64encode(f"vigil:{secret}".encode()).decode(),
        "urlsafe base64 in JSON": json.dumps({"t": base64.urlsafe_b64encode(b"ab" + secret.encode()).decode()}),
    }
    for shift in range(3):
        blobs[f"base64 at {shift}"] = base64.b64encode(b"x" * shift + secret.encode() + b"tail").decode()
    for what, blob in blobs.items():
        assert hits([(what, blob)], wanted), f"the scanner missed the secret as {what}"
        assert hits([(what, blob.encode())], wanted), f"the scanner missed the secret as {what}, in bytes"
    assert not hits([("noise", "sk-Planted/Secret+Value=0043 " + base64.b64encode(b"sk-Planted").decode())], wanted)


def test_an_error_quoting_a_secret_or_part_of_a_secret_url_is_masked() -> None:
    url = "https://prod.example/workflows/1/invoke?api-version=1&sv=1.0&sig=Sig0123456789abcdefXYZ"
    secrets = [url, "genie-key-0123", "pw"]
    assert without_secrets(f"No flow at {url}", secrets) == f"No flow at {MASK}"
    assert without_secrets("bad sig Sig0123456789abcdefXYZ; sv=1.0", secrets) == f"bad sig {MASK}; sv=1.0"
    assert without_secrets("Key genie-key-0123 is not valid", secrets) == f"Key {MASK} is not valid"
    assert without_secrets("pw: wrong", secrets) == "pw: wrong", "too short to be told from words: left alone"
    assert without_secrets("answered 401: Key genie-key-01", secrets) == f"answered 401: Key {MASK}", "cut short"


# ---------------------------------------------------------------- where to look


class Records(logging.Handler):
    """Every record any logger lets through, kept raw: a formatter's masking would hide a leak from the scan."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def places(self) -> list[Place]:
        formatter = logging.Formatter()
        found: list[Place] = []
        for n, record in enumerate(self.records):
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + formatter.formatException(record.exc_info)
            found.append((f"log #{n} {record.name} {record.levelname}", text))
        return found


@pytest.fixture
def debug_logs() -> Iterator[Records]:
    """The root logger at DEBUG with a raw handler; the process's logging put back afterwards."""
    root = logging.getLogger()
    level = root.level
    handler = Records()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def reflect(conn: Connection) -> MetaData:
    metadata = MetaData()
    metadata.reflect(conn)
    return metadata


async def database_places(db_url: str) -> list[Place]:
    """Every column of every table, reflected from the database itself (so a table the models forget is read too),
    one place per table and column."""
    engine = make_engine(db_url)
    places: list[Place] = []
    try:
        async with engine.connect() as conn:
            metadata = await conn.run_sync(reflect)
            for table in metadata.sorted_tables:
                rows = (await conn.execute(select(table))).all()
                for column in table.columns:
                    values = [row._mapping[column] for row in rows]
                    places.append((f"table {table.name}.{column.name}", as_text(values)))
    finally:
        await engine.dispose()
    assert any(where.startswith("table integration.") for where, _ in places), "the reflection found the tables"
    return places


def sqlite_file_places(db_url: str) -> list[Place]:
    """The raw bytes of the SQLite database and its journal files (free pages and the WAL included)."""
    url = make_url(db_url)
    if url.get_backend_name() != "sqlite":
        return []
    path = Path(url.database or "")
    files = sorted(path.parent.glob(path.name + "*"))
    assert path in files, "the database file is there"
    return [(f"file {f.name}", f.read_bytes()) for f in files]


async def delivery_log_places(vigil: Vigil) -> list[Place]:
    """The delivery log as the service reads it (bodies sent, attempts, errors) and the inbound log."""
    service = vigil.container.integrations
    views = await service.deliveries(team_id=vigil.team_id, limit=500)
    failed = [(v.kind, v.event, v.status) for v in views if v.status != "success" and v.event != "test"]
    assert views and not failed, failed
    assert any(v.payload for v in views), "the log holds the bodies sent"
    places: list[Place] = [(f"delivery {v.kind} {v.event} {v.delivery_id[:8]}", as_text(v.__dict__)) for v in views]
    for integration in await service.list_integrations(team_id=vigil.team_id):
        for row in await vigil.container.inbound.log(team_id=vigil.team_id, ref=integration.id):
            places.append((f"inbound log {integration.kind}", as_text(row.__dict__)))
    return places


# ---------------------------------------------------------------- the sweep


@dataclass
class Sweep:
    """What the sweep learned on the way: the running bot, the fakes, every CLI output, and the secrets Vigil showed
    once with the one place each was shown."""

    vigil: Vigil
    fakes: Fakes
    env: dict[str, str]
    outputs: list[Place]
    shown_once: dict[str, tuple[str, str]]  # name -> (value, where it was shown)
    integration_ids: dict[str, str]

    async def cli(self, where: str, *args: str, code: int = 0) -> Any:
        result = await vigil_cli(self.env, *args)
        assert result.exit_code == code, result.output
        self.outputs.append((f"cli: {where}", result.output))
        return result


def vigil_signature(secret: str, raw: bytes) -> str:
    at = int(time.time())
    return f"t={at},v1={hmac.new(secret.encode(), f'{at}.'.encode() + raw, hashlib.sha256).hexdigest()}"


async def configure(sweep: Sweep, tmp_path: Path) -> None:
    """Every kind but Linear through `vigil integrations add`; Linear through App Home; a component's own routing key
    through App Home's component modal (after the PagerDuty sync, so its service can be picked)."""
    vigil = sweep.vigil
    for spec in specs(sweep.fakes):
        if spec.kind == "linear":
            continue
        result = await add_with_cli(sweep.env, spec, tmp_path / f"{spec.name}.secret")
        where = f"cli: integrations add {spec.kind}"
        sweep.outputs.append((where, result.output))
        shown = lines_of(result.stdout)
        sweep.integration_ids[spec.kind] = shown["id"]
        sweep.shown_once[f"{spec.kind}.inbound_secret"] = (shown["inbound_secret"], where)

    await open_home(vigil, ALICE)
    await click(vigil, ALICE, ids.ACTION_HOME_TAB_INTEGRATIONS, "integrations")
    modal = await open_modal(vigil, ids.ACTION_ADMIN_CONNECT_INTEGRATION, "linear")
    typed = {
        "Name": "linear",
        setting_block_id("api_url"): sweep.fakes.linear.url,
        setting_block_id("team_id"): LINEAR_TEAM,
        secret_block_id("api_key"): LINEAR_KEY,
        secret_block_id("signing_secret"): LINEAR_SIGNING,
    }
    ack = await submit(vigil, modal, typed)
    assert ack.payload is None, ack.payload
    found = SHOWN_ONCE.search(home_text(vigil))
    assert found, home_text(vigil)
    publishes = [n for n, c in enumerate(vigil.emu.calls) if c.method == "views.publish"]
    sweep.shown_once["linear.inbound_secret"] = (found.group(1), f"views.publish #{publishes[-1]}")
    [linear] = [i for i in await vigil.container.integrations.list_integrations(team_id=vigil.team_id) if i.kind == "linear"]
    sweep.integration_ids["linear"] = linear.id

    await sweep.cli("jobs run sync_pagerduty", "jobs", "run", "sync_pagerduty")
    await click(vigil, ALICE, ids.ACTION_HOME_TAB_COMPONENTS, "components")
    modal = await open_modal(vigil, ids.ACTION_ADMIN_ADD_COMPONENT)
    answers = {"Name": "checkout", "PagerDuty service": PD_SERVICE[0], "Own routing key": COMPONENT_ROUTING_KEY}
    ack = await submit(vigil, modal, answers)
    assert ack.payload is None, ack.payload

    token = await sweep.cli("update --inbound-token on", "integrations", "update", "hook", "--inbound-token", "on")
    sweep.shown_once["webhook.inbound_token"] = (lines_of(token.stdout)["inbound_token"], "cli: update --inbound-token on")


async def work_an_incident(sweep: Sweep) -> None:
    """A P1 declared, delivered to every fake, acknowledged from outside (signed, by token, by GitHub), updated,
    resolved; a PagerDuty service paged with the REST token."""
    vigil, fakes = sweep.vigil, sweep.fakes
    incident = await declare(
        vigil, f"Checkout down {CANARY}", "P1", description=base64.b64encode(CANARY_B64.encode()).decode()
    )
    await worker_rounds(vigil)
    assert [r.path for r in fakes.receiver.requests] == [HOOK_PATH, TEAMS_PATH]
    assert fakes.jira.issues and fakes.linear.issues and fakes.opsgenie.alerts and fakes.servicenow.records
    assert [a["routing_key"] for a in fakes.pagerduty.alerts] == [PD_ROUTING_KEY]

    hook, gh = sweep.integration_ids["webhook"], sweep.integration_ids["github"]
    ref = {"external_ref": incident.external_key}
    signed = {"X-Vigil-Signature": lambda raw: vigil_signature(sweep.shown_once["webhook.inbound_secret"][0], raw)}
    assert await post_signed(vigil, "webhook", hook, {**ref, "status": "acknowledged"}, signed) == 202
    token = {"X-Vigil-Token": lambda raw: sweep.shown_once["webhook.inbound_token"][0]}
    assert await post_signed(vigil, "webhook", hook, {**ref, "status": "acknowledged", "note": "by token"}, token) == 202
    pr = {
        "action": "closed",
        "number": 9,
        "pull_request": {
            "title": f"Fix INC-{incident.number}",
            "body": "",
            "merged": True,
            "html_url": "https://github.com/acme/shop/pull/9",
            "head": {"ref": "fix"},
        },
        "repository": {"full_name": "acme/shop"},
    }
    github = {
        "X-Hub-Signature-256": lambda raw: "sha256=" + hmac.new(GITHUB_SIGNING.encode(), raw, hashlib.sha256).hexdigest(),
        "X-GitHub-Event": lambda raw: "pull_request",
        "X-GitHub-Delivery": lambda raw: "gh-delivery-1",
    }
    assert await post_signed(vigil, "github", gh, pr, github) == 202
    await vigil.container.inbound.drain()
    [acknowledged] = await vigil.incidents()
    assert acknowledged.acknowledged_at is not None, "the signed webhook was verified and carried out"

    channel = incident.channel_id or ""
    for command in ("severity P2", "resolve rolled back"):
        assert (await vigil.command(command, channel=channel)).acked
        await vigil.settle()
    assert (await vigil.command(f"page {PD_SERVICE[1].lower()}", channel=INCIDENTS_CHANNEL)).acked
    await vigil.settle()
    await worker_rounds(vigil)
    assert fakes.pagerduty.calls("POST", "/incidents"), "the REST page went out with the token"
    logging.getLogger("tests.security").debug("planted %s", LOG_CANARY)


async def post_signed(
    vigil: Vigil, kind: str, integration_id: str, body: Mapping[str, Any], headers: Mapping[str, Any]
) -> int:
    """POST a vendor's request to the sidecar; each header is made from the raw body (a signature) or fixed."""
    raw = json.dumps(body).encode()
    made = {name: make(raw) for name, make in headers.items()}
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{vigil.http}/hooks/{kind}/{integration_id}",
            data=raw,
            headers={"Content-Type": "application/json", **made},
        ) as resp,
    ):
        return resp.status


async def vendors_echo_secrets(sweep: Sweep) -> None:
    """Vendors that quote the credential back in an error ("API key … is invalid", a 400 naming the URL it was
    called on): the test, the sync and the check fail, and their errors reach the delivery log, the job log, the logs
    and the CLI, which must say what failed without repeating the secret."""
    fakes, vigil = sweep.fakes, sweep.vigil
    fakes.opsgenie.server.respond(401, json={"message": f"Key {GENIE_KEY} is not a valid GenieKey"})
    fakes.receiver.route(TEAMS_PATH, "POST").respond(400, body=f"No flow at {fakes.teams_url}".encode())
    fakes.jira.route("myself").respond(401, json={"errorMessages": [f"API token {JIRA_TOKEN} was revoked"], "errors": {}})
    for name in ECHOING.values():
        tested = await sweep.cli(f"integrations test {name} (echoed)", "integrations", "test", name, code=1)
        assert "error: https://127.0.0.1:" in tested.output and MASK in tested.output, tested.output
    fakes.pagerduty.server.respond(401, json={"error": {"message": f"Token token={PD_API_TOKEN} is invalid", "code": 2006}})
    synced = await sweep.cli("jobs run sync_pagerduty (echoed)", "jobs", "run", "sync_pagerduty", code=1)
    assert "answered 401: Token token=•••• is invalid" in synced.output, synced.output
    fakes.linear.fail_next("authentication error", status=400, message=f"Bad API key {LINEAR_KEY}")
    sweep.env |= {
        "SLACK_BOT_TOKEN": vigil.emu.bot_token,
        "SLACK_APP_TOKEN": vigil.emu.app_token,
        "SLACK_API_URL": vigil.emu.api_url,
    }
    checked = await sweep.cli("check (linear echoed)", "check", code=1)
    assert "integration linear: failed: linear: " in checked.output and f"Bad API key {MASK}" in checked.output


async def operate(sweep: Sweep, rotated: str) -> None:
    """What operators run: test every integration (three against vendors quoting the secret back), check, rotate
    the key ring, and read everything back (the newest delivery of the kinds whose errors and bodies matter most)."""
    vigil = sweep.vigil
    for spec in specs(sweep.fakes):
        if spec.kind not in ECHOING:
            await sweep.cli(f"integrations test {spec.kind}", "integrations", "test", spec.name)
    await vendors_echo_secrets(sweep)
    sweep.env["VIGIL_ENCRYPTION_KEYS"] = rotated
    moved = await sweep.cli("keys rotate", "keys", "rotate", "--json")
    assert json.loads(moved.stdout)["moved"] == len(specs(sweep.fakes)) + 1, "every integration and the component"
    for args in (
        ("integrations", "list"),
        ("integrations", "list", "--json"),
        ("integrations", "update", "teams"),  # no change: the integration's own lines, as `show` would print them
        ("integrations", "update", "pd", "--json"),
        ("integrations", "inbound", "hook", "--json"),
        ("deliveries", "list"),
        ("deliveries", "list", "--json"),
    ):
        await sweep.cli(" ".join(args), *args)
    deliveries = json.loads(sweep.outputs[-1][1])
    for kind in ("teams", "pagerduty"):
        newest = next(d["delivery_id"] for d in deliveries if d["kind"] == kind)
        await sweep.cli(f"deliveries show ({kind})", "deliveries", "show", newest)
        await sweep.cli(f"deliveries show --json ({kind})", "deliveries", "show", newest, "--json")

    await open_home(vigil, ALICE)
    await click(vigil, ALICE, ids.ACTION_HOME_TAB_INTEGRATIONS, "integrations")
    for kind in ("teams", "linear", "pagerduty"):
        edit = await open_modal(vigil, ids.ACTION_ADMIN_EDIT_INTEGRATION, sweep.integration_ids[kind])
        assert "••••" in json.dumps(edit.data["blocks"], ensure_ascii=False)
    await open_modal(vigil, ids.ACTION_ADMIN_INBOUND_LOG, sweep.integration_ids["webhook"])


async def test_no_secret_in_the_database_logs_delivery_log_cli_or_slack(
    start_vigil: StartVigil,
    db_url: str,
    ca_bundle: Path,
    https_server: ServerFactory,
    debug_logs: Records,
    tmp_path: Path,
) -> None:
    fakes = await start_fakes(https_server)
    ring = key_ring("k1", "k2")
    rotated = ",".join(reversed(ring.split(",")))  # k2 first: what an operator sets before `vigil keys rotate`
    env = cli_env(db_url, ca_bundle, ring)
    vigil = await start_vigil(settings={k: v for k, v in env.items() if k != "VIGIL_DATABASE_URL"})
    await stop_worker(vigil)
    await vigil.tag(TECH_INCIDENTS, INCIDENTS_CHANNEL)
    sweep = Sweep(vigil, fakes, env, outputs=[], shown_once={}, integration_ids={})

    await configure(sweep, tmp_path)
    await work_an_incident(sweep)
    await operate(sweep, rotated)
    delivery_log = await delivery_log_places(vigil)
    await vigil.runtime.stop()

    places: dict[str, list[Place]] = {
        "database": await database_places(db_url),
        "database file": sqlite_file_places(db_url),
        "logs": debug_logs.places(),
        "delivery log": delivery_log,
        "cli": sweep.outputs,
        "slack": [*slack_sent(vigil)],
    }
    everywhere = [place for found in places.values() for place in found]

    never = {**typed_secrets(), "slack bot token": vigil.emu.bot_token, "slack app token": vigil.emu.app_token}
    never |= {f"key ring {entry.split(':')[0]}": entry.split(":", 1)[1] for entry in ring.split(",")}
    leaks = hits(everywhere, [n for name, value in never.items() for n in needles(name, value)])
    assert not leaks, "secrets found:\n" + report(leaks)
    for entry in ring.split(","):
        kid, key = entry.split(":", 1)
        assert not [w for w, c in places["database file"] if base64.b64decode(key) in c], f"key {kid}'s bytes in the file"

    for name, (value, where) in sweep.shown_once.items():
        seen = {place for place, _ in hits(everywhere, needles(name, value))}
        assert seen == {where}, f"{name} was shown in {sorted(seen)}, only {where} may show it"

    assert_every_place_was_read(places)


def assert_every_place_was_read(places: Mapping[str, Sequence[Place]]) -> None:
    """The canaries turn up where the scan looked: an empty or unread place would pass any scan."""
    canary = needles("canary", CANARY)
    for name, found in places.items():
        if name == "logs":
            assert hits(found, needles("log canary", LOG_CANARY)), "the log capture saw the planted record"
        elif name == "database file" and not found:
            continue  # PostgreSQL: no file to read
        else:
            assert hits(found, canary), f"the canary is nowhere in the {name}: the scan did not read it"
    encoded = [n for where, n in hits(places["database"], needles("canary b64", CANARY_B64)) if n.form != "plain"]
    assert encoded, "the scan sees through base64 in a real column"
