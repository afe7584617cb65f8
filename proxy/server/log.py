"""structlog configuration for the shell: JSON lines, one canonical line per request.

`configure_logging` installs `merge_contextvars` first (so a bound request id reaches every line),
an ISO timestamp and the log level, then renders JSON with msgspec straight to a byte stream.
Records of the standard `logging` module (aiohttp, asyncio, libraries) are routed into the same
stream through the same renderer (`StdlibBridge`), so every line is one JSON object: a traceback
becomes an `exception` string field, never multi-line text. Nothing here decides what is logged;
callers pass fixed snake_case events with key-value fields, never secrets or message text.
structlog's configuration is process-wide by design; `serve` calls this once.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from datetime import UTC, datetime
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


class StdlibBridge(logging.Handler):
    """A `logging` handler writing each record as one JSON line, like structlog's lines."""

    def __init__(self, stream: BinaryIO, level: int) -> None:
        super().__init__(level)
        self._stream = stream
        self._write_lock = threading.Lock()
        self.previous_root_level = logging.WARNING

    def emit(self, record: logging.LogRecord) -> None:
        """Render `record` as `{"event", "logger", "level", "timestamp", ...}` on one line."""
        try:
            event: dict[str, Any] = dict(structlog.contextvars.get_contextvars())
            event["event"] = record.getMessage()
            event["logger"] = record.name
            event["level"] = record.levelname.lower()
            event["timestamp"] = (
                datetime.fromtimestamp(record.created, UTC).isoformat().replace("+00:00", "Z")
            )
            if record.exc_info and record.exc_info[1] is not None:
                exc = record.exc_info[1]
                event["error_type"] = type(exc).__name__
                event["exception"] = "".join(traceback.format_exception(exc))
            line = _serialize(event) + b"\n"
            with self._write_lock:
                self._stream.write(line)
                self._stream.flush()
        except Exception:
            self.handleError(record)


def configure_logging(
    stream: BinaryIO | None = None, *, level: str = "info", cache_loggers: bool = True
) -> None:
    """Send JSON log lines to `stream` (default: stdout) at `level` and above.

    Tests pass `cache_loggers=False` so that they can reconfigure between cases.
    """
    if level not in _LEVELS:
        raise ValueError(f"Expected log level in {sorted(_LEVELS)}, got {level!r}")
    out = stream or sys.stdout.buffer
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(serializer=_serialize),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.BytesLoggerFactory(file=out),
        cache_logger_on_first_use=cache_loggers,
    )
    reset_stdlib_logging()
    root = logging.getLogger()
    # library debug chatter (aiohttp's per-connection notes) stays out even at level "debug"
    stdlib_level = max(_LEVELS[level], logging.INFO)
    bridge = StdlibBridge(out, stdlib_level)
    bridge.previous_root_level = root.level
    root.addHandler(bridge)
    root.setLevel(stdlib_level)


def reset_stdlib_logging() -> None:
    """Remove the `StdlibBridge` handlers `configure_logging` installed on the root logger."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, StdlibBridge):
            root.removeHandler(handler)
            root.setLevel(handler.previous_root_level)
