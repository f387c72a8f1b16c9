"""One limit for every JSON body the platform reads (HTTP and Socket.IO): its size and how
deeply it nests, checked before the parser runs.

Python's parser recurses once per level, so 100 KB of ``[[[[...`` raises RecursionError deep
inside a request; the nesting is measured first (``bounded_json``'s linear scan), and a body
over either limit is refused as a domain error with a reason (HTTP 400), as is a body that is
not JSON at all.
"""

from __future__ import annotations

import json
from typing import Any

from platform_core import bounded_json
from platform_core.errors import DomainError

DEFAULT_MAX_BYTES = bounded_json.MAX_BYTES
DEFAULT_MAX_DEPTH = bounded_json.MAX_DEPTH


class MalformedJson(DomainError):
    code = "malformed_json"
    http_status = 400


def check(text: str | bytes, *, max_bytes: int, max_depth: int) -> str:
    """The body as text if it is within the limits; :class:`MalformedJson` otherwise."""
    size = len(text)
    if size > max_bytes:
        raise MalformedJson(
            f"请求内容超过 {max_bytes // 1024} KB / body larger than {max_bytes} bytes",
            code="body_too_large",
            limit=max_bytes,
        )
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedJson("请求内容不是 UTF-8 文本 / body is not UTF-8") from None
    if bounded_json.deeper_than(text, max_depth):  # linear, without recursion
        raise MalformedJson(
            f"JSON 嵌套超过 {max_depth} 层 / JSON nested deeper than {max_depth} levels",
            code="json_too_deep",
            limit=max_depth,
        )
    return text


def loads(
    text: str | bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_depth: int = DEFAULT_MAX_DEPTH
) -> Any:
    """``json.loads`` behind the limits; anything that is not JSON is :class:`MalformedJson`."""
    checked = check(text, max_bytes=max_bytes, max_depth=max_depth)
    try:
        return json.loads(checked)
    except (ValueError, RecursionError) as exc:
        raise MalformedJson(f"JSON 格式不正确 / not valid JSON: {str(exc)[:80]}") from None
