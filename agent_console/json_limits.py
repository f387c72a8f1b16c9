"""The console reads every JSON body through one limit (platform_core.security.json_input):
Flask's request.get_json and Socket.IO's packets alike.

An HTTP body over the limit answers 400 with the reason. A Socket.IO event whose payload is
over it still reaches its handler, as a :class:`RejectedPayload`, so the client's
acknowledgement says why (the connection and the other events carry on).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from flask.json.provider import DefaultJSONProvider

from platform_core.security import json_input

# the event name at the head of a Socket.IO EVENT packet's array: ["screen_pop", {...}]
_EVENT_NAME = re.compile(r'\s*\[\s*"([A-Za-z0-9_]{1,64})"')


@dataclass(frozen=True)
class RejectedPayload:
    error: json_input.MalformedJson


class LimitedJSONProvider(DefaultJSONProvider):
    max_bytes = json_input.DEFAULT_MAX_BYTES
    max_depth = json_input.DEFAULT_MAX_DEPTH

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return json_input.loads(s, max_bytes=self.max_bytes, max_depth=self.max_depth)


class SocketJson:
    """The ``json`` module python-socketio parses packets with."""

    def __init__(self, *, max_bytes: int, max_depth: int) -> None:
        self.max_bytes, self.max_depth = max_bytes, max_depth

    @staticmethod
    def dumps(obj: Any, **kwargs: Any) -> str:
        return json.dumps(obj, **kwargs)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        try:
            return json_input.loads(s, max_bytes=self.max_bytes, max_depth=self.max_depth)
        except json_input.MalformedJson as err:
            head = s[:100].decode("utf-8", "replace") if isinstance(s, bytes) else s[:100]
            name = _EVENT_NAME.match(head)
            if name is None:
                raise ValueError(err.message) from None  # not an event: the packet is dropped
            return [name.group(1), RejectedPayload(err)]


def install(app: Any, settings: Any) -> dict[str, Any]:
    """Bind the limits to the Flask app; returns the Socket.IO server options that use them."""
    provider = LimitedJSONProvider(app)
    provider.max_bytes, provider.max_depth = settings.json_max_bytes, settings.json_max_depth
    provider.ensure_ascii = False
    app.json = provider
    return {
        "json": SocketJson(max_bytes=settings.json_max_bytes, max_depth=settings.json_max_depth),
        # larger messages close the connection in Engine.IO itself; below this, the handler
        # answers with the reason
        "max_http_buffer_size": max(4 * settings.json_max_bytes, 1024 * 1024),
    }
