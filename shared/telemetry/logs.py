"""JSON logs: one object per line on stderr, with the current trace and span ids."""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from typing import Any

import orjson
from opentelemetry import trace

_service_name = "jiph"


def service_name() -> str:
    """The service this process runs, as set up by `configure_logging`."""
    return _service_name


# Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}
_HANDLER_MARK = "_jiph_json_handler"


def _json_default(value: Any) -> Any:
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def _dumps(entry: dict[str, Any]) -> str:
    try:
        return orjson.dumps(entry, default=_json_default, option=orjson.OPT_NON_STR_KEYS).decode()
    except (TypeError, orjson.JSONEncodeError):  # e.g. integers beyond 64 bits
        return json.dumps(entry, default=str)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with the current trace and span ids."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": _service_name,
        }
        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            entry["trace_id"] = format(ctx.trace_id, "032x")
            entry["span_id"] = format(ctx.span_id, "016x")
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        for name, value in vars(record).items():
            if name not in _RECORD_FIELDS and name not in entry and not name.startswith("_"):
                entry[name] = value
        return _dumps(entry)


class _StderrJsonHandler(logging.Handler):
    """Writes to whatever `sys.stderr` is at the time (so redirection and capture work)."""

    terminator = "\n"

    def emit(self, record: logging.LogRecord) -> None:
        try:
            stream = sys.stderr
            stream.write(self.format(record) + self.terminator)
            stream.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)


def _level_from_env() -> int:
    name = os.environ.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"
    level = logging.getLevelName(name)
    return level if isinstance(level, int) else logging.INFO


def configure_logging(service_name: str) -> None:
    """JSON logs on stderr through the root logger; idempotent (one handler however often called).

    Level from `LOG_LEVEL` (default INFO). uvicorn's loggers propagate to the root handler;
    `uvicorn.access` logs at WARNING unless `LOG_ACCESS=1`.
    """
    global _service_name
    _service_name = service_name
    root = logging.getLogger()
    root.setLevel(_level_from_env())
    if not any(getattr(h, _HANDLER_MARK, False) for h in root.handlers):
        handler = _StderrJsonHandler()
        handler.setFormatter(JsonFormatter())
        setattr(handler, _HANDLER_MARK, True)
        root.addHandler(handler)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    access_level = logging.INFO if os.environ.get("LOG_ACCESS") == "1" else logging.WARNING
    logging.getLogger("uvicorn.access").setLevel(access_level)
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, root.level))
