"""views.open, views.push, views.update, views.publish: trigger checks, stack rules and hashes."""

from __future__ import annotations

from typing import Any

from bot.emulator import modals, payloads
from bot.emulator.args import ApiError, Args, invalid_arguments
from bot.emulator.ids import TRIGGER_ID_RE
from bot.emulator.methods.base import Ctx, Handler
from bot.emulator.state import ViewRecord

TRIGGER_TTL = 3.0


def exchange_trigger(ctx: Ctx, trigger_id: str | None) -> str:
    """Spend a trigger_id: well-shaped, known, unused and at most 3 s old. Returns the user it belongs to."""
    if not trigger_id or not TRIGGER_ID_RE.match(trigger_id):
        raise ApiError("invalid_trigger_id")
    trigger = ctx.state.triggers.get(trigger_id)
    if trigger is None:
        raise ApiError("invalid_trigger_id")
    if trigger.used:
        raise ApiError("exchanged_trigger_id")
    if ctx.clock() - trigger.issued > TRIGGER_TTL:
        raise ApiError("expired_trigger_id")
    trigger.used = True
    return trigger.user_id


def _reply(view: ViewRecord) -> dict[str, Any]:
    return {"ok": True, "view": payloads.view_object(view)}


def open_view(ctx: Ctx, args: Args) -> dict[str, Any]:
    spec = modals.validate(args.structured("view"), expected_type="modal")
    user_id = exchange_trigger(ctx, args.text("trigger_id") or args.text("interactivity_pointer"))
    return _reply(modals.open_modal(ctx.state, ctx.ids, spec, user_id=user_id))


def push_view(ctx: Ctx, args: Args) -> dict[str, Any]:
    spec = modals.validate(args.structured("view"), expected_type="modal")
    user_id = exchange_trigger(ctx, args.text("trigger_id") or args.text("interactivity_pointer"))
    if len(ctx.state.modal_stacks.get(user_id, [])) >= modals.MODAL_STACK_MAX:
        raise ApiError("push_limit_reached")
    return _reply(modals.push_modal(ctx.state, ctx.ids, spec, user_id=user_id))


def update_view(ctx: Ctx, args: Args) -> dict[str, Any]:
    view_id = args.text("view_id")
    external_id = args.text("external_id")
    if not view_id and not external_id:
        raise invalid_arguments("either view_id or external_id is required")
    if view_id:
        current = ctx.state.views.get(view_id)
    else:
        current = next((v for v in ctx.state.views.values() if v.external_id == external_id), None)
    if current is None or not modals.is_open(ctx.state, current.id):
        raise ApiError("not_found")
    spec = modals.validate(args.structured("view"))
    view_hash = args.text("hash")
    if view_hash and view_hash != current.hash:
        raise ApiError("hash_conflict")
    return _reply(modals.replace_view(ctx.state, ctx.ids, current, spec))


def publish_view(ctx: Ctx, args: Args) -> dict[str, Any]:
    user_id = args.text("user_id") or ""
    user = ctx.state.users.get(user_id)
    if user is None or user.deleted or user.is_bot:
        raise invalid_arguments("invalid `user_id`")
    spec = modals.validate(args.structured("view"), expected_type="home")
    current = ctx.state.home_view(user_id)
    view_hash = args.text("hash")
    if view_hash and current is not None and view_hash != current.hash:
        raise ApiError("hash_conflict")
    return _reply(modals.publish_home(ctx.state, ctx.ids, spec, user_id=user_id))


METHODS: dict[str, Handler] = {
    "views.open": open_view,
    "views.push": push_view,
    "views.update": update_view,
    "views.publish": publish_view,
}
