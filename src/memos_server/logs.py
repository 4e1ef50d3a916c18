"""Process-wide logging set-up: one JSON object per line, or plain text lines for a person at a
terminal, with the request id.

``auto`` (the default) picks text when stderr is a terminal and JSON otherwise (a pipe, a file,
journald, a container's log collector). Progress bars of libraries (tqdm, Hugging Face) are turned
off: redrawn with ``\r`` they only garble a log file, and a JSON line is never one of them.

Every logger goes through the one root handler, uvicorn's included (it is started with
``log_config=None``, so it adds no handlers of its own). Lines logged while a request is being
answered carry its id, which ``api.telemetry`` keeps in ``request_id``.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Literal

LogFormat = Literal["auto", "json", "text"]

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

# What every LogRecord has; anything else on a record came from ``extra=`` and is written out.
# uvicorn's color_message repeats the message with terminal colours.
_STANDARD = {*vars(logging.makeLogRecord({})), "message", "asctime", "taskName", "color_message"}

# Libraries that are chatty at INFO about things a user never needs (openai's debug lines hold
# whole prompts).
# Warnings and errors only. The MCP SDK's server logs a failed tool call at INFO with its error
# message, which quotes what the client sent (a filter's value, an id): client content.
_QUIET = ("pgserver", "sentence_transformers", "httpx", "openai", "alembic", "mcp.server.mcpserver")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        current = request_id.get()
        if current is not None:
            entry["request_id"] = current
        for key, value in vars(record).items():
            if key not in _STANDARD:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``21:04:05 INFO    memos_server.runtime: fast mode ...``: the local time of day."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        current = request_id.get()
        return line if current is None else f"{line} [request {current}]"


def text_logs(log_format: LogFormat) -> bool:
    """Whether log lines are plain text: asked for, or ``auto`` with stderr a terminal."""
    if log_format == "auto":
        return sys.stderr.isatty()
    return log_format == "text"


def configure_logging(level: str, log_format: LogFormat = "auto") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(TextFormatter() if text_logs(log_format) else JsonFormatter())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # Python's warnings become log lines too, so every line of output has the one format.
    logging.captureWarnings(True)
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))
    # Read by tqdm (which sentence-transformers and Hugging Face downloads draw with) and by
    # huggingface_hub when they start a bar, so set before any model loads.
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
