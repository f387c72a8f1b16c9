"""Password hashing (scrypt, parameters stored with each hash) and the strong-password policy."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string

from zxcvbn import zxcvbn
from zxcvbn.matching import add_frequency_lists

from platform_core.accounts.password_words import FREQUENCY_LISTS
from platform_core.errors import ValidationFailed

_N, _R, _P = 2**14, 8, 1
# zxcvbn's score 3 is "safely unguessable" offline at a slow hash: 10^8 guesses or more.
MIN_STRENGTH = 3
add_frequency_lists(FREQUENCY_LISTS)

# Why a guesser gets there quickly, per zxcvbn match (Chinese first).
_DICTIONARY_REASONS = {
    "passwords": "常见密码 / a common password",
    "chinese_patterns": "常见密码 / a common password",
    "chinese_surnames": "姓名拼音 / a name",
    "chinese_given_names": "姓名拼音 / a name",
    "chinese_full_names": "姓名拼音 / a name",
    "surnames": "姓名拼音 / a name",
    "male_names": "姓名拼音 / a name",
    "female_names": "姓名拼音 / a name",
    "hotline_words": "本系统的名称或号码 / the hotline's own words",
    "user_inputs": "用户名或本人信息 / your own account details",
    "english_wikipedia": "常见单词 / a common word",
    "us_tv_and_film": "常见单词 / a common word",
}
_PATTERN_REASONS = {
    "regex": "年份 / a year",
    "date": "日期 / a date",
    "spatial": "键盘上相邻的按键 / a keyboard walk",
    "sequence": "连续的字母或数字 / a sequence",
    "repeat": "重复的字符 / repeated characters",
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


def guessable_parts(password: str, *, user_inputs: tuple[str, ...] = ()) -> list[str] | None:
    """What makes ``password`` quick to guess (Chinese first), or None when it is strong enough.

    zxcvbn estimates the guesses an attacker needs, with its English lists plus Chinese pinyin
    names, Mongolian names, Chinese password patterns and the product's words
    (``password_words.py``).
    """
    # zxcvbn is quadratic in the length; the policy judges the first 100 characters
    result = zxcvbn(password[:100], user_inputs=[u for u in user_inputs if u])
    if result["score"] >= MIN_STRENGTH:
        return None
    reasons: list[str] = []
    for match in result["sequence"]:
        pattern = match.get("pattern", "")
        reason = (
            _DICTIONARY_REASONS.get(match.get("dictionary_name", ""), "常见单词 / a common word")
            if pattern == "dictionary"
            else _PATTERN_REASONS.get(pattern)
        )
        if reason and reason not in reasons:
            reasons.append(reason)
    return reasons or ["组合过于简单 / too simple"]


def check_policy(
    password: str, *, username: str, min_length: int, user_inputs: tuple[str, ...] = ()
) -> None:
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
    if len(set(password)) < 5:
        problems.append("重复字符过多 / too few distinct characters")
    guessable = guessable_parts(password, user_inputs=(username, *user_inputs))
    if guessable is not None:
        zh = "、".join(r.split(" / ")[0] for r in guessable)
        en = ", ".join(r.split(" / ")[-1] for r in guessable)
        problems.append(f"容易被猜到, 含{zh} / easy to guess: {en}")
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
