"""The Integrations tab, the integration modal and its reading back, as pure functions: forms drawn from any kind's
Field tuples, secrets never rendered (only ••••), text people typed unable to mention or link, every view within
Slack's limits, and the field checks answering under the input that shows the value."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot import slack_ids as ids
from bot.admin.forms import LOST_TRACK
from bot.blocks.home import INTEGRATIONS, HomeData, home_view
from bot.blocks.integrations import (
    MASK,
    IntegrationsTab,
    connected_notice,
    delivery_text,
    field_label,
    integration_modal,
    integrations_tab,
    notice_of_test,
    retried_notice,
    rotated_notice,
    toggled_notice,
)
from bot.clock import FrozenClock
from bot.emulator import check_view
from bot.emulator.forms import state_values
from integrations.base import Field
from integrations.http.guard import ALLOW_PRIVATE_HINT, OutboundPolicy
from integrations.registry import PROVIDERS
from integrations.secret_box import KeyRing
from integrations.service import DeliveryView, IntegrationInput, IntegrationService, IntegrationView, Problems, Rotated
from listeners.admin.integrations import IntegrationForm, field_errors, nothing_saved, read_integration

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
HOSTILE = "<!channel> ops <https://evil.example|hook>"
SECRET = "s" * 43


def view(**over: Any) -> IntegrationView:
    base = IntegrationView(
        id="a" * 32,
        kind="webhook",
        name="ops-hook",
        active=True,
        events=(),
        min_severity=None,
        components=(),
        include_private=False,
        config={"url": "https://hooks.example/in"},
        secret_keys=("inbound_secret",),
        webhook_url="https://vigil.example/hooks/webhook/" + "a" * 32,
        created_at=NOW,
        previous_secret_until=None,
    )
    return replace(base, **over)


def delivery(**over: Any) -> DeliveryView:
    base = DeliveryView(
        delivery_id="0f8fad5b-d9cb-469f-a165-70867728950e",
        integration_id="a" * 32,
        integration="ops-hook",
        kind="webhook",
        incident="INC-7",
        event="incident.opened",
        status="success",
        attempts=1,
        created_at=NOW,
        last_attempt_at=NOW,
        next_attempt_at=None,
        http_status=200,
        duration_ms=35,
        external_id=None,
        error=None,
        payload=None,
        history=[],
    )
    return replace(base, **over)


def service(*, keys: bool = True) -> IntegrationService:
    """The real service, for its pure parts only (providers, policy, key ring): nothing here opens a session."""
    ring = KeyRing([("k1", base64.b64decode(base64.b64encode(b"k" * 32)))] if keys else [])
    return IntegrationService(
        sessions=None,  # type: ignore[arg-type]
        clock=FrozenClock(NOW),
        keys=ring,
        providers=dict(PROVIDERS),
        policy=OutboundPolicy(),
        public_url="https://vigil.example",
        worker=None,  # type: ignore[arg-type]
    )


def inputs(modal: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: b for b in modal["blocks"] if b["type"] == "input"}


def parsed_text(value: Any) -> Any:
    """What Slack parses for mentions and links: everything but plain_text objects (shown as typed)."""
    if isinstance(value, dict):
        return None if value.get("type") == "plain_text" else {k: parsed_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [parsed_text(v) for v in value]
    return value


def action_ids(blocks: list[dict[str, Any]]) -> list[str]:
    found = []
    for block in blocks:
        for element in [*(block.get("elements") or []), block.get("accessory") or {}]:
            if isinstance(element, dict) and element.get("action_id"):
                found.append(element["action_id"])
    return found


# ---------------------------------------------------------------- the modal


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("url", "URL"),
        ("security_token", "Security token"),
        ("api_url", "API URL"),
        ("team_id", "Team ID"),
        ("inbound_secret", "Inbound secret"),
        ("routing_key", "Routing key"),
    ],
)
def test_field_labels_read_like_words(name: str, label: str) -> None:
    assert field_label(name) == label


@pytest.mark.parametrize("kind", sorted(PROVIDERS))
def test_every_built_kind_gets_its_form_from_its_fields(kind: str) -> None:
    provider = PROVIDERS[kind]()
    modal = integration_modal(kind=kind, settings=provider.settings, secrets=provider.secrets, components=["Search"])
    assert check_view(modal) == []
    found = inputs(modal)
    for field in provider.settings:
        assert found[ids.BLOCK_INTEGRATION_SETTING_PREFIX + field.name]["optional"] is (not field.required)
    for field in provider.secrets:
        block = found[ids.BLOCK_INTEGRATION_SECRET_PREFIX + field.name]
        assert block["optional"] is (not field.required or field.generated)
        assert "initial_value" not in block["element"] and "placeholder" not in block["element"]
    assert json.loads(modal["private_metadata"]) == {"kind": kind, "id": None}
    assert modal["submit"]["text"] == "Connect"


def test_the_edit_form_shows_values_and_stored_secrets_as_a_mask() -> None:
    provider = PROVIDERS["teams"]()
    current = view(
        kind="teams",
        config={},
        secret_keys=("inbound_secret", "url"),
        events=("incident.opened",),
        min_severity="P2",
        components=("Search", "gone"),
        include_private=True,
    )
    modal = integration_modal(
        kind="teams", settings=provider.settings, secrets=provider.secrets, current=current, components=["Search", "DB"]
    )
    assert check_view(modal) == []
    found = inputs(modal)
    url, token = found["integration_secret_url"], found["integration_secret_security_token"]
    assert url["element"]["placeholder"]["text"] == MASK and url["optional"] is True
    assert "placeholder" not in token["element"] and "Not set." in token["hint"]["text"]
    assert [o["value"] for o in found[ids.BLOCK_INTEGRATION_EVENTS]["element"]["initial_options"]] == ["incident.opened"]
    assert found[ids.BLOCK_INTEGRATION_SEVERITY]["element"]["initial_option"]["value"] == "P2"
    assert [o["value"] for o in found[ids.BLOCK_INTEGRATION_COMPONENTS]["element"]["initial_options"]] == ["Search"]
    assert found[ids.BLOCK_INTEGRATION_PRIVATE]["element"]["initial_options"][0]["value"] == "private"
    assert json.loads(modal["private_metadata"]) == {"kind": "teams", "id": current.id}
    assert "test" not in [o["value"] for o in found[ids.BLOCK_INTEGRATION_EVENTS]["element"]["options"]]


@dataclass(frozen=True)
class Every:
    """A kind not built yet, with one field of each type: its form needs no screen code."""

    kind: str = "every"
    settings: tuple[Field, ...] = (
        Field("base_url", "url", required=True, help="where to post"),
        Field("labels", "list", default=["vigil"]),
        Field("extra", "json", default={"a": 1}),
        Field("enabled", "bool", default=True),
        Field("floor", "severity"),
        Field("project", "str"),
    )
    secrets: tuple[Field, ...] = (Field("api_key", required=True), Field("signing_secret", generated=True))


@pytest.mark.parametrize(
    ("name", "element_type", "initial"),
    [
        ("base_url", "plain_text_input", None),
        ("labels", "plain_text_input", "vigil"),
        ("extra", "plain_text_input", '{"a": 1}'),
        ("enabled", "static_select", "true"),
        ("floor", "static_select", None),
        ("project", "plain_text_input", None),
    ],
)
def test_a_later_kind_gets_an_input_per_field_type(name: str, element_type: str, initial: str | None) -> None:
    every = Every()
    modal = integration_modal(kind=every.kind, settings=every.settings, secrets=every.secrets)
    assert check_view(modal) == []
    element = inputs(modal)[ids.BLOCK_INTEGRATION_SETTING_PREFIX + name]["element"]
    assert element["type"] == element_type
    shown = element.get("initial_value") or (element.get("initial_option") or {}).get("value")
    assert shown == initial
    secrets = inputs(modal)
    assert secrets["integration_secret_api_key"]["optional"] is False
    assert secrets["integration_secret_signing_secret"]["optional"] is True
    assert "Vigil makes one" in secrets["integration_secret_signing_secret"]["hint"]["text"]


# ---------------------------------------------------------------- reading it back


def submitted(modal: dict[str, Any], answers: dict[str, Any]) -> dict[str, Any]:
    """The view as Slack submits it: the modal with `state.values` filled by label."""
    return {**modal, "state": {"values": state_values(modal["blocks"], answers)}}


def teams_modal(current: IntegrationView | None = None) -> dict[str, Any]:
    provider = PROVIDERS["teams"]()
    return integration_modal(
        kind="teams", settings=provider.settings, secrets=provider.secrets, current=current, components=["Search", "DB"]
    )


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (
            {"Name": "teams", "URL": "https://x.example/wf?sig=1"},
            IntegrationInput(
                name="teams",
                secrets={"url": "https://x.example/wf?sig=1"},
                events=[],
                min_severity="",
                components=[],
                include_private=False,
            ),
        ),
        (
            {
                "Name": "t",
                "URL": "https://x.example/wf",
                "Security token": "tok",
                "Events": ["incident.opened", "incident.resolved"],
                "Minimum severity": "P1",
                "Components": ["DB"],
                "Private incidents": ["private"],
            },
            IntegrationInput(
                name="t",
                secrets={"url": "https://x.example/wf", "security_token": "tok"},
                events=["incident.opened", "incident.resolved"],
                min_severity="P1",
                components=["DB"],
                include_private=True,
            ),
        ),
        # A secret left empty, or holding the mask, is not a value: the stored one stays.
        (
            {"Name": "t", "URL": "  ", "Security token": MASK},
            IntegrationInput(name="t", events=[], min_severity="", components=[], include_private=False),
        ),
    ],
)
def test_the_submitted_form_reads_back_as_the_change(answers: dict[str, Any], expected: IntegrationInput) -> None:
    form = read_integration(submitted(teams_modal(), answers))
    assert form == IntegrationForm(kind="teams", integration_id=None, change=expected)


def test_an_untouched_edit_form_changes_nothing_but_what_it_shows() -> None:
    current = view(kind="teams", config={}, secret_keys=("inbound_secret", "url"), min_severity="P3", include_private=True)
    form = read_integration(submitted(teams_modal(current), {}))
    assert form.integration_id == current.id
    assert form.change.secrets == {}  # the stored URL is kept
    assert (form.change.name, form.change.min_severity, form.change.include_private) == ("ops-hook", "P3", True)


def test_fields_missing_from_a_forged_submission_are_left_alone() -> None:
    form = read_integration({"private_metadata": json.dumps({"kind": "webhook", "id": "x" * 32}), "state": {"values": {}}})
    assert form.change == IntegrationInput(name="")
    assert read_integration({}).kind == "" and read_integration({"private_metadata": "[1]"}).integration_id is None


# ---------------------------------------------------------------- checks before the ack


def webhook_view(answers: dict[str, Any], *, editing: bool = False, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    provider = PROVIDERS["webhook"]()
    modal = integration_modal(
        kind="webhook", settings=provider.settings, secrets=provider.secrets, current=view() if editing else None
    )
    sent = submitted(modal, answers)
    sent["state"]["values"].update(extra or {})
    return sent


@pytest.mark.parametrize(
    ("answers", "editing", "extra", "expected"),
    [
        ({"Name": "ops", "URL": "https://hooks.example/x"}, False, None, {}),
        (
            {"Name": "ops", "URL": "ftp://hooks.example/x"},
            False,
            None,
            {"integration_setting_url": "refused: ftp:// is not allowed (https:// only)"},
        ),
        (
            {"Name": "ops", "URL": "http://hooks.example/x"},
            False,
            None,
            {"integration_setting_url": "refused: http:// is allowed only with VIGIL_OUTBOUND_ALLOW_PRIVATE=true"},
        ),
        (
            {"Name": "ops", "URL": "https://10.0.0.5/x"},
            False,
            None,
            {"integration_setting_url": f"refused: 10.0.0.5 is a private address; {ALLOW_PRIVATE_HINT}"},
        ),
        (
            {"Name": "a,b", "URL": "https://hooks.example/x"},
            False,
            None,
            {ids.BLOCK_INTEGRATION_NAME: "letters, digits, spaces and punctuation other than commas"},
        ),
        ({"Name": "ops", "URL": ""}, False, None, {"integration_setting_url": "required for webhook"}),
        # Editing, an emptied field keeps the stored value: nothing to say before the ack.
        ({"Name": "ops", "URL": ""}, True, None, {}),
        # A field the form never had goes under the name, naming its key.
        (
            {"Name": "ops", "URL": "https://hooks.example/x"},
            False,
            {"integration_setting_bogus": {ids.ACTION_INTEGRATION_SETTING: {"type": "plain_text_input", "value": "1"}}},
            {ids.BLOCK_INTEGRATION_NAME: "bogus: not a setting of webhook (settings: url)"},
        ),
        (
            {"Name": "ops", "URL": "https://hooks.example/x"},
            False,
            {
                ids.BLOCK_INTEGRATION_EVENTS: {
                    ids.ACTION_INTEGRATION_EVENTS: {"type": "multi_static_select", "selected_options": [{"value": "nope"}]}
                }
            },
            {
                ids.BLOCK_INTEGRATION_EVENTS: "unknown nope (events: incident.opened, incident.acknowledged, "
                "incident.updated, incident.resolved, incident.closed, incident.reopened, test)"
            },
        ),
    ],
)
def test_what_the_text_alone_gets_wrong_is_keyed_by_its_input(
    answers: dict[str, Any], editing: bool, extra: dict[str, Any] | None, expected: dict[str, str]
) -> None:
    sent = webhook_view(answers, editing=editing, extra=extra)
    assert field_errors(read_integration(sent), sent, service()) == expected


def test_teams_secrets_are_checked_where_they_are_typed() -> None:
    missing = submitted(teams_modal(), {"Name": "t"})
    assert field_errors(read_integration(missing), missing, service()) == {"integration_secret_url": "required for teams"}
    retired = submitted(teams_modal(), {"Name": "t", "URL": "https://acme.webhook.office.com/webhookb2/x"})
    [message] = field_errors(read_integration(retired), retired, service()).values()
    assert "connector webhooks are retired" in message
    kept = submitted(teams_modal(view(kind="teams", config={}, secret_keys=("inbound_secret", "url"))), {})
    assert field_errors(read_integration(kept), kept, service()) == {}


def test_no_key_ring_unknown_kind_and_lost_metadata_are_answered_under_the_name() -> None:
    sent = webhook_view({"Name": "ops", "URL": "https://hooks.example/x"})
    assert field_errors(read_integration(sent), sent, service(keys=False)) == {
        ids.BLOCK_INTEGRATION_NAME: "VIGIL_ENCRYPTION_KEYS: no encryption key: run `vigil keys generate` and put its "
        "output in VIGIL_ENCRYPTION_KEYS"
    }
    forged = {**sent, "private_metadata": json.dumps({"kind": "slack", "id": None})}
    [message] = field_errors(read_integration(forged), forged, service()).values()
    available = "github, jira, linear, opsgenie, pagerduty, servicenow, teams, webhook"
    assert f"slack integrations are not built yet (available: {available})" in message
    lost = {**sent, "private_metadata": "{}"}
    assert field_errors(read_integration(lost), lost, service()) == {ids.BLOCK_INTEGRATION_NAME: LOST_TRACK}


def test_refusals_after_the_ack_name_each_field_once() -> None:
    exc = nothing_saved(
        Problems(
            [
                "name: 'ops' is already used by another integration",
                "url: refused: ftp:// is not allowed (https:// only)",
                "url: required for webhook (--set url=…)",
                "VIGIL_ENCRYPTION_KEYS: no encryption key",
            ]
        )
    )
    assert exc.message == (
        "Nothing was saved.\n"
        "• *Name*: 'ops' is already used by another integration\n"
        "• *URL*: refused: ftp:// is not allowed (https:// only)\n"
        "• *VIGIL_ENCRYPTION_KEYS*: no encryption key"
    )


# ---------------------------------------------------------------- the tab


def tab_view(tab: IntegrationsTab, *, total: int | None = None, page: int = 0) -> dict[str, Any]:
    data = HomeData(
        user_id="U1",
        is_admin=True,
        tab=INTEGRATIONS,
        page=page,
        notice="x" * 4000,
        total=len(tab.integrations) if total is None else total,
        integrations_tab=tab,
    )
    return home_view(data)


def test_an_empty_tab_offers_a_connect_button_per_kind() -> None:
    home = tab_view(IntegrationsTab(kinds=("teams", "webhook")))
    assert check_view(home) == []
    text = json.dumps(home)
    assert "None yet: connect one above." in text and "Nothing sent yet." in text
    connect = [
        b["accessory"]
        for b in home["blocks"]
        if (b.get("accessory") or {}).get("action_id") == ids.ACTION_ADMIN_CONNECT_INTEGRATION
    ]
    assert [(c["value"], c["text"]["text"]) for c in connect] == [("teams", "Connect Teams"), ("webhook", "Connect Webhook")]


def test_a_full_tab_stays_within_limits_shows_no_secret_and_escapes_names() -> None:
    many = [
        view(
            id=f"{n:032x}",
            name=HOSTILE + "x" * 60,
            config={"url": "https://hooks.example/" + "p" * 3000},
            secret_keys=("inbound_secret", "url", "api_key"),
            components=tuple(f"Component {i}" for i in range(40)),
            events=tuple(e for e in ("incident.opened", "incident.resolved")),
            previous_secret_until=NOW,
        )
        for n in range(40)
    ]
    log = [delivery(status=s, error=HOSTILE * 20, integration=HOSTILE, attempts=4) for s in ("failed", "retrying") * 30]
    home = tab_view(IntegrationsTab(kinds=tuple(PROVIDERS) * 10, integrations=many, deliveries=log, can_rotate=True))
    assert check_view(home) == []
    assert len(home["blocks"]) <= 100
    text = json.dumps(home, ensure_ascii=False)
    parsed = json.dumps(parsed_text(home))
    assert "<!channel>" not in parsed and "<https://evil" not in parsed and "&lt;!channel&gt;" in parsed
    assert text.count(ids.ACTION_ADMIN_EDIT_INTEGRATION) == 10  # one page
    assert text.count(ids.ACTION_ADMIN_RETRY_DELIVERY) == 5  # the failed ones among the last 10
    assert f"Inbound secret {MASK}" in text and "Api key" not in text and f"API key {MASK}" in text
    assert ids.ACTION_HOME_PAGE_NEXT in text


@pytest.mark.parametrize(
    ("active", "can_rotate", "expected"),
    [
        (
            True,
            True,
            [
                ids.ACTION_ADMIN_EDIT_INTEGRATION,
                ids.ACTION_ADMIN_TEST_INTEGRATION,
                ids.ACTION_ADMIN_INBOUND_LOG,
                ids.ACTION_ADMIN_DISABLE_INTEGRATION,
                ids.ACTION_ADMIN_ROTATE_INTEGRATION_SECRET,
                ids.ACTION_ADMIN_REMOVE_INTEGRATION,
            ],
        ),
        (
            False,
            False,
            [
                ids.ACTION_ADMIN_EDIT_INTEGRATION,
                ids.ACTION_ADMIN_TEST_INTEGRATION,
                ids.ACTION_ADMIN_INBOUND_LOG,
                ids.ACTION_ADMIN_ENABLE_INTEGRATION,
                ids.ACTION_ADMIN_REMOVE_INTEGRATION,
            ],
        ),
    ],
)
def test_each_integration_has_its_buttons(active: bool, can_rotate: bool, expected: list[str]) -> None:
    blocks = integrations_tab(IntegrationsTab(integrations=[view(active=active)], can_rotate=can_rotate), total=1)
    actions = [b for b in blocks if b["type"] == "actions"]
    assert action_ids(actions) == expected
    assert all(e["value"] == "a" * 32 for a in actions for e in a["elements"])
    confirms = {e["action_id"]: e.get("confirm") for a in actions for e in a["elements"]}
    assert confirms[ids.ACTION_ADMIN_REMOVE_INTEGRATION]["style"] == "danger"
    assert ("Only workspace owners" in json.dumps(blocks)) is (not can_rotate)


@pytest.mark.parametrize(
    ("over", "parts", "retry"),
    [
        (
            {},
            [":white_check_mark: *ops-hook* · `incident.opened` · INC-7 · *success*", "1 attempt", "HTTP 200", "35 ms"],
            False,
        ),
        (
            {"status": "retrying", "attempts": 2, "http_status": 503, "next_attempt_at": NOW + timedelta(minutes=5)},
            [":repeat:", "*retrying*", "2 attempts", "HTTP 503", "next attempt <!date^"],
            False,
        ),
        (
            {"status": "failed", "error": "hooks.example/in answered 500: <b>"},
            ["*failed*", "> hooks.example/in answered 500: &lt;b&gt;"],
            True,
        ),
        ({"status": "cancelled", "error": "cancelled: disabled"}, [":no_entry_sign:", "*cancelled*"], True),
        ({"event": "test", "incident": None}, ["`test` · test · *success*"], False),
        ({"status": "pending", "attempts": 0, "http_status": None, "duration_ms": None}, ["*pending*", "0 attempts"], False),
    ],
)
def test_delivery_log_lines(over: dict[str, Any], parts: list[str], retry: bool) -> None:
    text = delivery_text(delivery(**over))
    for part in parts:
        assert part in text, (part, text)
    blocks = integrations_tab(IntegrationsTab(deliveries=[delivery(**over)]), total=0)
    assert (ids.ACTION_ADMIN_RETRY_DELIVERY in action_ids(blocks)) is retry


# ---------------------------------------------------------------- notices


def test_notices() -> None:
    shown = connected_notice(view(name=HOSTILE), {"inbound_secret": SECRET})
    assert f"Inbound secret `{SECRET}`" in shown and "Webhook URL `https://vigil.example/hooks/webhook/" in shown
    assert "<!channel>" not in shown
    assert notice_of_test(delivery(event="test")) == ("Test sent to ops-hook: 200 in 35 ms", False)
    failed = delivery(event="test", status="failed", error="hooks.example/in answered 500: boom", http_status=500)
    assert notice_of_test(failed) == ("Test failed: hooks.example/in answered 500: boom", True)
    assert toggled_notice(view(active=False), 0) == "Disabled ops-hook."
    assert toggled_notice(view(active=False), 3) == "Disabled ops-hook; 3 queued deliveries cancelled."
    assert toggled_notice(view(), 0) == "Enabled ops-hook."
    rotated = rotated_notice(Rotated(integration=view(), inbound_secret=SECRET, previous_valid_until=NOW))
    assert f"shown only this once: `{SECRET}`" in rotated and "<!date^1767603600^" in rotated
    assert retried_notice(delivery(status="pending")) == "Delivery `0f8fad5b` (incident.opened) to ops-hook is queued again."
