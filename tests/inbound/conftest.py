"""A running Vigil (Socket Mode against the emulator, the sidecar on a real port) and helpers to sign and post webhook
requests the way each vendor does, computed here independently of Vigil's own code."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from db.models import InboundDelivery
from integrations.service import IntegrationInput
from tests.app.conftest import ALICE, Vigil, emulator, start_vigil  # noqa: F401  (fixtures)
from tests.integrations.platform import key_ring

SETTINGS = {
    "jira": {"url": "https://jira.invalid", "project": "OPS", "email": "bot@acme.example"},
    "linear": {"team_id": "4c3f2b8e-0000-4000-8000-000000000001"},
    "servicenow": {"instance_url": "https://acme.invalid", "username": "vigil"},
    "webhook": {"url": "https://hooks.invalid/vigil"},
    "opsgenie": {},
    "github": {},
    "teams": {},
}
SECRETS = {
    "jira": {"api_token": "jira-token", "signing_secret": "jira-signing"},
    "linear": {"api_key": "lin_api_key", "signing_secret": "linear-signing"},
    "servicenow": {"password": "pw"},
    "webhook": {},
    "opsgenie": {"api_key": "genie"},
    "github": {"signing_secret": "github-signing"},
    "teams": {"url": "https://teams.invalid/workflows/1", "security_token": base64.b64encode(b"teams-token-bytes").decode()},
}


def hex_sig(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def vigil_signature(secret: str, body: bytes, *, at: int | None = None) -> str:
    at = int(time.time()) if at is None else at
    return f"t={at},v1={hex_sig(secret, f'{at}.'.encode() + body)}"


def teams_signature(token_b64: str, body: bytes) -> str:
    digest = hmac.new(base64.b64decode(token_b64), body, hashlib.sha256).digest()
    return "HMAC " + base64.b64encode(digest).decode()


@dataclass
class Hooked:
    """An integration as a test uses it: its id and every secret, including the ones Vigil showed once."""

    id: str
    kind: str
    name: str
    secrets: dict[str, str]


@dataclass
class Hooks:
    vigil: Vigil
    http: aiohttp.ClientSession
    keys: str  # VIGIL_ENCRYPTION_KEYS, for the CLI beside the running Vigil

    async def add(
        self,
        kind: str,
        name: str | None = None,
        *,
        secrets: dict[str, str] | None = None,
        events: list[str] | None = None,
        **settings: Any,
    ) -> Hooked:
        created = await self.vigil.container.integrations.add(
            team_id=self.vigil.team_id,
            user_id=None,
            kind=kind,
            change=IntegrationInput(
                name=name or kind,
                settings={**SETTINGS.get(kind, {}), **settings},
                secrets={**SECRETS.get(kind, {}), **(secrets or {})},
                events=events if events is not None else ["incident.opened"],
            ),
        )
        return Hooked(
            created.integration.id,
            kind,
            created.integration.name,
            {**SECRETS.get(kind, {}), **(secrets or {}), **created.shown_once},
        )

    async def post(
        self,
        hooked: Hooked | str,
        body: bytes | Mapping[str, Any],
        headers: Mapping[str, str] | None = None,
        *,
        kind: str = "",
    ) -> tuple[int, Any]:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        path = f"/hooks/{hooked.kind}/{hooked.id}" if isinstance(hooked, Hooked) else f"/hooks/{kind}/{hooked}"
        async with self.http.post(
            self.vigil.http + path, data=raw, headers={"Content-Type": "application/json", **(headers or {})}
        ) as resp:
            text = await resp.text()
            if resp.content_type != "application/json":
                return resp.status, text
            return resp.status, json.loads(text)

    async def deliveries(self, integration: Hooked) -> list[Any]:
        from db.models import Delivery

        async with self.vigil.container.sessions() as session:
            stmt = select(Delivery).where(Delivery.integration_id == integration.id).order_by(Delivery.id)
            return list((await session.scalars(stmt)).all())

    async def portable(self, hooked: Hooked, body: Mapping[str, Any], **headers: str) -> tuple[int, Any]:
        raw = json.dumps(body).encode()
        return await self.post(
            hooked, raw, {"X-Vigil-Signature": vigil_signature(hooked.secrets["inbound_secret"], raw), **headers}
        )

    async def processed(self) -> None:
        await self.vigil.container.inbound.drain()

    async def log(self) -> list[InboundDelivery]:
        async with self.vigil.container.sessions() as session:
            return list((await session.scalars(select(InboundDelivery).order_by(InboundDelivery.id))).all())

    async def declare(self, title: str = "Checkout down", severity: str = "P2") -> Any:
        from bot.incidents.states import Severity

        declaration = await self.vigil.container.incidents.declare(
            team_id=self.vigil.team_id, reporter_id=ALICE, title=title, severity=Severity(severity)
        )
        return declaration.incident


@pytest.fixture
async def hooks(start_vigil: Any, ca_bundle: Path) -> AsyncIterator[Hooks]:  # noqa: F811  (the fixture imported above)
    """Vigil trusting the test CA and allowed to reach 127.0.0.1, where the fake vendors listen."""
    keys = key_ring()
    settings = {"VIGIL_ENCRYPTION_KEYS": keys, "VIGIL_CA_BUNDLE": str(ca_bundle), "VIGIL_OUTBOUND_ALLOW_PRIVATE": "true"}
    vigil = await start_vigil(settings=settings)
    async with aiohttp.ClientSession() as http:
        yield Hooks(vigil, http, keys)
