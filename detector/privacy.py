"""Personal data stays in the database: everywhere else emails and phone numbers are masked.

``mask_value`` masks a value of a personal field for output (``a***@example.com``,
``***23``); ``mask_text`` finds emails and phone-like numbers inside free text (log lines,
error messages) and masks them too, so a value that slips into a message is still not leaked.
"""

from __future__ import annotations

import re

__all__ = ["mask_email", "mask_phone", "mask_text", "mask_value"]

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
_PHONE = re.compile(r"(?<![\w.])\+?\d[\d ().-]{6,}\d(?![\w.])")


def mask_email(value: str) -> str:
    local, at, domain = value.strip().partition("@")
    if not at:
        return "***"
    return f"{local[:1]}***@{domain}"


def mask_phone(value: str) -> str:
    digits = re.sub(r"\D", "", value)
    return f"***{digits[-2:]}" if len(digits) > 4 else "***"


def mask_value(value: str | None) -> str | None:
    """Mask a personal value for display: ``a***@example.com``, else ``***99`` (last two kept)."""
    if not value:
        return value
    local, at, domain = value.rpartition("@")
    if at and local:
        return f"{local[0]}***@{domain}"
    return f"***{value[-2:]}" if len(value) > 4 else "***"


def _mask_phone_match(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = re.sub(r"\D", "", text)
    # dates, decimals and ids with few digits are not phone numbers
    if len(digits) < 8 or re.fullmatch(r"\d{4}-\d{2}-\d{2}.*", text):
        return text
    return mask_phone(text)


def mask_text(text: str) -> str:
    """Free text with any email address or phone-like number inside it masked."""
    if "@" in text:
        text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    if any(ch.isdigit() for ch in text):
        text = _PHONE.sub(_mask_phone_match, text)
    return text
