"""Finding what a line names, the forgiving way a person types it: users, channels, messages, buttons, form fields.

Everything not found raises `SandboxError` listing what is there, so the next try is right.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.emulator import forms
from bot.emulator.state import Channel, Message, User, WorkspaceState
from bot.sandbox import render
from bot.sandbox.grammar import Ref, SandboxError
from bot.sandbox.transcript import numbered

_EMOJI_CODE = re.compile(r":[a-z0-9_+'-]+:")
_NOT_WORD = re.compile(r"[^\w]+")
_YES = frozenset({"yes", "y", "true", "on", "x", "1", "checked", "tick", "ticked"})
_NO = frozenset({"no", "n", "false", "off", "0", "none", "unchecked"})


def normalize(text: str) -> str:
    """Case, emoji codes, punctuation and spacing do not matter: `:rotating_light: Declare!` ~ `declare`."""
    return " ".join(_NOT_WORD.sub(" ", _EMOJI_CODE.sub(" ", text.lower())).split())


def best_match(wanted: str, candidates: list[tuple[str, Any]], *, what: str) -> Any:
    """The candidate whose name is `wanted` (normalised), else the only one starting with it, else the only one
    containing it."""
    key = normalize(wanted)
    if not key:
        raise SandboxError(f"which {what}? {_choices(candidates)}")
    for test in (
        lambda name: name == key,
        lambda name: name.startswith(key),
        lambda name: key in name,
    ):
        found = {id(value): value for name, value in candidates if test(normalize(name))}
        if len(found) == 1:
            return next(iter(found.values()))
        if len(found) > 1:
            names = sorted({name for name, value in candidates if id(value) in found})
            raise SandboxError(f"{wanted!r} could be {' or '.join(repr(n) for n in names)}; say which")
    raise SandboxError(f"no {what} {wanted!r}; {_choices(candidates)}")


def _choices(candidates: list[tuple[str, Any]]) -> str:
    names = list(dict.fromkeys(name for name, _ in candidates))
    return f"there is {', '.join(repr(n) for n in names)}" if names else "there is none"


# ---- people and places --------------------------------------------------------------------------------------------


def people(state: WorkspaceState) -> list[User]:
    return [u for u in state.users.values() if not u.is_bot and not u.deleted]


def find_user(state: WorkspaceState, name: str) -> User:
    wanted = name.lstrip("@").lower()
    for user in people(state):
        if wanted in (user.name.lower(), user.id.lower(), user.real_name.lower()):
            return user
    raise SandboxError(f"no user {name!r}; users are {', '.join(u.name for u in people(state))}")


def channels(state: WorkspaceState) -> list[Channel]:
    return [c for c in state.channels.values() if not c.is_im]


def find_channel(state: WorkspaceState, name: str) -> Channel:
    """By name, by a name it had before a rename, or by the only name starting with what was typed."""
    wanted = name.lstrip("#").lower()
    everything = channels(state)
    for channel in everything:
        if wanted in (channel.name, channel.id.lower()):
            return channel
    for channel in everything:
        if wanted in channel.previous_names:
            return channel
    starting = [c for c in everything if c.name.startswith(wanted)]
    if len(starting) == 1:
        return starting[0]
    listed = ", ".join("#" + c.name for c in everything)
    if starting:
        raise SandboxError(f"#{wanted} could be {', '.join('#' + c.name for c in starting)}; say which")
    raise SandboxError(f"no channel #{wanted}; channels are {listed}")


def find_message(state: WorkspaceState, ref: Ref | None, current_channel: str) -> Message:
    channel = state.channels[current_channel] if ref is None or ref.channel is None else find_channel(state, ref.channel)
    messages = numbered(state, channel.id)
    if not messages:
        raise SandboxError(f"#{channel.name} has no messages yet")
    index = ref.index if ref is not None else None
    if index is None:
        return messages[-1]
    if index > len(messages):
        raise SandboxError(f"#{channel.name} has {len(messages)} message(s); there is no #{channel.name}:{index}")
    return messages[index - 1]


# ---- buttons --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clickable:
    """A button, or one option of an overflow menu or select in an actions block or a section accessory."""

    text: str
    action_id: str
    block_id: str | None
    value: str | None
    selected: dict[str, Any] | None = None
    url: str | None = None


def clickables(blocks: Any) -> list[Clickable]:
    found: list[Clickable] = []
    for blk in blocks if isinstance(blocks, list) else []:
        if not isinstance(blk, dict):
            continue
        elements = list(blk.get("elements") or []) if blk.get("type") == "actions" else []
        if isinstance(blk.get("accessory"), dict):
            elements.append(blk["accessory"])
        block_id = blk.get("block_id")
        for el in elements:
            if not isinstance(el, dict) or not el.get("action_id"):
                continue
            action_id = str(el["action_id"])
            if el.get("type") == "button":
                text = render.text_object(el.get("text"), render.Names())
                found.append(Clickable(text, action_id, block_id, el.get("value"), url=el.get("url")))
            elif el.get("type") in ("overflow", "static_select", "radio_buttons"):
                for option in render.options_of(el):
                    found.append(
                        Clickable(
                            render.option_text(option), action_id, block_id, option.get("value"), {"selected_option": option}
                        )
                    )
    return found


def find_clickable(blocks: Any, text: str) -> Clickable | None:
    """The clickable called `text` in `blocks`, None if there is none; ambiguity raises."""
    items = [(c.text, c) for c in clickables(blocks)] + [(c.action_id, c) for c in clickables(blocks)]
    if not items:
        return None
    try:
        found: Clickable = best_match(text, items, what="button")
    except SandboxError as exc:
        if exc.message.startswith("no button"):
            return None
        raise
    return found


def button_names(blocks: Any) -> list[str]:
    return [f"[{c.text}]" for c in clickables(blocks)]


# ---- forms ----------------------------------------------------------------------------------------------------------


def _inputs(blocks: Any) -> list[dict[str, Any]]:
    listed = blocks if isinstance(blocks, list) else []
    return [b for b in listed if isinstance(b, dict) and b.get("type") == "input" and isinstance(b.get("element"), dict)]


def _label(blk: dict[str, Any]) -> str:
    return render.text_object(blk.get("label"), render.Names())


def form_values(
    state: WorkspaceState, view: dict[str, Any], fields: tuple[tuple[str, str], ...]
) -> dict[str, dict[str, Any]]:
    """`state.values` for submitting `view` with `fields` typed by label; untouched inputs keep what they show."""
    inputs = _inputs(view.get("blocks"))
    candidates = [(_label(b), b) for b in inputs] + [(str(b.get("block_id") or ""), b) for b in inputs]
    answers: dict[str, Any] = {}
    for label, raw in fields:
        blk = best_match(label, candidates, what="field")
        answers[str(blk.get("block_id") or "")] = _answer(state, blk, raw)
    try:
        values = forms.state_values(view.get("blocks") or [], answers)
    except ValueError as exc:
        raise SandboxError(str(exc)) from None
    shown = (view.get("state") or {}).get("values") or {}
    for block_id, value in shown.items():
        if block_id in values and block_id not in answers:
            values[block_id] = value  # what was typed before a refused submission stays, as in Slack
    return values


def _answer(state: WorkspaceState, blk: dict[str, Any], raw: str) -> Any:
    element: dict[str, Any] = blk["element"]
    kind = str(element.get("type") or "")
    label = _label(blk) or str(blk.get("block_id"))
    if kind in ("static_select", "external_select", "radio_buttons"):
        return _option(element, raw, label) if raw.strip() else ""
    if kind in ("multi_static_select", "multi_external_select", "checkboxes"):
        options = render.options_of(element)
        if len(options) == 1 and normalize(raw) in _YES:
            return [options[0].get("value")]
        if normalize(raw) in _NO or not raw.strip():
            return []
        return [_option(element, part, label) for part in raw.split(",") if part.strip()]
    if kind in ("users_select", "multi_users_select"):
        ids = [find_user(state, part.strip()).id for part in raw.split(",") if part.strip()]
        return ids if kind.startswith("multi") else (ids[0] if ids else "")
    if kind.endswith(("conversations_select", "channels_select")):
        ids = [find_channel(state, part.strip()).id for part in raw.split(",") if part.strip()]
        return ids if kind.startswith("multi") else (ids[0] if ids else "")
    return raw


def _option(element: dict[str, Any], raw: str, label: str) -> str:
    options = render.options_of(element)
    for option in options:
        if str(option.get("value", "")).lower() == raw.strip().lower():
            return str(option.get("value"))
    candidates = [(render.option_text(o), o) for o in options]
    try:
        chosen: dict[str, Any] = best_match(raw, candidates, what=f"choice for {label}")
    except SandboxError as exc:
        raise SandboxError(exc.message) from None
    return str(chosen.get("value"))
