"""What the bot did, told in order: read from the emulator's recorded Web API calls and response_url posts.

Each `flush` prints what happened since the previous one and returns the private replies (ephemerals, DMs,
response_url posts), so the session can tell an error reply from a normal one.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.emulator import RecordedCall, ResponsePost, SlackEmulator
from bot.emulator.state import Message, WorkspaceState
from bot.sandbox import render
from bot.sandbox.printer import Printer

# Calls that only read: nothing a person would see.
SILENT_PREFIXES = ("auth.", "apps.", "team.", "users.", "usergroups.list", "usergroups.users.list", "bots.")
SILENT = frozenset(
    {
        "chat.getPermalink",
        "conversations.info",
        "conversations.history",
        "conversations.replies",
        "conversations.members",
        "conversations.list",
        "conversations.open",
        "pins.list",
        "bookmarks.list",
        "reactions.get",
    }
)


@dataclass(frozen=True)
class Reply:
    """A message only `user` sees: how the session recognises error and usage answers."""

    user: str
    text: str


def numbered(state: WorkspaceState, channel_id: str) -> list[Message]:
    """A channel's messages as the sandbox numbers them: posts by people and the bot, thread replies included,
    oldest first (joins, topic changes and other system messages are shown but not numbered)."""
    return [m for m in state.history(channel_id) if not is_notice(m)]


def is_notice(message: Message) -> bool:
    """A system line (a join, a topic change), not a post: any subtype but a reply also sent to the channel."""
    return message.subtype not in (None, "thread_broadcast")


def message_number(state: WorkspaceState, channel_id: str, ts: str) -> int | None:
    for n, message in enumerate(numbered(state, channel_id), start=1):
        if message.ts == ts:
            return n
    return None


def structured(value: Any) -> Any:
    """A Web API argument that may have arrived JSON-encoded (form posts) or as JSON already."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def names_of(state: WorkspaceState) -> render.Names:
    return render.Names(
        users={u.id: u.name for u in state.users.values()},
        channels={c.id: c.name for c in state.channels.values() if not c.is_im},
        usergroups={g.id: g.handle for g in state.usergroups.values()},
    )


class Transcript:
    def __init__(self, emu: SlackEmulator, printer: Printer) -> None:
        self.emu = emu
        self.printer = printer
        self._calls = len(emu.calls)
        self._responses = len(emu.state.responses)
        # What each message looked like when last shown, to print an edit as what changed.
        self._shown: dict[tuple[str, str], list[str]] = {}
        self._numbers: dict[tuple[str, str], int] = {}

    @property
    def state(self) -> WorkspaceState:
        return self.emu.state

    @property
    def names(self) -> render.Names:
        return names_of(self.state)

    def skip(self) -> None:
        """Forget what happened so far (the seeding and start-up)."""
        self._calls = len(self.emu.calls)
        self._responses = len(self.emu.state.responses)

    # ---- naming ---------------------------------------------------------------------------------------------------
    def where(self, channel_id: str, ts: str | None = None) -> str:
        """`#name`, `#name:N`, or `DM with @user` for the app's direct messages."""
        channel = self.state.channels.get(channel_id)
        if channel is None:
            return channel_id
        if channel.is_im:
            return f"DM to {self.names.user(channel.im_user or '')}"
        if ts is None:
            return f"#{channel.name}"
        number = message_number(self.state, channel_id, ts) or self._numbers.get((channel_id, ts))
        if number is not None:
            self._numbers[(channel_id, ts)] = number
        return f"#{channel.name}:{number if number is not None else '?'}"

    def who(self, user_id: str | None) -> str:
        style = self.printer.style
        if user_id == self.state.identity.bot_user_id or user_id is None:
            return style.who(self.state.identity.bot_name)
        return style.who(self.names.user(user_id).lstrip("@"))

    # ---- shapes ---------------------------------------------------------------------------------------------------
    def show_message(
        self, channel_id: str, ts: str, author: str | None, lines: list[str], *, thread: bool = False, also: str = ""
    ) -> None:
        self._shown[(channel_id, ts)] = lines
        where = f"[{self.printer.style.where(self.where(channel_id, ts))}]"
        head = f"{where}{self.thread_mark(channel_id, ts) if thread else ''}{also} {self.who(author)}:"
        self.printer.entry(head, lines)

    def thread_mark(self, channel_id: str, ts: str) -> str:
        """` (in the thread of #name:N)` for a reply."""
        message = self.state.find_message(channel_id, ts)
        parent = message.thread_ts if message is not None else None
        return f" (in the thread of {self.where(channel_id, parent)})" if parent else " (in thread)"

    def show_edit(self, channel_id: str, ts: str, lines: list[str]) -> None:
        before = self._shown.get((channel_id, ts))
        self._shown[(channel_id, ts)] = lines
        style = self.printer.style
        head = style.dim("* ") + f"{self.who(None)} edited {style.where(self.where(channel_id, ts))}:"
        if before is None:
            self.printer.entry(head, lines)
            return
        changed = [
            style.error(f"- {line[1:]}") if line.startswith("-") else style.ok(f"+ {line[1:]}")
            for line in difflib.unified_diff(before, lines, lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))
        ]
        self.printer.entry(head, changed or [style.dim("(no visible change)")])

    def show_private(self, channel_id: str | None, user_id: str, lines: list[str], *, source: str = "") -> None:
        where = self.where(channel_id) if channel_id else "Slack"
        style = self.printer.style
        name = self.names.user(user_id).lstrip("@")
        head = f"[{style.where(where)}] {self.who(None)} {style.dim(f'(only visible to {name})')}:"
        self.printer.entry(head, lines)

    def show_view(self, data: dict[str, Any], user_id: str, *, verb: str = "", errors: dict[str, str] | None = None) -> None:
        style = self.printer.style
        kind = "App Home" if data.get("type") == "home" else "form"
        head = f"[{style.where(kind)} of {self.who(user_id)}]" + (f" {style.dim(verb)}" if verb else "")
        self.printer.entry(head, render.view(data, self.names, style, errors=errors))

    def message_lines(self, text: str, blocks: Any, attachments: Any = None) -> list[str]:
        return render.message(text, structured(blocks), self.names, self.printer.style, attachments=structured(attachments))

    # ---- flushing -------------------------------------------------------------------------------------------------
    def flush(self, *, home_for: str | None = None) -> list[Reply]:
        """Print every call and response_url post since the last flush, in the order they happened."""
        calls = self.emu.calls[self._calls :]
        responses = self.state.responses[self._responses :]
        self._calls += len(calls)
        self._responses += len(responses)
        items: list[tuple[float, int, RecordedCall | ResponsePost]] = [(c.at, n, c) for n, c in enumerate(calls)]
        items += [(r.at, len(calls) + n, r) for n, r in enumerate(responses)]
        replies: list[Reply] = []
        for _, _, item in sorted(items, key=lambda i: (i[0], i[1])):
            if isinstance(item, ResponsePost):
                replies += self._response(item)
            else:
                replies += self._call(item, home_for=home_for)
        return replies

    def _response(self, post: ResponsePost) -> list[Reply]:
        body = post.body
        url = self.state.response_urls.get(post.url_id)
        message_ts = url.message_ts if url else None
        channel_id = post.channel_id or ""
        if message_ts and body.get("delete_original"):
            self.printer.event(f"{self.who(None)} deleted {self.where(channel_id, message_ts)}")
            return []
        lines = self.message_lines(post.text, body.get("blocks"), body.get("attachments"))
        if message_ts and body.get("replace_original"):
            if url is not None and url.is_ephemeral:
                self.show_private(channel_id, post.user_id, lines)
                return [Reply(post.user_id, post.text)]
            self.show_edit(channel_id, message_ts, lines)
            return []
        if post.response_type == "in_channel":
            posted = [m for m in self.state.history(channel_id) if m.user == self.state.identity.bot_user_id]
            ts = posted[-1].ts if posted else ""
            self.show_message(channel_id, ts, None, lines)
            return []
        self.show_private(channel_id, post.user_id, lines)
        return [Reply(post.user_id, post.text)]

    def _call(self, call: RecordedCall, *, home_for: str | None) -> list[Reply]:
        method = call.method
        if method in SILENT or method.startswith(SILENT_PREFIXES):
            return []
        if not call.ok:
            self.printer.warn(f"{self.who(None)}'s {method} failed: {call.error}")
            return []
        handler = _HANDLERS.get(method)
        if handler is None:
            self.printer.event(f"{self.who(None)} called {method}")
            return []
        return handler(self, call, home_for) or []

    # ---- one method each --------------------------------------------------------------------------------------------
    def _post(self, call: RecordedCall, home_for: str | None) -> list[Reply]:
        message = call.response.get("message") or {}
        channel_id = str(call.response.get("channel") or "")
        ts = str(call.response.get("ts") or "")
        lines = self.message_lines(str(message.get("text") or ""), message.get("blocks"), message.get("attachments"))
        thread = bool(message.get("thread_ts")) and message.get("thread_ts") != ts
        also = " (also sent to the channel)" if message.get("subtype") == "thread_broadcast" else ""
        self.show_message(channel_id, ts, None, lines, thread=thread, also=also)
        channel = self.state.channels.get(channel_id)
        if channel is not None and channel.is_im and channel.im_user:
            return [Reply(channel.im_user, str(message.get("text") or ""))]
        return []

    def _update(self, call: RecordedCall, home_for: str | None) -> list[Reply]:
        message = call.response.get("message") or {}
        lines = self.message_lines(str(message.get("text") or ""), message.get("blocks"), message.get("attachments"))
        self.show_edit(str(call.response.get("channel") or ""), str(call.response.get("ts") or ""), lines)
        return []

    def _ephemeral(self, call: RecordedCall, home_for: str | None) -> list[Reply]:
        args = call.args
        channel = self.state.channel_by_name(str(args.get("channel") or "")) or self.state.channels.get(
            str(args.get("channel") or "")
        )
        user_id = str(args.get("user") or "")
        text = str(args.get("text") or "")
        self.show_private(channel.id if channel else None, user_id, self.message_lines(text, args.get("blocks")))
        return [Reply(user_id, text)]

    def _delete(self, call: RecordedCall, home_for: str | None) -> list[Reply]:
        channel_id, ts = str(call.response.get("channel") or ""), str(call.response.get("ts") or "")
        self.printer.event(f"{self.who(None)} deleted {self.where(channel_id, ts)}")
        return []

    def _channel_event(self, call: RecordedCall, home_for: str | None) -> list[Reply]:
        args, method = call.args, call.method
        raw_info = call.response.get("channel")
        info: dict[str, Any] = raw_info if isinstance(raw_info, dict) else {}
        channel_id = str(info.get("id") or args.get("channel") or "")
        here = self.printer.style.where(self.where(channel_id))
        bot = self.who(None)
        if method == "conversations.create":
            kind = "private channel" if info.get("is_private") else "channel"
            self.printer.event(f"{bot} created the {kind} {here}")
        elif method == "conversations.rename":
            previous = (info.get("previous_names") or ["?"])[0]
            self.printer.event(f"{bot} renamed #{previous} to {here}")
        elif method == "conversations.setTopic":
            self.printer.event(f"{bot} set the topic of {here}: {render.mrkdwn(str(args.get('topic') or ''), self.names)}")
        elif method == "conversations.setPurpose":
            purpose = render.mrkdwn(str(args.get("purpose") or ""), self.names)
            self.printer.event(f"{bot} set the purpose of {here}: {purpose}")
        elif method == "conversations.invite":
            failed = {e.get("user") for e in call.response.get("errors") or [] if isinstance(e, dict)}
            raw = args.get("users") or ""
            users = raw if isinstance(raw, list) else str(raw).split(",")
            invited = [self.names.user(u.strip()) for u in users if u.strip() and u.strip() not in failed]
            self.printer.event(f"{bot} invited {', '.join(invited) or 'nobody'} to {here}")
        elif method == "conversations.kick":
            self.printer.event(f"{bot} removed {self.names.user(str(args.get('user') or ''))} from {here}")
        elif method in ("conversations.archive", "conversations.unarchive"):
            self.printer.event(f"{bot} {method.split('.')[1]}d {here}")
        elif method in ("conversations.join", "conversations.leave"):
            self.printer.event(f"{bot} {'joined' if method.endswith('join') else 'left'} {here}")
        return []

    def _pin(self, call: RecordedCall, home_for: str | None) -> list[Reply]:
        channel_id, ts = str(call.args.get("channel") or ""), str(call.args.get("timestamp") or "")
        verb = "pinned" if call.method == "pins.add" else "unpinned"
        self.printer.event(f"{self.who(None)} {verb} {self.printer.style.where(self.where(channel_id, ts))}")
        return []

    def _reaction(self, call: RecordedCall, home_for: str | None) -> list[Reply]:
        channel_id, ts = str(call.args.get("channel") or ""), str(call.args.get("timestamp") or "")
        verb = "reacted" if call.method == "reactions.add" else "took back"
        self.printer.event(f"{self.who(None)} {verb} :{call.args.get('name')}: on {self.where(channel_id, ts)}")
        return []

    def _bookmark(self, call: RecordedCall, home_for: str | None) -> list[Reply]:
        channel_id = str(call.args.get("channel_id") or "")
        title, link = call.args.get("title") or "", call.args.get("link") or ""
        verb = {
            "bookmarks.add": "bookmarked",
            "bookmarks.edit": "edited the bookmark",
            "bookmarks.remove": "removed a bookmark",
        }
        self.printer.event(
            f"{self.who(None)} {verb.get(call.method, call.method)} {title} {link} in {self.where(channel_id)}"
        )
        return []

    def _view(self, call: RecordedCall, home_for: str | None) -> list[Reply]:
        data = call.response.get("view") or {}
        record = self.state.views.get(str(data.get("id") or ""))
        user_id = record.user_id if record else str(call.args.get("user_id") or "")
        if data.get("type") == "home" and user_id != home_for:
            self.printer.event(f"{self.who(None)} refreshed the App Home of {self.who(user_id)}")
            return []
        verb = {"views.open": "opened", "views.push": "pushed", "views.update": "updated", "views.publish": ""}
        self.show_view(data, user_id, verb=verb.get(call.method, ""))
        return []


_Handler = Callable[[Transcript, RecordedCall, "str | None"], "list[Reply] | None"]
_HANDLERS: dict[str, _Handler] = {
    "chat.postMessage": Transcript._post,
    "chat.update": Transcript._update,
    "chat.postEphemeral": Transcript._ephemeral,
    "chat.delete": Transcript._delete,
    "pins.add": Transcript._pin,
    "pins.remove": Transcript._pin,
    "reactions.add": Transcript._reaction,
    "reactions.remove": Transcript._reaction,
    "bookmarks.add": Transcript._bookmark,
    "bookmarks.edit": Transcript._bookmark,
    "bookmarks.remove": Transcript._bookmark,
    "views.open": Transcript._view,
    "views.push": Transcript._view,
    "views.update": Transcript._view,
    "views.publish": Transcript._view,
    **{
        f"conversations.{name}": Transcript._channel_event
        for name in ("create", "rename", "setTopic", "setPurpose", "invite", "kick", "archive", "unarchive", "join", "leave")
    },
}
