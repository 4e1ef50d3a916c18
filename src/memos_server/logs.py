"""Process-wide logging set-up: one JSON object per line (or plain text), with the request id.

Every logger goes through the one root handler, uvicorn's included (it is started with
``log_config=None``, so it adds no handlers of its own). Lines logged while a request is being
answered carry its id, which ``api.telemetry`` keeps in ``request_id``.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Literal

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

# What every LogRecord has; anything else on a record came from ``extra=`` and is written out.
# uvicorn's color_message repeats the message with terminal colours.
_STANDARD = {*vars(logging.makeLogRecord({})), "message", "asctime", "taskName", "color_message"}

# Libraries that are chatty at INFO about things a user never needs (openai's debug lines hold
# whole prompts).
_QUIET = ("pgserver", "sentence_transformers", "httpx", "openai", "alembic.runtime.migration")


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
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        current = request_id.get()
        return line if current is None else f"{line} [request {current}]"


def configure_logging(level: str, log_format: Literal["json", "text"] = "json") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # Python's warnings become log lines too, so every line of output has the one format.
    logging.captureWarnings(True)
    for name in _QUIET:
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))
