"""What a form held, read back to its author when it could not be saved: whatever shape the view has, a list of
(label, value) and never an exception (the reader runs on the error path, where a second failure would hide the
first)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from bot.slack_app import typed_values

VIEW: dict[str, Any] = {
    "blocks": [
        {"type": "input", "block_id": "title", "label": {"type": "plain_text", "text": "Title"}},
        {"type": "input", "block_id": "severity", "label": {"type": "plain_text", "text": "Severity"}},
        {"type": "input", "block_id": "flags"},
        {"type": "section", "block_id": "note"},
    ],
    "state": {
        "values": {
            "title": {"t": {"type": "plain_text_input", "value": "Checkout down"}},
            "severity": {"s": {"type": "static_select", "selected_option": {"text": {"text": "P1"}, "value": "P1"}}},
            "flags": {"f": {"type": "checkboxes", "selected_options": [{"value": "private"}]}},
            "note": {"n": {"value": "not an input"}},
        }
    },
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)


def test_a_well_formed_view_reads_as_label_and_value() -> None:
    assert typed_values(VIEW) == [("Title", "Checkout down"), ("Severity", "P1"), ("flags", "private")]


@given(
    state=json_values,
    blocks=json_values,
    values=json_values,
)
def test_any_shape_reads_without_raising(state: Any, blocks: Any, values: Any) -> None:
    for view in (
        {"state": state, "blocks": blocks},
        {"state": {"values": values}, "blocks": VIEW["blocks"]},
        {"state": {"values": {"title": values, "severity": {"s": values}}}, "blocks": VIEW["blocks"]},
    ):
        read = typed_values(view)
        assert all(isinstance(label, str) and isinstance(value, str) for label, value in read)
