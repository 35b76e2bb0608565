"""The sandbox's workspace and Vigil's configuration for it: three people, a usergroup, two channels, no secrets."""

from __future__ import annotations

from pathlib import Path

from bot.emulator import SlackEmulator
from bot.manifest import load_manifest, manifest_events
from bot.settings import Settings, load_settings

ALICE, BOB, CAROL = "U0ALICE", "U0BOB", "U0CAROL"
SRE = "S0SRE"
GENERAL, INCIDENTS = "C0GENERAL", "C0INCIDENTS"
EVERYONE = (ALICE, BOB, CAROL)


def make_emulator() -> SlackEmulator:
    """An emulator that sends only the events the manifest subscribes to, with the manifest's scopes, as Slack would."""
    manifest = load_manifest()
    return SlackEmulator(
        ack_timeout=3.0,
        redelivery_delay=1.0,
        subscribed_events=manifest_events(manifest),
        scopes=manifest["oauth_config"]["scopes"]["bot"],
    )


def seed(emu: SlackEmulator) -> None:
    """Everyone in UTC, so transcripts read the same wherever they are replayed."""
    emu.add_user(ALICE, "alice", real_name="Alice Admin", email="alice@acme.example", is_admin=True)
    emu.add_user(BOB, "bob", real_name="Bob Builder", email="bob@acme.example")
    emu.add_user(CAROL, "carol", real_name="Carol Chen", email="carol@acme.example")
    emu.add_usergroup(SRE, "sre", name="SRE", users=[ALICE, BOB])
    emu.add_channel("general", members=EVERYONE, channel_id=GENERAL, is_general=True)
    emu.add_channel("incidents", members=EVERYONE, channel_id=INCIDENTS)


def sandbox_settings(emu: SlackEmulator, database: Path, *, command: str = "/incident") -> Settings:
    """Vigil's settings pinned for the sandbox: whatever the environment says, no real host is ever called."""
    return load_settings(
        env_file=None,
        SLACK_BOT_TOKEN=emu.bot_token,
        SLACK_APP_TOKEN=emu.app_token,
        SLACK_API_URL=emu.api_url,
        VIGIL_DATABASE_URL=f"sqlite+aiosqlite:///{database}",
        VIGIL_HTTP_HOST="127.0.0.1",
        VIGIL_HTTP_PORT=0,
        VIGIL_PUBLIC_URL="http://127.0.0.1:8080",
        VIGIL_ENCRYPTION_KEYS=None,
        VIGIL_ADMINS="",
        VIGIL_CA_BUNDLE=None,
        VIGIL_OUTBOUND_ENABLED=False,
        VIGIL_OUTBOUND_ALLOW_PRIVATE=False,
        VIGIL_LOG_FORMAT="text",
        VIGIL_COMMAND=command,
    )
