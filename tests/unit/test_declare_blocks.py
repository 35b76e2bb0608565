"""The declare form as a pure function: what it says declaring will do, per severity, from what is set up; and
which severity pages, from the PagerDuty integrations' thresholds."""

from __future__ import annotations

from typing import Any

import pytest

from bot import slack_ids as ids
from bot.blocks.declare import DeclareContext, declare_modal, severity_effects
from bot.emulator import check_view
from bot.home.queries import pages_up_to
from db.models import Integration
from tests.mrkdwn import assert_escaped, mrkdwn_texts

EVERYTHING = DeclareContext(
    components=[(n, "c" * 200 + "<&>") for n in range(150)],
    announce_channel_id="CANN",
    deploy_channel_id="CDEP",
    p1_usergroup_id="SP1",
    pages_up_to="P3",
    oncall_invited=True,
)


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        (DeclareContext(), [("P1-P5", "its channel only: no page, no announcement")]),
        (
            DeclareContext(announce_channel_id="CANN", pages_up_to="P1"),
            [
                ("P1", "pages on-call through PagerDuty · announced in <#CANN>"),
                ("P2-P3", "announced in <#CANN>"),
                ("P4-P5", "its channel only: no page, no announcement"),
            ],
        ),
        (
            EVERYTHING,
            [
                (
                    "P1",
                    "pages on-call through PagerDuty · invites <!subteam^SP1> · announced in <#CANN> · "
                    "deploy-freeze warning in <#CDEP>",
                ),
                ("P2-P3", "pages on-call through PagerDuty · announced in <#CANN>"),
                ("P4-P5", "its channel only: no page, no announcement"),
            ],
        ),
    ],
)
def test_what_each_severity_does(context: DeclareContext, expected: list[tuple[str, str]]) -> None:
    assert severity_effects(context) == expected


@pytest.mark.parametrize("context", [DeclareContext(), EVERYTHING])
def test_the_form_stays_within_limits_and_escaped(context: DeclareContext) -> None:
    view = declare_modal(title="t" * 400, severity="P1", context=context, origin_channel_id="C1")
    assert check_view(view) == []
    assert_escaped(*mrkdwn_texts(view))
    inputs = {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}
    commander = inputs[ids.BLOCK_COMMANDER]
    assert commander["optional"] and commander["dispatch_action"] and commander["element"]["type"] == "users_select"
    assert (ids.BLOCK_COMPONENT in inputs) == bool(context.components)


def pd(**kw: Any) -> Integration:
    fields: dict[str, Any] = {"kind": "pagerduty", "config": {}, "events": [], "min_severity": None} | kw
    return Integration(**fields)


@pytest.mark.parametrize(
    ("integrations", "expected"),
    [
        ([], None),
        ([pd()], "P2"),  # the provider's default threshold
        ([pd(config={"severity_threshold": "P3"})], "P3"),
        ([pd(config={"severity_threshold": "P3"}, min_severity="P1")], "P1"),  # the minimum severity gates too
        ([pd(config={"severity_threshold": "P4"}, events=["incident.resolved"])], None),  # never told of a declaration
        ([pd(config={"severity_threshold": "P1"}), pd(config={"severity_threshold": "P3"})], "P3"),
        ([pd(kind="webhook", config={"severity_threshold": "P5"})], None),
    ],
)
def test_which_severities_page(integrations: list[Integration], expected: str | None) -> None:
    assert pages_up_to(integrations) == expected
