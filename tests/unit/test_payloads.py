"""What integrations are sent: the webhook body in exactly the documented shape, its bytes, and the Teams card with
people's text kept from becoming markdown."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.incidents.states import Severity, Status
from integrations.payloads import EVENTS, IncidentSnapshot, encode, rfc3339, webhook_body
from integrations.teams.card import HAPPENED, MAX_TEXT, incident_card, plain, text_card

DELIVERY = "5d0a7a2e-6f7e-4a53-9d43-1b8e3c2f4a10"
OPENED = datetime(2024, 11, 2, 14, 3, 10, 734_000, tzinfo=UTC)
INCIDENT = IncidentSnapshot(
    number=42,
    key="INC-42",
    title="Checkout down",
    severity="P1",
    status="investigating",
    private=False,
    commander="U012AB3CD",
    channel_id="C0INC42",
    channel_url="https://slack.example/archives/C0INC42",
    created_at=OPENED,
    acknowledged_at=OPENED + timedelta(minutes=2),
)
INCIDENT_KEYS = {
    "number",
    "key",
    "title",
    "severity",
    "status",
    "private",
    "commander",
    "channel_id",
    "channel_url",
    "created_at",
    "acknowledged_at",
    "resolved_at",
    "closed_at",
}


# ---- the webhook body -----------------------------------------------------------------------------------------


def test_body_has_exactly_the_documented_shape() -> None:
    body = webhook_body(delivery_id=DELIVERY, event="incident.opened", occurred_at=OPENED, incident=INCIDENT)
    assert body == {
        "id": DELIVERY,
        "event": "incident.opened",
        "occurred_at": "2024-11-02T14:03:10Z",
        "incident": {
            "number": 42,
            "key": "INC-42",
            "title": "Checkout down",
            "severity": "P1",
            "status": "investigating",
            "private": False,
            "commander": "U012AB3CD",
            "channel_id": "C0INC42",
            "channel_url": "https://slack.example/archives/C0INC42",
            "created_at": "2024-11-02T14:03:10Z",
            "acknowledged_at": "2024-11-02T14:05:10Z",
            "resolved_at": None,
            "closed_at": None,
        },
    }
    assert set(body) == {"id", "event", "occurred_at", "incident"}
    assert set(body["incident"]) == INCIDENT_KEYS


@pytest.mark.parametrize("event", EVENTS)
def test_every_event_makes_a_body(event: str) -> None:
    body = webhook_body(delivery_id=DELIVERY, event=event, occurred_at=OPENED, incident=INCIDENT)
    assert body["event"] == event


def test_spec_events() -> None:
    assert set(EVENTS) == {
        "incident.opened",
        "incident.acknowledged",
        "incident.updated",
        "incident.resolved",
        "incident.closed",
        "incident.reopened",
        "test",
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"event": "incident.deleted"}, "unknown event"),
        ({"delivery_id": "not-a-uuid"}, "UUID"),
        ({"delivery_id": DELIVERY.upper()}, "canonical"),
        ({"delivery_id": DELIVERY.replace("-", "")}, "canonical"),
        ({"occurred_at": datetime(2024, 11, 2, 14, 3)}, "naive"),
    ],
)
def test_bad_bodies_are_refused(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {"delivery_id": DELIVERY, "event": "incident.opened", "occurred_at": OPENED, "incident": INCIDENT}
    with pytest.raises(ValueError, match=message):
        webhook_body(**{**args, **kwargs})


def test_enum_values_are_plain_strings_in_the_body() -> None:
    incident = replace(INCIDENT, severity=Severity.P2, status=Status.MITIGATING)
    body = webhook_body(delivery_id=DELIVERY, event="incident.updated", occurred_at=OPENED, incident=incident)
    assert encode(body).count(b'"severity":"P2"') == 1
    assert type(body["incident"]["status"]) is str


@pytest.mark.parametrize(
    ("dt", "text"),
    [
        (None, None),
        (datetime(2024, 11, 2, 14, 3, 11, tzinfo=UTC), "2024-11-02T14:03:11Z"),
        (datetime(2024, 11, 2, 14, 3, 11, 999_999, tzinfo=UTC), "2024-11-02T14:03:11Z"),  # truncated, not rounded
        (datetime(2024, 11, 2, 16, 3, 11, tzinfo=timezone(timedelta(hours=2))), "2024-11-02T14:03:11Z"),
        (datetime(2024, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))), "2023-12-31T23:30:00Z"),
        (datetime(5, 1, 2, 3, 4, 5, tzinfo=UTC), "0005-01-02T03:04:05Z"),
    ],
)
def test_rfc3339(dt: datetime | None, text: str | None) -> None:
    assert rfc3339(dt) == text


def test_rfc3339_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="naive"):
        rfc3339(datetime(2024, 11, 2, 14, 3, 11))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"severity": "P0"}, "severity"),
        ({"severity": "critical"}, "severity"),
        ({"status": "acknowledged"}, "status"),
        ({"created_at": datetime(2024, 1, 1)}, "created_at"),
        ({"closed_at": datetime(2024, 1, 1)}, "closed_at"),
    ],
)
def test_snapshot_refuses_what_would_mislead_a_receiver(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(INCIDENT, **change)


def test_sample_is_a_harmless_test_incident() -> None:
    now = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    sample = IncidentSnapshot.sample(now)
    assert (sample.number, sample.key, sample.title) == (0, "INC-0", "[TEST] Vigil test delivery")
    assert sample.created_at == now
    assert sample.commander is sample.channel_id is sample.channel_url is None
    assert not sample.private
    body = webhook_body(delivery_id=DELIVERY, event="test", occurred_at=now, incident=sample)
    assert set(body["incident"]) == INCIDENT_KEYS
    assert body["incident"]["title"].startswith("[TEST]")


def test_encode_is_compact_sorted_utf8_and_stable() -> None:
    body = webhook_body(
        delivery_id=DELIVERY, event="incident.opened", occurred_at=OPENED, incident=replace(INCIDENT, title="Café ☕ down")
    )
    raw = encode(body)
    assert b" " not in raw.replace("Café ☕ down".encode(), b"")
    assert "Café ☕ down".encode() in raw
    assert raw.startswith(b'{"event":"incident.opened","id":')
    assert json.loads(raw) == body
    # Re-read from a database that does not keep key order: the same bytes, so a re-send signs the same thing.
    reordered = {key: body[key] for key in reversed(list(body))}
    reordered["incident"] = {key: body["incident"][key] for key in reversed(list(body["incident"]))}
    assert json.dumps(reordered) != json.dumps(body)
    assert encode(reordered) == raw


def test_encode_survives_a_lone_surrogate_and_refuses_nan() -> None:
    raw = encode({"title": "bad \ud800 text"})
    assert json.loads(raw) == {"title": "bad \ud800 text"}
    with pytest.raises(ValueError):
        encode({"x": float("nan")})


@given(title=st.text(max_size=200), number=st.integers(min_value=0, max_value=2**31))
def test_encode_round_trips_any_title(title: str, number: int) -> None:
    body = webhook_body(
        delivery_id=DELIVERY,
        event="incident.updated",
        occurred_at=OPENED,
        incident=replace(INCIDENT, title=title, number=number),
    )
    assert json.loads(encode(body)) == body


# ---- the Teams card ---------------------------------------------------------------------------------------------


def content_of(message: dict[str, Any]) -> dict[str, Any]:
    assert message["type"] == "message"
    (attachment,) = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["contentUrl"] is None
    content: dict[str, Any] = attachment["content"]
    assert content["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert (content["type"], content["version"]) == ("AdaptiveCard", "1.4")
    return content


def facts_of(content: dict[str, Any]) -> dict[str, str]:
    (fact_set,) = [block for block in content["body"] if block["type"] == "FactSet"]
    return {fact["title"]: fact["value"] for fact in fact_set["facts"]}


def test_card_shape() -> None:
    message = incident_card(event="incident.opened", incident=INCIDENT)
    content = content_of(message)
    headline, happened, _ = content["body"]
    assert headline == {
        "type": "TextBlock",
        "text": "INC-42 · P1 · Checkout down",
        "weight": "Bolder",
        "size": "Medium",
        "wrap": True,
    }
    assert happened["text"] == "A new incident was declared in Slack."
    assert facts_of(content) == {"Status": "Investigating", "Severity": "P1", "Commander": "set in Slack"}
    assert content["actions"] == [
        {"type": "Action.OpenUrl", "title": "Open in Slack", "url": "https://slack.example/archives/C0INC42"}
    ]
    json.dumps(message)  # all of it is JSON


@pytest.mark.parametrize(
    ("event", "word"),
    [
        ("incident.opened", "declared"),
        ("incident.acknowledged", "acknowledged"),
        ("incident.updated", "updated"),
        ("incident.resolved", "resolved"),
        ("incident.closed", "closed"),
        ("incident.reopened", "reopened"),
        ("test", "Test"),
    ],
)
def test_card_says_what_happened(event: str, word: str) -> None:
    body = content_of(incident_card(event=event, incident=INCIDENT))["body"]
    assert word in body[1]["text"]


def test_every_event_has_words() -> None:
    assert set(HAPPENED) == set(EVENTS)
    with pytest.raises(ValueError, match="unknown event"):
        incident_card(event="incident.deleted", incident=INCIDENT)


def test_card_without_commander_channel_or_with_private() -> None:
    incident = replace(INCIDENT, commander=None, channel_url=None, private=True, status="postmortem")
    content = content_of(incident_card(event="incident.updated", incident=incident))
    assert facts_of(content) == {
        "Status": "Postmortem",
        "Severity": "P1",
        "Commander": "nobody yet",
        "Visibility": "private",
    }
    assert "actions" not in content


def test_card_links_only_to_https() -> None:
    incident = replace(INCIDENT, channel_url="javascript:alert(1)")
    assert "actions" not in content_of(incident_card(event="incident.updated", incident=incident))


def test_test_card_is_marked_once() -> None:
    sample = IncidentSnapshot.sample(OPENED)
    headline = content_of(incident_card(event="test", incident=sample))["body"][0]["text"]
    assert headline == "[TEST] INC-0 · P5 · Vigil test delivery"
    marked = content_of(incident_card(event="incident.opened", incident=INCIDENT, test=True))["body"][0]["text"]
    assert marked == "[TEST] INC-42 · P1 · Checkout down"


# A TextBlock renders markdown: what people typed must come out as the characters they typed.
LINK = re.compile(r"(?<!\\)\[[^\]]*(?<!\\)\]\(")


@pytest.mark.parametrize(
    ("title", "shown"),
    [
        ("[click](https://evil)", r"\[click\]\(https://evil\)"),
        ("**bold**", r"\*\*bold\*\*"),
        ("_italic_ and `code` and ~strike~", r"\_italic\_ and \`code\` and \~strike\~"),
        ("<a href='https://evil'>x</a>", "&lt;a href='https://evil'&gt;x&lt;/a&gt;"),
        ("AT&T down", "AT&amp;T down"),
        ("{{DATE(2017-02-14T06:08:39Z, SHORT)}}", r"\{\{DATE\(2017-02-14T06:08:39Z, SHORT\)\}\}"),
        ("# heading", r"\# heading"),
        ("back\\slash", r"back\\slash"),
        ("two\n\nparagraphs\r\n- and a list", "two paragraphs - and a list"),
        ("rtl \u202etxet", "rtl txet"),
        ("![img](https://evil/x.png)", r"!\[img\]\(https://evil/x.png\)"),
    ],
)
def test_titles_cannot_inject_markdown(title: str, shown: str) -> None:
    headline = content_of(incident_card(event="incident.opened", incident=replace(INCIDENT, title=title)))["body"][0]
    assert headline["text"] == f"INC-42 · P1 · {shown}"


@pytest.mark.parametrize(("text", "shown"), [("- item", r"\- item"), ("+ item", r"\+ item"), ("12. item", r"12\. item")])
def test_plain_defuses_line_start_markers(text: str, shown: str) -> None:
    assert plain(text) == shown


def test_long_titles_are_cut() -> None:
    title = "x" * 1000
    text = plain(title)
    assert len(text) == MAX_TEXT
    assert text.endswith("…")


@given(st.text(max_size=400))
def test_plain_never_leaves_a_link_or_emphasis(text: str) -> None:
    out = plain(text)
    assert not LINK.search(out)
    assert "](" not in out
    assert "\n" not in out
    assert not re.search(r"(?<!\\)[*_`\[\]<>]", out)
    assert len(out) <= MAX_TEXT * 6  # escapes at most grow each kept character to an entity


def test_text_card_escapes_unless_told_it_is_markdown() -> None:
    escaped = content_of(text_card("**INC-42** [x](https://evil)"))
    assert escaped["body"] == [{"type": "TextBlock", "text": r"\*\*INC-42\*\* \[x\]\(https://evil\)", "wrap": True}]
    assert "actions" not in escaped
    ours = content_of(text_card("Relayed to **INC-42**.", markdown=True))
    assert ours["body"][0]["text"] == "Relayed to **INC-42**."
