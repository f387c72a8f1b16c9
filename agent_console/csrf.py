"""CSRF protection for every form and every state-changing request.

The token is an HMAC of the login session id (or, before login, of a random pre-session cookie)
under the deployment's secret key: a page from another site can neither read nor compute it.
Forms send it as ``csrf_token``; scripts as the ``X-CSRF-Token`` header.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from flask import Request

PRE_COOKIE = "hotline_pre"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
EXEMPT_ATTR = "hotline_csrf_exempt"


def exempt(view: Any) -> Any:
    """Mark a view whose every request carries its own signature and no cookie (a machine
    interface): there is no browser session for another site to ride on."""
    setattr(view, EXEMPT_ATTR, True)
    return view


def token_for(secret_key: str, binding: str) -> str:
    return hmac.new(secret_key.encode(), b"csrf:" + binding.encode(), hashlib.sha256).hexdigest()


def new_pre_session() -> str:
    return secrets.token_urlsafe(24)


def submitted_token(request: Request) -> str:
    return request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")


def is_valid(secret_key: str, binding: str | None, submitted: str) -> bool:
    if not binding or not submitted:
        return False
    return hmac.compare_digest(token_for(secret_key, binding), submitted)
