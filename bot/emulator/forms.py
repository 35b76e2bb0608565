"""Filling in Block Kit the way a person would: `state.values` for a modal from answers keyed by label, and
finding a button by its text. Pure functions, for tests and for `vigil sandbox` (`submit Title=…`, `click …`)."""

from __future__ import annotations

from typing import Any

# element type -> key of its value object in state.values
_SINGLE_OPTION = {"static_select", "external_select", "radio_buttons"}
_MULTI_OPTION = {"multi_static_select", "multi_external_select", "checkboxes"}
_SCALAR_KEYS = {
    "users_select": "selected_user",
    "conversations_select": "selected_conversation",
    "channels_select": "selected_channel",
    "datepicker": "selected_date",
    "timepicker": "selected_time",
    "datetimepicker": "selected_date_time",
}
_LIST_KEYS = {
    "multi_users_select": "selected_users",
    "multi_conversations_select": "selected_conversations",
    "multi_channels_select": "selected_channels",
}


def _label(block: dict[str, Any]) -> str:
    label = block.get("label")
    return str(label.get("text", "")) if isinstance(label, dict) else ""


def _options(element: dict[str, Any]) -> list[dict[str, Any]]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options += group.get("options") or []
    return [o for o in options if isinstance(o, dict)]


def _match_option(element: dict[str, Any], answer: str, where: str) -> dict[str, Any]:
    """An option by value, or by its visible text (case-insensitive)."""
    for option in _options(element):
        text = str((option.get("text") or {}).get("text", ""))
        if answer == option.get("value") or answer.lower() == text.lower():
            return option
    raise ValueError(f"{where}: no option {answer!r}")


def _as_list(answer: Any) -> list[str]:
    if isinstance(answer, list | tuple):
        return [str(a) for a in answer]
    return [part.strip() for part in str(answer).split(",") if part.strip()]


def value_object(element: dict[str, Any], answer: Any, where: str = "input") -> dict[str, Any]:
    """The state value of one input element; `answer=None` gives what Slack sends for an untouched input."""
    kind = str(element.get("type", ""))
    value: dict[str, Any] = {"type": kind}
    if kind in _SINGLE_OPTION:
        value["selected_option"] = _match_option(element, str(answer), where) if answer else None
    elif kind in _MULTI_OPTION:
        value["selected_options"] = [_match_option(element, a, where) for a in _as_list(answer or [])]
    elif kind in _SCALAR_KEYS:
        value[_SCALAR_KEYS[kind]] = answer or None  # "" = the person cleared the field
    elif kind in _LIST_KEYS:
        value[_LIST_KEYS[kind]] = _as_list(answer or [])
    else:  # plain_text_input, number_input, email_text_input, url_text_input…
        value["value"] = None if answer is None else str(answer)
    return value


def initial_answer(element: dict[str, Any]) -> Any:
    """What Slack submits for an input the person left as it was: its initial value, whatever the element type."""
    for key in ("initial_value", "initial_user", "initial_conversation", "initial_channel", "initial_date", "initial_time"):
        if element.get(key) is not None:
            return element[key]
    for key in ("initial_users", "initial_conversations", "initial_channels"):
        if element.get(key):
            return list(element[key])
    option = element.get("initial_option")
    if isinstance(option, dict):
        return option.get("value")
    options = element.get("initial_options")
    if isinstance(options, list) and options:
        return [o.get("value") for o in options if isinstance(o, dict)]
    return None


def state_values(blocks: list[Any], answers: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`view.state.values` for `blocks`, answering input blocks by label (case-insensitive) or block_id.

    An input left out (or answered None) submits its initial value, as Slack does; "" submits it cleared.

    Every input block appears, as in Slack; unknown keys raise ValueError so a typo never passes silently."""
    values: dict[str, dict[str, Any]] = {}
    remaining = {key.lower(): key for key in answers}
    for block in blocks:
        if not isinstance(block, dict) or block.get("type") != "input" or not isinstance(block.get("element"), dict):
            continue
        block_id = str(block.get("block_id", ""))
        element = block["element"]
        key = next((k for k in (block_id.lower(), _label(block).lower()) if k and k in remaining), None)
        answer = answers[remaining.pop(key)] if key else None
        if answer is None:
            answer = initial_answer(element)
        values[block_id] = {str(element.get("action_id", "")): value_object(element, answer, _label(block) or block_id)}
    if remaining:
        raise ValueError(f"no input labelled {', '.join(sorted(remaining.values()))}")
    return values


def find_button(blocks: list[Any] | None, text: str) -> tuple[str | None, dict[str, Any]] | None:
    """The first button whose visible text (case-insensitive) or action_id is `text`, with its block_id."""
    wanted = text.lower()
    for block in blocks or []:
        if not isinstance(block, dict):
            continue
        elements = list(block.get("elements") or []) if block.get("type") == "actions" else []
        if isinstance(block.get("accessory"), dict):
            elements.append(block["accessory"])
        for element in elements:
            if not isinstance(element, dict) or element.get("type") != "button":
                continue
            label = str((element.get("text") or {}).get("text", ""))
            if wanted in (label.lower(), str(element.get("action_id", "")).lower()):
                return block.get("block_id"), element
    return None
