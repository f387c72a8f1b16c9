"""JSON from outside (devices, vendors, browsers) read within bounds.

Python's parser recurses once per nested array or object: 100 KB of ``[[[...]]]`` raises
RecursionError from deep inside it (and whatever later walks the result, ``json.dumps``
included, recurses as deep). So the size and the nesting depth are checked first, by a scan
that stops at the first bracket past the limit, and a document beyond them is refused with a
reason before the parser ever sees it.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_BYTES = 256 * 1024
MAX_DEPTH = 32

# Strings are removed first (brackets inside them do not nest). Once a string starts, the
# pattern cannot fail (an unterminated one, even one ending in a lone backslash, runs to the
# end), so no text is ever scanned twice: linear whatever the quotes and backslashes.
_STRINGS = re.compile(r'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.DOTALL)
# What is left is reduced to its brackets in C: every other byte deleted, braces made brackets.
_ONE_KIND = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_OPEN = ord("[")


class JsonRefused(ValueError):
    """A document that is not read. ``reason`` is a stable code; ``message`` says why, in
    Chinese first."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def deeper_than(text: str, limit: int) -> bool:
    """Whether arrays and objects nest more than ``limit`` levels deep. Linear, and it stops at
    the first level past the limit. Unbalanced brackets are left for the parser to report."""
    outside = _STRINGS.sub("", text).encode("utf-8", "surrogatepass")
    brackets = outside.translate(_ONE_KIND, _NOT_BRACKETS)
    if brackets.count(b"[") <= limit:
        return False
    depth = 0
    for char in brackets:
        if char == _OPEN:
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
            if depth < 0:
                return False  # a bracket closed that never opened: the parser stops there
    return False


def loads(data: bytes | str, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """Parse ``data`` (UTF-8 when bytes) or raise :class:`JsonRefused`: ``too_large``,
    ``too_deep``, ``not_utf8`` or ``malformed``."""
    size = len(data.encode() if isinstance(data, str) else data)
    if size > max_bytes:
        raise JsonRefused(
            "too_large", f"内容超过 {max_bytes} 字节 / more than {max_bytes} bytes ({size})"
        )
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise JsonRefused("not_utf8", "不是 UTF-8 文本 / not UTF-8 text") from None
    else:
        text = data
    if deeper_than(text, max_depth):
        raise JsonRefused(
            "too_deep", f"嵌套超过 {max_depth} 层 / JSON nested deeper than {max_depth}"
        )
    try:
        return json.loads(text)
    except RecursionError:  # unreachable within the depth limit; kept as the last guard
        raise JsonRefused(
            "too_deep", f"嵌套超过 {max_depth} 层 / JSON nested deeper than {max_depth}"
        ) from None
    except ValueError as exc:
        raise JsonRefused(
            "malformed", f"不是有效的 JSON / not valid JSON: {str(exc)[:80]}"
        ) from None
