"""The sandbox grammar: what each line means, what a mistyped line says, and that no line crashes the parser."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.sandbox import grammar
from bot.sandbox.grammar import (
    As,
    Channels,
    Click,
    Exit,
    Help,
    History,
    Home,
    In,
    ParseError,
    React,
    Ref,
    Say,
    Slash,
    Submit,
)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("", None),
        ("   ", None),
        ("# a comment", None),
        ("#general is not a command", None),
        ("as bob", As("bob")),
        ("AS @Bob", As("bob")),
        ("in #Incidents", In("incidents")),
        ("in incidents", In("incidents")),
        ("/incident open P1 Checkout is down", Slash("/incident", "open P1 Checkout is down")),
        ("/incident note it's down, isn't it", Slash("/incident", "note it's down, isn't it")),
        ("/incident", Slash("/incident", "")),
        ("submit", Submit(())),
        ('submit Title="Checkout down" Severity=P1', Submit((("Title", "Checkout down"), ("Severity", "P1")))),
        ("submit 'Usergroup to mention'=@sre Description=", Submit((("Usergroup to mention", "@sre"), ("Description", "")))),
        ("click Acknowledge", Click("Acknowledge")),
        ("click [Page on-call]", Click("Page on-call")),
        ("click Acknowledge on #inc-1-x:1", Click("Acknowledge", Ref("inc-1-x", 1))),
        ("click Acknowledge on last", Click("Acknowledge", Ref())),
        ("click Turn on", Click("Turn on")),
        ("press Resolve on #general", Click("Resolve", Ref("general"))),
        ("react :eyes: #inc-1-x:1", React("eyes", Ref("inc-1-x", 1))),
        ("react eyes last", React("eyes", Ref())),
        ("react :pushpin:", React("pushpin")),
        ("react :+1: #general:last", React("+1", Ref("general"))),
        ("say Rolling back deploy 42, it's fine", Say("Rolling back deploy 42, it's fine")),
        ("channels", Channels()),
        ("history", History()),
        ("history #inc-1-x:3", History("inc-1-x")),
        ("home", Home()),
        ("help", Help()),
        ("help me please", Help()),
        ("exit", Exit()),
        ("quit", Exit()),
    ],
)
def test_lines(line: str, expected: grammar.Command | None) -> None:
    assert grammar.parse(line) == expected


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("as", "as who?"),
        ("as bob carol", "as who?"),
        ("in", "in which channel?"),
        ("in #Bad!Name", "is not a channel name"),
        ("submit Title", "is not field=value"),
        ("submit =x", "is not field=value"),
        ('submit Title="open quote', "close your quotes"),
        ("click", "click what?"),
        ("click Acknowledge on #general:0", "numbered from 1"),
        ("click Acknowledge on nowhere", "is not a message"),
        ("react", "react with what"),
        ("react :eyes: #a:1 extra", "react with what"),
        ("react !!", "is not an emoji name"),
        ("say", "say what?"),
        ("channels now", "takes nothing"),
        ("dance", "unknown command 'dance'"),
        ("/ incident", "is not a slash command"),
    ],
)
def test_mistakes_say_how_to_fix_them(line: str, message: str) -> None:
    with pytest.raises(ParseError) as info:
        grammar.parse(line)
    assert message in info.value.message


def test_refs_print_as_they_are_typed() -> None:
    assert str(grammar.parse_ref("last")) == "last"
    assert str(grammar.parse_ref("#inc-1-x:2")) == "#inc-1-x:2"
    assert str(grammar.parse_ref("#general")) == "#general:last"


KEYWORDS = st.sampled_from(
    ["as", "in", "submit", "click", "press", "react", "say", "history", "home", "/incident", "exit", ""]
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(), st.tuples(KEYWORDS, st.text()).map(lambda kw: f"{kw[0]} {kw[1]}")))
def test_no_line_crashes_the_parser(line: str) -> None:
    """Whatever is typed: a command, nothing (blank, comment), or a ParseError with a message."""
    try:
        command = grammar.parse(line)
    except ParseError as exc:
        assert exc.message.strip()
    else:
        assert command is None or isinstance(
            command, (As, In, Slash, Submit, Click, React, Say, Channels, History, Home, Help, Exit)
        )
