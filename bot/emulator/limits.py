"""Block Kit limit checks, as pure functions.

Each returns Slack-style messages such as `"must be less than 3001 characters [json-pointer:/blocks/0/text/text]"`;
an empty list means Slack would accept the payload. Tests elsewhere call these directly on rendered blocks.
"""

from __future__ import annotations

from typing import Any

MESSAGE_MAX_BLOCKS = 50
VIEW_MAX_BLOCKS = 100
SECTION_TEXT_MAX = 3000
SECTION_FIELDS_MAX = 10
SECTION_FIELD_TEXT_MAX = 2000
HEADER_TEXT_MAX = 150
CONTEXT_ELEMENTS_MAX = 10
ACTIONS_ELEMENTS_MAX = 25
MARKDOWN_BLOCK_MAX = 12000
INPUT_LABEL_MAX = 2000
INPUT_HINT_MAX = 2000
BUTTON_TEXT_MAX = 75
BUTTON_VALUE_MAX = 2000
URL_MAX = 3000
PLACEHOLDER_MAX = 150
OPTIONS_MAX = 100
OPTION_GROUPS_MAX = 100
OPTION_TEXT_MAX = 75
OPTION_VALUE_MAX = 150
OPTION_DESCRIPTION_MAX = 75
OVERFLOW_OPTIONS_MAX = 5
RADIO_CHECKBOX_OPTIONS_MAX = 10
PLAIN_TEXT_INPUT_LENGTH_MAX = 3000
ID_MAX = 255
ALT_TEXT_MAX = 2000
VIEW_TITLE_MAX = 24
PRIVATE_METADATA_MAX = 3000

BLOCK_TYPES = frozenset(
    {
        "section",
        "divider",
        "image",
        "actions",
        "context",
        "input",
        "file",
        "header",
        "video",
        "rich_text",
        "markdown",
        "table",
    }
)
SELECTS = frozenset(
    {
        "static_select",
        "multi_static_select",
        "external_select",
        "multi_external_select",
        "users_select",
        "multi_users_select",
        "conversations_select",
        "multi_conversations_select",
        "channels_select",
        "multi_channels_select",
    }
)
INPUT_ELEMENTS = SELECTS | {
    "plain_text_input",
    "checkboxes",
    "radio_buttons",
    "datepicker",
    "timepicker",
    "datetimepicker",
    "email_text_input",
    "url_text_input",
    "number_input",
    "rich_text_input",
    "file_input",
}
INTERACTIVE_ELEMENTS = INPUT_ELEMENTS | {"button", "overflow", "workflow_button", "image"}


def _at(pointer: str) -> str:
    return f"[json-pointer:{pointer}]"


def _too_long(value: str, limit: int, pointer: str) -> list[str]:
    return [f"must be less than {limit + 1} characters {_at(pointer)}"] if len(value) > limit else []


def _check_text(obj: Any, pointer: str, *, max_len: int, plain_only: bool = False, required: bool = True) -> list[str]:
    """A composition text object: type plain_text/mrkdwn, 1..max_len characters."""
    if obj is None:
        return [f"must provide an object {_at(pointer)}"] if required else []
    if not isinstance(obj, dict):
        return [f"must provide an object {_at(pointer)}"]
    kind = obj.get("type")
    allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    if kind not in allowed:
        return [f"must be one of {', '.join(allowed)} {_at(pointer + '/type')}"]
    text = obj.get("text")
    if not isinstance(text, str):
        return [f"must provide a string {_at(pointer + '/text')}"]
    if not text:
        return [f"must be more than 0 characters {_at(pointer + '/text')}"]
    return _too_long(text, max_len, pointer + "/text")


def _check_str(value: Any, pointer: str, *, max_len: int) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, str):
        return [f"must provide a string {_at(pointer)}"]
    return _too_long(value, max_len, pointer)


def _check_count(items: Any, pointer: str, *, max_items: int, min_items: int = 0) -> list[str]:
    if not isinstance(items, list):
        return [f"must provide an array {_at(pointer)}"]
    if len(items) > max_items:
        return [f"no more than {max_items} items allowed {_at(pointer)}"]
    if len(items) < min_items:
        return [f"must provide at least {min_items} items {_at(pointer)}"]
    return []


def _check_option(option: Any, pointer: str, *, plain_only: bool) -> list[str]:
    if not isinstance(option, dict):
        return [f"must provide an object {_at(pointer)}"]
    errors = _check_text(option.get("text"), pointer + "/text", max_len=OPTION_TEXT_MAX, plain_only=plain_only)
    value = option.get("value")
    if value is None and "url" not in option:
        errors.append(f"must provide a string {_at(pointer + '/value')}")
    errors += _check_str(value, pointer + "/value", max_len=OPTION_VALUE_MAX)
    if "description" in option:
        errors += _check_text(
            option["description"], pointer + "/description", max_len=OPTION_DESCRIPTION_MAX, plain_only=plain_only
        )
    return errors


def _check_options(element: dict[str, Any], pointer: str, *, max_items: int, plain_only: bool) -> list[str]:
    errors: list[str] = []
    options = element.get("options")
    if options is not None:
        errors += _check_count(options, pointer + "/options", max_items=max_items, min_items=1)
        if isinstance(options, list):
            for i, option in enumerate(options):
                errors += _check_option(option, f"{pointer}/options/{i}", plain_only=plain_only)
    for key in ("initial_option",):
        if key in element and element[key] is not None:
            errors += _check_option(element[key], f"{pointer}/{key}", plain_only=plain_only)
    return errors


def check_element(element: Any, pointer: str) -> list[str]:
    """One block element (button, select, input…)."""
    if not isinstance(element, dict):
        return [f"must provide an object {_at(pointer)}"]
    kind = element.get("type")
    if not isinstance(kind, str) or kind not in INTERACTIVE_ELEMENTS:
        return [f"unknown element type {kind!r} {_at(pointer + '/type')}"]
    errors = _check_str(element.get("action_id"), pointer + "/action_id", max_len=ID_MAX)
    if "placeholder" in element:
        errors += _check_text(element["placeholder"], pointer + "/placeholder", max_len=PLACEHOLDER_MAX, plain_only=True)
    if kind == "button":
        errors += _check_text(element.get("text"), pointer + "/text", max_len=BUTTON_TEXT_MAX, plain_only=True)
        errors += _check_str(element.get("value"), pointer + "/value", max_len=BUTTON_VALUE_MAX)
        errors += _check_str(element.get("url"), pointer + "/url", max_len=URL_MAX)
        if element.get("style") not in (None, "primary", "danger"):
            errors.append(f"must be one of primary, danger {_at(pointer + '/style')}")
    elif kind == "image":
        if not element.get("image_url") and not element.get("slack_file"):
            errors.append(f"must provide image_url or slack_file {_at(pointer)}")
        if not isinstance(element.get("alt_text"), str):
            errors.append(f"must provide a string {_at(pointer + '/alt_text')}")
        else:
            errors += _check_str(element.get("alt_text"), pointer + "/alt_text", max_len=ALT_TEXT_MAX)
    elif kind in ("static_select", "multi_static_select"):
        has_options = element.get("options") is not None
        has_groups = element.get("option_groups") is not None
        if has_options == has_groups:
            errors.append(f"must provide exactly one of options, option_groups {_at(pointer)}")
        errors += _check_options(element, pointer, max_items=OPTIONS_MAX, plain_only=True)
        groups = element.get("option_groups")
        if groups is not None:
            errors += _check_count(groups, pointer + "/option_groups", max_items=OPTION_GROUPS_MAX, min_items=1)
            for i, group in enumerate(groups if isinstance(groups, list) else []):
                gp = f"{pointer}/option_groups/{i}"
                if not isinstance(group, dict):
                    errors.append(f"must provide an object {_at(gp)}")
                    continue
                errors += _check_text(group.get("label"), gp + "/label", max_len=OPTION_TEXT_MAX, plain_only=True)
                errors += _check_options(group, gp, max_items=OPTIONS_MAX, plain_only=True)
        for i, option in enumerate(element.get("initial_options") or []):
            errors += _check_option(option, f"{pointer}/initial_options/{i}", plain_only=True)
    elif kind == "overflow":
        errors += _check_options(element, pointer, max_items=OVERFLOW_OPTIONS_MAX, plain_only=True)
        if element.get("options") is None:
            errors.append(f"must provide an array {_at(pointer + '/options')}")
    elif kind in ("radio_buttons", "checkboxes"):
        errors += _check_options(element, pointer, max_items=RADIO_CHECKBOX_OPTIONS_MAX, plain_only=False)
        if element.get("options") is None:
            errors.append(f"must provide an array {_at(pointer + '/options')}")
    elif kind == "plain_text_input":
        max_length = element.get("max_length")
        if max_length is not None and (
            not isinstance(max_length, int) or not 1 <= max_length <= PLAIN_TEXT_INPUT_LENGTH_MAX
        ):
            errors.append(f"must be between 1 and {PLAIN_TEXT_INPUT_LENGTH_MAX} {_at(pointer + '/max_length')}")
        min_length = element.get("min_length")
        if min_length is not None and (
            not isinstance(min_length, int) or not 0 <= min_length <= PLAIN_TEXT_INPUT_LENGTH_MAX
        ):
            errors.append(f"must be between 0 and {PLAIN_TEXT_INPUT_LENGTH_MAX} {_at(pointer + '/min_length')}")
        initial = element.get("initial_value")
        if isinstance(initial, str) and isinstance(max_length, int):
            errors += _too_long(initial, max_length, pointer + "/initial_value")
    return errors


def _check_block(block: Any, pointer: str, *, surface: str) -> list[str]:
    if not isinstance(block, dict):
        return [f"must provide an object {_at(pointer)}"]
    kind = block.get("type")
    if kind not in BLOCK_TYPES:
        return [f"unknown block type {kind!r} {_at(pointer + '/type')}"]
    errors = _check_str(block.get("block_id"), pointer + "/block_id", max_len=ID_MAX)
    if kind == "section":
        if block.get("text") is None and block.get("fields") is None:
            errors.append(f"must provide text or fields {_at(pointer)}")
        if block.get("text") is not None:
            errors += _check_text(block["text"], pointer + "/text", max_len=SECTION_TEXT_MAX)
        fields = block.get("fields")
        if fields is not None:
            errors += _check_count(fields, pointer + "/fields", max_items=SECTION_FIELDS_MAX, min_items=1)
            for i, item in enumerate(fields if isinstance(fields, list) else []):
                errors += _check_text(item, f"{pointer}/fields/{i}", max_len=SECTION_FIELD_TEXT_MAX)
        if block.get("accessory") is not None:
            errors += check_element(block["accessory"], pointer + "/accessory")
    elif kind == "header":
        errors += _check_text(block.get("text"), pointer + "/text", max_len=HEADER_TEXT_MAX, plain_only=True)
    elif kind == "context":
        elements = block.get("elements")
        errors += _check_count(elements, pointer + "/elements", max_items=CONTEXT_ELEMENTS_MAX, min_items=1)
        for i, element in enumerate(elements if isinstance(elements, list) else []):
            ep = f"{pointer}/elements/{i}"
            if isinstance(element, dict) and element.get("type") == "image":
                errors += check_element(element, ep)
            else:
                errors += _check_text(element, ep, max_len=SECTION_TEXT_MAX)
    elif kind == "actions":
        elements = block.get("elements")
        errors += _check_count(elements, pointer + "/elements", max_items=ACTIONS_ELEMENTS_MAX, min_items=1)
        seen: set[str] = set()
        for i, element in enumerate(elements if isinstance(elements, list) else []):
            errors += check_element(element, f"{pointer}/elements/{i}")
            action_id = element.get("action_id") if isinstance(element, dict) else None
            if isinstance(action_id, str):
                if action_id in seen:
                    errors.append(f"action_id {action_id!r} already exists {_at(f'{pointer}/elements/{i}/action_id')}")
                seen.add(action_id)
    elif kind == "input":
        errors += _check_text(block.get("label"), pointer + "/label", max_len=INPUT_LABEL_MAX, plain_only=True)
        if "hint" in block:
            errors += _check_text(block["hint"], pointer + "/hint", max_len=INPUT_HINT_MAX, plain_only=True)
        element = block.get("element")
        if element is None:
            errors.append(f"must provide an object {_at(pointer + '/element')}")
        elif isinstance(element, dict) and element.get("type") not in INPUT_ELEMENTS:
            errors.append(f"element type {element.get('type')!r} is not allowed in input {_at(pointer + '/element/type')}")
        else:
            errors += check_element(element, pointer + "/element")
    elif kind == "image":
        errors += check_element({**block, "type": "image"}, pointer)
        if "title" in block:
            errors += _check_text(block["title"], pointer + "/title", max_len=ALT_TEXT_MAX, plain_only=True)
    elif kind == "markdown":
        if surface != "message":
            errors.append(f"markdown blocks are only allowed in messages {_at(pointer + '/type')}")
        text = block.get("text")
        if not isinstance(text, str) or not text:
            errors.append(f"must provide a string {_at(pointer + '/text')}")
        else:
            errors += _too_long(text, MARKDOWN_BLOCK_MAX, pointer + "/text")
    return errors


def check_blocks(blocks: Any, *, pointer: str, max_blocks: int, surface: str) -> list[str]:
    """A list of blocks for `surface` (`message`, `modal`, `home`)."""
    if not isinstance(blocks, list):
        return [f"must provide an array {_at(pointer)}"]
    errors = _check_count(blocks, pointer, max_items=max_blocks)
    seen: set[str] = set()
    for i, block in enumerate(blocks):
        errors += _check_block(block, f"{pointer}/{i}", surface=surface)
        block_id = block.get("block_id") if isinstance(block, dict) else None
        if isinstance(block_id, str):
            if block_id in seen:
                errors.append(f"block_id {block_id!r} already exists {_at(f'{pointer}/{i}/block_id')}")
            seen.add(block_id)
    return errors


def check_message_blocks(blocks: Any) -> list[str]:
    """Blocks of chat.postMessage / chat.update / chat.postEphemeral / a response_url post."""
    return check_blocks(blocks, pointer="/blocks", max_blocks=MESSAGE_MAX_BLOCKS, surface="message")


def check_view(view: Any) -> list[str]:
    """A modal or Home tab view as passed to views.open/push/update/publish or a `response_action`."""
    if not isinstance(view, dict):
        return [f"must provide an object {_at('/view')}"]
    kind = view.get("type")
    if kind not in ("modal", "home"):
        return [f"must be one of modal, home {_at('/view/type')}"]
    errors: list[str] = []
    if kind == "modal":
        errors += _check_text(view.get("title"), "/view/title", max_len=VIEW_TITLE_MAX, plain_only=True)
        for key in ("submit", "close"):
            if view.get(key) is not None:
                errors += _check_text(view[key], f"/view/{key}", max_len=VIEW_TITLE_MAX, plain_only=True)
        blocks = view.get("blocks")
        has_input = isinstance(blocks, list) and any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
        if has_input and view.get("submit") is None:
            errors.append(f"must provide submit when the view has input blocks {_at('/view/submit')}")
    errors += _check_str(view.get("private_metadata"), "/view/private_metadata", max_len=PRIVATE_METADATA_MAX)
    errors += _check_str(view.get("callback_id"), "/view/callback_id", max_len=ID_MAX)
    errors += _check_str(view.get("external_id"), "/view/external_id", max_len=ID_MAX)
    errors += check_blocks(view.get("blocks"), pointer="/view/blocks", max_blocks=VIEW_MAX_BLOCKS, surface=str(kind))
    return errors
