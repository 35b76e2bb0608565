"""manifest.yml against what the code registers, both ways: a drifting manifest is how these bots break."""

from __future__ import annotations

import ast
from pathlib import Path

import yaml

from bot import slack_ids
from bot.container import build_container
from bot.manifest import load_manifest, manifest_commands, manifest_events, manifest_shortcuts, render_manifest
from bot.settings import load_settings
from bot.slack_app import build_slack_app

ROOT = Path(__file__).resolve().parent.parent


def registry(**env: str):  # type: ignore[no-untyped-def]
    settings = load_settings(
        env_file=None,
        VIGIL_DATABASE_URL="sqlite+aiosqlite:///:memory:",
        SLACK_BOT_TOKEN="xoxb-x",
        SLACK_APP_TOKEN="xapp-x",
        **env,
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


def test_vigil_manifest_matches_what_the_code_registers_for_a_renamed_command() -> None:
    """What `vigil manifest` prints for VIGIL_COMMAND is what the app registers: the command, every event, and the
    switches the registered listeners need (interactivity for actions and views, the Home tab for app_home_opened)."""
    reg = registry(VIGIL_COMMAND="/sev")
    printed = yaml.safe_load(render_manifest("/sev"))
    assert reg.commands == manifest_commands(printed) == {"/sev"}
    assert reg.events == manifest_events(printed)
    assert reg.shortcuts == manifest_shortcuts(printed)
    assert printed["settings"]["interactivity"]["is_enabled"] is bool(reg.actions or reg.views or reg.shortcuts)
    assert printed["features"]["app_home"]["home_tab_enabled"] is ("app_home_opened" in reg.events)


def test_the_root_manifest_is_the_shipped_one() -> None:
    """Admins create the app from the root manifest.yml; the package ships bot/manifest.yml: one file, not two."""
    root = ROOT / "manifest.yml"
    assert root.resolve() == (ROOT / "bot" / "manifest.yml").resolve()


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
