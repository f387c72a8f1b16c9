"""Password hashing (scrypt, parameters stored with each hash) and the strong-password policy."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string

from platform_core.errors import ValidationFailed

_N, _R, _P = 2**14, 8, 1
_COMMON = {
    "password",
    "passw0rd",
    "123456",
    "12345678",
    "123456789",
    "1234567890",
    "qwerty",
    "abc123",
    "111111",
    "000000",
    "admin",
    "admin123",
    "welcome",
    "iloveyou",
    "12349",
    "hotline",
    "root",
}


class WeakPassword(ValidationFailed):
    code = "weak_password"


def hash_password(password: str, *, n: int = _N) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=_R, p=_P, dklen=32, maxmem=64 * 1024 * 1024
    )
    b64 = base64.urlsafe_b64encode
    return f"scrypt${n}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.urlsafe_b64decode(digest)
        got = hashlib.scrypt(
            password.encode(),
            salt=base64.urlsafe_b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=64 * 1024 * 1024,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


# Verifying against this when the username is unknown keeps the response time the same, so the
# login form does not reveal which usernames exist.
DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def check_policy(password: str, *, username: str, min_length: int) -> None:
    """Refuse a weak password, naming every rule it breaks (Chinese first)."""
    problems: list[str] = []
    if len(password) < min_length:
        problems.append(f"至少 {min_length} 个字符 / at least {min_length} characters")
    classes = sum(
        any(c in chars for c in password)
        for chars in (string.ascii_lowercase, string.ascii_uppercase, string.digits)
    ) + any(not c.isalnum() for c in password)
    if classes < 3:
        problems.append(
            "须含大写、小写、数字、符号中的至少三类 / use at least three of upper, lower, digits, symbols"
        )
    lowered = password.lower()
    if username and username.lower() in lowered:
        problems.append("不得包含用户名 / must not contain the username")
    if lowered in _COMMON or any(
        lowered.startswith(w) and len(set(lowered[len(w) :])) <= 1 for w in _COMMON
    ):
        problems.append("过于常见 / too common")
    if len(set(password)) < 5:
        problems.append("重复字符过多 / too few distinct characters")
    if problems:
        raise WeakPassword(
            "密码强度不足: " + "; ".join(problems) + " / weak password", problems=problems
        )


def generate_password(length: int = 16) -> str:
    """A random password that always satisfies the policy (printed once to its owner)."""
    alphabet = string.ascii_letters + string.digits + "-_.!@#%+="
    while True:
        candidate = "".join(secrets.choice(alphabet) for _ in range(length))
        if (
            any(c.islower() for c in candidate)
            and any(c.isupper() for c in candidate)
            and any(c.isdigit() for c in candidate)
            and any(not c.isalnum() for c in candidate)
        ):
            return candidate
