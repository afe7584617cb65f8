"""structlog configuration for the shell: JSON lines, one canonical line per request.

`configure_logging` installs `merge_contextvars` first (so a bound request id reaches every line),
an ISO timestamp and the log level, then renders JSON with msgspec straight to a byte stream.
Nothing here decides what is logged; callers pass fixed snake_case events with key-value fields,
never secrets or message text. structlog's configuration is process-wide by design; `serve` calls
this once.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, BinaryIO

import msgspec
import structlog

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def _encode_default(obj: Any) -> str:
    return repr(obj)


_encoder = msgspec.json.Encoder(enc_hook=_encode_default)


def _serialize(event: dict[str, Any], **_: Any) -> bytes:
    return _encoder.encode(event)


def configure_logging(
    stream: BinaryIO | None = None, *, level: str = "info", cache_loggers: bool = True
) -> None:
    """Send JSON log lines to `stream` (default: stdout) at `level` and above.

    Tests pass `cache_loggers=False` so that they can reconfigure between cases.
    """
    if level not in _LEVELS:
        raise ValueError(f"Expected log level in {sorted(_LEVELS)}, got {level!r}")
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=_serialize),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.BytesLoggerFactory(file=stream or sys.stdout.buffer),
        cache_logger_on_first_use=cache_loggers,
    )
