"""Block Kit and mrkdwn to terminal text, as a person reads them in Slack. Pure: ids are resolved through `Names`.

Every function returns lines without indentation; the caller decides where they go. Colour is a `Style`: plain
text when piped, ANSI on a terminal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Style:
    """ANSI colour, or none at all (`PLAIN`)."""

    color: bool = False

    def _sgr(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color and text else text

    def bold(self, text: str) -> str:
        return self._sgr("1", text)

    def dim(self, text: str) -> str:
        return self._sgr("2", text)

    def header(self, text: str) -> str:
        return self._sgr("1;4", text)

    def who(self, text: str) -> str:
        return self._sgr("1;33", text)

    def where(self, text: str) -> str:
        return self._sgr("36", text)

    def error(self, text: str) -> str:
        return self._sgr("1;31", text)

    def ok(self, text: str) -> str:
        return self._sgr("32", text)

    def button(self, text: str, style: str | None = None) -> str:
        code = {"primary": "1;32", "danger": "1;31"}.get(style or "", "1;34")
        return self._sgr(code, f"[{text}]")


PLAIN = Style(color=False)
ANSI = Style(color=True)


@dataclass(frozen=True)
class Names:
    """Readable names for the ids in mrkdwn: users, conversations and usergroups."""

    users: Mapping[str, str] = field(default_factory=dict)
    channels: Mapping[str, str] = field(default_factory=dict)
    usergroups: Mapping[str, str] = field(default_factory=dict)

    def user(self, user_id: str, label: str = "") -> str:
        return "@" + (self.users.get(user_id) or label.lstrip("@") or user_id)

    def channel(self, channel_id: str, label: str = "") -> str:
        return "#" + (self.channels.get(channel_id) or label.lstrip("#") or channel_id)

    def usergroup(self, usergroup_id: str, label: str = "") -> str:
        return "@" + (self.usergroups.get(usergroup_id) or label.lstrip("@") or usergroup_id)


# ---- text ---------------------------------------------------------------------------------------------------------

_ANGLE = re.compile(r"<([^<>\n]*)>")
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_DATE_TOKEN = re.compile(r"\{(\w+)\}")


def _ordinal(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def ago(at: datetime, now: datetime) -> str:
    """Slack's `{ago}`: how long before `now`, in words."""
    seconds = (now - at).total_seconds()
    if seconds < 0:
        return "in the future"
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{n} {unit}{'s' if n != 1 else ''} ago"
    return "just now"


def format_date(ts: int, fmt: str, fallback: str, *, now: datetime | None = None) -> str:
    """Slack's `<!date^…>` tokens, in UTC (the sandbox has no viewer time zone; `{ago}` counts from `now`, the wall
    clock by default); the fallback for unknown tokens."""
    try:
        at = datetime.fromtimestamp(ts, UTC)
    except (OverflowError, OSError, ValueError):
        return fallback
    tokens = {
        "date_num": f"{at:%Y-%m-%d}",
        "date": f"{at:%B} {_ordinal(at.day)}, {at.year}",
        "date_short": f"{at:%b} {at.day}, {at.year}",
        "date_long": f"{at:%A}, {at:%B} {_ordinal(at.day)}, {at.year}",
        "time": f"{at:%H:%M}",
        "time_secs": f"{at:%H:%M:%S}",
        "ago": ago(at, now or datetime.now(UTC)),
    }
    for name in ("date", "date_short", "date_long"):
        tokens[f"{name}_pretty"] = tokens[name]
    used = _DATE_TOKEN.findall(fmt)
    if not used or any(t not in tokens for t in used):
        return fallback or fmt
    text = _DATE_TOKEN.sub(lambda m: tokens[m.group(1)], fmt)
    return text + (" UTC" if any(t.startswith("time") for t in used) else "")


def _angle(inner: str, names: Names) -> str:
    """One `<…>` token of mrkdwn: a mention, a channel, a usergroup, a date, a special mention or a link."""
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        return names.user(target[1:], label)
    if target.startswith("#"):
        return names.channel(target[1:], label)
    if target.startswith("!subteam^"):
        return names.usergroup(target.removeprefix("!subteam^"), label)
    if target.startswith("!date^"):
        parts = target.split("^")
        try:
            ts = int(parts[1])
        except (IndexError, ValueError):
            return label or inner
        return format_date(ts, parts[2] if len(parts) > 2 else "", label)
    if target.startswith("!"):
        return "@" + (label.lstrip("@") or target[1:])
    if target.startswith("mailto:"):
        return label or target.removeprefix("mailto:")
    if label and label != target:
        return f"{label} ({target})"
    return target


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def mrkdwn(text: str, names: Names, style: Style = PLAIN) -> str:
    """Mentions, channels, usergroups, dates and links made readable; entities unescaped; *bold* in colour."""
    resolved = _ANGLE.sub(lambda m: _angle(m.group(1), names), text)
    if style.color:
        resolved = _BOLD.sub(lambda m: style.bold(m.group(1)), resolved)
    return unescape(resolved)


def text_object(obj: Any, names: Names, style: Style = PLAIN) -> str:
    """A `plain_text` or `mrkdwn` text object (or a bare string)."""
    if isinstance(obj, str):
        return obj
    if not isinstance(obj, dict):
        return ""
    text = str(obj.get("text") or "")
    return mrkdwn(text, names, style) if obj.get("type") == "mrkdwn" else text


# ---- elements -----------------------------------------------------------------------------------------------------


def options_of(element: dict[str, Any]) -> list[dict[str, Any]]:
    options = [o for o in element.get("options") or [] if isinstance(o, dict)]
    for group in element.get("option_groups") or []:
        if isinstance(group, dict):
            options += [o for o in group.get("options") or [] if isinstance(o, dict)]
    return options


def option_text(option: Any) -> str:
    return text_object(option.get("text"), Names()) if isinstance(option, dict) else ""


def element(el: Any, names: Names, style: Style = PLAIN) -> str:
    """An interactive element as it sits in a message: `[Acknowledge]`, `[Pick one ▾]`, `[⋯ A | B]`."""
    if not isinstance(el, dict):
        return ""
    kind = str(el.get("type") or "")
    if kind == "button":
        return style.button(text_object(el.get("text"), names), el.get("style"))
    if kind == "overflow":
        return style.button("⋯ " + " | ".join(option_text(o) for o in options_of(el)))
    if kind == "image":
        return f"[image: {el.get('alt_text') or ''}]"
    if kind in ("mrkdwn", "plain_text"):
        return text_object(el, names, style)
    current = value_text(el, None, names)
    placeholder = text_object(el.get("placeholder"), names)
    return style.button(f"{current or placeholder or kind} ▾")


def value_text(el: dict[str, Any], state: dict[str, Any] | None, names: Names) -> str:
    """What an input element shows: the submitted state if any, else its initial value."""
    kind = str(el.get("type") or "")
    source: dict[str, Any] = state if isinstance(state, dict) else {}
    has_state = bool(source)

    def pick(state_key: str, initial_key: str) -> Any:
        return source.get(state_key) if has_state else el.get(initial_key)

    if kind in ("static_select", "external_select", "radio_buttons"):
        return option_text(pick("selected_option", "initial_option"))
    if kind in ("multi_static_select", "multi_external_select", "checkboxes"):
        chosen = pick("selected_options", "initial_options") or []
        return ", ".join(option_text(o) for o in chosen)
    if kind == "users_select":
        user = pick("selected_user", "initial_user")
        return names.user(str(user)) if user else ""
    if kind == "multi_users_select":
        return ", ".join(names.user(str(u)) for u in pick("selected_users", "initial_users") or [])
    if kind in ("conversations_select", "channels_select"):
        key = "conversation" if kind == "conversations_select" else "channel"
        chosen = pick(f"selected_{key}", f"initial_{key}")
        return names.channel(str(chosen)) if chosen else ""
    if kind in ("multi_conversations_select", "multi_channels_select"):
        key = "conversations" if kind == "multi_conversations_select" else "channels"
        return ", ".join(names.channel(str(c)) for c in pick(f"selected_{key}", f"initial_{key}") or [])
    if kind == "datepicker":
        return str(pick("selected_date", "initial_date") or "")
    if kind == "timepicker":
        return str(pick("selected_time", "initial_time") or "")
    value = pick("value", "initial_value")
    return "" if value is None else str(value)


# ---- blocks -------------------------------------------------------------------------------------------------------


def _field(obj: Any, names: Names, style: Style) -> str:
    """A section field; `*Label*\\nvalue` reads as `Label: value`."""
    raw = str(obj.get("text") or "") if isinstance(obj, dict) else ""
    head, sep, rest = raw.partition("\n")
    label = re.fullmatch(r"\*([^*\n]+)\*", head.strip())
    if obj.get("type") == "mrkdwn" and label and sep:
        value = " ".join(mrkdwn(line, names, style) for line in rest.splitlines())
        return f"{style.bold(label.group(1))}: {value}"
    return " ".join(text_object(obj, names, style).splitlines())


def _rich_inline(el: dict[str, Any], names: Names) -> str:
    kind = el.get("type")
    if kind == "text":
        return str(el.get("text") or "")
    if kind == "link":
        text, url = str(el.get("text") or ""), str(el.get("url") or "")
        return f"{text} ({url})" if text and text != url else url
    if kind == "user":
        return names.user(str(el.get("user_id") or ""))
    if kind == "channel":
        return names.channel(str(el.get("channel_id") or ""))
    if kind == "usergroup":
        return names.usergroup(str(el.get("usergroup_id") or ""))
    if kind == "emoji":
        return f":{el.get('name')}:"
    if kind == "broadcast":
        return f"@{el.get('range')}"
    if kind == "date":
        return format_date(int(el.get("timestamp") or 0), str(el.get("format") or ""), str(el.get("fallback") or ""))
    return str(el.get("text") or "")


def _rich_text(block: dict[str, Any], names: Names) -> list[str]:
    lines: list[str] = []
    for part in block.get("elements") or []:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "rich_text_list":
            ordered = part.get("style") == "ordered"
            for n, item in enumerate(part.get("elements") or [], start=1):
                marker = f"{n}." if ordered else "•"
                text = "".join(_rich_inline(e, names) for e in (item or {}).get("elements") or [] if isinstance(e, dict))
                lines.append("  " * int(part.get("indent") or 0) + f"{marker} {text}")
            continue
        text = "".join(_rich_inline(e, names) for e in part.get("elements") or [] if isinstance(e, dict))
        if kind == "rich_text_quote":
            lines += [f"> {line}" for line in text.splitlines() or [""]]
        elif kind == "rich_text_preformatted":
            lines += [f"    {line}" for line in text.splitlines() or [""]]
        else:
            lines += text.splitlines() or [""]
    return lines


def block(blk: Any, names: Names, style: Style = PLAIN) -> list[str]:
    """One block as lines of text."""
    if not isinstance(blk, dict):
        return []
    kind = blk.get("type")
    if kind == "header":
        return [style.header(text_object(blk.get("text"), names, style))]
    if kind == "section":
        lines = text_object(blk.get("text"), names, style).splitlines() if blk.get("text") else []
        lines += [_field(f, names, style) for f in blk.get("fields") or []]
        accessory = blk.get("accessory")
        if isinstance(accessory, dict):
            shown = element(accessory, names, style)
            if lines:
                lines[0] = f"{lines[0]}  {shown}"
            else:
                lines = [shown]
        return lines
    if kind == "context":
        return [style.dim(" · ".join(element(e, names, style) for e in blk.get("elements") or []))]
    if kind == "divider":
        return [style.dim("-" * 24)]
    if kind == "actions":
        return ["  ".join(element(e, names, style) for e in blk.get("elements") or [])]
    if kind == "image":
        title = text_object(blk.get("title"), names)
        return [f"[image: {blk.get('alt_text') or ''}]" + (f" {title}" if title else "")]
    if kind == "rich_text":
        return _rich_text(blk, names)
    if kind == "input":
        return input_lines(blk, names, style, None, None)
    if kind == "markdown":
        return str(blk.get("text") or "").splitlines()
    if kind == "video":
        return [f"[video: {text_object(blk.get('title'), names)}]"]
    if kind == "file":
        return [f"[file: {blk.get('external_id') or ''}]"]
    return [style.dim(f"[{kind} block]")]


def blocks(blks: Any, names: Names, style: Style = PLAIN) -> list[str]:
    lines: list[str] = []
    for blk in blks if isinstance(blks, list) else []:
        lines += block(blk, names, style)
    return lines


def message(text: str, blks: Any, names: Names, style: Style = PLAIN, *, attachments: Any = None) -> list[str]:
    """A message: its blocks when it has some (Slack then shows `text` only in notifications), else its text."""
    lines = blocks(blks, names, style) if blks else mrkdwn(text, names, style).splitlines()
    for attachment in attachments if isinstance(attachments, list) else []:
        if not isinstance(attachment, dict):
            continue
        body = blocks(attachment.get("blocks"), names, style) if attachment.get("blocks") else []
        body = body or mrkdwn(str(attachment.get("text") or attachment.get("fallback") or ""), names, style).splitlines()
        lines += [f"| {line}" for line in body]
    return lines or [style.dim("(empty message)")]


# ---- views --------------------------------------------------------------------------------------------------------


def input_lines(
    blk: dict[str, Any], names: Names, style: Style, state: dict[str, Any] | None, error: str | None
) -> list[str]:
    """An input block: `Label: value`, its choices, its hint, and the error Slack shows under it."""
    el = blk.get("element") if isinstance(blk.get("element"), dict) else {}
    assert isinstance(el, dict)
    label = text_object(blk.get("label"), names) + (" (optional)" if blk.get("optional") else "")
    kind = str(el.get("type") or "")
    options = options_of(el)
    if kind in ("checkboxes", "radio_buttons"):
        chosen = {option_text(o) for o in _chosen(el, state)}
        mark = ("[x]", "[ ]") if kind == "checkboxes" else ("(o)", "( )")
        shown = "  ".join(f"{mark[0] if option_text(o) in chosen else mark[1]} {option_text(o)}" for o in options)
        lines = [f"{style.bold(label)}: {shown}"]
    else:
        value = value_text(el, state, names)
        placeholder = text_object(el.get("placeholder"), names)
        shown = value.replace("\n", " / ") if value else style.dim(f"({placeholder})" if placeholder else "—")
        lines = [f"{style.bold(label)}: {shown}" + (" ▾" if options or kind.endswith("select") else "")]
        if options:
            lines.append(style.dim("  choices: " + " | ".join(option_text(o) for o in options)))
    hint = text_object(blk.get("hint"), names)
    if hint:
        lines.append(style.dim(f"  {hint}"))
    if error:
        lines.append(style.error(f"  ! {error}"))
    return lines


def _chosen(el: dict[str, Any], state: dict[str, Any] | None) -> list[Any]:
    if isinstance(state, dict) and state:
        chosen = state.get("selected_options")
        single = state.get("selected_option")
    else:
        chosen = el.get("initial_options")
        single = el.get("initial_option")
    return list(chosen or []) + ([single] if single else [])


def view(data: dict[str, Any], names: Names, style: Style = PLAIN, *, errors: Mapping[str, str] | None = None) -> list[str]:
    """A modal (title, fields with values and choices, errors, buttons) or a Home tab (its blocks)."""
    errors = errors or {}
    values = (data.get("state") or {}).get("values") or {}
    lines: list[str] = []
    if data.get("type") == "modal":
        lines.append(style.header(text_object(data.get("title"), names) or "(untitled form)"))
    for blk in data.get("blocks") or []:
        if isinstance(blk, dict) and blk.get("type") == "input":
            block_id = str(blk.get("block_id") or "")
            action_id = str((blk.get("element") or {}).get("action_id") or "")
            state = (values.get(block_id) or {}).get(action_id)
            lines += input_lines(blk, names, style, state, errors.get(block_id))
        else:
            lines += block(blk, names, style)
    if data.get("type") == "modal":
        buttons = [
            style.button(text_object(data[k], names), "primary" if k == "submit" else None)
            for k in ("submit", "close")
            if isinstance(data.get(k), dict)
        ]
        lines.append("  ".join(buttons) if buttons else style.button("Close"))
    return lines
