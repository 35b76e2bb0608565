"""SSRF through the doors, with `VIGIL_OUTBOUND_ALLOW_PRIVATE` unset: what an admin types into `vigil integrations
add/update` or App Home's integration forms cannot make Vigil reach a private address.

tests/integrations/test_outbound_guard.py proves the guard in every HTTP stack; here the question is whether every
door puts it in front of every URL field. A URL naming a private address in any of its spellings (loopback, the
RFC 1918 ranges, link-local and the cloud metadata address, unspecified, decimal, hex and octal IPv4, IPv4-mapped
IPv6, credentials before the host) is refused where it is typed, with a line naming the field and the reason, and
nothing is saved. A host *name* passes when saved (names are checked when connecting, as docs/integrations/
overview.md says), so one that resolves to loopback is refused on every use instead: the test, a delivery, and App
Home's Test button. A public server that redirects to a private one is not followed there. Local listeners count
connections: none is ever made.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
from sqlalchemy import select

from bot import slack_ids as ids
from bot.blocks.integrations import secret_block_id, setting_block_id
from db.models import Delivery, Integration
from db.tags import TECH_INCIDENTS
from integrations.http import guard
from tests.app.conftest import (
    ALICE,
    INCIDENTS_CHANNEL,
    StartVigil,
    Vigil,
)
from tests.app.test_admin import home_text, open_modal, submit
from tests.app.test_declare import declare
from tests.app.test_home import click, open_home
from tests.fakes.https import Answer, RecordingServer, server_ssl_context
from tests.fakes.plugin import ServerFactory
from tests.integrations.platform import key_ring
from tests.security.world import stop_worker, vigil_cli, worker_rounds

# The guard decides before any row is written, and the same service writes on both backends (the secrets sweep runs
# these doors on PostgreSQL too): SQLite alone keeps this file quick.
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

SIG = "SsrfSigSecret5e0c1d9a77"  # a secret in a URL's query, which no refusal may repeat
HINT = "set VIGIL_OUTBOUND_ALLOW_PRIVATE=true for on-prem tools"
PUBLIC_STAND_IN = "127.0.0.2"  # a loopback address this file's `public_stand_in` fixture lets pass as public


@dataclass
class Listeners:
    """Local servers a successful SSRF would reach: their connection counts are the proof nothing did."""

    v4: RecordingServer
    v6: RecordingServer

    def untouched(self) -> bool:
        return (self.v4.connections, self.v6.connections, self.v4.requests, self.v6.requests) == (0, 0, [], [])


@pytest.fixture
async def listeners(https_server: ServerFactory) -> Listeners:
    return Listeners(await https_server(), await https_server(host="::1"))


def refused_urls(local: Listeners) -> list[tuple[str, str]]:
    """Each spelling of a private target, and the reason its refusal gives."""
    p4, p6 = local.v4.port, local.v6.port
    loopback = f"refused: 127.0.0.1 is a loopback address; {HINT}"
    odd = "is not a canonical IP address"
    return [
        (f"https://127.0.0.1:{p4}/hook?sig={SIG}", loopback),
        (f"https://[::1]:{p6}/hook", f"refused: ::1 is a loopback address; {HINT}"),
        ("https://10.20.30.40/hook", "refused: 10.20.30.40 is a private address"),
        ("https://172.16.0.1/hook", "refused: 172.16.0.1 is a private address"),
        ("https://172.31.255.254/hook", "refused: 172.31.255.254 is a private address"),
        ("https://192.168.1.10/hook", "refused: 192.168.1.10 is a private address"),
        ("https://169.254.169.254/latest/meta-data/", "refused: 169.254.169.254 is a link-local address"),
        (f"https://0.0.0.0:{p4}/hook", "refused: 0.0.0.0 is an unspecified address"),
        (f"https://2130706433:{p4}/hook", f"refused: 2130706433 {odd}"),
        (f"https://0x7f000001:{p4}/hook", f"refused: 0x7f000001 {odd}"),
        (f"https://0177.0.0.1:{p4}/hook", f"refused: 0177.0.0.1 {odd}"),
        (f"https://127.1:{p4}/hook", f"refused: 127.1 {odd}"),
        (f"https://[::ffff:127.0.0.1]:{p4}/hook", "refused: ::ffff:127.0.0.1 is a loopback address"),
        (f"https://[::ffff:7f00:1]:{p4}/hook", "refused: ::ffff:7f00:1 is a loopback address"),
        ("https://[fd00::1]/hook", "refused: fd00::1 is a private address"),
        (f"https://good.example@127.0.0.1:{p4}/hook", loopback),
        (f"https://good.example:{SIG}@127.0.0.1:{p4}/hook", loopback),
        ("http://2130706433/", "refused: http:// is allowed only with VIGIL_OUTBOUND_ALLOW_PRIVATE=true"),
        ("http://0x7f000001/", "refused: http:// is allowed only with VIGIL_OUTBOUND_ALLOW_PRIVATE=true"),
        ("http://169.254.169.254/latest/meta-data/", "refused: http:// is allowed only"),
    ]


def strict_env(db_url: str, ca_bundle: Path, ring: str) -> dict[str, str]:
    """The CLI's environment: the bot's database and keys, and no VIGIL_OUTBOUND_ALLOW_PRIVATE at all."""
    return {"VIGIL_DATABASE_URL": db_url, "VIGIL_ENCRYPTION_KEYS": ring, "VIGIL_CA_BUNDLE": str(ca_bundle)}


@dataclass
class Strict:
    vigil: Vigil
    env: dict[str, str]

    async def integrations(self) -> list[Integration]:
        async with self.vigil.container.sessions() as session:
            return list((await session.scalars(select(Integration).order_by(Integration.name))).all())

    async def deliveries(self) -> list[Delivery]:
        async with self.vigil.container.sessions() as session:
            return list((await session.scalars(select(Delivery).order_by(Delivery.id))).all())

    async def cli(self, *args: str) -> Any:
        return await vigil_cli(self.env, *args)


@pytest.fixture
async def strict(start_vigil: StartVigil, db_url: str, ca_bundle: Path) -> Strict:
    """Vigil as shipped (private targets refused), the delivery worker driven by the test; Alice on her Home's
    Integrations tab."""
    ring = key_ring()
    vigil = await start_vigil(settings={"VIGIL_ENCRYPTION_KEYS": ring, "VIGIL_CA_BUNDLE": str(ca_bundle)})
    assert not vigil.container.settings.outbound_allow_private
    await stop_worker(vigil)
    await vigil.tag(TECH_INCIDENTS, INCIDENTS_CHANNEL)
    await open_home(vigil, ALICE)
    await click(vigil, ALICE, ids.ACTION_HOME_TAB_INTEGRATIONS, "integrations")
    return Strict(vigil, strict_env(db_url, ca_bundle, ring))


async def home_connect(strict: Strict, kind: str, answers: dict[str, Any]) -> dict[str, str]:
    """Submit App Home's connect form for `kind`; the errors shown under its fields (empty: it was taken)."""
    modal = await open_modal(strict.vigil, ids.ACTION_ADMIN_CONNECT_INTEGRATION, kind)
    ack = await submit(strict.vigil, modal, answers)
    return dict((ack.payload or {}).get("errors") or {})


async def test_private_targets_are_refused_at_every_door_and_nothing_is_saved(strict: Strict, listeners: Listeners) -> None:
    got_through: list[tuple[Any, ...]] = []
    for n, (url, reason) in enumerate(refused_urls(listeners)):
        added = await strict.cli("integrations", "add", "webhook", "--name", f"cli-{n}", "--set", f"url={url}")
        if added.exit_code != 2 or f"error: url: {reason}" not in added.output or SIG in added.output:
            got_through.append(("cli", url, added.exit_code, added.output))
        errors = await home_connect(strict, "webhook", {"Name": f"home-{n}", setting_block_id("url"): url})
        shown = errors.get(setting_block_id("url"), "")
        if not shown.startswith(reason) or SIG in shown:
            got_through.append(("app home", url, errors))
    assert not got_through, "\n".join(map(str, got_through))
    assert await strict.integrations() == []
    assert listeners.untouched()


async def test_every_url_field_of_every_kind_is_guarded_when_added_and_when_changed(
    strict: Strict, listeners: Listeners
) -> None:
    private = f"https://127.0.0.1:{listeners.v4.port}"
    fields = [
        ("jira", "url", ["--set", "project=OPS", "--secret", "api_token=t"]),
        ("linear", "api_url", ["--set", "team_id=5b0f4a52-7b43-4c55-8d1e-2f0b7d4e9c11", "--secret", "api_key=k"]),
        ("opsgenie", "api_url", ["--secret", "api_key=k"]),
        ("pagerduty", "events_url", ["--secret", "routing_key=" + "R" * 32]),
        ("pagerduty", "api_url", ["--secret", "routing_key=" + "R" * 32]),
        ("servicenow", "instance_url", ["--set", "username=u", "--secret", "password=p"]),
    ]
    for kind, key, rest in fields:
        added = await strict.cli("integrations", "add", kind, "--name", kind, "--set", f"{key}={private}", *rest)
        assert added.exit_code == 2 and f"error: {key}: refused: 127.0.0.1 is a loopback address" in added.output, (
            kind,
            added.output,
        )
    teams = await strict.cli("integrations", "add", "teams", "--name", "teams", "--secret", f"url={private}/x?sig={SIG}")
    assert teams.exit_code == 2 and "error: url: refused: 127.0.0.1 is a loopback address" in teams.output, teams.output
    assert SIG not in teams.output
    errors = await home_connect(strict, "teams", {"Name": "teams", secret_block_id("url"): f"{private}/x?sig={SIG}"})
    assert errors[secret_block_id("url")].startswith("refused: 127.0.0.1 is a loopback address")
    assert await strict.integrations() == []

    # A saved integration (a public-looking name) cannot be moved to a private address afterwards either.
    saved = await strict.cli("integrations", "add", "webhook", "--name", "hook", "--set", "url=https://hooks.example.com/v")
    assert saved.exit_code == 0, saved.output
    moved = await strict.cli("integrations", "update", "hook", "--set", f"url={private}/hook")
    assert moved.exit_code == 2 and "error: url: refused: 127.0.0.1 is a loopback address" in moved.output, moved.output
    [hook] = await strict.integrations()
    edit = await open_modal(strict.vigil, ids.ACTION_ADMIN_EDIT_INTEGRATION, hook.id)
    ack = await submit(strict.vigil, edit, {setting_block_id("url"): f"https://[::ffff:127.0.0.1]:{listeners.v4.port}/"})
    assert (ack.payload or {}).get("errors", {}).get(setting_block_id("url"), "").startswith("refused: ::ffff:127.0.0.1")
    assert [(i.name, i.config) for i in await strict.integrations()] == [("hook", {"url": "https://hooks.example.com/v"})]
    assert listeners.untouched()


async def test_a_name_resolving_to_loopback_is_saved_but_refused_on_every_use(strict: Strict, listeners: Listeners) -> None:
    vigil, port = strict.vigil, listeners.v4.port
    added = await strict.cli("integrations", "add", "webhook", "--name", "hook", "--set", f"url=https://localhost:{port}/h")
    assert added.exit_code == 0, added.output
    teams_url = f"https://localhost:{port}/workflows/1?sig={SIG}"
    teams = await strict.cli("integrations", "add", "teams", "--name", "teams", "--secret", f"url={teams_url}")
    assert teams.exit_code == 0, teams.output

    tested = await strict.cli("integrations", "test", "hook")
    assert tested.exit_code == 1 and "error: refused: localhost resolves to a loopback address (" in tested.output
    await click(vigil, ALICE, ids.ACTION_HOME_TAB_INTEGRATIONS, "integrations")
    [teams_row] = [i for i in await strict.integrations() if i.kind == "teams"]
    await click(vigil, ALICE, ids.ACTION_ADMIN_TEST_INTEGRATION, teams_row.id)
    assert "Test failed: refused: localhost resolves to a loopback address" in home_text(vigil)

    await declare(vigil, "Checkout down", "P1")
    await worker_rounds(vigil)
    opened = [d for d in await strict.deliveries() if d.event == "incident.opened"]
    assert len(opened) == 2 and all(d.status == "failed" and d.attempts == 1 for d in opened), "refused at once"
    assert all((d.error or "").startswith("refused: localhost") and SIG not in (d.error or "") for d in opened)
    assert listeners.untouched()


# ---------------------------------------------------------------- redirects


@pytest.fixture
def public_stand_in(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """127.0.0.2 passes the guard as if it were a public address; every other address gets the real policy.

    Every local server is loopback, and the doors take no address checker (the guard tests pass one in), so this
    patches the one function that classifies an address: the first hop of a redirect can then be a local fake
    while the hop it redirects to, 127.0.0.1 or `localhost`, meets the policy as shipped."""
    real = guard._refused_kind

    def refused_kind(addr: guard.IPAddress) -> str | None:
        return None if str(addr) == PUBLIC_STAND_IN else real(addr)

    monkeypatch.setattr(guard, "_refused_kind", refused_kind)
    yield PUBLIC_STAND_IN


@pytest.fixture
async def public(public_stand_in: str, test_ca: trustme.CA) -> AsyncIterator[RecordingServer]:
    """An HTTPS server on the public stand-in, its certificate from the test CA."""
    context = server_ssl_context(test_ca.issue_cert(public_stand_in))
    async with RecordingServer(ssl_context=context, host=public_stand_in) as server:
        yield server


async def test_a_public_server_redirecting_to_a_private_one_is_not_followed(
    strict: Strict, listeners: Listeners, public: RecordingServer
) -> None:
    inside = f"https://127.0.0.1:{listeners.v4.port}/internal?sig={SIG}"
    public.default = Answer(307, headers={"Location": inside})
    for kind, settings, secrets in (
        ("webhook", {"url": public.url + "/hook"}, {}),
        ("jira", {"url": public.url, "project": "OPS", "email": "bot@acme.example"}, {"api_token": "t0ken"}),
    ):
        args = [f"{k}={v}" for k, v in settings.items()]
        flags = [f for a in args for f in ("--set", a)] + [f for k, v in secrets.items() for f in ("--secret", f"{k}={v}")]
        added = await strict.cli("integrations", "add", kind, "--name", kind, *flags)
        assert added.exit_code == 0, added.output

    hook = await strict.cli("integrations", "test", "webhook")  # aiohttp kinds never follow a redirect
    assert hook.exit_code == 1 and "answered 307" in hook.output and SIG not in hook.output, hook.output
    jira = await strict.cli("integrations", "test", "jira")  # the jira library follows it: the guard checks the hop
    assert jira.exit_code == 1, jira.output
    assert f"error: refused: 127.0.0.1 is a loopback address; {HINT}" in jira.output and SIG not in jira.output

    public.default = Answer(302, headers={"Location": f"https://localhost:{listeners.v4.port}/internal"})
    jira = await strict.cli("integrations", "test", "jira")
    assert "error: refused: localhost resolves to a loopback address (" in jira.output, jira.output

    assert len(public.requests) >= 3, "the public hop was made each time"
    assert listeners.untouched()
