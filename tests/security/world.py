"""Every kind of integration Vigil has, each pointed at its recording HTTPS fake with distinctive secrets, and the
in-process CLI: what the security sweeps configure through the real doors and then look for everywhere.

The secrets are made to be found: long, unlike anything else Vigil writes, and each one's name says whose it is,
so a hit in a scan names the leak. The fakes check them as the vendors do, so a delivery that reaches a fake proves
the secret was opened and used, not merely stored.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from sqlalchemy import func, select

from bot.cli.main import cli
from db.models import Delivery
from integrations.registry import PROVIDERS
from integrations.service import IntegrationInput
from tests.app.conftest import Vigil
from tests.fakes.https import RecordingServer
from tests.fakes.jira import FakeJira
from tests.fakes.linear import TEAM_ID as LINEAR_TEAM
from tests.fakes.linear import FakeLinear
from tests.fakes.opsgenie import FakeOpsgenie
from tests.fakes.pagerduty import FakePagerDuty
from tests.fakes.plugin import ServerFactory
from tests.fakes.servicenow import FakeServiceNow

# What admins type. Letters, digits, `-` and `_` only, so no JSON or URL escaping hides one from a plain search.
PD_ROUTING_KEY = "PdRoutingKeySecret0123456789ABCD"  # 32 letters and digits, as PagerDuty wants
PD_API_TOKEN = "pd-api-token-Secret-7f3a9c"
PD_SIGNING = "pd-signing-Secret-2b8e41"
JIRA_TOKEN = "jira-api-token-Secret-91ce0d"
JIRA_SIGNING = "jira-signing-Secret-5a7d22"
LINEAR_KEY = "lin_api_Secret4e1f08aa"
LINEAR_SIGNING = "linear-signing-Secret-0d93b7"
SNOW_PASSWORD = "snow-Passw0rd-Secret-66c1fe"
GENIE_KEY = "genie-key-Secret-3f5b70"
GITHUB_SIGNING = "gh-signing-Secret-a19d5c"
TEAMS_SIG = "TeamsSigSecret8c2e0a4bd71f"  # the credential a Workflows URL carries in its query
TEAMS_TOKEN_BYTES = b"teams-outgoing-token-Secret-bytes"
TEAMS_TOKEN = base64.b64encode(TEAMS_TOKEN_BYTES).decode()
COMPONENT_ROUTING_KEY = "CompRoutingKeySecret0123456789AB"  # a component's own key, typed in App Home

SNOW_USER = "vigil.integration"
JIRA_EMAIL = "vigil-bot@acme.example"
PD_FROM = "alice@acme.example"
PD_SERVICE = ("PCHK", "Checkout")
TEAMS_PATH = "/workflows/7d1/triggers/manual/paths/invoke"
HOOK_PATH = "/hook"


@dataclass
class Fakes:
    """The recording fakes: one HTTPS receiver for the webhook and Teams (by path), and a vendor fake each."""

    receiver: RecordingServer
    jira: FakeJira
    pagerduty: FakePagerDuty
    linear: FakeLinear
    opsgenie: FakeOpsgenie
    servicenow: FakeServiceNow

    def servers(self) -> list[RecordingServer]:
        return [
            self.receiver,
            self.jira.server,
            self.pagerduty.server,
            self.linear.server,
            self.opsgenie.server,
            self.servicenow.server,
        ]

    def requests(self) -> int:
        return sum(len(s.requests) for s in self.servers())

    def connections(self) -> int:
        return sum(s.connections for s in self.servers())

    @property
    def teams_url(self) -> str:
        """A Power Automate Workflows URL as Teams hands it out: its signature is in the query."""
        return f"{self.receiver.url}{TEAMS_PATH}?api-version=1&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={TEAMS_SIG}"


async def start_fakes(https_server: ServerFactory) -> Fakes:
    pagerduty = FakePagerDuty(await https_server(), token=PD_API_TOKEN)
    pagerduty.add_policy("PEP1", "Checkout escalation")
    pagerduty.add_service(*PD_SERVICE, policy="PEP1")
    return Fakes(
        receiver=await https_server(),
        jira=FakeJira(await https_server(), email=JIRA_EMAIL, token=JIRA_TOKEN),
        pagerduty=pagerduty,
        linear=FakeLinear(await https_server(), api_key=LINEAR_KEY),
        opsgenie=FakeOpsgenie(await https_server(), api_key=GENIE_KEY),
        servicenow=FakeServiceNow(await https_server(), username=SNOW_USER, password=SNOW_PASSWORD),
    )


@dataclass(frozen=True)
class Spec:
    """One integration to configure: its kind, name, settings and the secrets an admin types for it."""

    kind: str
    name: str
    settings: Mapping[str, str]
    secrets: Mapping[str, str] = field(default_factory=dict)


def specs(fakes: Fakes) -> list[Spec]:
    """One integration of every kind in the registry (a new kind without a line here fails the sweep)."""
    every = [
        Spec("webhook", "hook", {"url": fakes.receiver.url + HOOK_PATH}),
        Spec(
            "pagerduty",
            "pd",
            {"events_url": fakes.pagerduty.url, "api_url": fakes.pagerduty.url, "from_email": PD_FROM},
            {"routing_key": PD_ROUTING_KEY, "api_token": PD_API_TOKEN, "signing_secret": PD_SIGNING},
        ),
        Spec(
            "jira",
            "jira",
            {"url": fakes.jira.url, "project": "OPS", "email": JIRA_EMAIL},
            {"api_token": JIRA_TOKEN, "signing_secret": JIRA_SIGNING},
        ),
        Spec(
            "linear",
            "linear",
            {"api_url": fakes.linear.url, "team_id": LINEAR_TEAM},
            {"api_key": LINEAR_KEY, "signing_secret": LINEAR_SIGNING},
        ),
        Spec(
            "servicenow",
            "snow",
            {"instance_url": fakes.servicenow.url, "username": SNOW_USER},
            {"password": SNOW_PASSWORD},
        ),
        Spec("opsgenie", "genie", {"api_url": fakes.opsgenie.url}, {"api_key": GENIE_KEY}),
        Spec("teams", "teams", {}, {"url": fakes.teams_url, "security_token": TEAMS_TOKEN}),
        Spec("github", "gh", {}, {"signing_secret": GITHUB_SIGNING}),
    ]
    assert sorted(s.kind for s in every) == sorted(PROVIDERS), "every kind Vigil has is configured"
    return every


def typed_secrets() -> dict[str, str]:
    """Every secret an admin types, by a name that says whose it is."""
    return {
        "pagerduty.routing_key": PD_ROUTING_KEY,
        "pagerduty.api_token": PD_API_TOKEN,
        "pagerduty.signing_secret": PD_SIGNING,
        "jira.api_token": JIRA_TOKEN,
        "jira.signing_secret": JIRA_SIGNING,
        "linear.api_key": LINEAR_KEY,
        "linear.signing_secret": LINEAR_SIGNING,
        "servicenow.password": SNOW_PASSWORD,
        "opsgenie.api_key": GENIE_KEY,
        "github.signing_secret": GITHUB_SIGNING,
        "teams.url sig": TEAMS_SIG,
        "teams.security_token": TEAMS_TOKEN,
        "teams.security_token (bytes)": TEAMS_TOKEN_BYTES.decode(),
        "component routing key": COMPONENT_ROUTING_KEY,
    }


# ---------------------------------------------------------------- the doors


def cli_env(db_url: str, ca_bundle: Path, ring: str, **extra: str) -> dict[str, str]:
    """The environment of `vigil` beside the running bot: same database, key ring and outbound policy."""
    return {
        "VIGIL_DATABASE_URL": db_url,
        "VIGIL_ENCRYPTION_KEYS": ring,
        "VIGIL_CA_BUNDLE": str(ca_bundle),
        "VIGIL_OUTBOUND_ALLOW_PRIVATE": "true",
        **extra,
    }


async def vigil_cli(env: Mapping[str, str], *args: str, stdin: str | None = None) -> Result:
    """`vigil ARGS` in-process, in a thread: the CLI runs its own event loop while this test's loop keeps serving
    the emulator and the fakes."""
    runner = CliRunner()
    return await asyncio.to_thread(runner.invoke, cli, list(args), input=stdin, env=dict(env), catch_exceptions=False)


def lines_of(output: str) -> dict[str, str]:
    """`key: value` lines as a dict (what `add`, `rotate-secret` and `update` print)."""
    return dict(line.split(": ", 1) for line in output.splitlines() if ": " in line)


def add_args(spec: Spec, secret_file: Path | None = None) -> tuple[list[str], str | None]:
    """`integrations add` for a spec, secrets given each way the CLI takes them: the first on standard input, the
    second from a file (when one is given), the rest as KEY=VALUE."""
    args = ["integrations", "add", spec.kind, "--name", spec.name]
    for key, value in spec.settings.items():
        args += ["--set", f"{key}={value}"]
    stdin = None
    for n, (key, value) in enumerate(spec.secrets.items()):
        if n == 0 and len(spec.secrets) > 1:
            args += ["--secret", f"{key}=-"]
            stdin = value + "\n"
        elif n == 1 and secret_file is not None:
            secret_file.write_text(value + "\n", encoding="utf-8")
            args += ["--secret", f"{key}=@{secret_file}"]
        else:
            args += ["--secret", f"{key}={value}"]
    return args, stdin


async def add_with_cli(env: Mapping[str, str], spec: Spec, secret_file: Path | None = None) -> Result:
    args, stdin = add_args(spec, secret_file)
    result = await vigil_cli(env, *args, stdin=stdin)
    assert result.exit_code == 0, result.output
    return result


async def add_with_service(vigil: Vigil, spec: Spec) -> dict[str, str]:
    """The integration added through the service the doors share; the secrets it showed once."""
    created = await vigil.container.integrations.add(
        team_id=vigil.team_id,
        user_id=None,
        kind=spec.kind,
        change=IntegrationInput(name=spec.name, settings=dict(spec.settings), secrets=dict(spec.secrets)),
    )
    return dict(created.shown_once)


def as_text(value: Any) -> str:
    """A Slack payload or a row as searchable text."""
    return json.dumps(value, default=str, ensure_ascii=False)


def slack_sent(vigil: Vigil) -> list[tuple[str, str]]:
    """Everything Vigil sent to Slack: each Web API call's arguments, each Socket Mode ack, each response_url post,
    as (what, text)."""
    emu = vigil.emu
    sent = [(f"{c.method} #{n}", as_text(c.args)) for n, c in enumerate(emu.calls)]
    sent += [(f"ack of {e.type} {e.envelope_id}", as_text(e.ack_payload)) for e in emu.envelopes if e.ack_payload]
    sent += [(f"response_url post #{n}", as_text(r.body)) for n, r in enumerate(emu.state.responses)]
    return sent


async def worker_rounds(vigil: Vigil, *, rounds: int = 20) -> None:
    """Run delivery rounds (the runtime's worker is stopped: the test makes them) until none is left pending."""
    for _ in range(rounds):
        if not await vigil.container.worker.run_once():
            async with vigil.container.sessions() as session:
                left = await session.scalar(select(func.count()).select_from(Delivery).where(Delivery.status == "pending"))
            if not left:
                return
    raise AssertionError(f"deliveries still pending after {rounds} rounds")


async def stop_worker(vigil: Vigil) -> None:
    """Stop the runtime's delivery worker, so the test makes each round itself (no race, no sleep)."""
    vigil.container.worker.stop()
    assert vigil.runtime.worker_task is not None
    await vigil.runtime.worker_task
