"""Driving the app the way Slack would: slash commands, clicks, modal submissions, App Home."""

from __future__ import annotations

import copy
import secrets
from collections.abc import Callable
from typing import Any

from bot.emulator import modals, payloads
from bot.emulator.args import ApiError
from bot.emulator.events import EventBus
from bot.emulator.ids import Clock, Ids
from bot.emulator.limits import check_message_blocks
from bot.emulator.methods.base import ensure_im
from bot.emulator.records import AckResult, ProtocolError
from bot.emulator.socket_mode import SocketHub
from bot.emulator.state import Ephemeral, Message, ResponseUrl, Trigger, ViewRecord, WorkspaceState

SELECTABLE = frozenset({"static_select", "external_select", "overflow", "radio_buttons"})


def find_element(blocks: list[Any] | None, action_id: str, block_id: str | None) -> tuple[str | None, dict[str, Any] | None]:
    """The interactive element with `action_id` (and `block_id` when given) and the block_id it sits in."""
    for block in blocks or []:
        if not isinstance(block, dict) or (block_id and block.get("block_id") != block_id):
            continue
        candidates = list(block.get("elements") or []) if block.get("type") == "actions" else []
        candidates += [block[k] for k in ("accessory", "element") if isinstance(block.get(k), dict)]
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return block.get("block_id"), element
    return None, None


def _option_with_value(element: dict[str, Any], value: str) -> dict[str, Any] | None:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options += group.get("options") or []
    return next((o for o in options if isinstance(o, dict) and o.get("value") == value), None)


class Driver:
    """Builds Socket Mode payloads from the workspace state, sends them, and applies what the app answers."""

    def __init__(
        self,
        *,
        state: WorkspaceState,
        ids: Ids,
        clock: Clock,
        hub: SocketHub,
        events: EventBus,
        base_url: Callable[[], str],
    ) -> None:
        self.state = state
        self.ids = ids
        self.clock = clock
        self.hub = hub
        self.events = events
        self.base_url = base_url
        # Acks Slack would have refused, in order; `SlackEmulator.protocol_errors` exposes them.
        self.protocol_errors: list[ProtocolError] = []

    # ---- handles ------------------------------------------------------------------------------------------------
    def new_trigger_id(self, user_id: str = "") -> str:
        trigger = Trigger(id=self.ids.trigger_id(), user_id=user_id, issued=self.clock())
        self.state.triggers[trigger.id] = trigger
        return trigger.id

    def new_response_url(
        self, *, user_id: str, channel_id: str | None, source: str, message_ts: str | None = None, is_ephemeral: bool = False
    ) -> str:
        record = ResponseUrl(
            id=self.ids.response_url_id(),
            user_id=user_id,
            channel_id=channel_id,
            created=self.clock(),
            source=source,
            message_ts=message_ts,
            is_ephemeral=is_ephemeral,
        )
        self.state.response_urls[record.id] = record
        return f"{self.base_url()}/response/{record.id}"

    # ---- slash commands -----------------------------------------------------------------------------------------
    async def slash_command(self, text: str, *, user_id: str, channel_id: str, command: str) -> AckResult:
        channel = self.state.channels.get(channel_id)
        name = "directmessage" if channel and channel.is_im else channel.name if channel else "unknown"
        payload = payloads.slash_command(
            self.state.identity,
            command=command,
            text=text,
            user=self.state.users.get(user_id),
            user_id=user_id,
            channel_id=channel_id,
            channel_name=name,
            response_url=self.new_response_url(user_id=user_id, channel_id=channel_id, source="slash_commands"),
            trigger_id=self.new_trigger_id(user_id),
        )
        result = await self.hub.request("slash_commands", payload, accepts_response_payload=True)
        if result.acked and result.payload:
            blocks = result.payload.get("blocks")
            if blocks is not None:
                result.limit_errors = check_message_blocks(blocks)
                self._flag("slash_commands", result, user_id=user_id)
            if not result.limit_errors and (result.payload.get("text") or blocks):
                self.show_reply(result.payload, user_id=user_id, channel_id=channel_id, source="ack")
        return result

    def show_reply(self, body: dict[str, Any], *, user_id: str, channel_id: str | None, source: str) -> None:
        """A command reply: in_channel ones become messages from the app, others ephemerals for the invoker."""
        channel = self.state.channels.get(channel_id or "")
        if channel is None:
            return
        text, blocks = str(body.get("text") or ""), body.get("blocks")
        if body.get("response_type") == "in_channel":
            message = Message(
                ts=self.ids.ts(),
                channel=channel.id,
                user=self.state.identity.bot_user_id,
                bot_id=self.state.identity.bot_id,
                text=text,
                blocks=blocks,
                thread_ts=body.get("thread_ts"),
            )
            self.state.history(channel.id).append(message)
            self.events.emit(payloads.message_event(self.state.identity, message, channel), channel)
        else:
            self.state.ephemerals.append(
                Ephemeral(channel=channel.id, user=user_id, ts=self.ids.ts(), text=text, blocks=blocks, source=source)
            )

    # ---- block actions ------------------------------------------------------------------------------------------
    async def block_action(
        self,
        *,
        user_id: str,
        action_id: str,
        value: str | None,
        block_id: str | None,
        channel_id: str | None,
        message_ts: str | None,
        view_id: str | None,
        selected: dict[str, Any] | None,
    ) -> AckResult:
        identity = self.state.identity
        payload = payloads.interactive_base(identity, "block_actions", self.state.users.get(user_id), user_id)
        payload["trigger_id"] = self.new_trigger_id(user_id)
        accepts = True
        if view_id is not None:
            view = self.state.views.get(view_id)
            if view is None:
                raise ValueError(f"no view {view_id!r}")
            blocks = view.data.get("blocks")
            payload["container"] = {"type": "view", "view_id": view_id}
            payload["view"] = payloads.view_object(view)
            accepts = False
        elif channel_id is not None:
            message_ts = message_ts or self._latest_with(channel_id, action_id, user_id)
            message = self.state.find_message(channel_id, message_ts or "")
            ephemeral = next(
                (e for e in self.state.ephemerals if e.channel == channel_id and e.ts == message_ts and e.user == user_id),
                None,
            )
            blocks = message.blocks if message else ephemeral.blocks if ephemeral else None
            channel = self.state.channels.get(channel_id)
            payload["container"] = {
                "type": "message",
                "message_ts": message_ts or "",
                "channel_id": channel_id,
                "is_ephemeral": ephemeral is not None,
            }
            payload["channel"] = {"id": channel_id, "name": channel.name if channel else "unknown"}
            if message is not None:
                payload["message"] = payloads.message_object(identity, message)
            payload["state"] = {"values": {}}
            payload["response_url"] = self.new_response_url(
                user_id=user_id,
                channel_id=channel_id,
                source="block_actions",
                message_ts=message_ts,
                is_ephemeral=ephemeral is not None,
            )
        else:
            raise ValueError("send_block_action needs view_id or channel_id")
        found_block_id, element = find_element(blocks, action_id, block_id)
        payload["actions"] = [
            self._action(action_id, block_id or found_block_id or secrets.token_hex(3), element or {}, value, selected)
        ]
        return await self.hub.request("interactive", payload, accepts_response_payload=accepts)

    def _latest_with(self, channel_id: str, action_id: str, user_id: str) -> str | None:
        """The newest message (or the user's ephemeral) in the channel carrying an element with `action_id`."""
        candidates: list[tuple[str, list[Any] | None]] = [(m.ts, m.blocks) for m in self.state.history(channel_id)]
        candidates += [(e.ts, e.blocks) for e in self.state.ephemerals_for(user_id, channel_id)]
        for ts, blocks in sorted(candidates, key=lambda c: float(c[0]), reverse=True):
            if find_element(blocks, action_id, None)[1] is not None:
                return ts
        return None

    def _action(
        self, action_id: str, block_id: str, element: dict[str, Any], value: str | None, selected: dict[str, Any] | None
    ) -> dict[str, Any]:
        kind = str(element.get("type") or "button")
        action: dict[str, Any] = {"type": kind, "action_id": action_id, "block_id": block_id, "action_ts": self.ids.ts()}
        if kind == "button":
            action["text"] = copy.deepcopy(element.get("text") or {"type": "plain_text", "text": action_id, "emoji": True})
            for key in ("url", "style"):
                if key in element:
                    action[key] = element[key]
            value = value if value is not None else element.get("value")
            if value is not None:
                action["value"] = value
        elif value is not None and selected is None:
            option = _option_with_value(element, value) if kind in SELECTABLE else None
            if option is not None:
                action["selected_option"] = copy.deepcopy(option)
            else:
                action["value"] = value
        if selected:
            action.update(selected)
        return action

    # ---- modals -------------------------------------------------------------------------------------------------
    def _submitted_view(
        self, user_id: str, view_id: str | None, callback_id: str | None
    ) -> tuple[ViewRecord | None, dict[str, Any]]:
        if view_id is not None:
            record = self.state.views.get(view_id)
            if record is None:
                raise ValueError(f"no view {view_id!r}")
            return record, payloads.view_object(record)
        top = self.state.top_modal(user_id)
        if top is not None and (callback_id is None or top.callback_id == callback_id):
            return top, payloads.view_object(top)
        if callback_id is None:
            raise ValueError(f"{user_id} has no open modal; pass view_id or callback_id")
        forged_id = self.ids.sequential("V")
        identity = self.state.identity
        return None, {
            "id": forged_id,
            "team_id": identity.team_id,
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": "",
            "hash": self.ids.view_hash(),
            "title": {"type": "plain_text", "text": "Forged"},
            "blocks": [],
            "state": {"values": {}},
            "previous_view_id": None,
            "root_view_id": forged_id,
            "app_id": identity.app_id,
            "external_id": "",
            "app_installed_team_id": identity.team_id,
            "bot_id": identity.bot_id,
            "clear_on_close": False,
            "notify_on_close": False,
        }

    async def view_submission(
        self,
        *,
        user_id: str,
        view_id: str | None,
        callback_id: str | None,
        values: dict[str, Any],
        private_metadata: str | None,
    ) -> AckResult:
        record, view = self._submitted_view(user_id, view_id, callback_id)
        view["state"] = {"values": copy.deepcopy(values)}
        if private_metadata is not None:
            view["private_metadata"] = private_metadata
        if record is not None:
            record.data["state"] = {"values": copy.deepcopy(values)}
        payload = payloads.interactive_base(self.state.identity, "view_submission", self.state.users.get(user_id), user_id)
        payload.update({"trigger_id": self.new_trigger_id(user_id), "view": view, "response_urls": []})
        result = await self.hub.request("interactive", payload, accepts_response_payload=True)
        if result.acked:
            result.limit_errors = self._apply_response_action(user_id, record, view, result.payload or {})
            self._flag("view_submission", result, user_id=user_id, callback_id=str(view.get("callback_id") or ""))
        return result

    def _flag(self, kind: str, result: AckResult, *, user_id: str, callback_id: str = "") -> None:
        """Record an ack Slack would have answered with its generic error rather than applied."""
        if result.limit_errors:
            self.protocol_errors.append(
                ProtocolError(
                    kind=kind,
                    envelope_id=result.envelope_id,
                    user_id=user_id,
                    messages=list(result.limit_errors),
                    callback_id=callback_id,
                )
            )

    def _apply_response_action(
        self, user_id: str, record: ViewRecord | None, view: dict[str, Any], answer: dict[str, Any]
    ) -> list[str]:
        """What Slack does with a view_submission ack; returns what it would have refused."""
        action = answer.get("response_action")
        try:
            if action == "errors":
                errors = answer.get("errors")
                if not isinstance(errors, dict) or not errors:
                    return ["errors must be a non-empty object [json-pointer:/errors]"]
                inputs = {
                    b.get("block_id") for b in view.get("blocks") or [] if isinstance(b, dict) and b.get("type") == "input"
                }
                return [
                    f"{key!r} is not the block_id of an input block [json-pointer:/errors/{key}]"
                    for key in errors
                    if record is not None and key not in inputs
                ]
            if action == "update":
                spec = modals.validate(answer.get("view"), expected_type="modal")
                if record is not None and record.id in self.state.modal_stacks.get(user_id, []):
                    modals.replace_view(self.state, self.ids, record, spec)
                else:
                    modals.open_modal(self.state, self.ids, spec, user_id=user_id)
            elif action == "push":
                spec = modals.validate(answer.get("view"), expected_type="modal")
                modals.push_modal(self.state, self.ids, spec, user_id=user_id)
            elif action == "clear":
                modals.clear_stack(self.state, user_id)
            elif action is None:
                if record is not None:
                    modals.close_view(self.state, user_id, record.id)
            else:
                return [f"unknown response_action {action!r} [json-pointer:/response_action]"]
        except ApiError as e:
            messages = e.extra.get("response_metadata", {}).get("messages", [])
            return [m.removeprefix("[ERROR] ") for m in messages] or [e.error]
        return []

    async def view_closed(self, *, user_id: str, view_id: str | None) -> AckResult | None:
        """The user dismissed a modal; the app hears about it only when the view asked (`notify_on_close`)."""
        record = self.state.views.get(view_id) if view_id else self.state.top_modal(user_id)
        if record is None:
            raise ValueError(f"{user_id} has no open modal")
        closed = modals.close_view(self.state, user_id, record.id)
        if not record.data.get("notify_on_close"):
            return None
        payload = payloads.interactive_base(self.state.identity, "view_closed", self.state.users.get(user_id), user_id)
        payload.update({"view": payloads.view_object(record), "is_cleared": len(closed) > 1})
        return await self.hub.request("interactive", payload, accepts_response_payload=False)

    async def app_home_opened(self, *, user_id: str) -> AckResult:
        channel = ensure_im(self.state, self.ids, user_id, created=int(self.clock()))
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": user_id,
            "channel": channel.id,
            "tab": "home",
            "event_ts": self.ids.ts(),
        }
        home = self.state.home_view(user_id)
        if home is not None:
            event["view"] = payloads.view_object(home)
        return await self.events.deliver(event)
