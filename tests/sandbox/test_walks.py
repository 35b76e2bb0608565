"""Whole walks through the sandbox: the shipped example, a walk typed from the docs alone, and lines that fail."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.sandbox.render import ANSI, PLAIN
from bot.sandbox.repl import choose_style
from tests.sandbox.conftest import EXAMPLE, ROOT, Replay

CHANNEL = "#inc-1-checkout-is-down"


def vigil_command() -> list[str]:
    """The installed `vigil` entry point next to this interpreter, else the same CLI through `python -m`."""
    script = Path(sys.executable).with_name("vigil")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli.main"]


async def test_the_example_replays_green(replay: Replay) -> None:
    run = await replay(EXAMPLE.read_text(encoding="utf-8"))
    assert (run.code, run.err) == (0, ""), run.out
    assert f"* vigil created the channel {CHANNEL}" in run.out
    assert f"[{CHANNEL}:1] vigil:\n    :red_circle: P1 · INC-1 · Checkout is down" in run.out  # the opening message…
    assert f"* vigil pinned {CHANNEL}:1" in run.out  # …pinned
    assert "    :rotating_light: INC-1 declared: #inc-1-checkout-is-down\n    [Page on-call]  [Hand off]" in run.out
    assert f"* vigil edited {CHANNEL}:1:\n    + Acknowledged: @alice after 1 m" in run.out  # the ack…
    assert f"[{CHANNEL}:2] vigil:\n    :eyes: @alice: Acknowledged" in run.out  # …said once, in the channel
    assert f"* bob reacted :eyes: to {CHANNEL}:1" in run.out
    assert f"[{CHANNEL}:3] vigil:\n    :memo: @alice: Rolled back deploy 4121; error rate falling" in run.out
    assert "Pinned: Error rate is back under 1% since 12:10" in run.out  # :pushpin: put it on the timeline
    assert "    - [Acknowledge]  [Page on-call]  [Update]\n    + [Add note]  [Resolve]  [Update]" in run.out
    assert "+ :large_orange_circle: P2 · INC-1 · Checkout is down" in run.out
    assert "[#incidents:2] (in the thread of #incidents:1) vigil:\n    :arrow_down: INC-1 downgraded" in run.out
    assert "(also sent to the channel) vigil:\n    :white_check_mark: INC-1 resolved after 1 m" in run.out
    assert "+ [Start postmortem]  [Reopen]" in run.out
    assert f"* vigil renamed {CHANNEL} to {CHANNEL}-closed" in run.out
    assert "+ Status: :lock: Closed" in run.out
    # One change, one line: no private echo of what was done in the channel, the topic set only when it changed.
    assert run.out.count("(only visible to alice)") == 2  # the declaration's confirmation and the timeline
    assert run.out.count("* vigil set the topic of") == 6  # declared, mitigating, P2, resolved, postmortem, closed
    assert "\x1b[" not in run.out


def test_the_cli_replays_the_example_as_a_subprocess() -> None:
    done = subprocess.run(
        [*vigil_command(), "sandbox", "--script", str(EXAMPLE)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        check=False,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    assert f"> react :pushpin: last\n* alice reacted :pushpin: to {CHANNEL}:4" in done.stdout
    assert f"renamed {CHANNEL} to {CHANNEL}-closed" in done.stdout
    assert "\x1b[" not in done.stdout  # piped: no colour


def test_a_failing_script_exits_1_from_the_cli(tmp_path: Path) -> None:
    script = tmp_path / "bad.txt"
    script.write_text("# who is dave?\nas dave\nhome\n", encoding="utf-8")
    done = subprocess.run(
        [*vigil_command(), "sandbox", "--script", str(script)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert done.stderr.strip() == "error: line 2: no user 'dave'; users are alice, bob, carol"
    assert "> home" not in done.stdout


@pytest.mark.parametrize(
    ("script", "line", "why"),
    [
        pytest.param(
            "/incident open P2 Search is slow\nsubmit\nreact :eyes: #inc-1-search-is-slow:5\nsay never reached",
            3,
            "#inc-1-search-is-slow has 1 message(s); there is no #inc-1-search-is-slow:5",
            id="bad ref",
        ),
        pytest.param("in #general\n\nas dave\nsay never reached", 3, "no user 'dave'", id="unknown user"),
        pytest.param(
            "/incident open\n# no title given\nsubmit Severity=P3\nsay never reached",
            3,
            "the form was refused: Title: Give the incident a title.",
            id="modal error",
        ),
        pytest.param(
            "/incident severity\nsay never reached", 1, "usage message: Usage: `/incident severity P1-P5`", id="usage"
        ),
        pytest.param("/incident ack\nsay never reached", 1, "the bot answered with an error: :warning:", id="error reply"),
        pytest.param("click Acknowledge\nsay never reached", 1, "no button [Acknowledge] in #general", id="no button"),
        pytest.param("submit Title=x\nsay never reached", 1, "alice has no form open", id="no form"),
        pytest.param("/incident open\nsubmit Colour=red\nsay never reached", 2, "no field 'Colour'", id="no field"),
        pytest.param("jump around\nsay never reached", 1, "unknown command 'jump'", id="grammar"),
    ],
)
async def test_a_failing_line_stops_the_script_naming_it(replay: Replay, script: str, line: int, why: str) -> None:
    run = await replay(script)
    assert run.code == 1
    assert run.err.startswith(f"error: line {line}: ")
    assert why in run.err
    assert "never reached" not in run.out


# Typed from docs/sandbox.md alone: labels and buttons as they show on screen, in whatever case, with the
# decorations a person copies along (brackets, the severity's description, @ and # signs).
FROM_THE_DOCS = """\
/incident open
submit title="Payments API returns 502" Severity="P1 · critical, customers down" description="502s from the gateway"
history #incidents
in #inc-1-payments-api-returns-502
click [Acknowledge]
as @bob
react :eyes: #inc-1-payments-api-returns-502:1
say I think it's the new load balancer config
as alice
react pushpin last
/incident note Reverted the load balancer config at 12:20
click update
submit SEVERITY="P2 · major" commander=@bob
/incident mitigating
click Resolve on #inc-1-payments-api-returns-502:1
submit resolution="Load balancer config reverted"
/incident postmortem
/incident close
/incident timeline
channels
history
home
"""


async def test_a_walk_typed_from_the_docs(replay: Replay) -> None:
    run = await replay(FROM_THE_DOCS)
    assert (run.code, run.err) == (0, ""), run.out
    channel = "#inc-1-payments-api-returns-502"
    assert f"* vigil created the channel {channel}" in run.out
    assert "* bob joined" in run.out  # bob says something in a channel he was not invited to
    assert "@alice · Pinned: I think it's the new load balancer config" in run.out  # from `/incident timeline`
    assert "+ Commander: @bob" in run.out
    assert "+ :large_orange_circle: P2 · INC-1 · Payments API returns 502" in run.out
    assert "+ Status: :white_check_mark: Resolved" in run.out
    assert f"{channel}-closed  (" in run.out  # `channels` lists it under its new name
    assert ":sunny: No active incidents." in run.out  # alice's Home after closing


def test_colour_only_on_a_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert choose_style(io.StringIO(), no_color=False) is PLAIN
    assert choose_style(Tty(), no_color=True) is PLAIN
    assert choose_style(Tty(), no_color=False) in (ANSI, PLAIN)  # PLAIN when NO_COLOR is set in the environment


async def test_app_home_admin_tabs_forms_and_overflow_menus(replay: Replay) -> None:
    run = await replay(
        "home\nclick usergroups\nclick 'Import usergroup'\nsubmit 'usergroup id'=S0SRE\n"
        "click 'Refresh from Slack'\nclick tags\nclick 'edit tags'\nsubmit 'help channel'=#general\n"
        "/incident help\n"
    )
    assert (run.code, run.err) == (0, ""), run.out
    assert "[App Home of alice]" in run.out
    assert "*@sre* · SRE · 2 members  [⋯ Refresh from Slack | Remove from Vigil]" in run.out
    assert ":white_check_mark: Refreshed @sre (2 members)." in run.out
    assert "*Help channel* → #general" in run.out
    assert "Need a hand? Ask in #general." in run.out  # the tag reaches the bot's usage replies
