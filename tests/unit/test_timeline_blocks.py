"""The timeline's pieces as pure functions: offsets from the declaration, and mrkdwn cut without breaking a token."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.blocks.mrkdwn import clip, esc
from bot.blocks.timeline import offset
from tests.mrkdwn import misread


@pytest.mark.parametrize(
    ("delta", "shown"),
    [
        (timedelta(seconds=-5), "+0 m"),
        (timedelta(seconds=59), "+0 m"),
        (timedelta(minutes=3), "+3 m"),
        (timedelta(minutes=59), "+59 m"),
        (timedelta(hours=2, minutes=5), "+2 h 05 m"),
        (timedelta(hours=23, minutes=59), "+23 h 59 m"),
        (timedelta(days=3, hours=4, minutes=30), "+3 d 4 h"),
    ],
)
def test_offsets(delta: timedelta, shown: str) -> None:
    assert offset(delta) == shown


@given(text=st.text(alphabet="ab <>&@|!#", max_size=300), limit=st.integers(min_value=1, max_value=200))
def test_clip_never_cuts_a_token_or_an_entity(text: str, limit: int) -> None:
    rendered = f"<@U0ALICE> {esc(text)} <!date^1700000000^{{time}}|12:00>"
    cut = clip(rendered, limit)
    assert len(cut) <= max(limit, 1)
    assert misread(cut) == []
