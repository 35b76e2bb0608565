"""Running the sandbox: replaying a script (exit 1 at the first failing line) or an interactive prompt.

The prompt reads lines with `readline` in the main thread while the bot and the emulator run on an event loop in a
worker thread, so the bot keeps its Socket Mode connection alive while a person thinks.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from collections.abc import Coroutine, Iterable
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TextIO, TypeVar

from bot.sandbox import grammar
from bot.sandbox.printer import Printer
from bot.sandbox.render import ANSI, PLAIN, Style
from bot.sandbox.session import Sandbox

T = TypeVar("T")
KEYWORDS = (
    "as ",
    "in #",
    "/incident ",
    "submit ",
    "click ",
    "react ",
    "say ",
    "channels",
    "history",
    "home",
    "help",
    "exit",
)


def choose_style(out: TextIO, *, no_color: bool) -> Style:
    """Colour only on a terminal, and never when asked not to (`--no-color`, NO_COLOR)."""
    if no_color or os.environ.get("NO_COLOR") or not out.isatty():
        return PLAIN
    return ANSI


async def replay(sandbox: Sandbox, lines: Iterable[str], *, errors: TextIO) -> int:
    """Echo and run each line; 1 at the first failing line (named with its number and why), else 0."""
    printer = sandbox.printer
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\n")
        if grammar.is_skipped(line):
            continue
        printer.line(printer.style.bold(f"> {line.strip()}"))
        result = await sandbox.execute(line)
        if result.failure:
            errors.write(f"error: line {number}: {result.failure}\n")
            errors.flush()
            return 1
        if result.exit:
            break
    return 0


async def run_script(lines: list[str], printer: Printer, *, errors: TextIO, template: Path | None = None) -> int:
    async with Sandbox(printer, template=template) as sandbox:
        return await replay(sandbox, lines, errors=errors)


class _LoopThread:
    """An event loop in a daemon thread; `run` waits for a coroutine from the calling thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="vigil-sandbox", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        if not self.loop.is_running():
            self.loop.close()


def _setup_readline(sandbox: Sandbox) -> None:
    try:
        import readline
    except ImportError:  # no readline (Windows): plain input() still works
        return

    def complete(text: str, state: int) -> str | None:
        names = [u.name for u in sandbox.emu.state.users.values() if not u.is_bot]
        names += ["#" + c.name for c in sandbox.emu.state.channels.values() if not c.is_im]
        options = [k for k in (*KEYWORDS, *names) if k.startswith(text)]
        return options[state] if state < len(options) else None

    readline.set_completer(complete)
    readline.set_completer_delims(" \t")
    readline.parse_and_bind("tab: complete")


def interactive(printer: Printer, *, template: Path | None = None) -> int:
    """The prompt: `alice in #general> `; a failing line is reported and the session goes on. Ends on exit or EOF."""
    runner = _LoopThread()
    sandbox = Sandbox(printer, template=template)
    try:
        printer.note("starting Vigil against the Slack emulator…")
        runner.run(sandbox.start())
        printer.note("ready: you are alice in #general; type help for the commands")
        _setup_readline(sandbox)
        while True:
            try:
                line = input(sandbox.prompt)
            except EOFError:
                printer.line()
                break
            except KeyboardInterrupt:
                printer.line("^C")
                continue
            result = runner.run(sandbox.execute(line))
            if result.failure:
                printer.warn(result.failure)
            if result.exit:
                break
    finally:
        with contextlib.suppress(Exception):
            runner.run(sandbox.stop())
        runner.close()
    return 0


def main(*, script: Path | None, no_color: bool, out: TextIO | None = None, errors: TextIO | None = None) -> int:
    """`vigil sandbox`: the exit status (0, or 1 when a script line failed)."""
    out = out or sys.stdout
    errors = errors or sys.stderr
    printer = Printer(out, choose_style(out, no_color=no_color))
    if script is not None:
        lines = script.read_text(encoding="utf-8").splitlines()
        return asyncio.run(run_script(lines, printer, errors=errors))
    return interactive(printer)
