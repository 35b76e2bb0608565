"""The `github` kind: inbound only. A merged pull request whose title, body or branch names `INC-<n>` goes on that
incident's timeline, and resolves it when `resolve_on_merge` is set. Vigil sends nothing to GitHub.

The webhook is GitHub's own (repository or organisation settings → Webhooks), signed with `X-Hub-Signature-256`
under the secret the admin pastes there: Vigil makes one when none is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import aiohttp

from integrations.base import Configured, Field, Job, Sent


class GitHubProvider:
    kind = "github"
    settings: tuple[Field, ...] = (
        Field("repos", "list", default=[], help="owner/name of the repositories to listen to, comma-separated (empty: all)"),
        Field("resolve_on_merge", "bool", default=False, help="resolve the incident when a PR naming it is merged"),
    )
    secrets: tuple[Field, ...] = (
        Field("signing_secret", generated=True, help="the webhook's secret in GitHub (made by Vigil if not given)"),
    )
    include_private_default = False

    def handles(self, event: str) -> bool:
        return False  # nothing goes out to GitHub

    def check(self, config: Mapping[str, Any], secrets: Mapping[str, str]) -> list[str]:
        repos = config.get("repos") or []
        bad = [r for r in repos if not isinstance(r, str) or r.count("/") != 1]
        return [f"repos: {', '.join(map(str, bad))} is not owner/name"] if bad else []

    async def deliver(self, job: Job, http: aiohttp.ClientSession) -> Sent:
        return Sent(note=INBOUND_ONLY)

    async def probe(self, integration: Configured, http: aiohttp.ClientSession) -> str:
        return INBOUND_ONLY


INBOUND_ONLY = (
    "GitHub only sends to Vigil: nothing to call. Use “Redeliver” or the ping in GitHub's webhook settings, then "
    "`vigil integrations inbound NAME` shows what arrived."
)
