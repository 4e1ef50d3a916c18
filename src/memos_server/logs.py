"""Process-wide logging set-up."""

from __future__ import annotations

import logging


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    # Libraries that are chatty at INFO about things a user never needs.
    for name in ("pgserver", "sentence_transformers", "httpx", "alembic.runtime.migration"):
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLogger().level))
