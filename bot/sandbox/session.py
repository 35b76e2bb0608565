"""`Sandbox`: the real Vigil (Runtime, listeners, IncidentService) on a throw-away SQLite database, driven line by
line against the bundled Slack emulator, printing what a person would see in Slack.

After each line the sandbox waits (bounded) until the bot is idle, prints what it did, and judges the line: it
fails on a usage or error reply to the person who typed it, a refused form, an ack Slack would refuse, or an error
the bot logged.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from bot.container import Container, build_container
from bot.emulator import AckResult, SlackEmulator
from bot.emulator.state import ViewRecord
from bot.incidents.errors import InvalidInput
from bot.runtime import Runtime
from bot.sandbox import grammar, render, targets
from bot.sandbox.grammar import SandboxError
from bot.sandbox.printer import Printer
from bot.sandbox.transcript import Reply, Transcript, is_notice, numbered
from bot.sandbox.workspace import ALICE, GENERAL, INCIDENTS, make_emulator, sandbox_settings, seed
from db.engine import make_engine
from db.migrate import upgrade
from db.tags import TECH_INCIDENTS, set_conversation_tag

# How the bot's one error handler (bot/slack_app.py report_error) starts a reply: a domain error, a crash, a database
# that did not answer; and the "restarting" answer of a draining bot. A reply starting otherwise is a normal answer.
ERROR_MARKERS = (":warning:", ":x:", ":hourglass:", ":hourglass_flowing_sand:")
IDLE_TIMEOUT = 15.0


@dataclass
class LineResult:
    failure: str | None = None
    exit: bool = False


@dataclass
class _Line:
    """What one line caused, gathered while it runs."""

    actor: str
    problems: list[str] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)


class LogCollector(logging.Handler):
    """Keeps the bot's warnings and errors (printed in the transcript, errors fail the line) off stderr."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.records: list[logging.LogRecord] = []
        self.muted = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.muted:
            self.records.append(record)


class Sandbox:
    """Start with `async with Sandbox(printer):`, then `await sandbox.execute(line)` for each line."""

    def __init__(
        self,
        printer: Printer,
        *,
        template: Path | None = None,
        idle_timeout: float = IDLE_TIMEOUT,
        command: str = "/incident",
    ) -> None:
        self.printer = printer
        self.template = template
        self.idle_timeout = idle_timeout
        self.command = command
        self.user = ALICE
        self.channel = GENERAL
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._emu: SlackEmulator | None = None
        self._container: Container | None = None
        self._runtime: Runtime | None = None
        self._transcript: Transcript | None = None
        self._logs = LogCollector()
        self._line = _Line(actor=ALICE)
        # People looking at their App Home: a republished Home is printed in full for them, summarised for others.
        self._on_home: set[str] = set()

    # ---- lifecycle ------------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="vigil-sandbox-")
        database = Path(self._tmp.name) / "vigil.db"
        logging.getLogger().addHandler(self._logs)
        if self.template is not None:
            shutil.copyfile(self.template, database)
        else:
            engine = make_engine(f"sqlite+aiosqlite:///{database}")
            try:
                await upgrade(engine)
            finally:
                await engine.dispose()
        self._emu = emu = make_emulator()
        seed(emu)
        await emu.start()
        self._container = build_container(sandbox_settings(emu, database, command=self.command))
        self._runtime = Runtime(self._container)
        # No scheduler: reminders and archiving on a wall clock would print at random between lines.
        await self._runtime.start(with_scheduler=False)
        await emu.wait_connected()
        async with self._container.sessions() as session, session.begin():
            await set_conversation_tag(
                session, team_id=self._runtime.team_id, tag=TECH_INCIDENTS, conversation_id=INCIDENTS, by=None
            )
        self._transcript = Transcript(emu, self.printer)
        self._transcript.skip()

    async def stop(self) -> None:
        self._logs.muted = True
        try:
            if self._runtime is not None:
                await self._runtime.stop()
            if self._container is not None:
                await self._container.aclose()
            if self._emu is not None:
                await self._emu.stop()
        finally:
            logging.getLogger().removeHandler(self._logs)
            if self._tmp is not None:
                self._tmp.cleanup()
            self._runtime = self._container = self._emu = self._tmp = None

    async def __aenter__(self) -> Sandbox:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def emu(self) -> SlackEmulator:
        if self._emu is None:
            raise RuntimeError("the sandbox is not started")
        return self._emu

    @property
    def transcript(self) -> Transcript:
        if self._transcript is None:
            raise RuntimeError("the sandbox is not started")
        return self._transcript

    @property
    def container(self) -> Container:
        if self._container is None:
            raise RuntimeError("the sandbox is not started")
        return self._container

    @property
    def user_name(self) -> str:
        return self.emu.state.users[self.user].name

    @property
    def channel_name(self) -> str:
        channel = self.emu.state.channels.get(self.channel)
        return channel.name if channel else self.channel

    @property
    def prompt(self) -> str:
        return f"{self.user_name} in #{self.channel_name}> "

    # ---- one line ---------------------------------------------------------------------------------------------------
    async def execute(self, line: str) -> LineResult:
        """Run one line and print what it caused; `failure` says why the line failed, if it did."""
        try:
            command = grammar.parse(line)
        except SandboxError as exc:
            return LineResult(failure=exc.message)
        if command is None:
            return LineResult()
        if isinstance(command, grammar.Exit):
            return LineResult(exit=True)
        self._line = line_state = _Line(actor=self.user)
        protocol_before = len(self.emu.protocol_errors)
        logs_before = len(self._logs.records)
        try:
            await self._run(command)
        except SandboxError as exc:
            line_state.problems.append(exc.message)
        except Exception as exc:  # a sandbox bug or an emulator refusal: report it, keep the session alive
            line_state.problems.append(f"the sandbox could not do that ({type(exc).__name__}: {exc})")
        try:
            await self._settle()
        except TimeoutError:
            line_state.problems.append(f"the bot was still busy after {self.idle_timeout:.0f} s")
        home_for = self.user if self.user in self._on_home else None
        line_state.replies += self.transcript.flush(home_for=home_for)
        self._judge(line_state, protocol_before, logs_before)
        return LineResult(failure="; ".join(line_state.problems) or None)

    async def _settle(self) -> None:
        """Wait until no listener runs, no envelope awaits its ack and no event waits for delivery."""
        assert self._runtime is not None and self._runtime.slack_app is not None
        in_flight = self._runtime.slack_app.in_flight
        emu = self.emu
        async with asyncio.timeout(self.idle_timeout):
            while True:
                await in_flight.idle()
                if emu.busy:
                    await emu.wait_until(lambda: not emu.busy, timeout=self.idle_timeout, what="the bot to go idle")
                    continue
                for _ in range(5):  # let a frame that just arrived reach Bolt's middleware
                    await asyncio.sleep(0)
                if in_flight.count == 0 and not emu.busy:
                    return

    def _judge(self, line: _Line, protocol_before: int, logs_before: int) -> None:
        for reply in line.replies:
            first = reply.text.strip().splitlines()[0] if reply.text.strip() else ""
            if reply.user == line.actor and first.startswith(ERROR_MARKERS):
                line.problems.append(f"the bot answered with an error: {render.mrkdwn(first, self.transcript.names)}")
        for error in self.emu.protocol_errors[protocol_before:]:
            message = f"Slack would refuse the bot's answer to the {error.kind}: {'; '.join(error.messages)}"
            self.printer.warn(message)
            line.problems.append(message)
        for record in self._logs.records[logs_before:]:
            text = f"{record.levelname.lower()} from {record.name}: {record.getMessage()}"
            if record.exc_info and record.exc_info[1] is not None:
                text += f" ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
            self.printer.warn(text)
            if record.levelno >= logging.ERROR:
                line.problems.append(f"the bot logged an error: {record.getMessage()}")

    async def _run(self, command: grammar.Command) -> None:
        if isinstance(command, grammar.As):
            self.user = targets.find_user(self.emu.state, command.user).id
        elif isinstance(command, grammar.In):
            self._enter(command.channel)
        elif isinstance(command, grammar.Slash):
            await self._slash(command)
        elif isinstance(command, grammar.Submit):
            await self._submit(command)
        elif isinstance(command, grammar.Click):
            await self._click(command)
        elif isinstance(command, grammar.React):
            await self._react(command)
        elif isinstance(command, grammar.Say):
            await self._say(command)
        elif isinstance(command, grammar.Channels):
            self._channels()
        elif isinstance(command, grammar.History):
            self._history(command)
        elif isinstance(command, grammar.Home):
            await self._home()
        elif isinstance(command, grammar.Help):
            for text in grammar.HELP.splitlines():
                self.printer.line(text)

    # ---- people doing things ------------------------------------------------------------------------------------------
    def _enter(self, name: str) -> None:
        channel = targets.find_channel(self.emu.state, name)
        self.channel = channel.id
        self._on_home.discard(self.user)
        if self.user not in channel.members:
            self.printer.note(f"{self.user_name} is not a member of #{channel.name}; say joins it")

    async def _slash(self, command: grammar.Slash) -> None:
        name = self.container.settings.command
        if command.command != name:
            raise SandboxError(f"{command.command} is not a command here; this workspace has {name}, e.g. {name} help")
        usage = self._usage_problem(command.text)
        self._on_home.discard(self.user)
        ack = await self.emu.send_slash_command(command.text, user_id=self.user, channel_id=self.channel, command=name)
        if not ack.acked:
            self._line.problems.append("the bot did not answer within 3 s (Slack shows the person a timeout)")
        elif ack.payload and (ack.text or ack.payload.get("blocks")) and not ack.limit_errors:
            self._show_ack_reply(ack)
        if usage:
            self._line.problems.append(usage)

    def _usage_problem(self, text: str) -> str | None:
        """The bot's own parser says whether this text gets a usage answer; a subcommand without a handler too."""
        from commands.grammar import parse
        from commands.incident import SUBCOMMANDS

        name = self.container.settings.command
        try:
            parsed = parse(text, command=name)
        except InvalidInput as exc:
            return f"the bot answered with a usage message: {exc.message.splitlines()[0]}"
        if parsed.name != "help" and parsed.name not in SUBCOMMANDS:
            return f"{name} {parsed.name} is not available in this Vigil"
        return None

    def _show_ack_reply(self, ack: AckResult) -> None:
        payload = ack.payload or {}
        transcript = self.transcript
        lines = transcript.message_lines(ack.text, payload.get("blocks"), payload.get("attachments"))
        if payload.get("response_type") == "in_channel":
            posted = [m for m in numbered(self.emu.state, self.channel) if m.user == self.emu.state.identity.bot_user_id]
            transcript.show_message(self.channel, posted[-1].ts if posted else "", None, lines)
            return
        transcript.show_private(self.channel, self.user, lines)
        self._line.replies.append(Reply(self.user, ack.text))

    def _open_modal(self) -> ViewRecord:
        view = self.emu.state.top_modal(self.user)
        if view is None:
            raise SandboxError(f"{self.user_name} has no form open; open one first, e.g. {self.command} open")
        return view

    async def _submit(self, command: grammar.Submit) -> None:
        view = self._open_modal()
        values = targets.form_values(self.emu.state, view.data, command.fields)
        ack = await self.emu.send_view_submission(user_id=self.user, view_id=view.id, values=values)
        if not ack.acked:
            self._line.problems.append("the bot did not answer the form within 3 s (Slack shows the person a timeout)")
            return
        if ack.limit_errors:
            return  # judged with the other protocol errors
        action = ack.response_action
        if action == "errors":
            errors = (ack.payload or {}).get("errors") or {}
            self.transcript.show_view(view.data, self.user, verb="refused", errors=errors)
            labels = {
                str(b.get("block_id")): render.text_object(b.get("label"), render.Names()) for b in view.data["blocks"]
            }
            details = "; ".join(f"{labels.get(k) or k}: {v}" for k, v in errors.items())
            self._line.problems.append(f"the form was refused: {details}")
        elif action in ("update", "push"):
            top = self.emu.state.top_modal(self.user)
            if top is not None:
                self.transcript.show_view(top.data, self.user, verb="updated" if action == "update" else "pushed")
        elif self.emu.state.top_modal(self.user) is None:
            self.printer.note("form submitted and closed")

    async def _click(self, command: grammar.Click) -> None:
        state = self.emu.state
        where: dict[str, Any]
        found: targets.Clickable | None = None
        if command.ref is not None:
            message = targets.find_message(state, command.ref, self.channel)
            found = targets.find_clickable(message.blocks, command.button)
            place = self.transcript.where(message.channel, message.ts)
            if found is None:
                buttons = ", ".join(targets.button_names(message.blocks)) or "none"
                raise SandboxError(f"no button [{command.button}] on {place}; buttons there: {buttons}")
            where = {"channel_id": message.channel, "message_ts": message.ts}
        else:
            found, where, place = self._find_button(command.button)
        if found.url:
            self.printer.note(f"[{found.text}] opens {found.url}")
        if command.ref is None:
            self.printer.note(f"clicked [{found.text}] on {place}")
        if "view_id" not in where:
            self._on_home.discard(self.user)  # back in a channel
        elif state.views[where["view_id"]].type == "home":
            self._on_home.add(self.user)
        ack = await self.emu.send_block_action(
            user_id=self.user,
            action_id=found.action_id,
            block_id=found.block_id,
            value=None if found.selected else found.value,
            selected=found.selected,
            **where,
        )
        if not ack.acked:
            self._line.problems.append("the bot did not answer the click within 3 s")

    def _find_button(self, text: str) -> tuple[targets.Clickable, dict[str, Any], str]:
        """The open form first, then the newest message here with that button (your ephemerals too), then App Home."""
        state = self.emu.state
        modal = state.top_modal(self.user)
        seen: list[str] = []
        if modal is not None:
            found = targets.find_clickable(modal.data.get("blocks"), text)
            if found is not None:
                return found, {"view_id": modal.id}, "the open form"
            seen += targets.button_names(modal.data.get("blocks"))
        candidates: list[tuple[str, Any, bool]] = [(m.ts, m.blocks, False) for m in state.history(self.channel)]
        candidates += [(e.ts, e.blocks, True) for e in state.ephemerals_for(self.user, self.channel)]
        for ts, blocks, ephemeral in sorted(candidates, key=lambda c: float(c[0]), reverse=True):
            found = targets.find_clickable(blocks, text)
            if found is not None:
                place = "your ephemeral message" if ephemeral else self.transcript.where(self.channel, ts)
                return found, {"channel_id": self.channel, "message_ts": ts}, place
            seen += targets.button_names(blocks)
        home = state.home_view(self.user)
        if home is not None:
            found = targets.find_clickable(home.data.get("blocks"), text)
            if found is not None:
                return found, {"view_id": home.id}, "your App Home"
            seen += targets.button_names(home.data.get("blocks"))
        listed = ", ".join(dict.fromkeys(seen)) or "none"
        raise SandboxError(f"no button [{text}] in #{self.channel_name}, an open form or App Home; buttons: {listed}")

    async def _react(self, command: grammar.React) -> None:
        message = targets.find_message(self.emu.state, command.ref, self.channel)
        place = self.transcript.where(message.channel, message.ts)
        who = self.transcript.who(self.user)
        if self.user in message.reactions.get(command.emoji, []):
            self.printer.note(f"{self.user_name} already reacted :{command.emoji}: to {place}")
            return
        self.printer.event(f"{who} reacted :{command.emoji}: to {place}")
        await self.emu.user_reacts(self.user, message.channel, message.ts, command.emoji)

    async def _say(self, command: grammar.Say) -> None:
        channel = self.emu.state.channels[self.channel]
        if channel.is_archived:
            raise SandboxError(f"#{channel.name} is archived; nobody can post there")
        if self.user not in channel.members:
            if channel.is_private:
                raise SandboxError(f"#{channel.name} is private and {self.user_name} is not a member")
            self.printer.event(f"{self.transcript.who(self.user)} joined #{channel.name}")
            await self.emu.user_joins(self.user, channel.id)
        self._on_home.discard(self.user)
        ts = await self.emu.user_posts(self.user, channel.id, command.text)
        self.transcript.show_message(channel.id, ts, self.user, self.transcript.message_lines(command.text, None))

    async def _home(self) -> None:
        before = len(self.emu.calls_to("views.publish"))
        self._on_home.add(self.user)
        await self.emu.send_app_home_opened(user_id=self.user)
        await self._settle()
        if len(self.emu.calls_to("views.publish")) == before:
            home = self.emu.state.home_view(self.user)
            if home is None:
                raise SandboxError("the bot published no App Home")
            self.transcript.show_view(home.data, self.user)

    # ---- looking around ---------------------------------------------------------------------------------------------
    def _channels(self) -> None:
        style = self.printer.style
        for channel in targets.channels(self.emu.state):
            flags = [f"{len(channel.members)} members"]
            if channel.is_private:
                flags.append("private")
            if channel.is_archived:
                flags.append("archived")
            topic = f"  topic: {render.mrkdwn(channel.topic, self.transcript.names)}" if channel.topic else ""
            self.printer.line(f"{style.where('#' + channel.name)}  ({', '.join(flags)}){topic}")

    def _history(self, command: grammar.History) -> None:
        state = self.emu.state
        channel = targets.find_channel(state, command.channel) if command.channel else state.channels[self.channel]
        transcript = self.transcript
        style = self.printer.style
        if not state.history(channel.id):
            self.printer.note(f"#{channel.name} has no messages yet")
        for message in state.history(channel.id):
            if is_notice(message):
                self.printer.line(style.dim(f"- {render.mrkdwn(message.text, transcript.names)}"))
                continue
            lines = transcript.message_lines(message.text, message.blocks, message.attachments)
            marks = [
                m for m, on in (("pinned", state.is_pinned(channel.id, message.ts)), ("edited", message.edited_ts)) if on
            ]
            if message.reactions:
                reactions = "  ".join(
                    f":{name}: " + ", ".join(transcript.names.user(u) for u in users)
                    for name, users in message.reactions.items()
                    if users
                )
                lines = [*lines, style.dim(reactions)]
            thread = transcript.thread_mark(channel.id, message.ts) if message.is_reply else ""
            also = " (also sent to the channel)" if message.subtype == "thread_broadcast" else ""
            head = f"[{style.where(transcript.where(channel.id, message.ts))}]{thread}{also} {transcript.who(message.user)}:"
            if marks:
                head += " " + style.dim(f"({', '.join(marks)})")
            self.printer.entry(head, lines)
