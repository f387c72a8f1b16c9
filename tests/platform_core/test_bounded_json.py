"""JSON from outside read within bounds: the nesting measured right, in linear time, before the
parser (which recurses once per level) ever sees the document."""

from __future__ import annotations

import itertools
import random
import time

import pytest

from platform_core.bounded_json import JsonRefused, deeper_than, loads


def _reference_deeper_than(text: str, limit: int) -> bool:
    """A plain character-by-character reading of the same rule."""
    depth, i = 0, 0
    while i < len(text):
        char = text[i]
        if char == '"':
            i += 1
            while i < len(text) and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
            if depth < 0:
                return False
        i += 1
    return False


def test_the_depth_is_measured_as_the_parser_would_meet_it() -> None:
    rng = random.Random(12349)
    for _ in range(30_000):
        text = "".join(rng.choice('[]{}"\\a') for _ in range(rng.randint(0, 24)))
        for limit in (0, 1, 2, 3):
            assert deeper_than(text, limit) == _reference_deeper_than(text, limit), (text, limit)
    assert deeper_than('{"a": "[[[[[["}', 1) is False  # brackets in strings do not nest
    assert deeper_than('{"a": "\\"[[["}', 1) is False  # nor after an escaped quote


def _best_ms(text: str) -> float:
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        deeper_than(text, 8)
        timings.append((time.perf_counter() - started) * 1000)
    return min(timings)


def test_any_256_kb_is_measured_in_linear_time() -> None:
    """Every repeated pattern of up to three characters, and nested groups, filling 256 KB: a
    few milliseconds each (a pattern that rescanned the text per quote took minutes)."""
    units = ["".join(u) for k in (1, 2, 3) for u in itertools.product('[]{}"\\a', repeat=k)]
    units += ['"' + '\\"' * 1000, "[" * 8 + "]" * 8]
    slowest = max((_best_ms(u * (256 * 1024 // len(u))), u) for u in units)
    assert slowest[0] < 100, slowest


def test_loads_refuses_with_a_reason_in_chinese_first() -> None:
    cases = {
        "too_large": b"[" + b"0," * 200_000 + b"0]",
        "too_deep": b"[" * 50_000 + b"]" * 50_000,
        "not_utf8": b'{"a": "\xff"}',
        "malformed": b"{not json",
    }
    for reason, data in cases.items():
        with pytest.raises(JsonRefused) as refused:
            loads(data)
        assert refused.value.reason == reason
        assert "\u4e00" <= refused.value.message[0] <= "\u9fff", refused.value.message
    assert loads(b'{"a": [1, {"b": "[[["}]}', max_depth=3) == {"a": [1, {"b": "[[["}]}
