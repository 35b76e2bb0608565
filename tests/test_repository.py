"""The repository stands on its own, and its reference docs cannot silently drift from the code they describe."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any, cast

import click

from bot.cli.main import cli
from bot.settings import Settings
from bot.sidecar import build_sidecar
from commands.grammar import SUBCOMMANDS

REPO = Path(__file__).resolve().parents[1]

# Pointers to documents that live outside this repository. Spelled in pieces so this file does not match itself.
OUTSIDE = ("SPEC" + ".md", "SPEC" + " §", "SLACK" + "-WIRE", "VENDOR" + "-APIS", "../" + "shared", "shared" + " folder")


def repo_files() -> list[Path]:
    """Tracked files plus new ones not ignored (what the next commit can contain), as they are on disk."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    return [REPO / name for name in sorted(set(out.split("\0"))) if name and (REPO / name).is_file()]


def text_of(path: Path) -> str | None:
    """The file's text, or None for a binary file."""
    data = path.read_bytes()
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def read(relative: str) -> str:
    return (REPO / relative).read_text(encoding="utf-8")


def test_no_file_points_outside_the_repository() -> None:
    offenders = []
    for path in repo_files():
        text = text_of(path)
        if text is None:
            continue
        for n, line in enumerate(text.splitlines(), start=1):
            offenders += [f"{path.relative_to(REPO)}:{n}: {needle}" for needle in OUTSIDE if needle in line]
    assert not offenders, "\n".join(offenders)


def test_the_outside_check_can_fail(tmp_path: Path) -> None:
    sample = tmp_path / "notes.py"
    sample.write_text(f"# see {OUTSIDE[1]}4\n")
    assert any(needle in (text_of(sample) or "") for needle in OUTSIDE)
    (tmp_path / "blob.bin").write_bytes(b"\0" + OUTSIDE[0].encode())
    assert text_of(tmp_path / "blob.bin") is None


def env_names() -> list[str]:
    return [field.alias or name.upper() for name, field in Settings.model_fields.items()]


def test_every_setting_is_documented_and_in_env_example() -> None:
    configuration, example = read("docs/configuration.md"), read(".env.example")
    for var in env_names():
        assert f"`{var}`" in configuration, f"{var} missing from docs/configuration.md"
        assert re.search(rf"^#? ?{var}=", example, re.MULTILINE), f"{var} missing from .env.example"
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", configuration, re.MULTILINE))
    assert documented == set(env_names()), "docs/configuration.md documents a variable Vigil does not read"


def walk(group: click.Group, prefix: str = "vigil") -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        found.append((path, command))
        if isinstance(command, click.Group):
            found += walk(command, path)
    return found


def test_every_cli_verb_and_option_is_documented() -> None:
    doc = read("docs/cli.md")
    sections = re.split(r"^### ", doc, flags=re.MULTILINE)[1:]
    leaves = {path: command for path, command in walk(cli) if not isinstance(command, click.Group)}
    for path, command in walk(cli):
        if isinstance(command, click.Group):
            assert f"`{path}" in doc, f"{path} missing from docs/cli.md"
            continue
        matching = [s for s in sections if re.match(rf"`{re.escape(path)}[ `]", s)]
        assert len(matching) == 1, f"docs/cli.md needs one '### `{path}…`' section"
        for param in command.params:
            for opt in (*param.opts, *param.secondary_opts):
                if opt.startswith("--"):
                    assert opt in matching[0], f"{opt} of {path} missing from its section in docs/cli.md"
    for section in sections:
        words = section.split("`")[1].split() if section.startswith("`vigil ") else []
        if words:
            named = [" ".join(words[:n]) for n in range(2, len(words) + 1)]
            assert any(name in leaves for name in named), f"docs/cli.md documents `{section.splitlines()[0]}`"


def test_every_incident_subcommand_is_documented() -> None:
    doc = read("docs/commands.md")
    headings = re.findall(r"^### `/incident ([a-z]+)", doc, re.MULTILINE)
    assert sorted(headings) == sorted(SUBCOMMANDS), "docs/commands.md and commands/grammar.py disagree"


def test_every_sidecar_route_is_documented() -> None:
    async def connected() -> bool:
        return True

    app = build_sidecar(cast(Any, object()), socket_connected=connected)
    routes = {(route.method, route.resource.canonical) for route in app.router.routes() if route.resource is not None}
    assert routes, "the sidecar has no routes?"
    doc = read("docs/http.md")
    for method, path in routes:
        if method == "HEAD":
            continue
        assert f"## `{method} {path}`" in doc, f"{method} {path} missing from docs/http.md"


LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_relative_links_in_docs_resolve() -> None:
    pages = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    broken = []
    for page in pages:
        for target in LINK.findall(page.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            if not (page.parent / target).exists():
                broken.append(f"{page.relative_to(REPO)} -> {target}")
    assert not broken, "\n".join(broken)


def test_docs_index_lists_every_page() -> None:
    index = read("docs/README.md")
    for page in sorted((REPO / "docs").rglob("*.md")):
        relative = page.relative_to(REPO / "docs").as_posix()
        if relative != "README.md":
            assert f"({relative})" in index, f"docs/README.md does not link {relative}"
    assert "(sandbox.md)" in index and "(docs/sandbox.md)" in read("README.md")
