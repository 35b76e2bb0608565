"""README.md's two commands are the ones CI runs, so the first thing a newcomer types is known to work."""

from __future__ import annotations

import re

from tests.cli.conftest import REPO

TRY = "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/vigil sandbox"
TEST = "python3 -m venv .venv && .venv/bin/pip install -e '.[dev]' && .venv/bin/python -m pytest"
EXAMPLE = "examples/p1-walk.txt"


def readme_command(section: str) -> str:
    """The first line of the first shell block under `## <section>`."""
    text = (REPO / "README.md").read_text()
    match = re.search(rf"^## {re.escape(section)}\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"README.md has no '## {section}' section"
    block = re.search(r"^```sh\n(.*?)^```", match.group(1), re.MULTILINE | re.DOTALL)
    assert block, f"README.md's '{section}' has no ```sh block"
    return block.group(1).strip().splitlines()[0]


def ci_command(label: str) -> str:
    """The line after `# README: "<label>"…` in .ci/run."""
    lines = (REPO / ".ci" / "run").read_text().splitlines()
    for i, line in enumerate(lines):
        if line.startswith(f'# README: "{label}"'):
            return lines[i + 1].strip()
    raise AssertionError(f'.ci/run has no step commented # README: "{label}"')


def quiet(command: str) -> str:
    """CI installs quietly; that is the only difference it may make."""
    return command.replace(".venv/bin/pip install -e", ".venv/bin/pip install -q -e")


def test_readme_try_it_is_the_first_command_and_takes_a_fresh_clone_into_the_sandbox() -> None:
    assert readme_command("Try it") == TRY
    text = (REPO / "README.md").read_text()
    assert text.index(TRY) < text.index(TEST), "Try it comes before Test it"
    assert text.index("```sh") == text.index("```sh\n" + TRY), "no other command comes first"


def test_readme_test_it_is_the_test_command() -> None:
    assert readme_command("Test it") == TEST


def test_ci_runs_the_readme_commands_exactly() -> None:
    assert ci_command("Try it") == quiet(readme_command("Try it")) + f" --script {EXAMPLE}"
    assert ci_command("Test it") == quiet(readme_command("Test it"))
    ci = (REPO / ".ci" / "run").read_text()
    assert ci.index(ci_command("Try it")) < ci.index(ci_command("Test it")), "the sandbox walk runs before the suite"
