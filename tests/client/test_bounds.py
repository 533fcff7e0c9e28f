"""Bounds at the edge: clipped server strings, JSON that cannot recurse without end."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conndebug.client import bounds


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


def nested_objects(depth: int) -> str:
    return '{"a":' * depth + "null" + "}" * depth


def depth_of(value: Any) -> int:
    depth = 0
    while isinstance(value, (list, dict)):
        value = value[0] if isinstance(value, list) else value["a"]
        depth += 1
    return depth


def test_clip_keeps_short_text_and_marks_a_cut_with_the_true_length() -> None:
    assert bounds.clip("chat") == "chat"
    assert bounds.clip("x" * 200) == "x" * 200
    cut = bounds.clip("y" * 1_000_000)
    assert cut.startswith("y" * 200 + "…")
    assert "1,000,000 in all" in cut
    assert len(cut) < 260


def test_clip_message_allows_longer_text() -> None:
    assert bounds.clip_message("m" * 1000) == "m" * 1000
    assert "1,001 in all" in bounds.clip_message("m" * 1001)


@pytest.mark.parametrize("depth", [100_000, 1_001, 5_000])
def test_hostile_nesting_is_refused_with_an_explanation(depth: int) -> None:
    with pytest.raises(bounds.JsonTooDeep) as info:
        bounds.loads(nested(depth))
    assert "deeper than 1,000 levels" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_hostile_object_nesting_is_refused() -> None:
    with pytest.raises(bounds.JsonTooDeep):
        bounds.loads(nested_objects(100_000))


@pytest.mark.parametrize("depth", [500, 800, 999, 1000])
def test_valid_deep_json_decodes_even_from_a_deep_stack(depth: int) -> None:
    # Called with most of the stack already used, the C decoder gives up: the bounded one decodes.
    def at_depth(n: int) -> Any:
        if n:
            return at_depth(n - 1)
        return bounds.loads(nested(depth)), bounds.loads(nested_objects(depth))

    used = sys.getrecursionlimit() - depth // 2 - 50
    array, obj = at_depth(max(0, min(used, sys.getrecursionlimit() - 100)))
    assert depth_of(array) == depth
    assert depth_of(obj) == depth


def test_the_slow_path_decodes_what_json_decodes() -> None:
    text = '{"a": [1, -2.5e3, true, false, null, "x\\u00e9\\n", {}, [], NaN, -Infinity], "b": {"c": ""}}'
    value = bounds._Decoder(text, 10).run()
    expected = json.loads(text)
    assert math.isnan(value["a"][8])
    value["a"][8] = expected["a"][8] = 0
    assert value == expected


@pytest.mark.parametrize(
    "text", ["[1,]", "{", '{"a" 1}', "[1 2]", "tru", '{"a":1,}', "[] x", '"\\x"', "", "01"]
)
def test_the_slow_path_refuses_what_json_refuses(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    with pytest.raises(json.JSONDecodeError):
        bounds._Decoder(text, 10).run()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=30,
)


@settings(max_examples=300)
@given(value=json_values, indent=st.sampled_from([None, 1]))
def test_the_slow_path_agrees_with_json_loads(value: Any, indent: int | None) -> None:
    text = json.dumps(value, indent=indent)
    assert bounds._Decoder(text, 1000).run() == json.loads(text)


@settings(max_examples=300)
@given(text=st.text(alphabet='[]{}",:0123456789.eE-+ tnruefalsNIiy\\', max_size=40))
def test_the_slow_path_fails_where_json_fails(text: str) -> None:
    try:
        expected = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        with pytest.raises(json.JSONDecodeError):
            bounds._Decoder(text, 1000).run()
    else:
        got = bounds._Decoder(text, 1000).run()
        assert json.dumps(got) == json.dumps(expected)
