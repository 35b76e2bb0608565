"""The integration screen: a Connect button per built kind opening that kind's modal (drawn from the provider's
`settings` and `secrets` Field tuples), the same modal to edit, and the buttons beside each integration (Test,
Disable/Enable, Rotate secret, Remove) and beside each failed delivery (Retry).

It is not a `Screen` of screens.py: that skeleton opens and saves through the admin service with integer item ids,
while an integration belongs to the integration service, is addressed by a string id and comes in kinds. The steps
are the skeleton's: read the button, ack, let the service check the presser, open or republish; on a submission the
service's pure checks answer under the fields before the ack, and what the service refuses after it
reaches the presser the way every screen's refusals do. Test and Retry ack first and then wait on the vendor, and
the Home is republished with the answer. Secrets made by Vigil are shown once, in that republished Home's notice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot import slack_ids as ids
from bot.admin.forms import LOST_TRACK, FieldErrors
from bot.admin.service import AdminService
from bot.blocks import integrations as blocks
from bot.blocks.home import INTEGRATIONS
from bot.home.publisher import HomePublisher
from bot.incidents.errors import InvalidInput, NotFound
from bot.slack_payloads import (
    action_value,
    metadata,
    selected_option,
    selected_options,
    state_value,
    team_of,
    text_of,
    ticked,
    user_of,
)
from integrations.base import Provider
from integrations.service import MASK, IntegrationInput, IntegrationService, Problems

GONE = "That integration no longer exists (removed meanwhile?); reopen App Home."
GONE_DELIVERY = "That delivery is no longer in the log; reopen App Home."
# Problem keys of the service that are not a kind's field, and the input showing each.
SHARED_BLOCKS = {
    "name": ids.BLOCK_INTEGRATION_NAME,
    "events": ids.BLOCK_INTEGRATION_EVENTS,
    "min-severity": ids.BLOCK_INTEGRATION_SEVERITY,
    "components": ids.BLOCK_INTEGRATION_COMPONENTS,
}
SHARED_LABELS = {"name": "Name", "events": "Events", "min-severity": "Minimum severity", "components": "Components"}
MAX_REF = 100


@dataclass(frozen=True)
class IntegrationForm:
    """A submitted integration modal: its kind, what it edits (None: connect), and the wanted change."""

    kind: str
    integration_id: str | None
    change: IntegrationInput


def _typed(text: str) -> str | None:
    """What the admin typed, or None for an empty field (a secret's •••• placeholder is never a value)."""
    return text if text.strip() and text.strip() != MASK else None


def read_integration(view: dict[str, Any]) -> IntegrationForm:
    """The modal's values, read by the block_id prefixes the builder used: a field absent from the submission is
    left as it is, an emptied secret keeps the stored one."""
    meta = metadata(view)
    raw_id = meta.get("id")
    values = (view.get("state") or {}).get("values") or {}
    settings: dict[str, str] = {}
    secrets: dict[str, str] = {}
    for block_id in values if isinstance(values, dict) else ():
        block_id = str(block_id)
        if block_id.startswith(ids.BLOCK_INTEGRATION_SETTING_PREFIX):
            value = state_value(view, block_id, ids.ACTION_INTEGRATION_SETTING)
            typed = _typed(text_of(value) or selected_option(value) or "")
            if typed is not None:
                settings[block_id.removeprefix(ids.BLOCK_INTEGRATION_SETTING_PREFIX)] = typed
        elif block_id.startswith(ids.BLOCK_INTEGRATION_SECRET_PREFIX):
            typed = _typed(text_of(state_value(view, block_id, ids.ACTION_INTEGRATION_SECRET)))
            if typed is not None:
                secrets[block_id.removeprefix(ids.BLOCK_INTEGRATION_SECRET_PREFIX)] = typed
    events = state_value(view, ids.BLOCK_INTEGRATION_EVENTS, ids.ACTION_INTEGRATION_EVENTS)
    severity = state_value(view, ids.BLOCK_INTEGRATION_SEVERITY, ids.ACTION_INTEGRATION_SEVERITY)
    components = state_value(view, ids.BLOCK_INTEGRATION_COMPONENTS, ids.ACTION_INTEGRATION_COMPONENTS)
    private = state_value(view, ids.BLOCK_INTEGRATION_PRIVATE, ids.ACTION_INTEGRATION_PRIVATE)
    change = IntegrationInput(
        name=text_of(state_value(view, ids.BLOCK_INTEGRATION_NAME, ids.ACTION_INTEGRATION_NAME)),
        settings=settings,
        secrets=secrets,
        events=selected_options(events) if events is not None else None,
        min_severity=(selected_option(severity) or "") if severity is not None else None,
        components=selected_options(components) if components is not None else None,
        include_private=ticked(private, blocks.PRIVATE_OPTION) if private is not None else None,
    )
    return IntegrationForm(
        kind=str(meta.get("kind") or ""),
        integration_id=raw_id if isinstance(raw_id, str) and raw_id else None,
        change=change,
    )


def _split(line: str) -> tuple[str, str]:
    key, sep, message = line.partition(": ")
    return (key.strip(), message) if sep else ("", line)


def _first_per_key(lines: list[str]) -> list[tuple[str, str]]:
    """One problem per key, the first: a refused value is also reported missing, which says nothing more."""
    seen: dict[str, str] = {}
    for line in lines:
        key, message = _split(line)
        seen.setdefault(key, message)
    return list(seen.items())


def _input_blocks(view: dict[str, Any]) -> set[str]:
    return {
        str(b["block_id"])
        for b in view.get("blocks") or []
        if isinstance(b, dict) and b.get("type") == "input" and b.get("block_id")
    }


def _place(errors: dict[str, str], shown: set[str], block_id: str | None, key: str, message: str) -> None:
    """One problem under its field; one without a field in this form goes under the name, naming its key."""
    if block_id is None or block_id not in shown:
        block_id, message = ids.BLOCK_INTEGRATION_NAME, f"{key}: {message}" if key else message
    errors[block_id] = f"{errors[block_id]} {message}" if block_id in errors else message


def field_errors(form: IntegrationForm, view: dict[str, Any], service: IntegrationService) -> dict[str, str]:
    """What the text alone gets wrong (the service's pure checks: a bad or private URL, a missing required value, a
    bad name, unknown events, no key ring), keyed by the input block showing it."""
    if not form.kind:
        return {ids.BLOCK_INTEGRATION_NAME: LOST_TRACK}
    problems = service.check_change(kind=form.kind, change=form.change, editing=form.integration_id is not None)
    try:
        provider: Provider | None = service.provider(form.kind)
    except Problems:
        provider = None
    shown = _input_blocks(view)
    errors: dict[str, str] = {}
    for key, message in _first_per_key(problems):
        _place(errors, shown, _block_of(provider, key) if provider else None, key, message)
    return errors


def _block_of(provider: Provider, key: str) -> str | None:
    """The input showing the value a problem names: a shared field, else the kind's setting or secret of that name."""
    if key in SHARED_BLOCKS:
        return SHARED_BLOCKS[key]
    if any(f.name == key for f in provider.settings):
        return blocks.setting_block_id(key)
    if any(f.name == key for f in provider.secrets):
        return blocks.secret_block_id(key)
    return None


def nothing_saved(exc: Problems) -> FieldErrors:
    """The service's refusal after the ack (the modal is closed by then), one line per field as the admin saw it."""
    errors = {key or "name": message for key, message in _first_per_key(exc.problems)}
    return FieldErrors(errors, {key: label_of(key) for key in errors})


def label_of(key: str) -> str:
    """A problem's key as the modal labels its field (`url` → "URL"); VIGIL_… variables stay as they are."""
    return SHARED_LABELS.get(key) or (key if key.isupper() else blocks.field_label(key))


async def save_integration(service: IntegrationService, *, team_id: str, user_id: str, form: IntegrationForm) -> str:
    """Connect or change through the service (it checks the admin, the database and everything again); the notice
    for the admin's Home, carrying the secrets Vigil made on a connect."""
    try:
        if form.integration_id is None:
            created = await service.add(team_id=team_id, user_id=user_id, kind=form.kind, change=form.change)
            return blocks.connected_notice(created.integration, created.shown_once)
        view = await service.update(team_id=team_id, user_id=user_id, ref=form.integration_id, change=form.change)
        return blocks.saved_notice(view)
    except Problems as exc:
        raise nothing_saved(exc) from None
    except NotFound:
        raise NotFound(GONE) from None


def button_ref(action: dict[str, Any], what: str) -> str:
    """What a button carries (a kind, an integration id, a delivery id); checked before the ack."""
    value = (action_value(action) or "").strip()
    if not value or len(value) > MAX_REF or not value.isprintable():
        raise InvalidInput(f"That button does not name {what}; reopen App Home.")
    return value


# ---------------------------------------------------------------- the modal


async def _components(admin: AdminService, team_id: str) -> list[str]:
    return [name for _, name in await admin.component_choices(team_id=team_id)]


async def on_connect(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    integrations: IntegrationService,
    admin: AdminService,
    client: Any,
) -> None:
    """One button per built kind; its value is the kind, so a new provider gets a button and a form for free."""
    kind = button_ref(action, "a kind of integration")
    await ack()
    team_id, user_id = team_of(body), user_of(body)
    provider = await integrations.connect_form(team_id=team_id, user_id=user_id, kind=kind)
    view = blocks.integration_modal(
        kind=provider.kind,
        settings=provider.settings,
        secrets=provider.secrets,
        components=await _components(admin, team_id),
        include_private_default=provider.include_private_default,
    )
    await client.views_open(trigger_id=body["trigger_id"], view=view)


async def on_edit(
    ack: AsyncAck,
    body: dict[str, Any],
    action: dict[str, Any],
    integrations: IntegrationService,
    admin: AdminService,
    client: Any,
) -> None:
    """The connect form with the current values; secrets only as •••• (the service never reads them back)."""
    ref = button_ref(action, "an integration")
    await ack()
    team_id, user_id = team_of(body), user_of(body)
    try:
        provider, current = await integrations.edit_form(team_id=team_id, user_id=user_id, ref=ref)
    except NotFound:
        raise NotFound(GONE) from None
    view = blocks.integration_modal(
        kind=provider.kind,
        settings=provider.settings,
        secrets=provider.secrets,
        current=current,
        components=await _components(admin, team_id),
    )
    await client.views_open(trigger_id=body["trigger_id"], view=view)


async def on_submit(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], integrations: IntegrationService, home: HomePublisher
) -> None:
    form = read_integration(view)
    errors = field_errors(form, view, integrations)
    if errors:
        await ack(response_action="errors", errors=errors)
        return
    await ack()
    team_id, user_id = team_of(body), user_of(body)
    notice = await save_integration(integrations, team_id=team_id, user_id=user_id, form=form)
    await home.publish(team_id=team_id, user_id=user_id, tab=INTEGRATIONS, notice=notice)


# ---------------------------------------------------------------- buttons that act at once

# (service, *, team_id, user_id, ref) -> (the notice, whether it reports a failure)
Act = Callable[..., Awaitable[tuple[str, bool]]]


async def _test(service: IntegrationService, *, team_id: str, user_id: str, ref: str) -> tuple[str, bool]:
    return blocks.notice_of_test(await service.test(team_id=team_id, user_id=user_id, ref=ref))


async def _disable(service: IntegrationService, *, team_id: str, user_id: str, ref: str) -> tuple[str, bool]:
    view, cancelled = await service.set_active(team_id=team_id, user_id=user_id, ref=ref, active=False)
    return blocks.toggled_notice(view, cancelled), False


async def _enable(service: IntegrationService, *, team_id: str, user_id: str, ref: str) -> tuple[str, bool]:
    view, cancelled = await service.set_active(team_id=team_id, user_id=user_id, ref=ref, active=True)
    return blocks.toggled_notice(view, cancelled), False


async def _rotate(service: IntegrationService, *, team_id: str, user_id: str, ref: str) -> tuple[str, bool]:
    return blocks.rotated_notice(await service.rotate_secret(team_id=team_id, user_id=user_id, ref=ref)), False


async def _remove(service: IntegrationService, *, team_id: str, user_id: str, ref: str) -> tuple[str, bool]:
    return blocks.removed_notice(await service.remove(team_id=team_id, user_id=user_id, ref=ref)), False


async def _retry(service: IntegrationService, *, team_id: str, user_id: str, ref: str) -> tuple[str, bool]:
    return blocks.retried_notice(await service.retry(team_id=team_id, user_id=user_id, ref=ref)), False


@dataclass(frozen=True)
class Button:
    """A button that acts at once, as data: what it does, what its value names, what to say when that is gone."""

    action_id: str
    act: Act
    item: str = "an integration"
    gone: str = GONE


BUTTONS: tuple[Button, ...] = (
    Button(ids.ACTION_ADMIN_TEST_INTEGRATION, _test),
    Button(ids.ACTION_ADMIN_DISABLE_INTEGRATION, _disable),
    Button(ids.ACTION_ADMIN_ENABLE_INTEGRATION, _enable),
    Button(ids.ACTION_ADMIN_ROTATE_INTEGRATION_SECRET, _rotate),
    Button(ids.ACTION_ADMIN_REMOVE_INTEGRATION, _remove),
    Button(ids.ACTION_ADMIN_RETRY_DELIVERY, _retry, item="a delivery", gone=GONE_DELIVERY),
)


def button_listener(button: Button) -> Callable[..., Awaitable[None]]:
    """Ack at once (a test waits on the vendor), let the service check the presser and act, then republish the
    presser's Home with the answer. Refusals are domain errors, sent to the presser by the registry."""

    async def on_button(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], integrations: IntegrationService, home: HomePublisher
    ) -> None:
        ref = button_ref(action, button.item)
        await ack()
        team_id, user_id = team_of(body), user_of(body)
        try:
            notice, alert = await button.act(integrations, team_id=team_id, user_id=user_id, ref=ref)
        except NotFound:
            raise NotFound(button.gone) from None
        await home.publish(team_id=team_id, user_id=user_id, tab=INTEGRATIONS, notice=notice, alert=alert)

    on_button.__name__ = f"on_{button.action_id}"
    return on_button


def register(registry: Any) -> None:
    registry.action(ids.ACTION_ADMIN_CONNECT_INTEGRATION)(on_connect)
    registry.action(ids.ACTION_ADMIN_EDIT_INTEGRATION)(on_edit)
    registry.view(ids.VIEW_ADMIN_INTEGRATION)(on_submit)
    for button in BUTTONS:
        registry.action(button.action_id)(button_listener(button))
