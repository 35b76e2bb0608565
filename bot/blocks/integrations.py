"""Block Kit for App Home's Integrations tab, the integration modal and the notices after an integration change.

Pure functions over the integration service's own views (`IntegrationView`, `DeliveryView`) and a kind's `Field`
tuples: the modal is drawn from the provider's `settings` and `secrets`, so a new kind needs no screen code here.
Secrets never come back from the service: the tab and the modal show only which are set, as ••••. The one place a
secret appears is the notice published right after it was made (connect, rotate), for the admin who made it.

Nothing here imports `bot.blocks.home` (it imports this module for its tab), hence the few local helpers.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bot import slack_ids as ids
from bot.blocks.mrkdwn import esc
from integrations.config import EVENTS, MAX_NAME, SEVERITIES, TEST_EVENT

if TYPE_CHECKING:
    from integrations.base import Field
    from integrations.service import DeliveryView, IntegrationView, Rotated

MASK = "••••"
PAGE_SIZE = 10  # integrations per page: three blocks each keeps the tab far below Slack's 100
DELIVERY_LOG_SIZE = 10
MAX_VALUE = 3000  # Slack's longest plain_text_input
MAX_OPTIONS = 100
PRIVATE_OPTION = "private"
RETRYABLE = frozenset({"failed", "cancelled"})
STATUS_EMOJI = {
    "pending": ":hourglass_flowing_sand:",
    "success": ":white_check_mark:",
    "retrying": ":repeat:",
    "failed": ":x:",
    "cancelled": ":no_entry_sign:",
}
KIND_LABELS = {
    "webhook": "Webhook",
    "teams": "Teams",
    "pagerduty": "PagerDuty",
    "github": "GitHub",
    "jira": "Jira",
    "linear": "Linear",
    "servicenow": "ServiceNow",
}
KIND_BLURBS = {
    "webhook": "signed JSON about every incident change, posted to a URL you run",
    "teams": "an Adaptive Card per incident change in a Teams channel, through a Workflows URL",
    "jira": "an issue per incident, moved through your workflow as the incident moves",
    "linear": "an issue per incident in a Linear team, its state following the incident",
    "servicenow": "an incident record per incident, resolved when the incident is",
    "opsgenie": "an alert per incident, acknowledged and closed with it (private incidents redacted)",
}
MAX_KINDS = 15
# Words a field name is made of that read better in capitals (`api_url` → "API URL").
ACRONYMS = {"url": "URL", "api": "API", "id": "ID", "json": "JSON"}
SUBSCRIBABLE_EVENTS = tuple(e for e in EVENTS if e != TEST_EVENT)


@dataclass(frozen=True)
class IntegrationsTab:
    """What the Integrations tab shows: the kinds one can connect, one page of integrations, the newest deliveries."""

    kinds: Sequence[str] = ()
    integrations: Sequence[IntegrationView] = ()
    deliveries: Sequence[DeliveryView] = ()
    can_rotate: bool = False  # owners only; other admins get no Rotate button (the service refuses them anyway)


# ---------------------------------------------------------------- helpers


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, 3000)}


def _section(text: str, accessory: dict[str, Any] | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": _mrkdwn(text)}
    if accessory is not None:
        block["accessory"] = accessory
    return block


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [_mrkdwn(text)]}


def _confirm(title: str, text: str, yes: str) -> dict[str, Any]:
    return {
        "title": _plain(clip(title, 100)),
        "text": _plain(clip(text, 300)),
        "confirm": _plain(clip(yes, 30)),
        "deny": _plain("Cancel"),
        "style": "danger",
    }


def button(
    text: str, action_id: str, value: str, *, style: str | None = None, confirm: dict[str, Any] | None = None
) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "button", "text": _plain(clip(text, 75)), "action_id": action_id, "value": value}
    if style:
        element["style"] = style
    if confirm:
        element["confirm"] = confirm
    return element


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": _plain(clip(text, 75)), "value": value}


def kind_label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind.capitalize())


def field_label(name: str) -> str:
    """A field's label from its name: `security_token` → "Security token", `api_url` → "API URL"."""
    words = [ACRONYMS.get(w, w) for w in name.split("_") if w]
    if not words:
        return name
    first = words[0] if words[0] in ACRONYMS.values() else words[0].capitalize()
    return " ".join([first, *words[1:]])


def slack_date(at: datetime) -> str:
    """A time every reader sees in their own Slack time zone (UTC in the fallback)."""
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{at:%Y-%m-%d %H:%M} UTC>"


def _shown_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return esc(clip(text, 200))


# ---------------------------------------------------------------- the tab


def integration_text(view: IntegrationView) -> str:
    """One integration as the tab shows it: settings in full, secrets as ••••, filters, the inbound URL."""
    state = ":large_green_circle: active" if view.active else ":white_circle: disabled"
    lines = [f"*{esc(clip(view.name, MAX_NAME))}* · {kind_label(view.kind)} · {state}"]
    lines += [f"{field_label(key)}: {_shown_value(value)}" for key, value in view.config.items()]
    if view.secret_keys:
        lines.append("Secrets: " + " · ".join(f"{field_label(key)} {MASK}" for key in view.secret_keys))
    events = ", ".join(f"`{e}`" for e in view.events) if view.events else "every event"
    components = ", ".join(esc(clip(c, 60)) for c in view.components[:10]) if view.components else "every component"
    if len(view.components) > 10:
        components += f" and {len(view.components) - 10} more"
    private = "private incidents too" if view.include_private else "public incidents only"
    severity = f"{view.min_severity} and worse" if view.min_severity else "every severity"
    lines.append(f"Sends {events} · {severity} · {components} · {private}")
    inbound = f"Inbound: `{view.webhook_url}`"
    if view.previous_secret_until is not None:
        inbound += f" · the previous secret verifies until {slack_date(view.previous_secret_until)}"
    lines.append(inbound)
    return "\n".join(lines)


def integration_actions(view: IntegrationView, *, can_rotate: bool) -> dict[str, Any]:
    name = clip(view.name, 40)
    elements = [
        button("Edit", ids.ACTION_ADMIN_EDIT_INTEGRATION, view.id),
        button("Test", ids.ACTION_ADMIN_TEST_INTEGRATION, view.id),
        button("Inbound log", ids.ACTION_ADMIN_INBOUND_LOG, view.id),
        button("Disable", ids.ACTION_ADMIN_DISABLE_INTEGRATION, view.id)
        if view.active
        else button("Enable", ids.ACTION_ADMIN_ENABLE_INTEGRATION, view.id, style="primary"),
    ]
    if can_rotate:
        elements.append(
            button(
                "Rotate secret",
                ids.ACTION_ADMIN_ROTATE_INTEGRATION_SECRET,
                view.id,
                confirm=_confirm(
                    f"Rotate {name}'s secret?",
                    "A new inbound secret is shown once. The old one keeps verifying for 24 hours: update the other "
                    "side before then.",
                    "Rotate",
                ),
            )
        )
    elements.append(
        button(
            "Remove",
            ids.ACTION_ADMIN_REMOVE_INTEGRATION,
            view.id,
            style="danger",
            confirm=_confirm(
                f"Remove {name}?",
                "It stops receiving incidents, and its delivery log and links go with it. This cannot be undone.",
                "Remove",
            ),
        )
    )
    return {"type": "actions", "elements": elements}


def delivery_text(delivery: DeliveryView) -> str:
    """One delivery log line: what went where, how it went, and why it failed."""
    emoji = STATUS_EMOJI.get(delivery.status, ":grey_question:")
    about = delivery.incident or ("test" if delivery.event == TEST_EVENT else "no incident")
    head = (
        f"{emoji} *{esc(clip(delivery.integration, MAX_NAME))}* · `{delivery.event}` · {about} · *{delivery.status}*"
        f" · `{delivery.delivery_id[:8]}`"
    )
    details = [slack_date(delivery.last_attempt_at or delivery.created_at)]
    attempts = "1 attempt" if delivery.attempts == 1 else f"{delivery.attempts} attempts"
    details.append(attempts)
    if delivery.http_status is not None:
        details.append(f"HTTP {delivery.http_status}")
    if delivery.duration_ms is not None and delivery.attempts:
        details.append(f"{delivery.duration_ms} ms")
    if delivery.status in ("retrying", "pending") and delivery.next_attempt_at is not None:
        details.append(f"next attempt {slack_date(delivery.next_attempt_at)}")
    text = head + "\n" + " · ".join(details)
    if delivery.error:
        text += f"\n> {esc(clip(' '.join(delivery.error.split()), 300))}"
    return text


def delivery_block(delivery: DeliveryView) -> dict[str, Any]:
    retry = button("Retry", ids.ACTION_ADMIN_RETRY_DELIVERY, delivery.delivery_id) if delivery.status in RETRYABLE else None
    return _section(delivery_text(delivery), retry)


def integrations_tab(tab: IntegrationsTab, *, total: int, pager: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """The tab: a Connect button per built kind, one page of integrations with their buttons, the delivery log."""
    blocks: list[dict[str, Any]] = [_section("*Integrations* · where Vigil sends incidents as they change")]
    # A section per kind: Slack wants an action_id once per block, and every Connect button shares one.
    for kind in tab.kinds[:MAX_KINDS]:
        about = KIND_BLURBS.get(kind, "")
        blocks.append(
            _section(
                f"*{kind_label(kind)}*" + (f" · {about}" if about else ""),
                button(f"Connect {kind_label(kind)}", ids.ACTION_ADMIN_CONNECT_INTEGRATION, kind, style="primary"),
            )
        )
    if not total:
        blocks.append(_context("None yet: connect one above."))
    for view in tab.integrations[:PAGE_SIZE]:
        blocks.append(_section(integration_text(view)))
        blocks.append(integration_actions(view, can_rotate=tab.can_rotate))
    blocks += pager
    if total and not tab.can_rotate:
        blocks.append(_context("Only workspace owners (or VIGIL_ADMINS) can rotate an integration's secret."))
    blocks.append({"type": "divider"})
    blocks.append(_section(f"*Delivery log* · the last {DELIVERY_LOG_SIZE}, newest first"))
    if not tab.deliveries:
        blocks.append(_context("Nothing sent yet."))
    blocks += [delivery_block(d) for d in tab.deliveries[:DELIVERY_LOG_SIZE]]
    return blocks


# ---------------------------------------------------------------- the modal


def setting_block_id(name: str) -> str:
    return ids.BLOCK_INTEGRATION_SETTING_PREFIX + name


def secret_block_id(name: str) -> str:
    return ids.BLOCK_INTEGRATION_SECRET_PREFIX + name


def _input(block_id: str, label: str, element: dict[str, Any], *, optional: bool, hint: str = "") -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "label": _plain(clip(label, 2000)),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = _plain(clip(hint, 2000))
    return block


def _text_input(
    action_id: str, *, initial: str | None, max_length: int, placeholder: str = "", multiline: bool = False
) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": action_id, "max_length": max_length}
    if multiline:
        element["multiline"] = True
    if initial:
        element["initial_value"] = initial[:max_length]
    if placeholder:
        element["placeholder"] = _plain(clip(placeholder, 150))
    return element


def _select(action_id: str, options: list[dict[str, Any]], *, initial: str | None, placeholder: str) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "static_select",
        "action_id": action_id,
        "placeholder": _plain(placeholder),
        "options": options,
    }
    chosen = next((o for o in options if o["value"] == initial), None)
    if chosen is not None:
        element["initial_option"] = chosen
    return element


def _multi_select(action_id: str, values: Sequence[str], *, initial: Sequence[str], placeholder: str) -> dict[str, Any]:
    """A multi select offering the current choices first, then the others, 100 at most (an untouched select submits
    only what it offers)."""
    chosen = [v for v in values if v in initial]
    offered = (chosen + [v for v in values if v not in initial])[:MAX_OPTIONS]
    options = [_option(v, v) for v in offered]
    element: dict[str, Any] = {
        "type": "multi_static_select",
        "action_id": action_id,
        "placeholder": _plain(placeholder),
        "options": options,
    }
    initial_options = [o for o in options if o["value"] in chosen]
    if initial_options:
        element["initial_options"] = initial_options
    return element


def _setting_text(field: Field, value: Any) -> str | None:
    """A setting's current (or default) value as the admin types it."""
    if value is None or value == "" or value == []:
        return None
    if field.type == "list" and isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if field.type == "json":
        return json.dumps(value, ensure_ascii=False)
    if field.type == "bool":
        return "true" if value else "false"
    return str(value)


def setting_input(field: Field, current: Any) -> dict[str, Any]:
    """The input for one setting, by the field's type."""
    initial = _setting_text(field, current if current is not None else field.default)
    hint = field.help[:1].upper() + field.help[1:] + "." if field.help else ""
    action = ids.ACTION_INTEGRATION_SETTING
    if field.type == "bool":
        element = _select(action, [_option("Yes", "true"), _option("No", "false")], initial=initial, placeholder="Yes or no")
    elif field.type == "severity":
        element = _select(action, [_option(s, s) for s in SEVERITIES], initial=initial, placeholder="Pick a severity")
    else:
        if field.type == "list":
            hint = (hint + " Comma-separated.").strip()
        element = _text_input(
            action,
            initial=initial,
            max_length=MAX_VALUE,
            placeholder="https://…" if field.type == "url" else "",
            multiline=field.type == "json",
        )
    return _input(setting_block_id(field.name), field_label(field.name), element, optional=not field.required, hint=hint)


def secret_input(field: Field, *, stored: bool, editing: bool) -> dict[str, Any]:
    """The input for one secret: always empty (secrets are never read back); •••• says one is stored, and leaving
    it empty keeps it."""
    hints = [field.help[:1].upper() + field.help[1:] + "." if field.help else ""]
    if editing:
        hints.append("Stored; leave empty to keep it." if stored else "Not set.")
    elif field.generated:
        hints.append("Leave empty and Vigil makes one, shown once.")
    element = _text_input(
        ids.ACTION_INTEGRATION_SECRET, initial=None, max_length=MAX_VALUE, placeholder=MASK if stored else ""
    )
    optional = editing or not field.required or field.generated
    return _input(
        secret_block_id(field.name),
        field_label(field.name),
        element,
        optional=optional,
        hint=" ".join(h for h in hints if h),
    )


def integration_modal(
    *,
    kind: str,
    settings: Sequence[Field],
    secrets: Sequence[Field],
    current: IntegrationView | None = None,
    components: Sequence[str] = (),
    include_private_default: bool = False,
) -> dict[str, Any]:
    """Connect (no `current`) or edit one integration of `kind`: its name, the kind's settings and secrets, and the
    filters every kind shares. The metadata carries the kind and the integration id."""
    editing = current is not None
    label = kind_label(kind)
    blocks: list[dict[str, Any]] = [
        _input(
            ids.BLOCK_INTEGRATION_NAME,
            "Name",
            _text_input(
                ids.ACTION_INTEGRATION_NAME,
                initial=current.name if current else None,
                max_length=MAX_NAME,
                placeholder=f"ops-{kind}",
            ),
            optional=False,
            hint="Unique in this workspace; shown in the delivery log.",
        )
    ]
    blocks += [setting_input(f, current.config.get(f.name) if current else None) for f in settings]
    stored = set(current.secret_keys) if current else set()
    blocks += [secret_input(f, stored=f.name in stored, editing=editing) for f in secrets]
    blocks.append(
        _input(
            ids.BLOCK_INTEGRATION_EVENTS,
            "Events",
            _multi_select(
                ids.ACTION_INTEGRATION_EVENTS,
                SUBSCRIBABLE_EVENTS,
                initial=current.events if current else (),
                placeholder="Every event",
            ),
            optional=True,
            hint="Leave empty for every event.",
        )
    )
    blocks.append(
        _input(
            ids.BLOCK_INTEGRATION_SEVERITY,
            "Minimum severity",
            _select(
                ids.ACTION_INTEGRATION_SEVERITY,
                [_option(s, s) for s in SEVERITIES],
                initial=current.min_severity if current else None,
                placeholder="Every severity",
            ),
            optional=True,
            hint="Only incidents this severe or worse (P1 is the worst); leave empty for every severity.",
        )
    )
    if components:
        blocks.append(
            _input(
                ids.BLOCK_INTEGRATION_COMPONENTS,
                "Components",
                _multi_select(
                    ids.ACTION_INTEGRATION_COMPONENTS,
                    components,
                    initial=[c for c in (current.components if current else ()) if c in components],
                    placeholder="Every component",
                ),
                optional=True,
                hint="Only incidents on these components; leave empty for every component.",
            )
        )
    private_option = {
        "text": _plain("Send private incidents too"),
        "description": _plain("Their titles and details leave Slack."),
        "value": PRIVATE_OPTION,
    }
    private_element: dict[str, Any] = {
        "type": "checkboxes",
        "action_id": ids.ACTION_INTEGRATION_PRIVATE,
        "options": [private_option],
    }
    if current.include_private if current else include_private_default:
        private_element["initial_options"] = [private_option]
    blocks.append(_input(ids.BLOCK_INTEGRATION_PRIVATE, "Private incidents", private_element, optional=True))
    note = (
        "Secrets are stored encrypted and never shown again. Leave one empty to keep the stored one."
        if editing
        else "Secrets are stored encrypted and never shown again. Vigil makes an inbound secret for this integration "
        "and shows it to you once, on App Home, right after you connect."
    )
    blocks.append(_context(note))
    return {
        "type": "modal",
        "callback_id": ids.VIEW_ADMIN_INTEGRATION,
        "title": _plain(clip(f"Edit {label}" if editing else f"Connect {label}", 24)),
        "submit": _plain("Save" if editing else "Connect"),
        "close": _plain("Cancel"),
        "private_metadata": json.dumps({"kind": kind, "id": current.id if current else None}),
        "blocks": blocks,
    }


# ---------------------------------------------------------------- notices


def _secret_lines(secrets: Mapping[str, str]) -> str:
    return " · ".join(f"{field_label(key)} `{value}`" for key, value in secrets.items())


def connected_notice(view: IntegrationView, shown_once: Mapping[str, str]) -> str:
    """After connecting: the secrets Vigil made, shown this once, and where the other side posts back."""
    return (
        f"Connected {esc(view.name)} ({kind_label(view.kind)}). Copy now, it is shown only this once: "
        f"{_secret_lines(shown_once)} · Webhook URL `{view.webhook_url}`"
    )


def saved_notice(view: IntegrationView) -> str:
    return f"Saved {esc(view.name)}."


def notice_of_test(delivery: DeliveryView) -> tuple[str, bool]:
    """The test's answer, and whether it failed (the Home shows a warning then)."""
    name = esc(delivery.integration)
    if delivery.status == "success":
        status = f"{delivery.http_status}" if delivery.http_status is not None else "accepted"
        return f"Test sent to {name}: {status} in {delivery.duration_ms or 0} ms", False
    return f"Test failed: {esc(clip(delivery.error or delivery.status, 500))}", True


def toggled_notice(view: IntegrationView, cancelled: int) -> str:
    if view.active:
        return f"Enabled {esc(view.name)}."
    if not cancelled:
        return f"Disabled {esc(view.name)}."
    plural = "delivery" if cancelled == 1 else "deliveries"
    return f"Disabled {esc(view.name)}; {cancelled} queued {plural} cancelled."


def rotated_notice(rotated: Rotated) -> str:
    view = rotated.integration
    return (
        f"New inbound secret for {esc(view.name)}, shown only this once: `{rotated.inbound_secret}` · the old one keeps "
        f"verifying until {slack_date(rotated.previous_valid_until)} · Webhook URL `{view.webhook_url}`"
    )


def removed_notice(view: IntegrationView) -> str:
    return f"Removed {esc(view.name)} and its delivery log."


def retried_notice(delivery: DeliveryView) -> str:
    return f"Delivery `{delivery.delivery_id[:8]}` ({delivery.event}) to {esc(delivery.integration)} is queued again."
