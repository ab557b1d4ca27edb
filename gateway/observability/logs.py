"""Log lines an operator can search: text or JSON, each with the request it was written for.

`configure(format, level)` puts one handler on the root logger (replacing the one it put there
before, so a reload can change the format or the level). Its filter stamps every record with
the request id and tenant of the request being served (context.py), so a backend's warning can
be found from the request line that shows its 503. Structured fields go in `extra={"fields":
{...}}`: the JSON format writes them as keys, the text format as `key=value` after the message,
quoted whenever a value could pass for more than one field (a client cannot forge a field).
`extra={"structured": {...}}` holds what the text message already says (method, status): keys
for the JSON format only.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

from gateway.observability import context

FORMATS = ("text", "json")
LEVELS = ("debug", "info", "warning", "error")
# A value written bare in a text line: nothing that could end the field or the line.
BARE = re.compile(r"[^\s\"=\\]{1,300}")
BARE_WORD = re.compile(r"[^\s\"\\\x00-\x1f\x7f]+")


class RequestFilter(logging.Filter):
    """Adds `request_id` and `tenant` to every record: the request being served, or "-"."""

    def filter(self, record: logging.LogRecord) -> bool:
        serving = context.current()
        if not hasattr(record, "request_id"):
            record.request_id = serving.request_id if serving else None
        if not hasattr(record, "tenant"):
            record.tenant = serving.tenant if serving else None
        return True


def token(text: str) -> str:
    """A word of a text message (a path, a method): as it is, or JSON-quoted if it holds a space,
    a quote or a control character, so it cannot end the line or pass for two words."""
    return text if text and BARE_WORD.fullmatch(text) else json.dumps(text, ensure_ascii=False)


def field_text(value: Any) -> str:
    """A value as it appears after `key=` in a text line: bare when plain, else JSON-quoted."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if BARE.fullmatch(text) else json.dumps(text, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`2026-12-02 17:40:00,123 INFO gateway.web: message key=value ... tenant=t request=id`."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        pairs = dict(getattr(record, "fields", None) or {})
        for key in ("tenant", "request_id"):
            value = getattr(record, key, None)
            if value and key not in pairs:
                pairs["request" if key == "request_id" else key] = value
        tail = " ".join(f"{key}={field_text(value)}" for key, value in pairs.items() if value not in (None, ""))
        if not tail:
            return text
        head, newline, rest = text.partition("\n")  # a traceback stays below the line it explains
        return f"{head} {tail}{newline}{rest}"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, request_id, tenant, fields."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": utc_timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("request_id", "tenant"):
            if getattr(record, key, None):
                line[key] = getattr(record, key)
        structured = {**(getattr(record, "structured", None) or {}), **(getattr(record, "fields", None) or {})}
        for key, value in structured.items():
            if value not in (None, "") and key not in line:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def utc_timestamp(seconds: float) -> str:
    """`2026-12-02T17:40:00.123Z`"""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int(seconds % 1 * 1000):03d}Z"


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is now (a test harness swaps it), like logging.lastResort."""

    def __init__(self):
        super().__init__()

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def configure(log_format: str = "text", level: str = "info") -> logging.Handler:
    """Route every log line through one handler on the root logger, in this format and level."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_scim_gateway", False) or type(handler) is logging.StreamHandler:
            root.removeHandler(handler)  # ours from a previous call, or logging.basicConfig's
    handler = _StderrHandler()
    handler._scim_gateway = True  # type: ignore[attr-defined]
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(RequestFilter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    return handler
