"""Domain errors with stable codes.

Every refusal a user can meet carries a ``code`` that never changes (clients and tests branch on
it) and a message in Chinese first. Web and AMI layers translate these into responses; they
never invent their own wording for a rule that lives here.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule of the domain refused the request."""

    code: str = "domain_error"
    http_status: int = 400

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            **({"details": self.details} if self.details else {}),
        }


class ValidationFailed(DomainError):
    code = "validation_failed"
    http_status = 422


class NotFound(DomainError):
    code = "not_found"
    http_status = 404


class Conflict(DomainError):
    code = "conflict"
    http_status = 409


class IllegalTransition(DomainError):
    code = "illegal_transition"
    http_status = 409


class PermissionDenied(DomainError):
    code = "permission_denied"
    http_status = 403


class OutOfRegion(PermissionDenied):
    code = "out_of_region"
