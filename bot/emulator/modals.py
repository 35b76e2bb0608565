"""Modal stacks and Home tabs: how views are opened, pushed, replaced, published and closed."""

from __future__ import annotations

import copy
import json
from typing import Any

from bot.emulator.args import ApiError
from bot.emulator.ids import Ids
from bot.emulator.limits import check_view
from bot.emulator.state import ViewRecord, WorkspaceState

MODAL_STACK_MAX = 3
VIEW_BYTES_MAX = 250_000


def validate(spec: Any, *, expected_type: str | None = None) -> dict[str, Any]:
    """Slack's checks on a view argument: size, type and Block Kit limits (-> invalid_arguments with messages)."""
    if not isinstance(spec, dict):
        raise ApiError("invalid_arguments", messages=["[ERROR] must provide an object [json-pointer:/view]"])
    if len(json.dumps(spec)) > VIEW_BYTES_MAX:
        raise ApiError("view_too_large")
    errors = check_view(spec)
    if not errors and expected_type and spec.get("type") != expected_type:
        errors = [f"must be {expected_type} [json-pointer:/view/type]"]
    if errors:
        raise ApiError("invalid_arguments", messages=[f"[ERROR] {e}" for e in errors])
    return spec


def _build(
    state: WorkspaceState,
    ids: Ids,
    spec: dict[str, Any],
    *,
    user_id: str,
    view_id: str | None = None,
    previous_view_id: str | None = None,
    root_view_id: str | None = None,
) -> ViewRecord:
    identity = state.identity
    view_id = view_id or ids.sequential("V")
    data: dict[str, Any] = {
        "id": view_id,
        "team_id": identity.team_id,
        "type": spec.get("type", "modal"),
        "blocks": copy.deepcopy(spec.get("blocks", [])),
        "private_metadata": spec.get("private_metadata") or "",
        "callback_id": spec.get("callback_id") or "",
        "state": {"values": {}},
        "hash": ids.view_hash(),
        "title": copy.deepcopy(spec.get("title")),
        "clear_on_close": bool(spec.get("clear_on_close", False)),
        "notify_on_close": bool(spec.get("notify_on_close", False)),
        "close": copy.deepcopy(spec.get("close")),
        "submit": copy.deepcopy(spec.get("submit")),
        "previous_view_id": previous_view_id,
        "root_view_id": root_view_id or view_id,
        "app_id": identity.app_id,
        "external_id": spec.get("external_id") or "",
        "app_installed_team_id": identity.team_id,
        "bot_id": identity.bot_id,
    }
    record = ViewRecord(id=view_id, user_id=user_id, data=data)
    state.views[view_id] = record
    return record


def _check_external_id(state: WorkspaceState, spec: dict[str, Any], *, except_id: str | None = None) -> None:
    external_id = spec.get("external_id")
    if external_id and any(v.external_id == external_id and v.id != except_id for v in state.views.values()):
        raise ApiError("duplicate_external_id")


def is_open(state: WorkspaceState, view_id: str) -> bool:
    return any(view_id in stack for stack in state.modal_stacks.values()) or view_id in state.home_views.values()


def open_modal(state: WorkspaceState, ids: Ids, spec: dict[str, Any], *, user_id: str) -> ViewRecord:
    """views.open: a new stack for the user (whatever was open is gone)."""
    _check_external_id(state, spec)
    record = _build(state, ids, spec, user_id=user_id)
    state.modal_stacks[user_id] = [record.id]
    return record


def push_modal(state: WorkspaceState, ids: Ids, spec: dict[str, Any], *, user_id: str) -> ViewRecord:
    """views.push / response_action push: a new view on top; at most three views deep."""
    stack = state.modal_stacks.setdefault(user_id, [])
    if len(stack) >= MODAL_STACK_MAX:
        raise ApiError("push_limit_reached")
    _check_external_id(state, spec)
    previous = stack[-1] if stack else None
    root = state.views[stack[0]].id if stack else None
    record = _build(state, ids, spec, user_id=user_id, previous_view_id=previous, root_view_id=root)
    stack.append(record.id)
    return record


def replace_view(state: WorkspaceState, ids: Ids, current: ViewRecord, spec: dict[str, Any]) -> ViewRecord:
    """views.update / response_action update: same id and place in the stack, new content and hash.

    Input values survive for blocks that are still there, as they do in Slack."""
    if spec.get("type", current.type) != current.type:
        raise ApiError("invalid_arguments", messages=["[ERROR] cannot change the type of a view [json-pointer:/view/type]"])
    _check_external_id(state, spec, except_id=current.id)
    old_values = current.data.get("state", {}).get("values", {})
    record = _build(
        state,
        ids,
        spec,
        user_id=current.user_id,
        view_id=current.id,
        previous_view_id=current.data.get("previous_view_id"),
        root_view_id=current.data.get("root_view_id"),
    )
    block_ids = {b.get("block_id") for b in record.data["blocks"] if isinstance(b, dict)}
    record.data["state"]["values"] = {k: v for k, v in old_values.items() if k in block_ids}
    return record


def publish_home(state: WorkspaceState, ids: Ids, spec: dict[str, Any], *, user_id: str) -> ViewRecord:
    """views.publish: one Home view per user, republished in place."""
    current = state.home_view(user_id)
    if current is not None:
        return replace_view(state, ids, current, spec)
    _check_external_id(state, spec)
    record = _build(state, ids, spec, user_id=user_id)
    state.home_views[user_id] = record.id
    return record


def close_view(state: WorkspaceState, user_id: str, view_id: str) -> list[ViewRecord]:
    """Close a modal and everything stacked above it; returns what was closed."""
    stack = state.modal_stacks.get(user_id, [])
    if view_id not in stack:
        return []
    index = stack.index(view_id)
    closed = [state.views[v] for v in stack[index:]]
    del stack[index:]
    if not stack:
        state.modal_stacks.pop(user_id, None)
    return closed


def clear_stack(state: WorkspaceState, user_id: str) -> list[ViewRecord]:
    return [state.views[v] for v in state.modal_stacks.pop(user_id, [])]
