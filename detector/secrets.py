"""The set of secret values this process knows about, so nothing prints them.

Every value substituted from ``${VAR}`` in a config, and every credential a connector is handed,
is registered here; ``redact()`` replaces any of them in text with ``***``. The log pipeline and
every error and output path run text through it. Values shorter than four characters are not
registered: redacting them would mangle ordinary text and they protect nothing.
"""

from __future__ import annotations

import re
import threading

__all__ = ["MASK", "clear_secrets", "redact", "register_secret"]

MASK = "***"
_MIN_LENGTH = 4
_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None


def register_secret(value: str | None) -> None:
    """Remember ``value`` as secret from now on."""
    global _pattern  # noqa: PLW0603 - one process-wide registry is the point
    if not value or len(value) < _MIN_LENGTH:
        return
    with _lock:
        if value in _secrets:
            return
        _secrets.add(value)
        ordered = sorted(_secrets, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(s) for s in ordered))


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    pattern = _pattern
    if pattern is None or not text:
        return text
    return pattern.sub(MASK, text)


def clear_secrets() -> None:
    """Forget every secret (tests)."""
    global _pattern  # noqa: PLW0603
    with _lock:
        _secrets.clear()
        _pattern = None
