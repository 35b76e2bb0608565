from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.incidents.errors import InvalidInput
from bot.incidents.states import ClosureReason, Severity
from commands.grammar import (
    CORE,
    HELP_GROUPS,
    HELP_LINES,
    NEEDS_INCIDENT,
    SUBCOMMANDS,
    LinkKind,
    ParsedCommand,
    help_text,
    near_misses,
    parse,
    usage,
)

P = ParsedCommand
CORE_LINE = "The ones you need most: `open`, `ack`, `status`, `note`, `resolve`. `/incident help` lists them all."


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("", P("help")),
        ("   ", P("help")),
        ("help", P("help")),
        ("HELP close", P("help", text="close")),
        ("104", P("status", incident_ref=104)),
        ("INC-104", P("status", incident_ref=104)),
        ("open", P("open")),
        ("open P1", P("open", severity=Severity.P1)),
        ("OPEN p2 Checkout  is DOWN", P("open", severity=Severity.P2, title="Checkout  is DOWN")),
        ("open Checkout down", P("open", title="Checkout down")),
        ("open 3 nodes down", P("open", title="3 nodes down")),
        ("open P6 widgets", P("open", title="P6 widgets")),
        ("list", P("list")),
        ("status", P("status")),
        ("104 status", P("status", incident_ref=104)),
        ("inc-104 Status", P("status", incident_ref=104)),
        ("status INC-7", P("status", incident_ref=7)),
        ("update", P("update")),
        ("severity P2", P("severity", severity=Severity.P2)),
        ("INC-9 SEVERITY p1", P("severity", incident_ref=9, severity=Severity.P1)),
        ("severity 3", P("severity", severity=Severity.P3)),
        ("investigating", P("investigating")),
        ("Mitigating", P("mitigating")),
        ("resolve", P("resolve")),
        ("104 resolve done", P("resolve", incident_ref=104, text="done")),
        ("resolve Rolled back &amp; verified", P("resolve", text="Rolled back &amp; verified")),
        ("postmortem", P("postmortem")),
        ("close", P("close")),
        ("close duplicate", P("close", closure_reason=ClosureReason.DUPLICATE)),
        ("close duplicate of INC-3", P("close", closure_reason=ClosureReason.DUPLICATE, text="of INC-3")),
        ("close False-Positive noisy alert", P("close", closure_reason=ClosureReason.FALSE_POSITIVE, text="noisy alert")),
        ("close All good now", P("close", text="All good now")),
        ("reopen Error rate is back up", P("reopen", text="Error rate is back up")),
        ("ack", P("ack")),
        ("ACK", P("ack")),
        ("lead <@U123ABC>", P("lead", user_id="U123ABC")),
        ("lead <@W0ABC|alice>", P("lead", user_id="W0ABC")),
        ("note Deploy 42 rolled back", P("note", text="Deploy 42 rolled back")),
        ("timeline", P("timeline")),
        ("oncall", P("oncall")),
        ("page", P("page")),
        ("page Checkout API", P("page", service="Checkout API")),
        ("104 page", P("page", incident_ref=104)),
        ("sos", P("sos")),
        ("link", P("link")),
        ("link <@U1|bob>", P("link", user_id="U1")),
        ("link jira", P("link", link_kind=LinkKind.JIRA)),
        ("link GitHub OctoCat", P("link", link_kind=LinkKind.GITHUB, link_id="OctoCat")),
        ("link <@U1> pagerduty PABC123", P("link", user_id="U1", link_kind=LinkKind.PAGERDUTY, link_id="PABC123")),
        ("link email <mailto:a@b.io|a@b.io>", P("link", link_kind=LinkKind.EMAIL, link_id="a@b.io")),
        ("link email a@b.io", P("link", link_kind=LinkKind.EMAIL, link_id="a@b.io")),
    ],
)
def test_parse(text: str, parsed: ParsedCommand) -> None:
    assert parse(text) == parsed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("severity", "Usage: `/incident severity P1-P5`"),
        ("severity P6", "Usage: `/incident severity P1-P5`"),
        ("severity P1 P2", "Usage: `/incident severity P1-P5`"),
        ("severity high", "Usage: `/incident severity P1-P5`"),
        ("reopen", "Usage: `/incident reopen <reason>` The reason needs at least 10 characters."),
        ("reopen broke", "Usage: `/incident reopen <reason>` The reason needs at least 10 characters."),
        ("lead", "Usage: `/incident lead @user` Mention the person, e.g. @alice."),
        ("lead alice", "Usage: `/incident lead @user` Mention the person, e.g. @alice."),
        ("lead @alice", "Usage: `/incident lead @user` Mention the person, e.g. @alice."),
        ("lead <@U1> <@U2>", "Usage: `/incident lead @user` Mention the person, e.g. @alice."),
        ("note", "Usage: `/incident note <text>`"),
        ("note    ", "Usage: `/incident note <text>`"),
        ("ack now please", "Usage: `/incident ack`"),
        ("status 104 105", "Usage: `/incident status`"),
        ("list 104", "Usage: `/incident list`"),
        ("link slack U1", "Usage: `/incident link [@user] [pagerduty|github|jira|linear|email] [id]`"),
        ("link jira a b", "Usage: `/incident link [@user] [pagerduty|github|jira|linear|email] [id]`"),
        ("link email nobody", "Usage: `/incident link [@user] [pagerduty|github|jira|linear|email] [id]`"),
        ("help nonsense", f"Unknown subcommand `nonsense`. {CORE_LINE}"),
        ("help resolve now", "Usage: `/incident help [subcommand]`"),
        ("foo", f"Unknown subcommand `foo`. {CORE_LINE}"),
        ("104 foo", f"Unknown subcommand `foo`. {CORE_LINE}"),
        ("resovle", f"Unknown subcommand `resovle`. Did you mean `/incident resolve`? {CORE_LINE}"),
        ("104 STAUTS", f"Unknown subcommand `STAUTS`. Did you mean `/incident status`? {CORE_LINE}"),
        ("help mitigate", f"Unknown subcommand `mitigate`. Did you mean `/incident mitigating`? {CORE_LINE}"),
        ("104 open", "`open` doesn't take an incident number. Usage: `/incident open [P1-P5] [title]`"),
        ("INC-3 oncall", "`oncall` doesn't take an incident number. Usage: `/incident oncall`"),
        ("0 status", "`0` is not an incident number; numbers look like `104` or `INC-104`."),
        ("INC-1234567890 status", "`INC-1234567890` is not an incident number; numbers look like `104` or `INC-104`."),
        ("`rm -rf` x", f"Unknown subcommand `'rm`. {CORE_LINE}"),
    ],
)
def test_parse_refuses_with_usage(text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        parse(text)
    assert refused.value.message == message


def test_command_name_is_configurable() -> None:
    with pytest.raises(InvalidInput) as refused:
        parse("severity", command="/vigil")
    assert refused.value.message == "Usage: `/vigil severity P1-P5`"
    assert usage("close", command="/inc") == "Usage: `/inc close [reason] [text]`"
    assert "`/inc 104 status`" in help_text("/inc")


def test_help_covers_every_subcommand_once_in_its_groups() -> None:
    text = help_text()
    assert len(HELP_LINES) == len(SUBCOMMANDS) == 20
    grouped = [name for _, names in HELP_GROUPS for name in names]
    assert sorted(grouped) == sorted(SUBCOMMANDS)  # each in exactly one group
    assert [group for group, _ in HELP_GROUPS] == ["Declare", "Now", "Change", "After", "More"]
    assert dict(HELP_GROUPS)["Now"] == ("ack", "status", "note", "mitigating", "resolve")
    assert dict(HELP_GROUPS)["Change"] == ("severity", "lead", "update")
    assert dict(HELP_GROUPS)["After"] == ("postmortem", "close", "reopen")
    assert set(CORE) <= set(SUBCOMMANDS) and len(CORE) == 5
    assert text.splitlines()[-1].startswith("Outside an incident channel, put its number first")
    for name in SUBCOMMANDS:
        assert f" {name}" in text
        # Every subcommand parses in its simplest correct form (or refuses with its own usage line).
        try:
            assert parse(name).name == name
        except InvalidInput as refused:
            assert refused.message.startswith(usage(name))


@pytest.mark.parametrize(
    ("typed", "meant"),
    [
        ("resovle", ["resolve"]),
        ("ak", ["ack"]),
        ("stat", ["status"]),
        ("timelime", ["timeline"]),
        ("Severity2", ["severity"]),
        ("sttaus", ["status"]),
        ("postmortum", ["postmortem"]),
        ("re", ["resolve", "reopen"]),
        ("Acknowledge", ["ack"]),
        ("declare", ["open"]),
        ("frobnicate", []),
        ("x", []),
    ],
)
def test_near_misses(typed: str, meant: list[str]) -> None:
    assert near_misses(typed) == meant


def test_needs_incident() -> None:
    assert {"open", "list", "oncall", "page", "link", "help"}.isdisjoint(NEEDS_INCIDENT)
    assert {"status", "resolve", "close", "reopen", "sos", "ack", "note"} <= NEEDS_INCIDENT


words = st.sampled_from([*SUBCOMMANDS, "INC-104", "104", "0", "P2", "p9", "duplicate", "<@U1|x>", "jira", "<mailto:a@b>"])
texts = st.one_of(
    st.text(),
    st.lists(st.one_of(words, st.text(max_size=12)), max_size=6).map(" ".join),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=500),
)


@given(text=texts)
@example(text="INC-" + "9" * 5000)
@example(text="9" * 5000)
@example(text="link email <mailto:>")
@example(text="\x00 \u2028 \u00a0")
def test_parse_never_raises_anything_but_invalid_input(text: str) -> None:
    try:
        parsed = parse(text)
    except InvalidInput as refused:
        assert refused.message
        return
    assert parsed.name in SUBCOMMANDS
    assert parsed.incident_ref is None or parsed.incident_ref >= 1
    for free in (parsed.title, parsed.text, parsed.service, parsed.link_id):
        assert free is None or (free and free == free.strip())


@given(
    note=st.text(min_size=1).filter(lambda s: s.strip() and s == s.strip()),
    ref=st.none() | st.integers(min_value=1, max_value=999_999_999),
)
def test_note_text_round_trips(note: str, ref: int | None) -> None:
    prefix = f"INC-{ref} " if ref is not None else ""
    assert parse(f"{prefix}note {note}") == ParsedCommand("note", incident_ref=ref, text=note)
