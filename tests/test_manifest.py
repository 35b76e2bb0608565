"""manifest.yml against what the code registers, both ways: a drifting manifest is how these bots break."""

from __future__ import annotations

import ast
from pathlib import Path

from bot import slack_ids
from bot.container import build_container
from bot.manifest import load_manifest, manifest_commands, manifest_events, manifest_shortcuts, render_manifest
from bot.settings import load_settings
from bot.slack_app import build_slack_app

ROOT = Path(__file__).resolve().parent.parent


def registry():  # type: ignore[no-untyped-def]
    settings = load_settings(
        env_file=None, VIGIL_DATABASE_URL="sqlite+aiosqlite:///:memory:", SLACK_BOT_TOKEN="xoxb-x", SLACK_APP_TOKEN="xapp-x"
    )
    return build_slack_app(build_container(settings)).registry


def test_registered_commands_events_and_shortcuts_match_the_manifest() -> None:
    manifest = load_manifest()
    reg = registry()
    assert reg.commands == manifest_commands(manifest)
    assert reg.events == manifest_events(manifest)
    assert reg.shortcuts == manifest_shortcuts(manifest)


def test_registered_ids_come_from_the_constants_module() -> None:
    reg = registry()
    constants = {v for k, v in vars(slack_ids).items() if k.isupper() and isinstance(v, str)}
    assert reg.views <= constants and reg.actions <= constants and reg.events <= constants and reg.shortcuts <= constants


def test_no_string_literal_ids_in_registrations() -> None:
    """`registry.action("…")` with a literal would bypass the constants module."""
    offenders = []
    for path in [*ROOT.glob("listeners/**/*.py"), *ROOT.glob("commands/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"action", "view", "event", "shortcut", "command"}
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_manifest_at_the_root_is_the_shipped_one() -> None:
    assert (ROOT / "manifest.yml").read_text() == (ROOT / "bot" / "manifest.yml").read_text()


def test_manifest_has_what_socket_mode_and_the_features_need() -> None:
    m = load_manifest()
    assert m["settings"]["socket_mode_enabled"] is True
    assert m["settings"]["interactivity"]["is_enabled"] is True
    assert m["features"]["app_home"]["home_tab_enabled"] is True
    assert all(c["should_escape"] is True for c in m["features"]["slash_commands"])
    scopes = set(m["oauth_config"]["scopes"]["bot"])
    assert {
        "channels:manage",
        "channels:read",
        "channels:history",
        "groups:write",
        "groups:read",
        "groups:history",
        "chat:write",
        "chat:write.public",
        "pins:write",
        "bookmarks:write",
        "reactions:read",
        "users:read",
        "users:read.email",
        "usergroups:read",
        "commands",
    } <= scopes


def test_render_follows_the_configured_command() -> None:
    assert "command: /sev" in render_manifest("/sev")
