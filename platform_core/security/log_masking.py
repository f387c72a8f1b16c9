"""No full phone or ID number in any log line (GB/T 35273): code masks what it logs with
``masking.py``, and this filter masks whatever slips through, on every handler.

It rewrites each record's final message: 18-character ID numbers, mainland mobiles (with or
without +86) and landlines with an area code are replaced by their masked forms. Numbers
that are not personal (order numbers ``GD20261206-00012``, AMI unique ids ``1700000000.42``,
ports, counts) keep their shape: the patterns require a number's own boundaries.
"""

from __future__ import annotations

import logging
import re

from platform_core.security.masking import mask_id_number, mask_phone

_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z.])([1-9][0-9]{5}(?:19|20)[0-9]{9}[0-9Xx])(?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<![0-9A-Za-z.\-])(?:\+?86[ -]?)?(1[3-9][0-9]{9})(?![0-9A-Za-z])")
_LANDLINE = re.compile(
    r"(?<![0-9A-Za-z.\-])(0[1-9][0-9]{1,2})[- ]?([2-9][0-9]{6,7})(?![0-9A-Za-z])"
)


def mask_text(text: str) -> str:
    """``text`` with every ID number, mobile and landline masked."""
    text = _ID_NUMBER.sub(lambda m: mask_id_number(m.group(1)), text)
    text = _MOBILE.sub(lambda m: mask_phone(m.group(1)), text)
    return _LANDLINE.sub(lambda m: mask_phone(m.group(1) + m.group(2)), text)


class PersonalDataFilter(logging.Filter):
    """The safety net on every handler: the message a record renders to, masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is logging's own error to report
            return True
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = mask_text(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        return True


def install(logger: logging.Logger | None = None) -> None:
    """Put the filter on every handler of ``logger`` (the root logger by default)."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if not any(isinstance(f, PersonalDataFilter) for f in handler.filters):
            handler.addFilter(PersonalDataFilter())
