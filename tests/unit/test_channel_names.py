from __future__ import annotations

import re

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.incidents.channel_names import MAX_LENGTH, channel_name, closed_name, slugify

VALID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Database down", "database-down"),
        ("  DB   down!!  ", "db-down"),
        ("Café — payments 500s", "cafe-payments-500s"),
        ("Ünïcödé Ärger", "unicode-arger"),
        ("ﬁle server (ﬁ ligature)", "file-server-fi-ligature"),  # NFKD folds compatibility characters
        ("Straße", "strae"),  # ß has no ASCII decomposition: dropped, as NFKD-folding says
        ("under_score.and/slash", "under-score-and-slash"),
        ("--already-slugged--", "already-slugged"),
        ("🔥🔥🔥", "incident"),
        ("数据库故障", "incident"),
        ("", "incident"),
        ("   ", "incident"),
        ("---", "incident"),
        ("API 5xx 🔥 in eu-west-1", "api-5xx-in-eu-west-1"),
    ],
)
def test_slugify(title: str, slug: str) -> None:
    assert slugify(title) == slug


@pytest.mark.parametrize(
    ("number", "title", "suffix", "closed", "name"),
    [
        (7, "DB down", None, False, "inc-7-db-down"),
        (7, "DB down", 2, False, "inc-7-db-down-2"),
        (7, "DB down", None, True, "inc-7-db-down-closed"),
        (7, "DB down", 2, True, "inc-7-db-down-2-closed"),
        (104, "🔥", None, False, "inc-104-incident"),
        (1, "", None, False, "inc-1-incident"),
    ],
)
def test_channel_name(number: int, title: str, suffix: int | None, closed: bool, name: str) -> None:
    assert channel_name(number, title, suffix=suffix, closed=closed) == name


def test_long_title_is_cut_leaving_room_for_suffix_and_closed() -> None:
    name = channel_name(104, "a" * 200)
    # 80 - len("inc-104-") - len("-closed") - len("-99") = 62 characters of slug.
    assert name == "inc-104-" + "a" * 62
    assert len(channel_name(104, "a" * 200, suffix=99, closed=True)) == MAX_LENGTH


def test_truncation_leaves_no_trailing_dash() -> None:
    # The cut falls right after "word-": the dash must go.
    title = "x" * 61 + " tail"
    assert channel_name(104, title) == "inc-104-" + "x" * 61


def test_all_names_of_one_incident_share_the_stem() -> None:
    base = channel_name(9, "A very long title " * 10)
    assert channel_name(9, "A very long title " * 10, suffix=3) == base + "-3"
    assert channel_name(9, "A very long title " * 10, suffix=3, closed=True) == base + "-3-closed"


def test_suffix_past_99_still_fits() -> None:
    name = channel_name(1, "b" * 100, suffix=1000, closed=True)
    assert len(name) <= MAX_LENGTH
    assert name.endswith("-1000-closed")


@pytest.mark.parametrize(("number", "suffix"), [(0, None), (-1, None), (1, 1), (1, 0), (10**80, None)])
def test_channel_name_refuses_impossible_arguments(number: int, suffix: int | None) -> None:
    with pytest.raises(ValueError):
        channel_name(number, "title", suffix=suffix)


@pytest.mark.parametrize(
    ("current", "closed"),
    [
        ("inc-7-db-down", "inc-7-db-down-closed"),
        ("inc-7-db-down-2", "inc-7-db-down-2-closed"),
        ("inc-7-db-down-closed", "inc-7-db-down-closed"),
        ("x" * 80, "x" * 73 + "-closed"),
        ("x" * 72 + "-y", "x" * 72 + "-closed"),
    ],
)
def test_closed_name(current: str, closed: str) -> None:
    assert closed_name(current) == closed


titles = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=100, max_size=2000),
    st.text(alphabet="ab -_.🔥é", max_size=300),
)


@given(
    number=st.integers(min_value=1, max_value=10**9),
    title=titles,
    suffix=st.none() | st.integers(min_value=2, max_value=99),
    closed=st.booleans(),
)
@example(number=10**9, title="a" * 500, suffix=99, closed=True)
@example(number=1, title="", suffix=None, closed=False)
def test_channel_name_properties(number: int, title: str, suffix: int | None, closed: bool) -> None:
    name = channel_name(number, title, suffix=suffix, closed=closed)
    assert VALID.match(name)
    assert len(name) <= MAX_LENGTH
    assert name.startswith(f"inc-{number}-")
    assert "--" not in name
    assert not name.endswith("-")
    # Renaming on close never overflows and gives the same name as building it closed.
    plain = channel_name(number, title, suffix=suffix)
    assert len(closed_name(plain)) <= MAX_LENGTH
    assert closed_name(plain) == channel_name(number, title, suffix=suffix, closed=True)
    assert closed_name(closed_name(plain)) == closed_name(plain)


@given(title=titles)
def test_slugify_properties(title: str) -> None:
    slug = slugify(title)
    assert re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", slug)
    assert slugify(slug) == slug
