"""Logging, configured once: structlog with snake_case events and key-value context.

JSON lines when stderr is not a terminal (containers, files, CI), readable console output when it
is. Every event passes through ``scrub``: registered secrets become ``***``, e-mail addresses and
phone numbers are masked, and CR/LF and terminal escapes are neutralised, so no stored value can
forge a log line. Tracebacks are rendered without local variables (they have leaked credentials in
other projects).
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO, cast

import structlog

from detector.privacy import mask_text
from detector.secrets import redact

__all__ = ["LEVELS", "configure_logging", "neutralise", "scrub", "scrub_text"]

LEVELS = ("debug", "info", "warning", "error", "critical")
# escape sequences first (a whole CSI sequence becomes one "?"), then any other control character
_CONTROL = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]?|[\x00-\x08\x0b-\x1f\x7f\x9b]")


def neutralise(text: str) -> str:
    """Text that cannot move a terminal's cursor or start a new line: CR/LF shown, escapes replaced."""
    return _CONTROL.sub("?", text.replace("\r", "\\r").replace("\n", "\\n"))


def scrub_text(text: str) -> str:
    """Text made safe for a log line: no secrets, no raw personal data, no control characters."""
    return neutralise(mask_text(redact(text)))


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {k: _scrub_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_value(v) for v in value]
    if isinstance(value, BaseException):
        return scrub_text(f"{type(value).__name__}: {value}")
    return value


def scrub(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor applying ``scrub_text`` to every value, exceptions included."""
    for key, value in list(event_dict.items()):
        event_dict[key] = _scrub_value(value)
    return event_dict


def configure_logging(
    level: str = "info", *, stream: TextIO | None = None, json: bool | None = None
) -> None:
    """Set up structlog (and the stdlib root logger it forwards through) once per process."""
    output = stream if stream is not None else sys.stderr
    as_json = (not output.isatty()) if json is None else json
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}; use one of {', '.join(LEVELS)}")
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        scrub,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(
            colors=output.isatty(), exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        processors=[*processors, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.WriteLoggerFactory(file=cast("TextIO", _SafeStream(output))),
        cache_logger_on_first_use=False,
    )
    logging.basicConfig(level=max(numeric, logging.WARNING), stream=output, force=True)


class _SafeStream:
    """A stream whose write never raises: a full disk or closed pipe must not stop the daemon."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except (OSError, ValueError):
            return 0

    def flush(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._stream.flush()
